/**
 * Snapshot benchmarks: full snapshots of ValueState<Uint8Array> (fixed-size values) to a local
 * checkpoint directory. Reports the synchronous pause (SnapshotFuture.syncDurationMs), the
 * asynchronous duration, bytes written, restore time, the time to just download (read + verify)
 * the same bytes, RSS before/peak during the snapshot, and a `cp` of a file of the same byte
 * volume as a disk baseline. Runs in its own child process.
 *
 * Backends with native incremental checkpoints (RocksDB) take the full snapshots in the canonical
 * format (`formatType: 'CANONICAL'`, the savepoint format), and additionally run the churn
 * variants: a native checkpoint of everything (the base), then 1% / 10% of the keys rewritten and an
 * incremental checkpoint, each restored and compared with downloading its files.
 */
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHECKPOINT, Serializers, ValueStateDescriptor, VoidNamespace, type CheckpointOptions, type FsCheckpointStorage, type KeyedStateBackend, type KeyedStateHandle, type StreamStateHandle, type ValueState } from '@flowstate/core';
import { isIncrementalRocksDBStateHandle } from '@flowstate/rocksdb';
import { localCheckpointStorage } from '@flowstate/storage-local';
import { backendById, createKeyed, type BackendUnderTest } from './backends.js';
import { CpShell } from './cp-shell.js';
import { diskBusyReader, waitForIdleDisk } from './disk-busy.js';
import { churnBoth, compactionsDone, intProperty, openRocksCopy, populate, timeRocksCheckpoint } from './rocks-checkpoint-baseline.js';
import { backendColumnFamily } from './rocks-raw.js';
import { INCREMENTAL_GOAL_MAX_STATE_BYTES, type Preset } from './config.js';
import { prng, summarize, type Summary } from './stats.js';

export interface SnapshotSample {
  readonly syncMs: number;
  readonly asyncMs: number;
  readonly totalMs: number;
  readonly bytesWritten: number;
  readonly restoreMs: number;
  /** Reading (and checksum-verifying) every stream of the snapshot, without restoring. */
  readonly downloadMs: number;
  readonly rssBeforeMb: number;
  /** Highest RSS sampled (every ms) while the snapshot ran, or maxRSS growth for the synchronous part. */
  readonly rssPeakMb: number;
  readonly heapUsedBeforeMb: number;
  readonly writesDuringSnapshot: number;
}

export interface ChurnSample {
  /**
   * 'after-bulk-load': base checkpoint right after populating, then RocksDB's own background
   * compactions are awaited before the churn (when the bulk load brought L0 to its trigger, the
   * L0→L1 compaction has replaced the base's SSTs, so this is the first checkpoint after a
   * compaction); 'compacted': after a flush + full manual compaction and a new base (the state
   * between two compactions).
   */
  readonly phase: 'after-bulk-load' | 'compacted';
  /** Level-0 SST files when the checkpoint was taken (before its own flush). */
  readonly l0Files: number;
  /**
   * SSTs of the phase's native base checkpoint, and how many of them were still live when this
   * checkpoint was taken: 0 of n means a compaction replaced every file the base uploaded, so
   * this checkpoint has nothing to reuse (any SST-based incremental scheme uploads everything).
   */
  readonly baseSstFiles: number;
  readonly baseSstFilesLive: number;
  /** For 'after-bulk-load': ms spent waiting for background compactions after the base. */
  readonly compactionWaitMs: number;
  readonly churn: number;
  /** Keys rewritten between the two checkpoints. */
  readonly keysChanged: number;
  readonly syncMs: number;
  readonly asyncMs: number;
  readonly totalMs: number;
  /** Bytes this checkpoint uploaded. */
  readonly checkpointedSize: number;
  /** Bytes the checkpoint references (uploaded now or reused). */
  readonly fullSize: number;
  readonly restoreMs: number;
  readonly downloadMs: number;
  /**
   * Baseline: RocksDB's own flush + createCheckpoint (binding calls, nothing else) on a copy of the
   * backend's database that received the same writes, timed next to this checkpoint (right before
   * it until session 33; since then before it in even samples and after it in odd ones, see
   * incrementFirst).
   */
  readonly rocksCheckpointMs: number;
  /**
   * Baseline of the speedup goal (since session 33): total ms of a full canonical snapshot of the
   * same state (same churn applied), never confirmed, always timed after this checkpoint and
   * RocksDB's own: a canonical snapshot releases a RocksDB snapshot when it ends, and RocksDB then
   * rewrites a bottommost file to zero its sequence numbers; timed before the checkpoint (tried in
   * session 33) it so replaced the base's only SST after the bulk load in about half the samples,
   * leaving the checkpoint nothing to reuse. Absent in older results, whose speedup divided the
   * median of the full-snapshot table (taken before any churn, the process's first snapshots)
   * instead.
   */
  readonly fullMs?: number;
  /** That full canonical snapshot's synchronous phase (counted by the sync-pause goal). */
  readonly fullSyncMs?: number;
  /**
   * Order of the sample (since session 33): true when this checkpoint was timed before RocksDB's
   * own flush + createCheckpoint, false when after it; alternates sample by sample within a phase.
   * The paired full snapshot comes last either way (see fullMs).
   */
  readonly incrementFirst?: boolean;
  /**
   * Since session 34: milliseconds this sample waited, before its three timed steps together, for
   * the disk to go idle (waitForIdleDisk; 0 where the system does not tell the disk's busy time).
   */
  readonly diskWaitMs?: number;
}

/** The first native checkpoint of a backend: uploads every file (nothing to reuse yet). */
export interface NativeFullSample {
  readonly syncMs: number;
  readonly asyncMs: number;
  readonly totalMs: number;
  readonly checkpointedSize: number;
  readonly fullSize: number;
}

export interface SnapshotResultRow {
  readonly backend: string;
  readonly stateBytes: number;
  readonly entries: number;
  readonly valueBytes: number;
  readonly samples: readonly SnapshotSample[];
  readonly syncMs: Summary;
  readonly asyncMs: Summary;
  readonly totalMs: Summary;
  readonly restoreMs: Summary;
  readonly downloadMs: Summary;
  readonly bytesWritten: number;
  readonly rssBeforeMb: number;
  readonly rssPeakMb: number;
  /** cp of a file with bytesWritten bytes (page cache warm, like the snapshot's own writes). */
  readonly cpMs: Summary;
  /** median(totalMs) / median(cpMs). */
  readonly ratioToCp: number;
  /** median(restoreMs) / median(downloadMs). */
  readonly restoreToDownload: number;
  /** Format of the full snapshots above: CANONICAL for backends with native checkpoints. */
  readonly fullFormat: 'default' | 'CANONICAL';
  /** Only for backends with incremental checkpoints (RocksDB). */
  readonly nativeFull: NativeFullSample | null;
  /** The native checkpoint after flush + full compaction: the base of the 'compacted' churn samples. */
  readonly rebase: NativeFullSample | null;
  readonly compactMs: number;
  readonly churn: readonly ChurnSample[];
}

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

/** The full snapshots of backends with native checkpoints: canonical (what a savepoint writes). */
const CANONICAL_CHECKPOINT: CheckpointOptions = { checkpointType: 'CHECKPOINT', formatType: 'CANONICAL' };
/** Checkpoint ids of the full canonical snapshots paired with increments: apart from the increments' own. */
const PAIRED_FULL_ID_BASE = 1_000_000;
const mb = (b: number) => b / (1024 * 1024);

/** Every stream a keyed state handle references (canonical stream, or a native checkpoint's files). */
function streamsOf(h: KeyedStateHandle): StreamStateHandle[] {
  if (isIncrementalRocksDBStateHandle(h)) return [h.meta, ...h.sharedFiles.map((f) => f.handle), ...h.privateFiles.map((f) => f.handle)];
  const stream = (h as { stream?: StreamStateHandle }).stream;
  if (stream === undefined) throw new Error(`bench: don't know the streams of a '${h.type}' handle`);
  return [stream];
}

/** The download baseline of a restore: read (and CRC-verify) every stream of the handle, sequentially like the restores do. */
async function downloadOnly(storage: FsCheckpointStorage, h: KeyedStateHandle, checkpointId: number): Promise<number> {
  const t0 = performance.now();
  let n = 0;
  for (const s of streamsOf(h)) n += (await storage.readFully(s, checkpointId)).length;
  if (n <= 0) throw new Error('downloaded nothing');
  return performance.now() - t0;
}

async function timedSnapshot(be: KeyedStateBackend<number>, storage: FsCheckpointStorage, id: number, options: CheckpointOptions) {
  const loc = await storage.initializeLocationForCheckpoint(id);
  const t0 = performance.now();
  const f = be.snapshot(id, Date.now(), loc.streamFactory, options);
  const t1 = performance.now();
  const res = await f.result;
  const t2 = performance.now();
  if (!res.jobManagerOwnedSnapshot) throw new Error('snapshot produced no handle');
  return { syncMs: f.syncDurationMs, asyncMs: t2 - t1, totalMs: t2 - t0, res, handle: res.jobManagerOwnedSnapshot };
}

/**
 * Incremental checkpoints (see the README): after the bulk load (base, wait for compactions, 1%
 * churn, increment), then between compactions (flush + full compaction, base, `incrementalSamples`
 * × (1% churn, increment), 10% churn, increment). Every checkpoint is confirmed, so each increment's
 * base is the previous checkpoint; each increment is restored into a fresh backend and compared with
 * just downloading its files. Next to each increment, its two baselines: RocksDB's own flush +
 * createCheckpoint of a copy with the same writes, before the increment in even samples and after
 * it in odd ones (`afterBulkLoadSample` numbers the after-bulk-load one, which is one per state),
 * then a full canonical snapshot of the same state (not confirmed; always last, see
 * ChurnSample.fullMs). Runs only for backends with incrementalCheckpoints.
 */
async function churnVariants(b: BackendUnderTest, be: KeyedStateBackend<number>, st: ValueState<Uint8Array>, entries: number, valueBytes: number, dir: string, firstId: number, incrementalSamples: number, log: (s: string) => void, afterBulkLoadOnly = false, afterBulkLoadSample = 0): Promise<{ nativeFull: NativeFullSample | null; rebase: NativeFullSample | null; compactMs: number; churn: ChurnSample[] }> {
  if (!b.incrementalCheckpoints) return { nativeFull: null, rebase: null, compactMs: 0, churn: [] };
  const storage = localCheckpointStorage(join(dir, 'checkpoints'));
  const out: ChurnSample[] = [];
  let id = firstId;
  const label = `${b.id}/${mb(entries * valueBytes).toFixed(1)} MB`;
  /** SST names the last base checkpoint referenced (from its handle: not what is live afterwards). */
  let baseSsts = new Set<string>();
  const base = async (what: string): Promise<NativeFullSample> => {
    gc();
    const x = await timedSnapshot(be, storage, id, CHECKPOINT);
    be.notifyCheckpointComplete(id);
    log(`  [${label} ${what}] sync ${x.syncMs.toFixed(1)} ms, total ${x.totalMs.toFixed(0)} ms, uploaded ${mb(x.res.checkpointedSize).toFixed(1)} of ${mb(x.res.fullSize).toFixed(1)} MB`);
    baseSsts = new Set(isIncrementalRocksDBStateHandle(x.handle) ? x.handle.sharedFiles.map((f) => f.name) : []);
    return { syncMs: x.syncMs, asyncMs: x.asyncMs, totalMs: x.totalMs, checkpointedSize: x.res.checkpointedSize, fullSize: x.res.fullSize };
  };
  const own = backendColumnFamily(be, 'blob');
  const prop = (name: string) => intProperty(own.db, own.cf, name);
  const liveSsts = () => new Set(own.db.getLiveFilesMetaData({ uniqueIds: false }).map((f) => f.name.replace(/^\//, '')));
  const nativeFull = await base('native full');
  // Each timed step of an increment starts on an idle disk (waitForIdleDisk): the step before it
  // (the previous sample's paired full snapshot and its removal, 10-100 MB freed on a file system
  // that may discard freed blocks) may leave disk work whose wait would land in whichever step
  // syncs first. Both sides get it; ~16 ms per step (session 34).
  const disk = diskBusyReader(dir);
  // Each increment's restore check and download, run once every sample of this call is taken (the
  // after-bulk-load one too, after the compaction, the rebase and the samples between
  // compactions): run between samples (until session 34), a restore check at 100 MB made the next
  // sample's first timed step (the increment or RocksDB's own checkpoint) 2-4x slower.
  const checks: Array<() => Promise<void>> = [];
  const runChecks = async (): Promise<void> => {
    for (const check of checks.splice(0)) await check();
  };
  // The baseline's database: a copy of the backend's (its base checkpoint flushed it), opened with
  // the backend's options (SST syncs only, as the backend), then the same writes.
  const raw = openRocksCopy(own, join(dir, 'raw-rocksdb'));
  try {
    // Let RocksDB's own compactions triggered by the bulk load (and the base's flush) finish.
    const w0 = performance.now();
    await compactionsDone(own.db, own.cf);
    const compactionWaitMs = performance.now() - w0;
    await compactionsDone(raw.db, raw.cf);
    await increment('after-bulk-load', 0.01, compactionWaitMs, afterBulkLoadSample);
    if (afterBulkLoadOnly) {
      await runChecks();
      return { nativeFull, rebase: null, compactMs: 0, churn: out };
    }
    // Between compactions: flush + full manual compaction (so no L0→L1 compaction is due), new base.
    const c0 = performance.now();
    own.db.flush();
    await own.db.compactRangeAsync(own.cf);
    const compactMs = performance.now() - c0;
    raw.db.flush();
    await raw.db.compactRangeAsync(raw.cf);
    id++;
    const rebase = await base(`native full after compaction (${compactMs.toFixed(0)} ms)`);
    const compacted = Math.min(3, incrementalSamples);
    for (let i = 0; i < compacted; i++) await increment('compacted', 0.01, 0, i);
    await increment('compacted', 0.1, 0, compacted);
    await runChecks();
    return { nativeFull, rebase, compactMs, churn: out };
  } finally {
    raw.close();
  }

  /** Sample `k` of its phase: 1% (or 10%) churn, then the increment and RocksDB's own checkpoint (the increment first when `k` is odd), then the full canonical snapshot. */
  async function increment(phase: ChurnSample['phase'], churn: number, compactionWaitMs: number, k: number): Promise<void> {
    const changed = churnBoth(be, st, own, raw, entries, churn, id, valueBytes);
    id++;
    let rocksCheckpointMs = NaN;
    let diskWaitMs = 0;
    const idleDisk = async () => {
      if (disk !== undefined) diskWaitMs += await waitForIdleDisk(disk);
    };
    // In each step the wait for an idle disk comes last before the timed call (after the GC).
    const rocks = async () => {
      gc();
      await idleDisk();
      rocksCheckpointMs = timeRocksCheckpoint(raw, join(dir, `raw-checkpoint-${id}`));
    };
    let full: Awaited<ReturnType<typeof timedSnapshot>> | undefined;
    // The same state as a full canonical snapshot (no flush: it reads a RocksDB snapshot), never
    // confirmed (confirming it would leave the next increment nothing to reuse), always last (see
    // ChurnSample.fullMs: the release of its RocksDB snapshot can get the base's SST rewritten).
    const fullSnapshot = async () => {
      gc();
      await idleDisk();
      full = await timedSnapshot(be, storage, PAIRED_FULL_ID_BASE + id, CANONICAL_CHECKPOINT);
      await storage.discardCheckpoint(PAIRED_FULL_ID_BASE + id);
    };
    let l0Files = NaN;
    let baseSstFilesLive = NaN;
    let snap: Awaited<ReturnType<typeof timedSnapshot>> | undefined;
    const ours = async () => {
      gc();
      l0Files = prop('rocksdb.num-files-at-level0');
      const live = liveSsts();
      baseSstFilesLive = [...baseSsts].filter((f) => live.has(f)).length;
      await idleDisk();
      snap = await timedSnapshot(be, storage, id, CHECKPOINT);
      be.notifyCheckpointComplete(id);
    };
    const incrementFirst = k % 2 === 1;
    for (const step of incrementFirst ? [ours, rocks, fullSnapshot] : [rocks, ours, fullSnapshot]) await step();
    const s = snap!;
    const f = full!;
    const checkpointId = id;
    // Taken now: the check runs after later samples, and a rebase replaces `baseSsts` meanwhile.
    const baseSstFiles = baseSsts.size;
    checks.push(async () => {
      const { restoreMs, downloadMs } = await restoreCheck(b, storage, s.handle, checkpointId, entries, join(dir, `restore-${checkpointId}`));
      out.push({ phase, l0Files, baseSstFiles, baseSstFilesLive, compactionWaitMs, churn, keysChanged: changed, syncMs: s.syncMs, asyncMs: s.asyncMs, totalMs: s.totalMs, checkpointedSize: s.res.checkpointedSize, fullSize: s.res.fullSize, restoreMs, downloadMs, rocksCheckpointMs, fullMs: f.totalMs, fullSyncMs: f.syncMs, incrementFirst, diskWaitMs });
      log(`  [${label} incremental, ${phase}, churn ${churn * 100}%, L0 files ${l0Files}, base SSTs live ${baseSstFilesLive}/${baseSstFiles}${phase === 'after-bulk-load' ? `, waited ${compactionWaitMs.toFixed(0)} ms for compactions` : ''}, ${incrementFirst ? 'increment before' : 'increment after'} RocksDB's own] sync ${s.syncMs.toFixed(1)} ms, total ${s.totalMs.toFixed(1)} ms (RocksDB flush + createCheckpoint ${rocksCheckpointMs.toFixed(1)} ms, full canonical snapshot ${f.totalMs.toFixed(1)} ms), uploaded ${mb(s.res.checkpointedSize).toFixed(2)} of ${mb(s.res.fullSize).toFixed(1)} MB, restore ${restoreMs.toFixed(0)} ms vs download ${downloadMs.toFixed(0)} ms, waited ${diskWaitMs.toFixed(0)} ms for an idle disk`);
    });
  }
}

/** An increment restored into a fresh backend (every entry there), then its files downloaded alone: both timed. */
async function restoreCheck(b: BackendUnderTest, storage: FsCheckpointStorage, handle: KeyedStateHandle, checkpointId: number, entries: number, localDirectory: string): Promise<{ restoreMs: number; downloadMs: number }> {
  const r0 = performance.now();
  const restored = await createKeyed<number>(b, Serializers.int32, { restoreState: [handle], reader: storage, localDirectory });
  const restoreMs = performance.now() - r0;
  const n = restored.numKeyValueStateEntries();
  restored.dispose();
  if (n !== entries) throw new Error(`incremental restore of checkpoint ${checkpointId}: ${n} entries, expected ${entries}`);
  return { restoreMs, downloadMs: await downloadOnly(storage, handle, checkpointId) };
}

/** What one full-snapshot sample needs: the backend and its state, where to write, and the writes made while the snapshot runs. */
interface SampleContext {
  readonly b: BackendUnderTest;
  readonly be: KeyedStateBackend<number>;
  readonly st: ValueState<Uint8Array>;
  readonly storage: FsCheckpointStorage;
  readonly work: string;
  readonly entries: number;
  readonly stateBytes: number;
  readonly valueBytes: number;
  readonly rand: () => number;
  readonly fullOptions: CheckpointOptions;
  readonly log: (s: string) => void;
}

/** One full snapshot while ~1% of the keys are rewritten (copy-on-write), its RSS peak, then a restore into a fresh backend and a plain download of its files. */
async function fullSnapshotSample(c: SampleContext, id: number): Promise<SnapshotSample> {
  const { b, be, st, storage, work, entries, stateBytes, rand, fullOptions, log } = c;
  const location = await storage.initializeLocationForCheckpoint(id);
  gc();
  const rssBefore = process.memoryUsage.rss();
  const heapBefore = process.memoryUsage().heapUsed;
  const maxRssBeforeKb = process.resourceUsage().maxRSS;
  let peak = rssBefore;
  let writes = 0;
  // While the asynchronous part runs, keep processing: write ~1% of the keys (exercises copy-on-write).
  const writeBudget = Math.ceil(entries * 0.01);
  const timer = setInterval(() => {
    const r = process.memoryUsage.rss();
    if (r > peak) peak = r;
    for (let i = 0; i < 64 && writes < writeBudget; i++, writes++) {
      be.setCurrentKey(Math.floor(rand() * entries));
      st.update(randomFillSync(new Uint8Array(c.valueBytes)));
    }
  }, 1);
  const t0 = performance.now();
  const future = be.snapshot(id, Date.now(), location.streamFactory, fullOptions);
  const t1 = performance.now();
  const res = await future.result;
  const t2 = performance.now();
  clearInterval(timer);
  const rssAfter = process.memoryUsage.rss();
  if (rssAfter > peak) peak = rssAfter;
  // maxRSS (KiB) catches peaks inside the synchronous part, where no timer can run.
  const maxRssGrowth = process.resourceUsage().maxRSS * 1024;
  if (process.resourceUsage().maxRSS > maxRssBeforeKb && maxRssGrowth > peak) peak = maxRssGrowth;
  be.notifyCheckpointComplete(id);
  const handle = res.jobManagerOwnedSnapshot;
  if (!handle) throw new Error('snapshot produced no handle');
  // Restore into a fresh backend and check the entry count.
  gc();
  const r0 = performance.now();
  const restored = await createKeyed<number>(b, Serializers.int32, { restoreState: [handle as KeyedStateHandle], reader: storage, ...(b.needsLocalDirectory ? { localDirectory: join(work, `restore-${id}`) } : {}) });
  const restoreMs = performance.now() - r0;
  const n = restored.numKeyValueStateEntries();
  if (n !== entries) throw new Error(`restored ${n} entries, expected ${entries}`);
  restored.dispose();
  const downloadMs = await downloadOnly(storage, handle as KeyedStateHandle, id);
  await storage.discardCheckpoint(id);
  log(`  [${b.id}/snapshot ${mb(stateBytes).toFixed(1)} MB] #${id}: sync ${future.syncDurationMs.toFixed(1)} ms, async ${(t2 - t1).toFixed(1)} ms, ${mb(res.fullSize).toFixed(1)} MB, restore ${restoreMs.toFixed(0)} ms (download ${downloadMs.toFixed(0)} ms), RSS ${mb(rssBefore).toFixed(0)} -> peak ${mb(peak).toFixed(0)} MB`);
  return {
    syncMs: future.syncDurationMs,
    asyncMs: t2 - t1,
    totalMs: t2 - t0,
    bytesWritten: res.fullSize,
    restoreMs,
    downloadMs,
    rssBeforeMb: mb(rssBefore),
    rssPeakMb: mb(peak),
    heapUsedBeforeMb: mb(heapBefore),
    writesDuringSnapshot: writes,
  };
}

/**
 * `cp` of a file with the same byte volume as the snapshot (the disk baseline), ms per copy, through
 * one long-lived shell as in the savepoint suite (cp-shell.ts: a spawn per copy would time the fork
 * of the bench process too).
 */
async function cpBaseline(work: string, bytesWritten: number, copies: number): Promise<number[]> {
  const src = join(work, 'cp-src.bin');
  const dst = join(work, 'cp-dst.bin');
  const chunk = randomFillSync(Buffer.alloc(Math.min(bytesWritten, 16 * 1024 * 1024)));
  const parts: Buffer[] = [];
  for (let left = bytesWritten; left > 0; left -= chunk.length) parts.push(left >= chunk.length ? chunk : chunk.subarray(0, left));
  writeFileSync(src, Buffer.concat(parts));
  const shell = new CpShell();
  try {
    const cp: number[] = [];
    for (let s = 0; s < copies; s++) {
      rmSync(dst, { force: true });
      const c0 = performance.now();
      await shell.cp(src, dst);
      cp.push(performance.now() - c0);
    }
    return cp;
  } finally {
    shell.close();
  }
}

/** A new backend holding the suite's state: `entries` blobs of the preset's value size in ValueState 'blob'. */
async function populatedBlobState(b: BackendUnderTest, p: Preset, entries: number, localDirectory: string): Promise<{ be: KeyedStateBackend<number>; st: ValueState<Uint8Array> }> {
  const be = await createKeyed(b, Serializers.int32, b.needsLocalDirectory ? { localDirectory } : {});
  const st = be.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ValueStateDescriptor<Uint8Array>('blob', Serializers.bytes));
  populate(be, st, entries, p.snapshotValueBytes);
  return { be, st };
}

/**
 * The increment after the bulk load happens once per state, so one state gives one ~7 ms sample
 * (10 MB, session 10: 1.66×, 2.24× and 2.62× of RocksDB's own in three runs). Up to the goal's size,
 * fresh states (populated, base, compactions awaited, 1% churn, increment: the same steps) add
 * samples, so that row is a median of `incrementalSamples` like the between-compactions row.
 */
async function moreAfterBulkLoadSamples(b: BackendUnderTest, p: Preset, stateBytes: number, entries: number, work: string, log: (s: string) => void): Promise<ChurnSample[]> {
  if (!b.incrementalCheckpoints || stateBytes > INCREMENTAL_GOAL_MAX_STATE_BYTES) return [];
  const out: ChurnSample[] = [];
  for (let i = 1; i < p.incrementalSamples; i++) {
    const dir = join(work, `after-bulk-load-${i}`);
    const { be, st } = await populatedBlobState(b, p, entries, join(dir, 'local'));
    try {
      out.push(...(await churnVariants(b, be, st, entries, p.snapshotValueBytes, join(dir, 'churn'), 1, p.incrementalSamples, log, true, i)).churn);
    } finally {
      be.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return out;
}

export async function runSnapshotSuite(p: Preset, backendId: string, stateBytes: number, log: (s: string) => void): Promise<SnapshotResultRow> {
  const b = backendById(backendId);
  const entries = Math.max(1, Math.round(stateBytes / p.snapshotValueBytes));
  const work = mkdtempSync(join(tmpdir(), `flowstate-bench-snap-${b.id}-`));
  // Backends with native checkpoints: the full snapshot is the canonical one (what a savepoint writes).
  const fullOptions: CheckpointOptions = b.incrementalCheckpoints ? CANONICAL_CHECKPOINT : CHECKPOINT;
  const sampleCount = b.incrementalCheckpoints ? p.nativeSnapshotSamples : p.snapshotSamples;
  try {
    const tp = performance.now();
    const { be, st } = await populatedBlobState(b, p, entries, join(work, 'local'));
    log(`  [${b.id}/snapshot ${mb(stateBytes).toFixed(1)} MB] ${entries} entries: backend created and populated in ${(performance.now() - tp).toFixed(0)} ms`);
    const storageDir = join(work, 'checkpoints');
    const storage = localCheckpointStorage(storageDir);
    const samples: SnapshotSample[] = [];
    const ctx: SampleContext = { b, be, st, storage, work, entries, stateBytes, valueBytes: p.snapshotValueBytes, rand: prng(7), fullOptions, log };
    for (let s = 0; s < sampleCount; s++) samples.push(await fullSnapshotSample(ctx, s + 1));
    const { nativeFull, rebase, compactMs, churn } = await churnVariants(b, be, st, entries, p.snapshotValueBytes, join(work, 'churn'), sampleCount + 1, p.incrementalSamples, log);
    be.dispose();
    churn.push(...(await moreAfterBulkLoadSamples(b, p, stateBytes, entries, work, log)));
    // Disk baseline: cp of a file with the same byte volume.
    const bytesWritten = samples[0]?.bytesWritten ?? 0;
    const cp = await cpBaseline(work, bytesWritten, Math.max(3, p.snapshotSamples));
    const totalMs = summarize(samples.map((x) => x.totalMs));
    const restoreMs = summarize(samples.map((x) => x.restoreMs));
    const downloadMs = summarize(samples.map((x) => x.downloadMs));
    const cpMs = summarize(cp);
    return {
      backend: b.id,
      stateBytes,
      entries,
      valueBytes: p.snapshotValueBytes,
      samples,
      syncMs: summarize(samples.map((x) => x.syncMs)),
      asyncMs: summarize(samples.map((x) => x.asyncMs)),
      totalMs,
      restoreMs,
      downloadMs,
      restoreToDownload: restoreMs.median / downloadMs.median,
      bytesWritten,
      rssBeforeMb: summarize(samples.map((x) => x.rssBeforeMb)).median,
      rssPeakMb: summarize(samples.map((x) => x.rssPeakMb)).median,
      cpMs,
      ratioToCp: totalMs.median / cpMs.median,
      fullFormat: b.incrementalCheckpoints ? 'CANONICAL' : 'default',
      nativeFull,
      rebase,
      compactMs,
      churn,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
