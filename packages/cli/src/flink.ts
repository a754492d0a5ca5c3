import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IllegalStateUsageError } from '@flowstate/core';
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
  isFlinkSavepoint,
  rescaleFlinkSavepoint,
  validateFlinkSavepoint,
  type FlinkSavepointOptions,
  type SnapshotReader,
} from '@flowstate/flink';
import { diffSavepoints, SavepointReader } from '@flowstate/savepoint';
import { LocalFileSystem } from '@flowstate/storage-local';
import { ExitCode, type ExitCodeValue } from './exit-codes.js';
import { flinkReadOptions } from './flink-rocksdb.js';
import { formatDiff } from './format.js';
import { importSerializersModule, json } from './common.js';

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
export async function inspectFlinkIfFlink(
  dir: string,
  o: { json?: boolean; scan?: boolean; serializers?: string },
  io: { stdout: (s: string) => void },
): Promise<boolean> {
  if (!(await isFlinkSavepoint(dir))) return false;
  const report = await inspectFlinkSavepoint(await FlinkSavepoint.load(dir, await flinkOptions(o.serializers)), { scan: o.scan !== false });
  io.stdout(o.json === true ? `${JSON.stringify(report, null, 2)}\n` : `${formatFlinkInspect(report, dir)}\n`);
  return true;
}

/** `flowstate savepoint rescale` on an Apache Flink savepoint: the output is a Flink savepoint. */
export async function rescaleFlinkIfFlink(
  input: string,
  output: string,
  o: { json?: boolean; maxParallelism: number; parallelism?: number; operatorParallelism?: Record<string, number>; operator?: string[]; serializers?: string },
  io: { stdout: (s: string) => void },
): Promise<boolean> {
  if (!(await isFlinkSavepoint(input))) return false;
  const sp = await FlinkSavepoint.load(input, await flinkOptions(o.serializers));
  // --parallelism is the parallelism of operators with keyed state only (sources and sinks keep theirs).
  const { files } = await rescaleFlinkSavepoint(sp, output, {
    maxParallelism: o.maxParallelism,
    ...(o.parallelism === undefined ? {} : { keyedParallelism: o.parallelism }),
    ...(o.operatorParallelism === undefined ? {} : { operatorParallelism: o.operatorParallelism }),
    ...(o.operator === undefined ? {} : { operators: o.operator }),
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
  o: { json?: boolean; to: string; serializers?: string },
  io: { stdout: (s: string) => void; stderr: (s: string) => void },
): Promise<boolean> {
  if (!(await isFlinkSavepoint(input))) return false;
  if (o.to !== 'canonical') throw new IllegalStateUsageError(undefined, `an Apache Flink savepoint converts to 'canonical' only, not '${o.to}'`);
  const sp = await FlinkSavepoint.load(input, await flinkOptions(o.serializers));
  const created = await createOutputDirectory(output, inputDirectoryOf(sp));
  let r: Awaited<ReturnType<typeof convertFlinkToFlowstate>>;
  try {
    r = await convertFlinkToFlowstate(sp, new LocalFileSystem(output));
  } catch (e) {
    // A failed conversion leaves nothing behind: the directories this command created, or what it
    // wrote into the empty directory it was given.
    await (created !== undefined ? rm(created, { recursive: true, force: true }) : emptyDirectory(output)).catch(() => {});
    throw e;
  }
  for (const s of r.skipped) io.stderr(`flowstate: skipped ${s}\n`);
  io.stdout(o.json === true ? `${JSON.stringify({ directory: output, formatVersion: 1, operators: r.metadata.operators.map((x) => ({ uid: x.uid, parallelism: x.parallelism, maxParallelism: x.maxParallelism })), skipped: r.skipped }, null, 2)}\n` : `converted Apache Flink savepoint ${input} to flowstate canonical format v1: ${output}\n`);
  return true;
}

/** Removes everything in `dir` (which was empty before this command wrote into it). */
async function emptyDirectory(dir: string): Promise<void> {
  for (const name of await readdir(dir)) await rm(join(dir, name), { recursive: true, force: true });
}

/**
 * `convert --from flowstate|flink`: the input format is detected (Flink's `_metadata` magic number);
 * `--from` only states what the user expects, so a mismatch is a usage error, not a conversion.
 */
export async function checkInputFormat(input: string, from: 'flowstate' | 'flink' | undefined): Promise<void> {
  if (from === undefined) return;
  const detected = (await isFlinkSavepoint(input)) ? 'flink' : 'flowstate';
  if (detected !== from) throw new IllegalStateUsageError(undefined, `--from ${from}: '${input}' is ${detected === 'flink' ? 'an Apache Flink savepoint' : 'not an Apache Flink savepoint'}`);
}

/** `flowstate savepoint convert <flowstate savepoint> <dir> --to flink [--flink-version 1.18] [--uid-map a=b]`. */
export async function convertToFlink(
  input: string,
  output: string,
  o: { json?: boolean; flinkVersion?: string; uidMap?: string[] },
  io: { stdout: (s: string) => void; stderr: (s: string) => void },
): Promise<0> {
  const uids = o.uidMap === undefined ? undefined : parseUidMap(o.uidMap);
  const metadataVersion = o.flinkVersion === undefined ? 6 : metadataVersionForFlink(o.flinkVersion);
  const r = await convertFlowstateToFlink(new LocalFileSystem(input), output, { metadataVersion, ...(uids === undefined ? {} : { uids }) });
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
export async function validateFlinkIfFlink(dir: string, o: { json?: boolean; serializers?: string }, io: { stdout: (s: string) => void }): Promise<ExitCodeValue | undefined> {
  if (!(await isFlinkSavepoint(dir))) return undefined;
  const report = await validateFlinkSavepoint(dir, await flinkOptions(o.serializers));
  io.stdout(o.json === true ? json(report) : `${formatFlinkValidation(report)}\n`);
  return report.ok ? ExitCode.OK : ExitCode.FAILED;
}

/**
 * `flowstate savepoint diff` when either side is an Apache Flink savepoint. Two Flink savepoints
 * are compared directly; a Flink savepoint and a flowstate one by converting the Flink side to
 * flowstate's canonical format in a temporary directory (states flowstate cannot carry, such as
 * ones with opaque serializers, are listed on stderr as not compared).
 */
export async function diffFlinkIfFlink(a: string, b: string, o: { json?: boolean; serializers?: string }, io: { stdout: (s: string) => void; stderr: (s: string) => void }): Promise<ExitCodeValue | undefined> {
  const [fa, fb] = [await isFlinkSavepoint(a), await isFlinkSavepoint(b)];
  if (!fa && !fb) return undefined;
  const options = await flinkOptions(o.serializers);
  if (fa && fb) {
    const report = await diffFlinkSavepoints(await FlinkSavepoint.load(a, options), await FlinkSavepoint.load(b, options));
    io.stdout(o.json === true ? json(report) : `${formatFlinkDiff(report, a, b)}\n`);
    return report.equal ? ExitCode.OK : ExitCode.FAILED;
  }
  const tmp = await mkdtemp(join(tmpdir(), 'flowstate-flink-diff-'));
  try {
    const converted = join(tmp, 'converted');
    const r = await convertFlinkToFlowstate(await FlinkSavepoint.load(fa ? a : b, options), new LocalFileSystem(converted));
    for (const s of r.skipped) io.stderr(`flowstate: not compared (flowstate cannot carry it): ${s}\n`);
    const [ra, rb] = [await SavepointReader.load(fa ? converted : a), await SavepointReader.load(fa ? b : converted)];
    const report = await diffSavepoints(ra, rb);
    io.stdout(o.json === true ? json({ ...report, notCompared: r.skipped }) : `${formatDiff(report, a, b)}\n`);
    return report.equal ? ExitCode.OK : ExitCode.FAILED;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
