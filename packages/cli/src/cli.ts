import { Command, CommanderError } from 'commander';
import { FlowstateError } from '@flowstate/core';
import { addCheckpointCommands } from './checkpoint/command.js';
import { json, portNumber } from './common.js';
import { ExitCode, exitCodeFor, type ExitCodeValue } from './exit-codes.js';
import { addSavepointCommands } from './savepoint/command.js';
import { addUiCommand } from './ui-command.js';

/** Where the CLI writes; tests and embedders can capture it. */
export interface CliIO {
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
  /** Progress bars only on an interactive terminal. */
  readonly stderrIsTTY: boolean;
}

const defaultIO: CliIO = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  stderrIsTTY: process.stderr.isTTY === true,
};

const EXIT_CODES_HELP = `
Locations: a local path, or a URI: file:///dir, s3://bucket/prefix (AWS SDK credential chain;
  AWS_ENDPOINT_URL_S3, FLOWSTATE_S3_PATH_STYLE=true for S3-compatible stores),
  webhdfs://namenode:9870/path, swebhdfs://..., hdfs://namenode:9870/path (WebHDFS; HADOOP_USER_NAME).

Exit codes:
  0  success (validate: valid; diff: no differences)
  1  validate found problems, or diff found differences
  2  usage error (bad arguments, output directory exists and is not empty)
  3  input unreadable or corrupt (missing file, checksum, truncation, escaping path)
  4  unsupported (unknown format version, incompatible serializer, native snapshot)
  70 internal error (a bug: please report it)`;

/**
 * Builds the `flowstate` program. Each action resolves to an exit code; errors are mapped to the
 * documented codes by `run`.
 */
export function createProgram(io: CliIO, setExit: (code: ExitCodeValue) => void): Command {
  const program = new Command('flowstate')
    .description('flowstate command line: savepoint tools and the checkpoint history page')
    .version('0.1.0')
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride()
    .addHelpText('after', EXIT_CODES_HELP);

  addSavepointCommands(program, io, setExit, EXIT_CODES_HELP);
  addUiCommand(program, io, portNumber('--port'), () => setExit(ExitCode.OK));
  addCheckpointCommands(program, { io, setExit });
  return program;
}

/** Runs the CLI on `argv` (without node and script) and returns the exit code. */
export async function run(argv: readonly string[], io: CliIO = defaultIO): Promise<ExitCodeValue> {
  let code: ExitCodeValue = ExitCode.OK;
  const wantsJson = argv.includes('--json');
  const program = createProgram(io, (c) => (code = c));
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end here with exit code 0; everything else is a usage error.
      return e.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
    }
    const exit = exitCodeFor(e);
    const fe = e instanceof FlowstateError ? e : undefined;
    if (wantsJson) io.stdout(json({ error: { code: fe?.code ?? 'INTERNAL', message: (e as Error).message, exitCode: exit } }));
    io.stderr(`flowstate: ${exit === ExitCode.INTERNAL ? 'internal error (a bug, please report it): ' : ''}${exit === ExitCode.INTERNAL ? ((e as Error).stack ?? String(e)) : (e as Error).message}\n`);
    return exit;
  }
}
