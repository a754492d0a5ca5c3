import { Command, InvalidArgumentError } from 'commander';
import { IllegalStateUsageError } from '@flowstate/core';
import { disposeFlinkSavepoint, formatFlinkDispose } from '@flowstate/flink';
import { disposeSavepoint } from '@flowstate/savepoint';
import { checkpointVerbConfig, fileSystemsOf, storageFromConfig, type CheckpointVerbConfig, type ConfigFileOption } from '../configuration.js';
import { flinkInputAt } from '../flink-locations.js';
import { json, loadRegistry, positiveInt } from '../common.js';
import { bytes } from '../format.js';
import { ExitCode, type ExitCodeValue } from '../exit-codes.js';
import { formatGc, garbageCollect } from './gc.js';
import { formatHistory, historyReport } from './history.js';
import { formatList, listReport } from './list.js';
import { openCheckpointRoot, parseCheckpointId, scanRoot, type CheckpointRoot } from './root.js';
import { formatShow, showReport } from './show.js';
import { formatCheckpointValidation, validateCheckpoints } from './validate.js';

export interface CheckpointCommandContext {
  readonly io: { readonly stdout: (s: string) => void; readonly stderr: (s: string) => void };
  readonly setExit: (code: ExitCodeValue) => void;
}

const HELP = `
Locations: a job's checkpoint directory (the one holding chk-<id>/ and shared/), as a local path
  or a URI: file:///dir, s3://bucket/prefix, webhdfs://namenode:9870/path, hdfs://... (see
  'flowstate savepoint --help' for credentials and endpoints).

Configuration: --config <config.yaml> is the job's Flink-style configuration (docs/configuration.md),
  validated. Its storage settings apply; with execution.checkpointing.dir (state.checkpoints.dir)
  set, the directory argument may be left out ('checkpoint show 42 --config job.yaml'), and
  'list' takes execution.checkpointing.num-retained as --retained.

Exit codes:
  0  success (validate: every checkpoint checked is valid)
  1  findings: validate found problems (an incomplete checkpoint, a missing, resized or corrupt
     file); history found unreadable entries (the readable ones are still shown)
  2  usage error (bad arguments, unknown checkpoint id, a location that is not a job's checkpoint
     directory, dispose of anything but a complete savepoint)
  3  input unreadable (nothing at the location, storage failure, corrupt or unreadable metadata;
     gc refuses to delete while any checkpoint's metadata is unreadable)
  4  unsupported (unknown format version, incompatible serializer)
  70 internal error (a bug: please report it)`;

function checkpointIds(v: string, prev: number[] | undefined): number[] {
  try {
    return [...(prev ?? []), parseCheckpointId(v)];
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

interface JsonOption extends ConfigFileOption {
  json?: boolean;
}

const looksLikeId = (v: string): boolean => /^(chk-)?\d+$/.test(v);

/** The checkpoint directory: the argument, else the configuration's execution.checkpointing.dir. */
function directoryOf(dir: string | undefined, cfg: CheckpointVerbConfig): string {
  const d = dir ?? cfg.checkpointsDirectory;
  if (d === undefined) throw new IllegalStateUsageError(undefined, "name the job's checkpoint directory, or give --config with execution.checkpointing.dir set");
  return d;
}

/**
 * The `[dir] [id]` arguments of a verb, resolved with its configuration: a lone argument is the
 * id when the configuration names the directory.
 */
function checkpointTarget(first: string | undefined, second: string | undefined, o: JsonOption): { cfg: CheckpointVerbConfig; dir: string; checkpointId: number | undefined } {
  const cfg = checkpointVerbConfig(o);
  const target = (dir: string, id: string | undefined) => ({ cfg, dir, checkpointId: id === undefined ? undefined : parseCheckpointId(id) });
  if (second !== undefined) return target(directoryOf(first, cfg), second);
  if (first !== undefined && cfg.checkpointsDirectory !== undefined && looksLikeId(first)) return target(cfg.checkpointsDirectory, first);
  return target(directoryOf(first, cfg), undefined);
}

interface VerbContext {
  /** A new verb with the options every checkpoint verb has. */
  readonly verb: (name: string, description: string) => Command;
  /** A verb over a job's checkpoint directory (`[dir]`), and one checkpoint in it (`[id]`) when `idHelp` says what the id selects. */
  readonly directoryVerb: (name: string, description: string, idHelp?: string) => Command;
  readonly open: (dir: string | undefined, cfg: CheckpointVerbConfig) => Promise<CheckpointRoot>;
  readonly print: (o: JsonOption, value: unknown, human: () => string) => void;
  readonly setExit: (code: ExitCodeValue) => void;
}

/** `flowstate checkpoint list|show|validate|gc|dispose|history` over a job's checkpoint directory on any storage. */
export function addCheckpointCommands(program: Command, ctx: CheckpointCommandContext): Command {
  const { io, setExit } = ctx;
  const group = program
    .command('checkpoint')
    .description("look after a job's checkpoint directory: list, show, validate, garbage-collect, history; dispose savepoints")
    .addHelpText('after', HELP)
    .exitOverride();
  const verb = (name: string, description: string): Command =>
    group
      .command(name)
      .description(description)
      .option('--json', 'machine-readable JSON on stdout')
      .option('--config <config.yaml>', "the job's configuration: storage settings, and the checkpoint directory when the argument is left out")
      .addHelpText('after', HELP)
      .exitOverride();
  const open = (dir: string | undefined, cfg: CheckpointVerbConfig): Promise<CheckpointRoot> => openCheckpointRoot(directoryOf(dir, cfg), cfg.fileSystems);
  const print = (o: JsonOption, value: unknown, human: () => string): void => io.stdout(o.json === true ? json(value) : `${human()}\n`);
  const directoryVerb = (name: string, description: string, idHelp?: string): Command => {
    const c = verb(name, description).argument('[dir]', "the job's checkpoint directory (path or URI)");
    return idHelp === undefined ? c : c.argument('[id]', idHelp);
  };
  const verbs: VerbContext = { verb, directoryVerb, open, print, setExit };
  for (const add of [addList, addShow, addValidate, addGc, addHistory]) add(verbs);
  addDispose(verbs, io);
  return group;
}

function addList(ctx: VerbContext): void {
  const { directoryVerb, open, print, setExit } = ctx;
  directoryVerb('list', 'completed checkpoints, incomplete and in-progress leftovers, their sizes and which are retained')
    .option('--retained <n>', "the job's number of retained checkpoints (state.checkpoints.num-retained): older completed ones are shown as subsumed (default: the configuration's, else every completed one is retained, as on recovery)", positiveInt('--retained'))
    .action(async (dir: string | undefined, o: JsonOption & { retained?: number }) => {
      const cfg = checkpointVerbConfig(o);
      const report = listReport(await scanRoot(await open(dir, cfg), o.retained ?? cfg.numRetained));
      print(o, report, () => formatList(report));
      setExit(ExitCode.OK);
    });
}

function addShow(ctx: VerbContext): void {
  const { directoryVerb, open, print, setExit } = ctx;
  directoryVerb('show', 'one checkpoint: operators, subtasks, state handles, their files and the shared files it references', 'checkpoint id (42 or chk-42)').action(
    async (first: string | undefined, second: string | undefined, o: JsonOption) => {
      const { cfg, dir, checkpointId } = checkpointTarget(first, second, o);
      if (checkpointId === undefined) throw new IllegalStateUsageError(undefined, 'name the checkpoint to show (42 or chk-42)');
      const root = await open(dir, cfg);
      const report = showReport(await scanRoot(root), checkpointId);
      print(o, report, () => formatShow(report, root.display));
      setExit(ExitCode.OK);
    },
  );
}

function addValidate(ctx: VerbContext): void {
  const { directoryVerb, open, print, setExit } = ctx;
  directoryVerb('validate', 'check completed checkpoints end to end (every file, shared ones included: presence, size, CRC32C; every entry) and report incomplete ones', 'only this checkpoint (42 or chk-42; default: all)')
    .option('--serializers <module>', "ES module exporting 'registry': snapshot readers of custom serializers")
    .action(async (first: string | undefined, second: string | undefined, o: JsonOption & { serializers?: string }) => {
      const { cfg, dir, checkpointId } = checkpointTarget(first, second, o);
      const scan = await scanRoot(await open(dir, cfg));
      if (checkpointId !== undefined) showReport(scan, checkpointId); // an unknown id is a usage error
      const report = await validateCheckpoints(scan, checkpointId, { ...(await loadRegistry(o.serializers)), ...(cfg.fileSystems === undefined ? {} : { fileSystems: cfg.fileSystems }) });
      print(o, report, () => formatCheckpointValidation(report));
      setExit(report.ok ? ExitCode.OK : ExitCode.FAILED);
    });
}

function addGc(ctx: VerbContext): void {
  const { directoryVerb, open, print, setExit } = ctx;
  directoryVerb('gc', 'delete files no completed checkpoint references (aborted, crashed, incomplete checkpoints); a dry run unless --apply')
    .option('--apply', 'delete (default: only print what would be deleted)')
    .option('--in-flight <id>', 'a checkpoint being written right now, whose files are kept (repeatable; shared/ is then left alone)', checkpointIds)
    .action(async (dir: string | undefined, o: JsonOption & { apply?: boolean; inFlight?: number[] }) => {
      const report = await garbageCollect(await open(dir, checkpointVerbConfig(o)), o.apply === true, o.inFlight ?? []);
      print(o, report, () => formatGc(report));
      setExit(ExitCode.OK);
    });
}

/**
 * `dispose` (of `flowstate checkpoint` and `flowstate savepoint`): an Apache Flink savepoint or
 * checkpoint as Flink's `savepoint -d` deletes it, else a flowstate savepoint. @flowstate/flink
 * disposes on local disk only: an Apache Flink savepoint on remote storage is refused, with nothing
 * deleted (treated as a flowstate savepoint, its metadata would only be unreadable).
 */
export async function runDispose(savepoint: string, o: JsonOption, io: CheckpointCommandContext['io']): Promise<void> {
  const print = (value: unknown, human: () => string): void => io.stdout(o.json === true ? json(value) : `${human()}\n`);
  // --config is loaded (and validated) also for a local Flink savepoint, which needs none of its settings.
  const flink = await flinkInputAt(savepoint, fileSystemsOf(o));
  if (flink?.kind === 'remote') {
    throw new IllegalStateUsageError(
      undefined,
      `refusing to dispose '${flink.savepoint.display}': it is an Apache Flink savepoint or checkpoint on remote storage, and flowstate disposes Apache Flink savepoints on local disk only; nothing was deleted (use Flink's 'flink savepoint -d', or your storage's tools)`,
    );
  }
  if (flink?.kind === 'local') {
    const r = await disposeFlinkSavepoint(flink.path);
    return print(r, () => formatFlinkDispose(r));
  }
  const r = await disposeSavepoint(savepoint, storageFromConfig(o));
  print(r, () =>
    [`disposed savepoint ${r.directory}: ${r.deleted.length} file(s), ${bytes(r.bytes)} of state${r.directoryRemoved ? ', directory removed' : ''}`, ...r.leftAlone.map((f) => `  left alone (not part of the savepoint): ${f}`)].join('\n'),
  );
}

function addDispose(ctx: VerbContext, io: CheckpointCommandContext['io']): void {
  const { verb, setExit } = ctx;
  verb('dispose', "delete a savepoint's files (Flink's savepoint -d), refusing anything that is not a complete savepoint; an Apache Flink savepoint or checkpoint is deleted as Flink does (local paths only)")
    .argument('<savepoint>', 'savepoint directory, or its _metadata file (path or URI)')
    .action(async (savepoint: string, o: JsonOption) => {
      await runDispose(savepoint, o, io);
      setExit(ExitCode.OK);
    });
}

function addHistory(ctx: VerbContext): void {
  const { directoryVerb, open, print, setExit } = ctx;
  directoryVerb('history', 'persisted checkpoint statistics (durations, sizes, failures) of the job, oldest first')
    .option('--limit <n>', 'only the newest n entries (default 1000)', positiveInt('--limit'))
    .action(async (dir: string | undefined, o: JsonOption & { limit?: number }) => {
      const report = await historyReport(await open(dir, checkpointVerbConfig(o)), o.limit);
      print(o, report, () => formatHistory(report));
      setExit(report.unreadable.length === 0 ? ExitCode.OK : ExitCode.FAILED);
    });
}
