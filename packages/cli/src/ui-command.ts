// `flowstate ui --checkpoints <uri>`: serves the checkpoint history page (@flowstate/ui) on
// 127.0.0.1 until interrupted. Storage is named by URI as everywhere in the CLI.
import type { Command } from 'commander';
import { fileSystemRegistry, IllegalStateUsageError } from '@flowstate/core';
import { startCheckpointUi } from '@flowstate/ui';
import { openCheckpointRoot } from './checkpoint/root.js';
import { checkpointVerbConfig } from './configuration.js';

/** Where the URL is printed (the CLI's stdout), and where the page's internal errors are logged in full (stderr). */
export interface UiOutput {
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
}

export interface UiCommandOptions {
  /** Default: the configuration's execution.checkpointing.dir. */
  readonly checkpoints?: string;
  /** The job's config.yaml: storage settings, checkpoint and savepoint directories. */
  readonly config?: string;
  readonly savepoints?: string;
  readonly port?: number;
}

/** Starts the page and resolves when the process is asked to stop (SIGINT / SIGTERM). */
export async function serveCheckpointUi(o: UiCommandOptions, io: UiOutput): Promise<void> {
  const cfg = checkpointVerbConfig(o);
  const dir = o.checkpoints ?? cfg.checkpointsDirectory;
  if (dir === undefined) throw new IllegalStateUsageError(undefined, 'give --checkpoints <uri>, or --config with execution.checkpointing.dir set');
  // The same opening as the checkpoint verbs: one checkpoint or a savepoint is refused here too.
  const checkpoints = (await openCheckpointRoot(dir, cfg.fileSystems)).storage;
  const fileSystems = cfg.fileSystems ?? fileSystemRegistry;
  const savepoints = o.savepoints === undefined ? undefined : { fileSystem: fileSystems.resolve(o.savepoints), location: o.savepoints };
  // The page answers an internal error with a generic message only: its whole text goes to stderr.
  const log = (line: string): void => io.stderr(`flowstate ui: ${line}\n`);
  const ui = await startCheckpointUi({ checkpoints, log, ...(savepoints ? { savepoints } : {}), ...(o.port === undefined ? {} : { port: o.port }) });
  io.stdout(`${ui.url}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await ui.close();
}

export function addUiCommand(program: Command, io: UiOutput, parsePort: (v: string) => number, done: () => void): void {
  program
    .command('ui')
    .description('serve the checkpoint history page on 127.0.0.1 (prints its URL; stops on Ctrl-C)')
    .option('--checkpoints <uri>', "a job's checkpoint directory (path, file://, s3://, webhdfs://); default: the configuration's execution.checkpointing.dir")
    .option('--config <config.yaml>', "the job's configuration (storage settings, checkpoint directory)")
    .option('--savepoints <uri>', 'a directory of savepoints for the inspector')
    .option('--port <n>', 'port (default: a free one)', parsePort)
    .action(async (o: UiCommandOptions) => {
      await serveCheckpointUi(o, io);
      done();
    });
}
