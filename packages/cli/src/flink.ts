import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IllegalStateUsageError, type FileSystem } from '@flowstate/core';
import {
  convertFlinkToFlowstate,
  createOutputDirectory,
  convertFlowstateToFlink,
  diffFlinkSavepoints,
  metadataVersionForFlink,
  FlinkSavepoint,
  formatFlinkDiff,
  formatFlinkInspect,
  formatFlinkValidation,
  defaultFlinkSerializers,
  inputDirectoryOf,
  inspectFlinkSavepoint,
  rescaleFlinkSavepoint,
  validateFlinkSavepoint,
  type FlinkSavepointOptions,
  type FlinkToFlowstateResult,
  type SnapshotReader,
} from '@flowstate/flink';
import { diffSavepoints, SavepointReader, type SavepointOutput } from '@flowstate/savepoint';
import { LocalFileSystem } from '@flowstate/storage-local';
import { fileSystemsOf, storageFromConfig, type ConfigFileOption } from './configuration.js';
import { ExitCode, type ExitCodeValue } from './exit-codes.js';
import { flinkInputAt, flinkOutputAt, locate, remoteDirectoryOf, type FlinkInput } from './flink-locations.js';
import { flinkReadOptions } from './flink-rocksdb.js';
import { DEFAULT_STAGING_LIMITS, withLocalCopy, writingTo, type StagingLimits } from './flink-staging.js';
import { formatDiff } from './format.js';
import { importSerializersModule, json } from './common.js';

/**
 * What every Apache Flink verb takes. Locations are local paths or URIs: a Flink savepoint on
 * remote storage is staged through a local temporary directory (flink-staging.ts).
 */
export interface FlinkVerbOptions extends ConfigFileOption {
  readonly json?: boolean;
  readonly serializers?: string;
  /** Internal (tests): the limits of a remote savepoint's local copy (default DEFAULT_STAGING_LIMITS). */
  readonly stagingLimits?: StagingLimits;
}

/** The Flink savepoint or checkpoint at `location`, or undefined (not one: flowstate's format). */
function flinkInput(location: string, o: FlinkVerbOptions): Promise<FlinkInput | undefined> {
  // --config is loaded (and validated) also for a local savepoint, which needs none of its settings.
  return flinkInputAt(location, fileSystemsOf(o));
}

function limitsOf(o: FlinkVerbOptions): StagingLimits {
  return o.stagingLimits ?? DEFAULT_STAGING_LIMITS;
}

/**
 * `--serializers <module>` for Apache Flink savepoints: the module exports `flinkSerializers`, an
 * object from Java snapshot class name (e.g. `com.acme.MySerializer$MySnapshot`) to a SnapshotReader,
 * added to Flink's built-in readers. (Its `registry` export is for flowstate's own savepoints.)
 */
export async function flinkOptions(module: string | undefined): Promise<FlinkSavepointOptions> {
  if (module === undefined) return flinkReadOptions();
  const readers = (await importSerializersModule(module))['flinkSerializers'];
  if (readers === null || typeof readers !== 'object' || Object.values(readers).some((r) => typeof r !== 'function')) {
    throw new IllegalStateUsageError(undefined, `--serializers: '${module}' exports no Apache Flink snapshot readers (export 'flinkSerializers': { [snapshotClassName]: reader })`);
  }
  const registry = defaultFlinkSerializers.extend();
  for (const [className, reader] of Object.entries(readers as Record<string, SnapshotReader>)) registry.register(className, reader);
  return { ...flinkReadOptions(), registry };
}

/**
 * `flowstate savepoint inspect` on an Apache Flink savepoint or checkpoint (recognized by the
 * magic number of its `_metadata`). Returns false when `dir` is not one, so the caller goes on
 * with flowstate's own format.
 */
export async function inspectFlinkIfFlink(dir: string, o: FlinkVerbOptions & { scan?: boolean }, io: { stdout: (s: string) => void }): Promise<boolean> {
  const input = await flinkInput(dir, o);
  if (input === undefined) return false;
  const options = await flinkOptions(o.serializers);
  const report = await withLocalCopy(input, limitsOf(o), async (path, shown) => shown(await inspectFlinkSavepoint(await FlinkSavepoint.load(path, options), { scan: o.scan !== false })));
  io.stdout(o.json === true ? `${JSON.stringify(report, null, 2)}\n` : `${formatFlinkInspect(report, dir)}\n`);
  return true;
}

/** `flowstate savepoint rescale` on an Apache Flink savepoint: the output is a Flink savepoint. */
export async function rescaleFlinkIfFlink(
  input: string,
  output: string,
  o: FlinkVerbOptions & { maxParallelism: number; parallelism?: number; operatorParallelism?: Record<string, number>; operator?: string[] },
  io: { stdout: (s: string) => void },
): Promise<boolean> {
  const source = await flinkInput(input, o);
  if (source === undefined) return false;
  // Before anything is staged or written: an unusable remote output costs no download.
  const target = await flinkOutputAt(output, remoteDirectoryOf(source), fileSystemsOf(o));
  const options = await flinkOptions(o.serializers);
  // --parallelism is the parallelism of operators with keyed state only (sources and sinks keep theirs).
  const rescale = {
    maxParallelism: o.maxParallelism,
    ...(o.parallelism === undefined ? {} : { keyedParallelism: o.parallelism }),
    ...(o.operatorParallelism === undefined ? {} : { operatorParallelism: o.operatorParallelism }),
    ...(o.operator === undefined ? {} : { operators: o.operator }),
  };
  const { files } = await withLocalCopy(source, limitsOf(o), async (path) => {
    const sp = await FlinkSavepoint.load(path, options);
    return writingTo(target, (dir) => rescaleFlinkSavepoint(sp, dir, rescale));
  });
  io.stdout(o.json === true ? `${JSON.stringify({ directory: output, format: 'apache-flink', files: files.length }, null, 2)}\n` : `rescaled Apache Flink savepoint ${input} to maxParallelism ${o.maxParallelism}: ${output}\n`);
  return true;
}

/**
 * `flowstate savepoint convert <flink savepoint> <dir> --to canonical`: a flowstate canonical
 * savepoint from an Apache Flink one (timers and TTL states included). States flowstate cannot
 * carry (opaque serializers, RocksDB-native state) are listed on stderr and in the JSON output.
 */
export async function convertFlinkIfFlink(
  input: string,
  output: string,
  o: FlinkVerbOptions & { to: string },
  io: { stdout: (s: string) => void; stderr: (s: string) => void },
): Promise<boolean> {
  const source = await flinkInput(input, o);
  if (source === undefined) return false;
  if (o.to !== 'canonical') throw new IllegalStateUsageError(undefined, `an Apache Flink savepoint converts to 'canonical' only, not '${o.to}'`);
  const target = await flinkOutputAt(output, remoteDirectoryOf(source), fileSystemsOf(o));
  const options = await flinkOptions(o.serializers);
  const r = await withLocalCopy(source, limitsOf(o), async (path) => {
    const sp = await FlinkSavepoint.load(path, options);
    return target.kind === 'local' ? convertToLocalDirectory(sp, target.path) : convertToRemote(sp, target.output);
  });
  for (const s of r.skipped) io.stderr(`flowstate: skipped ${s}\n`);
  io.stdout(o.json === true ? `${JSON.stringify({ directory: output, formatVersion: 1, operators: r.metadata.operators.map((x) => ({ uid: x.uid, parallelism: x.parallelism, maxParallelism: x.maxParallelism })), skipped: r.skipped }, null, 2)}\n` : `converted Apache Flink savepoint ${input} to flowstate canonical format v1: ${output}\n`);
  return true;
}

async function convertToLocalDirectory(sp: FlinkSavepoint, output: string): Promise<FlinkToFlowstateResult> {
  const created = await createOutputDirectory(output, inputDirectoryOf(sp));
  try {
    return await convertFlinkToFlowstate(sp, new LocalFileSystem(output));
  } catch (e) {
    // A failed conversion leaves nothing behind: the directories this command created, or what it
    // wrote into the empty directory it was given.
    await (created !== undefined ? rm(created, { recursive: true, force: true }) : emptyDirectory(output)).catch(() => {});
    throw e;
  }
}

/**
 * The conversion writes through any FileSystem (`_metadata` last, each file committed), so a
 * remote output is written directly, not staged; a failed one is removed (it was empty or absent).
 */
async function convertToRemote(sp: FlinkSavepoint, output: SavepointOutput): Promise<FlinkToFlowstateResult> {
  try {
    return await convertFlinkToFlowstate(sp, output.fs);
  } catch (e) {
    await output.discard();
    throw e;
  }
}

/** Removes everything in `dir` (which was empty before this command wrote into it). */
async function emptyDirectory(dir: string): Promise<void> {
  for (const name of await readdir(dir)) await rm(join(dir, name), { recursive: true, force: true });
}

/**
 * `convert --from flowstate|flink`: the input format is detected (Flink's `_metadata` magic number);
 * `--from` only states what the user expects, so a mismatch is a usage error, not a conversion.
 */
export async function checkInputFormat(input: string, from: 'flowstate' | 'flink' | undefined, o: ConfigFileOption = {}): Promise<void> {
  if (from === undefined) return;
  const detected = (await flinkInput(input, o)) !== undefined ? 'flink' : 'flowstate';
  if (detected !== from) throw new IllegalStateUsageError(undefined, `--from ${from}: '${input}' is ${detected === 'flink' ? 'an Apache Flink savepoint' : 'not an Apache Flink savepoint'}`);
}

/** `flowstate savepoint convert <flowstate savepoint> <dir> --to flink [--flink-version 1.18] [--uid-map a=b]`. */
export async function convertToFlink(
  input: string,
  output: string,
  o: ConfigFileOption & { json?: boolean; flinkVersion?: string; uidMap?: string[] },
  io: { stdout: (s: string) => void; stderr: (s: string) => void },
): Promise<0> {
  const uids = o.uidMap === undefined ? undefined : parseUidMap(o.uidMap);
  const metadataVersion = o.flinkVersion === undefined ? 6 : metadataVersionForFlink(o.flinkVersion);
  const where = locate(input);
  // convertFlowstateToFlink reads through any FileSystem: a remote input is read in place.
  const source: FileSystem = 'local' in where ? new LocalFileSystem(where.local) : fileSystemsOf(o).resolve(where.remote);
  const target = await flinkOutputAt(output, 'remote' in where ? input : undefined, fileSystemsOf(o));
  const r = await writingTo(target, (dir) => convertFlowstateToFlink(source, dir, { metadataVersion, ...(uids === undefined ? {} : { uids }) }));
  for (const s of r.skipped) io.stderr(`flowstate: skipped ${s}\n`);
  io.stdout(o.json === true ? json({ directory: output, format: 'apache-flink', metadataVersion, files: r.files.length, skipped: r.skipped }) : `converted ${input} to an Apache Flink savepoint (metadata V${metadataVersion}): ${output}\n`);
  return 0;
}

/**
 * `--uid-map from=to` values. A value with a second '=' or a source uid given twice is refused
 * (read leniently, one would be dropped without a word); the conversion refuses a source uid that
 * names no operator and two operators under one uid.
 */
function parseUidMap(values: readonly string[]): Record<string, string> {
  // Null prototype: an unmapped uid such as `constructor` must not find Object.prototype's members.
  const uids = Object.create(null) as Record<string, string>;
  for (const m of values) {
    const parts = m.split('=');
    const [from, to] = parts;
    if (parts.length !== 2 || from === '' || to === '') throw new IllegalStateUsageError(undefined, `--uid-map expects from=to (one '='), got '${m}'`);
    if (Object.hasOwn(uids, from!)) throw new IllegalStateUsageError(undefined, `--uid-map maps operator '${from}' twice ('${from}=${uids[from!]}' and '${m}')`);
    uids[from!] = to!;
  }
  return uids;
}

/**
 * `flowstate savepoint validate` on an Apache Flink savepoint or checkpoint: `_metadata` and every
 * state stream it references. Undefined when `dir` is not one (the caller validates flowstate's format).
 */
export async function validateFlinkIfFlink(dir: string, o: FlinkVerbOptions, io: { stdout: (s: string) => void }): Promise<ExitCodeValue | undefined> {
  const input = await flinkInput(dir, o);
  if (input === undefined) return undefined;
  const options = await flinkOptions(o.serializers);
  const report = await withLocalCopy(input, limitsOf(o), async (path, shown) => shown(await validateFlinkSavepoint(path, options)));
  io.stdout(o.json === true ? json(report) : `${formatFlinkValidation(report)}\n`);
  return report.ok ? ExitCode.OK : ExitCode.FAILED;
}

/**
 * `flowstate savepoint diff` when either side is an Apache Flink savepoint. Two Flink savepoints
 * are compared directly; a Flink savepoint and a flowstate one by converting the Flink side to
 * flowstate's canonical format in a temporary directory (states flowstate cannot carry, such as
 * ones with opaque serializers, are listed on stderr as not compared). A remote Flink side is staged.
 */
export async function diffFlinkIfFlink(a: string, b: string, o: FlinkVerbOptions, io: { stdout: (s: string) => void; stderr: (s: string) => void }): Promise<ExitCodeValue | undefined> {
  const [fa, fb] = [await flinkInput(a, o), await flinkInput(b, o)];
  if (fa === undefined && fb === undefined) return undefined;
  const options = await flinkOptions(o.serializers);
  const limits = limitsOf(o);
  if (fa !== undefined && fb !== undefined) {
    const report = await withLocalCopy(fa, limits, (pa, shownA) =>
      withLocalCopy(fb, limits, async (pb, shownB) => shownA(shownB(await diffFlinkSavepoints(await FlinkSavepoint.load(pa, options), await FlinkSavepoint.load(pb, options))))),
    );
    io.stdout(o.json === true ? json(report) : `${formatFlinkDiff(report, a, b)}\n`);
    return report.equal ? ExitCode.OK : ExitCode.FAILED;
  }
  const flinkFirst = fa !== undefined;
  return withLocalCopy((fa ?? fb)!, limits, (path) => diffWithFlowstate(path, flinkFirst ? b : a, flinkFirst, { a, b, options, o, io }));
}

/** The Flink savepoint at `flinkPath` converted to canonical in a temporary directory, compared with the flowstate savepoint `other`. */
async function diffWithFlowstate(
  flinkPath: string,
  other: string,
  flinkFirst: boolean,
  c: { a: string; b: string; options: FlinkSavepointOptions; o: FlinkVerbOptions; io: { stdout: (s: string) => void; stderr: (s: string) => void } },
): Promise<ExitCodeValue> {
  const tmp = await mkdtemp(join(tmpdir(), 'flowstate-flink-diff-'));
  try {
    const converted = join(tmp, 'converted');
    const r = await convertFlinkToFlowstate(await FlinkSavepoint.load(flinkPath, c.options), new LocalFileSystem(converted));
    for (const s of r.skipped) c.io.stderr(`flowstate: not compared (flowstate cannot carry it): ${s}\n`);
    const storage = storageFromConfig(c.o);
    const [ra, rb] = [await SavepointReader.load(flinkFirst ? converted : other, storage), await SavepointReader.load(flinkFirst ? other : converted, storage)];
    const report = await diffSavepoints(ra, rb);
    c.io.stdout(c.o.json === true ? json({ ...report, notCompared: r.skipped }) : `${formatDiff(report, c.a, c.b)}\n`);
    return report.equal ? ExitCode.OK : ExitCode.FAILED;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
