/**
 * The snapshot suite's "between compactions" incremental checkpoint alone, repeated, for profiling
 * and for quick same-run comparisons: `node --expose-gc bench/dist/incremental-profile.js [MB] [rounds]`
 * (add `--cpu-prof`, or run under `strace -f -c`). Each round rewrites 1% of the keys (the same
 * writes go to a copy of the database), times RocksDB's own flush + createCheckpoint on the copy,
 * then the backend's incremental checkpoint; every third round a canonical full snapshot, and a
 * flush + full compaction of both databases (so no L0 compaction is due). Prints medians. The copy
 * has the backend's options (SST syncs only); RAW_SYNC=1 gives it RocksDB's default syncs.
 */
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHECKPOINT, Serializers, ValueStateDescriptor, VoidNamespace, type CheckpointOptions, type KeyedStateBackend, type ValueState } from '@flowstate/core';
import { RocksDB } from '@flowstate/rocksdb/native';
import { localCheckpointStorage } from '@flowstate/storage-local';
import { backendById, createKeyed, ROCKSDB_BACKEND_DB_OPTIONS, ROCKSDB_BENCH_OPTIONS } from './backends.js';
import { backendColumnFamily, bytesValue, rowPrefixes } from './rocks-raw.js';
import { prng, summarize } from './stats.js';

const mb = Number(process.argv[2] ?? 10);
const rounds = Number(process.argv[3] ?? 30);
const VALUE_BYTES = 1024;
const CANONICAL: CheckpointOptions = { checkpointType: 'CHECKPOINT', formatType: 'CANONICAL' };
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();
const median = (xs: number[]): number => summarize(xs).median;

const work = mkdtempSync(join(tmpdir(), 'flowstate-incremental-profile-'));
const be = await createKeyed(backendById('rocksdb'), Serializers.int32, { localDirectory: join(work, 'local') });
const st = be.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ValueStateDescriptor<Uint8Array>('blob', Serializers.bytes));
const entries = Math.round((mb * 1024 * 1024) / VALUE_BYTES);
for (let k = 0; k < entries; k++) {
  be.setCurrentKey(k);
  st.update(randomFillSync(new Uint8Array(VALUE_BYTES)));
}
const storage = localCheckpointStorage(join(work, 'checkpoints'));
let id = 1;

/** One confirmed snapshot; its total time (synchronous part + result), as the snapshot suite times it. */
async function snapshot(options: CheckpointOptions): Promise<number> {
  const loc = await storage.initializeLocationForCheckpoint(id);
  const t0 = performance.now();
  await be.snapshot(id, Date.now(), loc.streamFactory, options).result;
  const ms = performance.now() - t0;
  be.notifyCheckpointComplete(id++);
  return ms;
}

const own = backendColumnFamily(be, 'blob');
const compactOwn = async (): Promise<void> => {
  own.db.flush();
  await own.db.compactRangeAsync(own.cf);
};
await compactOwn();
await snapshot(CHECKPOINT);
own.db.createCheckpoint(join(work, 'raw'));
const raw = RocksDB.open(join(work, 'raw'), { ...(process.env.RAW_SYNC === '1' ? ROCKSDB_BENCH_OPTIONS : ROCKSDB_BACKEND_DB_OPTIONS), createIfMissing: false, disableWAL: true });
const rawCf = raw.getColumnFamily(own.cf.name)!;
const rowOf = rowPrefixes();

/** Rewrites 1% of the keys in the backend and the same rows in the copy. */
function churn(state: ValueState<Uint8Array>, backend: KeyedStateBackend<number>): void {
  const r = prng(id);
  for (let i = 0; i < Math.ceil(entries * 0.01); i++) {
    const k = Math.floor(r() * entries);
    const v = randomFillSync(new Uint8Array(VALUE_BYTES));
    backend.setCurrentKey(k);
    state.update(v);
    raw.put(rawCf, rowOf(k), bytesValue(v));
  }
}

/** RocksDB's own flush + createCheckpoint of the copy (the directory is removed untimed). */
function rocksCheckpoint(): number {
  const dir = join(work, `raw-checkpoint-${id}`);
  const t0 = performance.now();
  raw.flush();
  raw.createCheckpoint(dir);
  const ms = performance.now() - t0;
  rmSync(dir, { recursive: true, force: true });
  return ms;
}

const ours: number[] = [];
const rocks: number[] = [];
const full: number[] = [];
try {
  for (let i = 0; i < rounds; i++) {
    churn(st, be);
    gc();
    rocks.push(rocksCheckpoint());
    gc();
    ours.push(await snapshot(CHECKPOINT));
    if (i % 3 !== 2) continue;
    gc();
    full.push(await snapshot(CANONICAL));
    await compactOwn();
    raw.flush();
    await raw.compactRangeAsync(rawCf);
    await snapshot(CHECKPOINT);
  }
  const o = median(ours);
  const r = median(rocks);
  const f = median(full);
  console.log(`${mb} MB, ${rounds} rounds: incremental ${o.toFixed(2)} ms, RocksDB flush + createCheckpoint ${r.toFixed(2)} ms (${(o / r).toFixed(2)}x), canonical full ${f.toFixed(1)} ms (${(f / o).toFixed(2)}x the incremental)`);
} finally {
  raw.close();
  be.dispose();
  rmSync(work, { recursive: true, force: true });
}
