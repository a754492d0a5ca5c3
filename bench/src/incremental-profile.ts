/**
 * One of the snapshot suite's 1%-churn incremental checkpoints alone, repeated, for profiling and
 * for quick same-run comparisons:
 * `node --expose-gc bench/dist/incremental-profile.js [MB] [rounds] [compacted|after-bulk-load]`
 * (add `--cpu-prof`, or run under `strace -f -c`). Each round rewrites 1% of the keys (the same
 * writes go to a copy of the database, rocks-checkpoint-baseline.ts), times RocksDB's own flush +
 * createCheckpoint on the copy, then the backend's incremental checkpoint. Prints medians.
 * - `compacted` (default; "between compactions"): one backend; every third round a canonical full
 *   snapshot, and a flush + full compaction of both databases and a new base (so no L0
 *   compaction is due).
 * - `after-bulk-load`: every round a fresh backend, bulk-loaded, its first native checkpoint (the
 *   base), the copy made, background compactions awaited, then the churn and the increment.
 * The copy has the backend's options (SST syncs only); RAW_SYNC=1 gives it RocksDB's default syncs.
 * STRACE_MARKS=1 stats `/flowstate-mark/{rocks,ours,end}-<id>` (nonexistent paths) before RocksDB's
 * checkpoint, before ours and after ours, so an `strace -f` log can be cut per increment.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHECKPOINT, Serializers, ValueStateDescriptor, VoidNamespace, type CheckpointOptions, type KeyedStateBackend, type ValueState } from '@flowstate/core';
import { localCheckpointStorage } from '@flowstate/storage-local';
import { backendById, createKeyed } from './backends.js';
import { churnBoth, compactionsDone, openRocksCopy, populate, timeRocksCheckpoint, type RocksCopy } from './rocks-checkpoint-baseline.js';
import { backendColumnFamily } from './rocks-raw.js';
import { summarize } from './stats.js';

const mb = Number(process.argv[2] ?? 10);
const rounds = Number(process.argv[3] ?? 30);
const mode = process.argv[4] ?? 'compacted';
if (mode !== 'compacted' && mode !== 'after-bulk-load') throw new Error(`unknown mode '${mode}' (compacted | after-bulk-load)`);
// compacted: a canonical full snapshot every third round, so at least 3 rounds.
if (!(mb > 0) || !Number.isInteger(rounds) || rounds < (mode === 'compacted' ? 3 : 1)) throw new Error(`usage: incremental-profile.js [MB > 0] [rounds ≥ 3 (compacted) or ≥ 1] [compacted|after-bulk-load], got ${process.argv.slice(2).join(' ')}`);
const VALUE_BYTES = 1024;
const CANONICAL: CheckpointOptions = { checkpointType: 'CHECKPOINT', formatType: 'CANONICAL' };
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();
const median = (xs: number[]): number => summarize(xs).median;
const mark = process.env.STRACE_MARKS === '1' ? (what: string, checkpointId: number): void => void existsSync(`/flowstate-mark/${what}-${checkpointId}`) : (): void => {};
const entries = Math.round((mb * 1024 * 1024) / VALUE_BYTES);
const work = mkdtempSync(join(tmpdir(), 'flowstate-incremental-profile-'));
// Each subject writes under its own checkpoint root, removed with it (hard-linked SSTs keep their blocks until then).
let id = 1;

/** A bulk-loaded backend (the snapshot suite's state), its column family and a copy for the baseline (made by `copy()`). */
class Subject {
  readonly own: ReturnType<typeof backendColumnFamily>;
  raw: RocksCopy | undefined;

  private readonly storage;

  private constructor(readonly be: KeyedStateBackend<number>, readonly st: ValueState<Uint8Array>, readonly dir: string) {
    this.own = backendColumnFamily(be, 'blob');
    this.storage = localCheckpointStorage(join(dir, 'checkpoints'));
  }

  static async create(dir: string): Promise<Subject> {
    const be = await createKeyed(backendById('rocksdb'), Serializers.int32, { localDirectory: join(dir, 'local') });
    const st = be.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ValueStateDescriptor<Uint8Array>('blob', Serializers.bytes));
    populate(be, st, entries, VALUE_BYTES);
    return new Subject(be, st, dir);
  }

  copy(): RocksCopy {
    return (this.raw = openRocksCopy(this.own, join(this.dir, 'raw'), process.env.RAW_SYNC === '1'));
  }

  /** One confirmed snapshot; its total time (synchronous part + result), as the snapshot suite times it. */
  async snapshot(options: CheckpointOptions): Promise<number> {
    const loc = await this.storage.initializeLocationForCheckpoint(id);
    const t0 = performance.now();
    await this.be.snapshot(id, Date.now(), loc.streamFactory, options).result;
    const ms = performance.now() - t0;
    this.be.notifyCheckpointComplete(id++);
    return ms;
  }

  /** 1% churn on both sides, RocksDB's flush + createCheckpoint of the copy, then the backend's incremental checkpoint: [ours, RocksDB's]. */
  async increment(): Promise<[number, number]> {
    const raw = this.raw!;
    // snapshot() moves `id` on: the marks of this increment all carry its checkpoint id.
    const cp = id;
    churnBoth(this.be, this.st, this.own, raw, entries, 0.01, cp, VALUE_BYTES);
    gc();
    mark('rocks', cp);
    const rocks = timeRocksCheckpoint(raw, join(this.dir, `raw-checkpoint-${cp}`));
    gc();
    mark('ours', cp);
    const ours = await this.snapshot(CHECKPOINT);
    mark('end', cp);
    return [ours, rocks];
  }

  async compactBoth(): Promise<void> {
    for (const { db, cf } of [this.own, this.raw!]) {
      db.flush();
      await db.compactRangeAsync(cf);
    }
  }

  dispose(): void {
    this.raw?.close();
    this.be.dispose();
  }
}

/** Between compactions: one backend, a new base after a full compaction every third round. */
async function compactedRounds(ours: number[], rocks: number[], full: number[]): Promise<void> {
  const s = await Subject.create(join(work, 'subject'));
  try {
    s.own.db.flush();
    await s.own.db.compactRangeAsync(s.own.cf);
    await s.snapshot(CHECKPOINT);
    s.copy();
    for (let i = 0; i < rounds; i++) {
      const [o, r] = await s.increment();
      ours.push(o);
      rocks.push(r);
      if (i % 3 !== 2) continue;
      gc();
      full.push(await s.snapshot(CANONICAL));
      await s.compactBoth();
      await s.snapshot(CHECKPOINT);
    }
  } finally {
    s.dispose();
    rmSync(join(work, 'subject'), { recursive: true, force: true });
  }
}

/** After the bulk load: a fresh backend per round, its first native checkpoint, compactions awaited, then the increment. */
async function afterBulkLoadRounds(ours: number[], rocks: number[], full: number[]): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    const dir = join(work, `subject-${i}`);
    const s = await Subject.create(dir);
    try {
      full.push(await s.snapshot(CHECKPOINT));
      const raw = s.copy();
      await compactionsDone(s.own.db, s.own.cf);
      await compactionsDone(raw.db, raw.cf);
      const [o, r] = await s.increment();
      ours.push(o);
      rocks.push(r);
    } finally {
      s.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

const ours: number[] = [];
const rocks: number[] = [];
const full: number[] = [];
try {
  await (mode === 'compacted' ? compactedRounds : afterBulkLoadRounds)(ours, rocks, full);
  const o = median(ours);
  const r = median(rocks);
  const f = median(full);
  const fullLabel = mode === 'compacted' ? 'canonical full' : 'native full (the base)';
  console.log(`${mb} MB, ${mode}, ${rounds} rounds: incremental ${o.toFixed(2)} ms, RocksDB flush + createCheckpoint ${r.toFixed(2)} ms (${(o / r).toFixed(2)}x), ${fullLabel} ${f.toFixed(1)} ms (${(f / o).toFixed(2)}x the incremental)`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
