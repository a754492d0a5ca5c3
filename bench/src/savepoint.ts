/**
 * Savepoint throughput: canonical savepoint
 * write (bootstrap through the heap backend + write), read (decode every entry), validate (CRC + every
 * block; in a child process, whose peak RSS is measured), and convert canonical → native-rocksdb →
 * canonical, each against `cp` and `cp` + `sync` of one file with the savepoint's byte count, in
 * the same process and run. The savepoint writer fsyncs every file it commits, so `cp` + `sync` is
 * the like-for-like baseline for writes; plain `cp` (page cache only) is the stricter one.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BytesSerializer, isKeyGroupsStateHandle, VoidNamespaceSerializer, type KeyedStateMetaInfo, type TypeSerializerSnapshot } from '@flowstate/core';
import { ROCKSDB_NATIVE_FORMAT } from '@flowstate/rocksdb';
import { convertSavepoint, type SavepointWriteResult } from '@flowstate/savepoint';
// Local paths resolve through core's FileSystemRegistry once local storage is registered.
import '@flowstate/storage-local';
import type { Preset } from './config.js';
import { flinkCaseResult, flinkSavepointBytes, readFlink, writeFlink, type FlinkSavepointCase } from './savepoint-flink.js';
import { minimalRead, minimalWrite, type MinimalFile } from './savepoint-minimal.js';
import { blobEntries, readBlobSavepoint, VALUE_BYTES, writeBlobSavepoint } from './savepoint-state.js';
import { CpShell, syncedRandomFile } from './cp-shell.js';
import { dirBytes } from './dir-bytes.js';
import { diskBusyReader } from './disk-busy.js';
import { summarize, type Summary } from './stats.js';

export type SavepointOp = 'write' | 'read' | 'read-views' | 'minimal-write' | 'minimal-read' | 'minimal-read-views' | 'validate' | 'convert-to-native' | 'convert-to-canonical';

export interface SavepointOpResult {
  readonly op: SavepointOp;
  readonly description: string;
  /** Bytes the op moves: the canonical savepoint's size (input of read / validate / convert-to-native, output of write), or the native savepoint's size (input of convert-to-canonical). */
  readonly bytes: number;
  readonly ms: Summary;
  /** MiB/s from the median. */
  readonly mibps: number;
  /**
   * Throughput relative to `cp` of the same number of bytes (1 = as fast as cp). Conversions: the
   * median of the per-round ratios (cp_i / conversion_i, cp timed next to each conversion sample in
   * the convert phase, since session 33); every other op: cpMs / our median ms.
   */
  readonly ratioToCp: number;
  /** The same against `cp` + `sync`. */
  readonly ratioToCpSync: number;
  /**
   * The `cp` and `cp` + `sync` ms of `bytes` this row's ratios were computed with, from the row's
   * own run (median; so a median report, which takes each op row whole from one run, prints the cp
   * its ratios used): reads, validate and the write's ratio to plain `cp` use the read phase's `cp`,
   * the writes' ratio to `cp` + `sync` the write phase's, each conversion the `cp` and `cp` + `sync`
   * of its convert phase (a file of its input's size). Scaled linearly to `bytes` where the file
   * copied had another size. Absent in results written before session 33 (withRunBaselines fills
   * them from the run's section-level cpMs / cpSyncMs, which those rows' ratios used).
   */
  readonly cpMs?: number;
  readonly cpSyncMs?: number;
  /** Conversions (since session 33): the spread (p25–p75, samples) of the per-round ratios whose median is ratioToCp / ratioToCpSync. */
  readonly ratioRounds?: { readonly cp: Summary; readonly cpSync: Summary };
  /**
   * write / read / read-views: the median ms of the same run's minimal counterpart (minimal-write,
   * minimal-read, minimal-read-views), so that a median report, which takes each op row from its
   * own median run, still compares with the minimal baseline of that same run.
   */
  readonly minimalMs?: number;
  /** convert ops: median ms the disk under the work directory was busy per sample, where the system tells (disk-busy.ts). */
  readonly diskBusyMs?: number;
  /**
   * convert ops: median ms the disk was busy per `cp` + `sync` sample of the same bytes, timed in
   * the convert phase (since session 33; before, filled by withRunBaselines from the write phase's
   * cpSyncDiskBusyMs, scaled to `bytes`).
   */
  readonly cpSyncDiskBusyMs?: number;
}

/** The minimal baseline each op is compared with, in the same run. */
const MINIMAL_COUNTERPART: Partial<Record<SavepointOp, SavepointOp>> = { write: 'minimal-write', read: 'minimal-read', 'read-views': 'minimal-read-views' };

/**
 * `ops` (one run's) with each op's missing minimalMs taken from its minimal counterpart among
 * them. One it already has is kept: in a median's ops, rows come from different runs.
 */
export function withMinimalMs(ops: readonly SavepointOpResult[]): SavepointOpResult[] {
  return ops.map((o) => {
    if (o.minimalMs !== undefined) return o;
    const m = MINIMAL_COUNTERPART[o.op];
    const b = m === undefined ? undefined : ops.find((x) => x.op === m);
    return b === undefined ? o : { ...o, minimalMs: b.ms.median };
  });
}

/**
 * One run's op rows, each with every same-run baseline it is shown with: minimalMs (withMinimalMs),
 * and, for rows written before session 33, cpMs / cpSyncMs (and a conversion's cpSyncDiskBusyMs)
 * from the run's section-level medians scaled to the row's bytes: those are the times their ratios
 * were computed with. Values a row already has are kept (in a median's ops, rows come from
 * different runs), so call this on a single run's result before rows are picked.
 */
export function withRunBaselines(sp: SavepointResult): SavepointOpResult[] {
  return withMinimalMs(sp.ops).map((o) => {
    const scale = o.bytes / sp.canonicalBytes;
    const fill: { cpMs?: number; cpSyncMs?: number; cpSyncDiskBusyMs?: number } = {};
    if (o.cpMs === undefined) fill.cpMs = sp.cpMs.median * scale;
    if (o.cpSyncMs === undefined) fill.cpSyncMs = sp.cpSyncMs.median * scale;
    if (o.diskBusyMs !== undefined && o.cpSyncDiskBusyMs === undefined && sp.cpSyncDiskBusyMs !== undefined) fill.cpSyncDiskBusyMs = sp.cpSyncDiskBusyMs * scale;
    return Object.keys(fill).length === 0 ? o : { ...o, ...fill };
  });
}

export interface SavepointResult {
  readonly stateBytes: number;
  readonly entries: number;
  readonly valueBytes: number;
  readonly canonicalBytes: number;
  readonly nativeBytes: number;
  readonly roundTripBytes: number;
  /** The read phase's `cp` of canonicalBytes (interleaved with the reads); the conversions have their own (their op rows' cpMs). */
  readonly cpMs: Summary;
  /** The write phase's `cp` + `sync` of canonicalBytes (interleaved with the writes); the conversions have their own (their op rows' cpSyncMs). */
  readonly cpSyncMs: Summary;
  /** Median ms the disk was busy per `cp` + `sync` sample of the write phase, where the system tells (disk-busy.ts): about the disk time an op that fsyncs as many bytes needs. */
  readonly cpSyncDiskBusyMs?: number;
  readonly ops: readonly SavepointOpResult[];
  /** Peak RSS (VmHWM) of the child process validating the canonical savepoint (max over samples), and of the same child with the library loaded, idle. */
  readonly validatePeakRssMb: number;
  readonly idleRssMb: number;
  readonly validateOk: boolean;
  /** The same state as an Apache Flink canonical savepoint, written and read in the same run. */
  readonly flink: FlinkSavepointCase;
}

const MIB = 1024 * 1024;
const NATIVE = { nativeFormats: [ROCKSDB_NATIVE_FORMAT] };
const MINIMAL_STATE: KeyedStateMetaInfo = {
  name: 'blob',
  kind: 'VALUE',
  namespaceSerializerSnapshot: VoidNamespaceSerializer.INSTANCE.snapshotConfiguration() as TypeSerializerSnapshot<unknown>,
  stateSerializerSnapshot: BytesSerializer.INSTANCE.snapshotConfiguration() as TypeSerializerSnapshot<unknown>,
};

/** The minimal writer must produce exactly our files (sizes and CRC32Cs), or it is not the same work. */
function checkSameBytes(ours: SavepointWriteResult, minimal: readonly MinimalFile[]): void {
  const key = (size: number, checksum: number) => `${size}:${checksum}`;
  const a = ours.metadata.operators.flatMap((o) => o.subtasks.flatMap((st) => st.keyed.map((h) => (isKeyGroupsStateHandle(h) ? key(h.stream.size, h.stream.type === 'file' ? h.stream.checksum : -1) : 'native')))).sort();
  const b = minimal.map((f) => key(f.size, f.checksum)).sort();
  if (a.join() !== b.join()) throw new Error(`the minimal savepoint writer's files differ from flowstate's: ${b.join(', ')} vs ${a.join(', ')}`);
}


/** One sample per call: `prepare` runs untimed before `fn`; with `disk`, also the disk's busy ms during each sample (disk-busy.ts). */
async function timeSamples<T>(samples: number, fn: () => Promise<T> | T, prepare: () => void = () => {}, disk?: () => number): Promise<{ ms: number[]; busyMs: number[]; last: T }> {
  const ms: number[] = [];
  const busyMs: number[] = [];
  let last: T | undefined;
  for (let i = 0; i < samples; i++) {
    prepare();
    const busy0 = disk?.();
    const t0 = performance.now();
    last = await fn();
    ms.push(performance.now() - t0);
    if (disk !== undefined) busyMs.push(disk() - busy0!);
  }
  return { ms, busyMs, last: last as T };
}

const HWM = `(() => { try { const m = /VmHWM:\\s+(\\d+) kB/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8')); if (m) return Number(m[1]); } catch {} return process.resourceUsage().maxRSS; })()`;

function childJson(script: string): Record<string, unknown> {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);\n${script}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`savepoint child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

/** The savepoint suite's shared inputs: where it works, the entries, and the three writers of the same state. */
interface SavepointRun {
  readonly work: string;
  readonly samples: number;
  readonly entries: number;
  readonly data: () => Generator<{ key: string; value: Uint8Array }>;
  readonly sp: string;
  readonly flinkDir: string;
  readonly writeOurs: () => Promise<SavepointWriteResult>;
  readonly writeMinimal: () => Promise<MinimalFile[]>;
  readonly resetMinimal: () => void;
  readonly log: (s: string) => void;
  /** Runs the `cp` baselines without forking this process per sample. */
  readonly shell: CpShell;
  /** The busy ms so far of the disk under `work`, where the system tells (disk-busy.ts). */
  readonly disk: (() => number) | undefined;
}

/** Writes: ours, the minimal writer and Apache Flink's, alternating with `cp` + `sync` of the same byte count; also sets up the `cp` baseline file. */
async function writePhase(c: SavepointRun) {
  const { work, samples, data, sp, flinkDir, writeOurs, writeMinimal, resetMinimal, log } = c;
  // One untimed round first (JIT warm-up for every writer), which also gives the savepoint's size for the cp baselines.
  const warm = await timeSamples(1, writeOurs, () => rmSync(sp, { recursive: true, force: true }));
  const canonicalBytes = dirBytes(sp);
  await timeSamples(1, writeMinimal, resetMinimal);
  await timeSamples(1, () => writeFlink(flinkDir, data()), () => rmSync(flinkDir, { recursive: true, force: true }));

  // cp baselines on a file with the savepoint's byte count.
  const big = join(work, 'big.bin');
  const copy = join(work, 'big-copy.bin');
  const chunk = randomBytes(MIB);
  writeFileSync(big, Buffer.concat(Array.from({ length: Math.ceil(canonicalBytes / MIB) }, () => chunk)).subarray(0, canonicalBytes));
  // Through one shell started once: a spawn per sample would charge the next timed operation its copy-on-write faults (cp-shell.ts).
  const cpOnce = () => timeSamples(1, () => c.shell.cp(big, copy), () => rmSync(copy, { force: true }));
  const cpSyncOnce = () => timeSamples(1, () => c.shell.cp(big, copy, true), () => rmSync(copy, { force: true }), c.disk);

  // Every writer and its cp + sync baseline alternate, sample by sample, so that load on the machine hits them alike.
  const write = { ms: [] as number[], last: warm.last };
  const minWrite = { ms: [] as number[], last: [] as MinimalFile[] };
  const flinkWrite: number[] = [];
  const cpSync: number[] = [];
  const cpSyncBusy: number[] = [];
  for (let i = 0; i < 2 * samples; i++) {
    const s = await cpSyncOnce();
    cpSync.push(...s.ms);
    cpSyncBusy.push(...s.busyMs);
    const w = await timeSamples(1, writeOurs, () => rmSync(sp, { recursive: true, force: true }));
    write.ms.push(...w.ms);
    write.last = w.last;
    const m = await timeSamples(1, writeMinimal, resetMinimal);
    minWrite.ms.push(...m.ms);
    minWrite.last = m.last;
    flinkWrite.push(...(await timeSamples(1, () => writeFlink(flinkDir, data()), () => rmSync(flinkDir, { recursive: true, force: true }))).ms);
  }
  checkSameBytes(write.last, minWrite.last);
  log(`  [savepoint] write ${(canonicalBytes / MIB).toFixed(1)} MiB: ${write.ms.map((x) => x.toFixed(0)).join(', ')} ms; minimal writer: ${minWrite.ms.map((x) => x.toFixed(0)).join(', ')} ms; cp + sync: ${cpSync.map((x) => x.toFixed(0)).join(', ')} ms${cpSyncBusy.length === 0 ? '' : ` (disk busy ${cpSyncBusy.map((x) => x.toFixed(0)).join(', ')} ms)`}`);

  return { canonicalBytes, write, minWrite, flinkWrite, cpSync, cpSyncBusy, cpOnce, big, copy };
}

/**
 * Rounds of the read phase: at least 2 × samples, and whole turns of the readers' rotation, so
 * every reader runs in every position of a round equally often (see rotated).
 */
export function readRounds(samples: number, readers: number): number {
  return readers * Math.ceil((2 * samples) / readers);
}

/**
 * The readers in the order round `round` runs them: the list turned by one place per round, so no
 * reader always runs after the same others (a read leaves garbage, its copies, for whatever runs
 * next to collect). Until session 16 the order was fixed and Apache Flink's read always last.
 */
export function rotated<T>(readers: readonly T[], round: number): T[] {
  const k = round % readers.length;
  return [...readers.slice(k), ...readers.slice(0, k)];
}

/** Reads: ours (copying, and views), the minimal reader's and Apache Flink's, alternating with `cp`, in an order turned each round. */
async function readPhase(c: SavepointRun, w: Awaited<ReturnType<typeof writePhase>>) {
  const { samples, entries, sp, flinkDir, log } = c;
  const { minWrite, cpOnce, big, copy } = w;
  const readMinimal = async (views: boolean) => {
    const n = await minimalRead(minWrite.last, 128, views, (_k, v) => {
      if (v.length !== VALUE_BYTES) throw new Error(`minimal reader read a value of ${v.length} B`);
    });
    if (n !== entries) throw new Error(`minimal reader read ${n} entries, wrote ${entries}`);
  };
  const read: { ms: number[] } = { ms: [] };
  const readViews: { ms: number[] } = { ms: [] };
  const minRead: { ms: number[] } = { ms: [] };
  const minReadViews: { ms: number[] } = { ms: [] };
  const flinkRead: number[] = [];
  const cp: number[] = [];
  // Every reader with where its samples go, in the order the first round runs them (after `cp`).
  const readers: Array<[number[], () => Promise<unknown>]> = [
    [read.ms, () => readBlobSavepoint(sp, entries, 'copies')],
    [readViews.ms, () => readBlobSavepoint(sp, entries, 'views')],
    [minRead.ms, () => readMinimal(false)],
    [minReadViews.ms, () => readMinimal(true)],
    [flinkRead, () => readFlink(flinkDir, entries, VALUE_BYTES)],
  ];
  // One untimed round first, as the write phase has (bench/README.md says so of both): every
  // reader's first read was cold (~380 ms against ~70 for a copied read: JIT, and buffers fresh
  // before the pools fill), so the median of a reader with fewer samples (Flink's) weighed it more.
  await cpOnce();
  for (const [, run] of readers) await run();
  for (let i = 0; i < readRounds(samples, readers.length); i++) {
    cp.push(...(await cpOnce()).ms);
    for (const [ms, run] of rotated(readers, i)) ms.push(...(await timeSamples(1, run)).ms);
  }
  rmSync(copy, { force: true });
  rmSync(big, { force: true });
  log(`  [savepoint] cp: ${cp.map((x) => x.toFixed(0)).join(', ')} ms; read: ${read.ms.map((x) => x.toFixed(0)).join(', ')} ms; views: ${readViews.ms.map((x) => x.toFixed(0)).join(', ')} ms; minimal reader: ${minRead.ms.map((x) => x.toFixed(0)).join(', ')} ms, views: ${minReadViews.ms.map((x) => x.toFixed(0)).join(', ')} ms`);

  return { read, readViews, minRead, minReadViews, flinkRead, cp };
}

/** Validation in child processes (peak RSS of the validator), and the idle RSS of such a process. */
function validatePhase(c: SavepointRun) {
  const { samples, sp, log } = c;
  // Validation in a child process: its VmHWM is the validator's own peak RSS.
  const lib = JSON.stringify(import.meta.resolve('@flowstate/savepoint'));
  const localStorage = JSON.stringify(import.meta.resolve('@flowstate/storage-local'));
  const idle = childJson(`await import(${localStorage}); await import(${lib}); console.log(JSON.stringify({ rssKiB: ${HWM} }));`);
  const validateMs: number[] = [];
  let peakKiB = 0;
  let ok = true;
  for (let i = 0; i < samples; i++) {
    const v = childJson(`await import(${localStorage}); const { validateSavepoint } = await import(${lib}); const t0 = performance.now(); const r = await validateSavepoint(${JSON.stringify(sp)}); const ms = performance.now() - t0; console.log(JSON.stringify({ ok: r.ok, ms, rssKiB: ${HWM} }));`);
    validateMs.push(v['ms'] as number);
    peakKiB = Math.max(peakKiB, v['rssKiB'] as number);
    ok &&= v['ok'] === true;
  }
  log(`  [savepoint] validate: ${validateMs.map((x) => x.toFixed(0)).join(', ')} ms, ok=${ok}, peak RSS ${(peakKiB / 1024).toFixed(0)} MiB`);

  return { idle, validateMs, peakKiB, ok };
}

/**
 * Untimed conversions each way before the timed ones. One until session 31: in 39 of the 43 runs
 * of the last 15 sets of bench runs (up to session 31's first), the first timed conversion to
 * native was the slowest of its three, by up to ~50 ms (a process's first conversions still tier
 * up their code and fault in the memory it keeps: 1,000–3,800 minor faults in each of the second
 * and third conversions of a process, a few hundred from the fourth on; session 31).
 */
const CONVERT_WARMUPS = 2;

/** One direction of the convert phase: its conversion samples and the `cp` / `cp` + `sync` samples of its input's byte count timed next to each. */
interface ConvertSamples {
  /** Bytes of the file `cp` copies: the direction's input size after the warm-up conversions. */
  readonly cpBytes: number;
  readonly ms: number[];
  readonly busyMs: number[];
  readonly cp: number[];
  readonly cpSync: number[];
  readonly cpSyncBusyMs: number[];
}

/**
 * Conversions canonical → native RocksDB → canonical: CONVERT_WARMUPS untimed each way, then
 * 2 × samples timed each way (as the writes), alternating direction sample by sample so that load
 * on the machine hits both alike; each conversion to canonical reads the native savepoint just
 * written. Next to each conversion sample, in the same round, a `cp` and a `cp` + `sync` of a file
 * with the conversion's input byte count (the goal's baseline: until session 33 the conversions
 * were divided by the read phase's `cp`, whose median moved 19.6–25.7 ms between runs); the
 * conversion runs first in even rounds and last in odd ones (conversion, cp, cp + sync / cp + sync,
 * cp, conversion). Each ratio is the median of the per-round ratios, like the access suite's.
 */
async function convertPhase(c: SavepointRun) {
  const { work, samples, sp, log, shell } = c;
  const native = join(work, 'native');
  const back = join(work, 'back');
  const toNativeOnce = (disk?: () => number) => timeSamples(1, () => convertSavepoint(sp, native, 'native-rocksdb', NATIVE), () => rmSync(native, { recursive: true, force: true }), disk);
  const toCanonicalOnce = (disk?: () => number) => timeSamples(1, () => convertSavepoint(native, back, 'canonical', NATIVE), () => rmSync(back, { recursive: true, force: true }), disk);
  for (let i = 0; i < CONVERT_WARMUPS; i++) {
    await toNativeOnce();
    await toCanonicalOnce();
  }
  // The cp baselines' files: the canonical savepoint's byte count and the native one's (as the warm-up wrote it).
  const copy = join(work, 'convert-copy.bin');
  const dirs = [
    { once: toNativeOnce, src: join(work, 'cp-canonical.bin'), s: { cpBytes: dirBytes(sp), ms: [], busyMs: [], cp: [], cpSync: [], cpSyncBusyMs: [] } as ConvertSamples },
    { once: toCanonicalOnce, src: join(work, 'cp-native.bin'), s: { cpBytes: dirBytes(native), ms: [], busyMs: [], cp: [], cpSync: [], cpSyncBusyMs: [] } as ConvertSamples },
  ];
  for (const d of dirs) {
    syncedRandomFile(d.src, d.s.cpBytes);
    // Untimed, as the conversions' warm-up: the first copy of a fresh file through the shell.
    await shell.cp(d.src, copy);
    rmSync(copy, { force: true });
  }
  for (let i = 0; i < 2 * samples; i++) {
    for (const { once, src, s } of dirs) {
      const convert = async () => {
        const x = await once(c.disk);
        s.ms.push(...x.ms);
        s.busyMs.push(...x.busyMs);
      };
      // The copy is removed right after each `cp` (untimed): its dirty pages are dropped, not written back under the next sample.
      const cp = async () => {
        s.cp.push(...(await timeSamples(1, () => shell.cp(src, copy), () => rmSync(copy, { force: true }))).ms);
        rmSync(copy, { force: true });
      };
      const cpSync = async () => {
        const x = await timeSamples(1, () => shell.cp(src, copy, true), () => rmSync(copy, { force: true }), c.disk);
        s.cpSync.push(...x.ms);
        s.cpSyncBusyMs.push(...x.busyMs);
        rmSync(copy, { force: true });
      };
      for (const step of i % 2 === 0 ? [convert, cp, cpSync] : [cpSync, cp, convert]) await step();
    }
  }
  for (const d of dirs) rmSync(d.src, { force: true });
  const nativeBytes = dirBytes(native);
  const roundTripBytes = dirBytes(back);
  const [toNative, toCanonical] = dirs.map((d) => d.s) as [ConvertSamples, ConvertSamples];
  const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
  const busy = (b: number[]) => (b.length === 0 ? '' : ` (disk busy ${list(b)} ms)`);
  const one = (x: ConvertSamples) => `${list(x.ms)} ms${busy(x.busyMs)}; cp ${list(x.cp)} ms; cp + sync ${list(x.cpSync)} ms${busy(x.cpSyncBusyMs)}`;
  log(`  [savepoint] convert → native-rocksdb (${(nativeBytes / MIB).toFixed(1)} MiB): ${one(toNative)}; → canonical: ${one(toCanonical)}`);

  return { toNative, nativeBytes, toCanonical, roundTripBytes };
}

/**
 * Every timed operation with its throughput, its ratios to `cp` and `cp` + `sync` of its byte count
 * and the cp times they used: the conversions the median of their per-round ratios to the convert
 * phase's own baselines, the others their median against the read phase's `cp` and the write
 * phase's `cp` + `sync` (scaled to the op's byte count).
 */
function savepointOps(w: Awaited<ReturnType<typeof writePhase>>, r: Awaited<ReturnType<typeof readPhase>>, validateMs: number[], conv: Awaited<ReturnType<typeof convertPhase>>): SavepointOpResult[] {
  const { canonicalBytes, write, minWrite, cpSync } = w;
  const { read, readViews, minRead, minReadViews, cp } = r;
  const { toNative, toCanonical, nativeBytes } = conv;
  const cpS = summarize(cp);
  const cpSyncS = summarize(cpSync);
  const op = (o: SavepointOp, description: string, bytes: number, ms: number[]): SavepointOpResult => {
    const s = summarize(ms);
    // cp copied canonicalBytes; scale its time linearly to `bytes`.
    const scale = bytes / canonicalBytes;
    const cpMs = cpS.median * scale;
    const cpSyncMs = cpSyncS.median * scale;
    return { op: o, description, bytes, ms: s, mibps: bytes / MIB / (s.median / 1000), ratioToCp: cpMs / s.median, ratioToCpSync: cpSyncMs / s.median, cpMs, cpSyncMs };
  };
  const convertOp = (o: SavepointOp, description: string, bytes: number, x: ConvertSamples): SavepointOpResult => {
    const s = summarize(x.ms);
    // The cp file has the input's size after the warm-up; scale to `bytes` (the same up to a few bytes).
    const scale = bytes / x.cpBytes;
    const ratios = (base: number[]) => summarize(x.ms.map((ms, i) => (base[i]! * scale) / ms));
    const rounds = { cp: ratios(x.cp), cpSync: ratios(x.cpSync) };
    const busy = x.busyMs.length === 0 ? {} : { diskBusyMs: summarize(x.busyMs).median };
    const cpSyncBusy = x.cpSyncBusyMs.length === 0 ? {} : { cpSyncDiskBusyMs: summarize(x.cpSyncBusyMs).median * scale };
    return { op: o, description, bytes, ms: s, mibps: bytes / MIB / (s.median / 1000), ratioToCp: rounds.cp.median, ratioToCpSync: rounds.cpSync.median, cpMs: summarize(x.cp).median * scale, cpSyncMs: summarize(x.cpSync).median * scale, ratioRounds: rounds, ...busy, ...cpSyncBusy };
  };
  return withMinimalMs([
    op('write', 'bootstrap through the heap backend (4 subtasks) + canonical write, every file fsynced', canonicalBytes, write.ms),
    op('read', 'SavepointReader.load + readKeyedState (async iterator), every entry decoded, values copied', canonicalBytes, read.ms),
    op('read-views', 'SavepointReader.load + readKeyedStateBlocks({ views: true }): every entry decoded, values are views valid until the next entry', canonicalBytes, readViews.ms),
    op('minimal-write', 'baseline: minimal writer of the same files (byte-identical), no backend, every file fsynced (savepoint-minimal.ts)', canonicalBytes, minWrite.ms),
    op('minimal-read', 'baseline: minimal reader of the same files (CRC, parse, key decoded and its key group checked, value copied)', canonicalBytes, minRead.ms),
    op('minimal-read-views', 'baseline: minimal reader handing out value views', canonicalBytes, minReadViews.ms),
    op('validate', 'validateSavepoint (CRC + every block), child process', canonicalBytes, validateMs),
    convertOp('convert-to-native', "convertSavepoint(canonical → 'native-rocksdb'); bytes = canonical input", canonicalBytes, toNative),
    convertOp('convert-to-canonical', "convertSavepoint(native → 'canonical'); bytes = native input", nativeBytes, toCanonical),
  ]);
}

export async function runSavepointSuite(p: Preset, log: (s: string) => void): Promise<SavepointResult> {
  const work = mkdtempSync(join(tmpdir(), 'flowstate-bench-savepoint-'));
  const samples = p.savepointSamples;
  const { entries, data } = blobEntries(p.savepointBytes);
  const shell = new CpShell();
  try {
    const sp = join(work, 'canonical');
    const minimalDir = join(work, 'minimal');
    const writeOurs = () => writeBlobSavepoint(sp, data);
    const writeMinimal = () => minimalWrite(minimalDir, data(), { maxParallelism: 128, parallelism: 4, states: [MINIMAL_STATE] });
    const resetMinimal = () => {
      rmSync(minimalDir, { recursive: true, force: true });
      mkdirSync(minimalDir);
    };
    const c: SavepointRun = { work, samples, entries, data, sp, flinkDir: join(work, 'flink'), writeOurs, writeMinimal, resetMinimal, log, shell, disk: diskBusyReader(work) };
    const w = await writePhase(c);
    const r = await readPhase(c, w);
    const flink = flinkCaseResult(flinkSavepointBytes(c.flinkDir), w.flinkWrite, r.flinkRead, { writeMs: w.write.ms, readMs: r.read.ms }, log);
    rmSync(c.flinkDir, { recursive: true, force: true });
    const v = validatePhase(c);
    const conv = await convertPhase(c);
    return {
      stateBytes: p.savepointBytes,
      entries,
      valueBytes: VALUE_BYTES,
      canonicalBytes: w.canonicalBytes,
      nativeBytes: conv.nativeBytes,
      roundTripBytes: conv.roundTripBytes,
      cpMs: summarize(r.cp),
      cpSyncMs: summarize(w.cpSync),
      ...(w.cpSyncBusy.length === 0 ? {} : { cpSyncDiskBusyMs: summarize(w.cpSyncBusy).median }),
      ops: savepointOps(w, r, v.validateMs, conv),
      validatePeakRssMb: v.peakKiB / 1024,
      idleRssMb: (v.idle['rssKiB'] as number) / 1024,
      validateOk: v.ok,
      flink,
    };
  } finally {
    shell.close();
    rmSync(work, { recursive: true, force: true });
  }
}
