import { Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import {
  conversionTargets,
  convertSavepoint,
  diffSavepoints,
  inspectSavepoint,
  LATEST_FORMAT_VERSION,
  migrateSavepoint,
  rescaleSavepoint,
  SavepointReader,
  validateSavepoint,
  type ConversionTarget,
  type SavepointWriteResult,
} from '@flowstate/savepoint';
import { IllegalStateUsageError } from '@flowstate/core';
import { json, loadRegistry, positiveInt } from '../common.js';
import { storageFromConfig, type ConfigFileOption } from '../configuration.js';
import { runDispose } from '../checkpoint/command.js';
import { ExitCode, type ExitCodeValue } from '../exit-codes.js';
import { checkInputFormat, convertFlinkIfFlink, convertToFlink, diffFlinkIfFlink, inspectFlinkIfFlink, rescaleFlinkIfFlink, validateFlinkIfFlink } from '../flink.js';
import { bytes, formatDiff, formatInspect, formatValidation } from '../format.js';
import { formatLayout, layoutOf, parseOperatorParallelism } from '../layout.js';
import { NATIVE_FORMATS } from '../storages.js';

// `flowstate savepoint inspect|validate|diff|convert|migrate|rescale`: one function per verb.

const NATIVE = { nativeFormats: NATIVE_FORMATS } as const;

/** Where the savepoint verbs write (the CLI's CliIO). */
export interface SavepointCommandIO {
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
  readonly stderrIsTTY: boolean;
}

class Progress {
  private bar: cliProgress.SingleBar | undefined;
  constructor(
    private readonly io: SavepointCommandIO,
    private readonly enabled: boolean,
    private readonly label: string,
  ) {}
  update = (done: number, total: number): void => {
    if (!this.enabled) return;
    if (this.bar === undefined) {
      const stream = process.stderr;
      this.bar = new cliProgress.SingleBar(
        { stream, format: `${this.label} [{bar}] {percentage}% | {doneBytes} of {totalBytes}`, hideCursor: true, clearOnComplete: true },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(Math.max(total, 1), 0, { doneBytes: bytes(0), totalBytes: bytes(total) });
    }
    this.bar.setTotal(Math.max(total, 1));
    this.bar.update(done, { doneBytes: bytes(done), totalBytes: bytes(total) });
  };
  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

interface CommonOptions extends ConfigFileOption {
  json?: boolean;
  progress?: boolean;
  serializers?: string;
}

function writeSummary(r: SavepointWriteResult): Record<string, unknown> {
  return {
    directory: r.directory,
    formatVersion: r.formatVersion,
    operators: r.metadata.operators.map((o) => ({ uid: o.uid, parallelism: o.parallelism, maxParallelism: o.maxParallelism })),
  };
}

interface VerbContext {
  readonly io: SavepointCommandIO;
  readonly setExit: (code: ExitCodeValue) => void;
  /** The options every savepoint verb has. */
  readonly common: (c: Command) => Command;
  /** Runs a verb's work with its progress bar, which is gone (also on failure) before anything is printed. */
  readonly withProgress: <R>(o: CommonOptions, label: string, work: (onProgress: (done: number, total: number) => void) => Promise<R>) => Promise<R>;
  /** The report as JSON (--json) or as text, on stdout. */
  readonly print: (o: CommonOptions, value: unknown, human: () => string) => void;
}

/** What reading a savepoint takes from the common options: custom serializers (--serializers) and storages (--config). */
async function readOptions(o: CommonOptions) {
  return { ...(await loadRegistry(o.serializers)), ...storageFromConfig(o) };
}

/** `flowstate savepoint …`: the verbs on one savepoint (or one retained checkpoint). */
export function addSavepointCommands(program: Command, io: SavepointCommandIO, setExit: (code: ExitCodeValue) => void, helpText: string): Command {
  const savepoint = program
    .command('savepoint')
    .description('inspect, validate, compare, convert, migrate and rescale savepoints')
    .addHelpText('after', helpText)
    .exitOverride();
  const common = (c: Command): Command =>
    c
      .option('--json', 'machine-readable JSON on stdout')
      .option('--no-progress', 'no progress bar (shown on stderr only when it is a terminal)')
      .option('--serializers <module>', "ES module exporting 'registry' (snapshot readers of custom serializers) and, for Apache Flink savepoints, 'flinkSerializers' ({ [snapshotClassName]: reader })")
      .option('--config <config.yaml>', 'Flink-style configuration (docs/configuration.md): validated; its storage keys (s3.endpoint, s3.path.style.access) apply to every location')
      .addHelpText('after', helpText)
      .exitOverride();
  const withProgress = async <R>(o: CommonOptions, label: string, work: (onProgress: (done: number, total: number) => void) => Promise<R>): Promise<R> => {
    const p = new Progress(io, io.stderrIsTTY && o.progress !== false, label);
    try {
      return await work(p.update);
    } finally {
      p.stop();
    }
  };
  const print = (o: CommonOptions, value: unknown, human: () => string): void => io.stdout(o.json === true ? json(value) : `${human()}\n`);
  const ctx: VerbContext = { io, setExit, common, withProgress, print };
  for (const add of [addInspect, addValidate, addDiff, addConvert, addMigrate, addRescale, addDispose]) add(savepoint, ctx);
  return savepoint;
}

const SAVEPOINT_ARGUMENT = 'savepoint directory (path or URI)';
const OUTPUT_ARGUMENT = 'new directory, path or URI (must not exist or be empty)';

/** Same as `flowstate checkpoint dispose` (Flink's `savepoint -d` is a savepoint verb). */
function addDispose(savepoint: Command, ctx: VerbContext): void {
  const { io, setExit, common } = ctx;
  common(savepoint.command('dispose').argument('<savepoint>', 'savepoint directory, or its _metadata file (path or URI)'))
    .description("delete a savepoint's files (Flink's savepoint -d): a flowstate savepoint only when complete; an Apache Flink savepoint or checkpoint as Flink deletes it (local paths only)")
    .action(async (location: string, o: CommonOptions) => {
      await runDispose(location, o, io);
      setExit(ExitCode.OK);
    });
}

function addInspect(savepoint: Command, ctx: VerbContext): void {
  const { io, setExit, common, withProgress, print } = ctx;
  common(savepoint.command('inspect').argument('<dir>', SAVEPOINT_ARGUMENT))
    .description('show operators, states, kinds, serializers, sizes and key-group coverage')
    .option('--no-scan', 'do not read key-group blocks (no entry counts or sizes per state)')
    .action(async (dir: string, o: CommonOptions & { scan?: boolean }) => {
      if (await inspectFlinkIfFlink(dir, o, io)) return setExit(ExitCode.OK);
      const report = await withProgress(o, 'inspect', async (onProgress) => {
        const reader = await SavepointReader.load(dir, await readOptions(o));
        // Also with --no-scan: never describe an incomplete savepoint or checkpoint as if it were whole.
        await reader.verifyComplete();
        return inspectSavepoint(reader, { scan: o.scan !== false, onProgress });
      });
      print(o, report, () => formatInspect(report));
      setExit(ExitCode.OK);
    });
}

function addValidate(savepoint: Command, ctx: VerbContext): void {
  const { io, setExit, common, withProgress, print } = ctx;
  common(savepoint.command('validate').argument('<dir>', SAVEPOINT_ARGUMENT))
    .description('check metadata, every file checksum, every key-group block, key-group coverage and paths')
    .action(async (dir: string, o: CommonOptions) => {
      const flink = await validateFlinkIfFlink(dir, o, io);
      if (flink !== undefined) return setExit(flink);
      const report = await withProgress(o, 'validate', async (onProgress) => validateSavepoint(dir, { onProgress, ...NATIVE, ...(await readOptions(o)) }));
      print(o, report, () => formatValidation(report));
      // Not a savepoint at all (no _metadata, unreadable directory): unreadable input, not "invalid".
      const notFound = !report.metadataReadable && report.problems.some((x) => x.code === 'STORAGE_NOT_FOUND' || x.code === 'STORAGE_ERROR');
      // A location no registered storage opens (an unknown URI scheme) is a usage error.
      const unusable = !report.metadataReadable && report.problems.some((x) => x.code === 'ILLEGAL_STATE_USAGE');
      setExit(report.ok ? ExitCode.OK : unusable ? ExitCode.USAGE : notFound ? ExitCode.CORRUPT : ExitCode.FAILED);
    });
}

function addDiff(savepoint: Command, ctx: VerbContext): void {
  const { io, setExit, common, withProgress, print } = ctx;
  common(savepoint.command('diff').argument('<a>', 'first savepoint (path or URI)').argument('<b>', 'second savepoint (path or URI)'))
    .description('compare two savepoints operator by operator and state by state')
    .action(async (a: string, b: string, o: CommonOptions) => {
      const flink = await diffFlinkIfFlink(a, b, o, io);
      if (flink !== undefined) return setExit(flink);
      const { ra, rb, report } = await withProgress(o, 'diff', async (onProgress) => {
        const options = await readOptions(o);
        const [ra, rb] = [await SavepointReader.load(a, options), await SavepointReader.load(b, options)];
        await ra.verifyComplete();
        await rb.verifyComplete();
        const total = [ra, rb].flatMap((r) => r.operators()).reduce((x, op) => x + op.stateSize, 0);
        let done = 0;
        return { ra, rb, report: await diffSavepoints(ra, rb, { onBytes: (n) => onProgress((done += n), total) }) };
      });
      print(o, report, () => formatDiff(report, ra.directory, rb.directory));
      setExit(report.equal ? ExitCode.OK : ExitCode.FAILED);
    });
}

/** A verb that reads `<input>` and writes a new savepoint at `<output>`. */
function rewriteVerb(savepoint: Command, ctx: VerbContext, name: string, description: string): Command {
  return ctx.common(savepoint.command(name).argument('<input>', SAVEPOINT_ARGUMENT).argument('<output>', OUTPUT_ARGUMENT)).description(description);
}

function addConvert(savepoint: Command, ctx: VerbContext): void {
  const { io, setExit, withProgress, print } = ctx;
  rewriteVerb(savepoint, ctx, 'convert', 'convert keyed state between the canonical format and native RocksDB snapshots')
    .addOption(new Option('--to <format>', 'target format (flink: an Apache Flink canonical savepoint)').choices([...conversionTargets(NATIVE), 'flink']).makeOptionMandatory())
    .addOption(new Option('--from <format>', 'input format, checked against the detected one (default: detected)').choices(['flowstate', 'flink']))
    .option('--flink-version <version>', 'with --to flink: the Flink release that will read it (chooses the _metadata version; default 2.1+)')
    .option('--uid-map <from=to...>', 'with --to flink: flowstate uid -> Flink uid')
    .action(async (input: string, output: string, o: CommonOptions & { to: ConversionTarget | 'flink'; from?: 'flowstate' | 'flink'; flinkVersion?: string; uidMap?: string[] }) => {
      // Read only by the conversion to Flink: with another target they would be ignored without a word.
      if (o.to !== 'flink' && (o.uidMap !== undefined || o.flinkVersion !== undefined)) throw new IllegalStateUsageError(undefined, `--uid-map and --flink-version apply with --to flink only, not --to ${o.to}`);
      await checkInputFormat(input, o.from, o);
      if (await convertFlinkIfFlink(input, output, o, io)) return setExit(ExitCode.OK);
      if (o.to === 'flink') return setExit(await convertToFlink(input, output, o, io));
      const to = o.to;
      const r = await withProgress(o, 'convert', async (onProgress) => convertSavepoint(input, output, to, { onProgress, ...NATIVE, ...(await readOptions(o)) }));
      print(o, writeSummary(r), () => `converted ${input} to ${to} format v${r.formatVersion}: ${r.directory}`);
      setExit(ExitCode.OK);
    });
}

function addMigrate(savepoint: Command, ctx: VerbContext): void {
  const { setExit, withProgress, print } = ctx;
  rewriteVerb(savepoint, ctx, 'migrate', `rewrite a savepoint of any readable format version in another version (latest: ${LATEST_FORMAT_VERSION})`)
    .requiredOption('--to-version <n>', 'target format version', positiveInt('--to-version'))
    .action(async (input: string, output: string, o: CommonOptions & { toVersion: number }) => {
      const { before, r } = await withProgress(o, 'migrate', async (onProgress) => {
        const options = await readOptions(o);
        const before = (await SavepointReader.load(input, options)).formatVersion;
        return { before, r: await migrateSavepoint(input, output, o.toVersion, { onProgress, ...options }) };
      });
      print(o, { ...writeSummary(r), fromVersion: before }, () => `migrated ${input} from format v${before} to v${r.formatVersion}: ${r.directory}`);
      setExit(ExitCode.OK);
    });
}

function addRescale(savepoint: Command, ctx: VerbContext): void {
  const { io, setExit, withProgress, print } = ctx;
  rewriteVerb(savepoint, ctx, 'rescale', 'change maxParallelism (and parallelism): key groups are recomputed from the serialized keys of a canonical savepoint')
    .requiredOption('--max-parallelism <m>', 'new maxParallelism (number of key groups, 1..32768)', positiveInt('--max-parallelism'))
    .option('--parallelism <p>', 'new parallelism of every operator with keyed state (operators without keyed state, e.g. sources, keep theirs; default: unchanged, capped at the new maxParallelism)', positiveInt('--parallelism'))
    .option('--operator-parallelism <uid=p...>', 'new parallelism of one operator, keyed or not (repeatable; wins over --parallelism)')
    .option('--operator <uid...>', 'only these operators (default: all)')
    .action(async (input: string, output: string, o: CommonOptions & { maxParallelism: number; parallelism?: number; operatorParallelism?: string[]; operator?: string[] }) => {
      if (await rescaleFlinkIfFlink(input, output, { ...o, operatorParallelism: parseOperatorParallelism(o.operatorParallelism) }, io)) return setExit(ExitCode.OK);
      const r = await withProgress(o, 'rescale', async (onProgress) => {
        const operatorParallelism = parseOperatorParallelism(o.operatorParallelism);
        const target = { maxParallelism: o.maxParallelism, operatorParallelism, ...(o.parallelism === undefined ? {} : { keyedParallelism: o.parallelism }), ...(o.operator === undefined ? {} : { operators: o.operator }) };
        return rescaleSavepoint(input, output, target, { onProgress, ...(await readOptions(o)) });
      });
      const layout = layoutOf(r.metadata);
      print(o, { ...writeSummary(r), operators: layout }, () => `rescaled ${input} to maxParallelism ${o.maxParallelism}: ${r.directory}\n${formatLayout(layout)}`);
      setExit(ExitCode.OK);
    });
}
