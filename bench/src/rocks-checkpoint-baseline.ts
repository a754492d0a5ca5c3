/**
 * The baseline of the incremental checkpoint goal rows, shared by the snapshot suite (snapshot.ts)
 * and the profiling script (incremental-profile.ts): a copy of the backend's RocksDB database,
 * opened with the backend's options, that receives the same row writes as the backend, and
 * RocksDB's own flush + createCheckpoint of that copy.
 */
import { randomFillSync } from 'node:crypto';
import { rmSync } from 'node:fs';
import type { KeyedStateBackend, ValueState } from '@flowstate/core';
import { RocksDB, type ColumnFamily } from '@flowstate/rocksdb/native';
import { ROCKSDB_BACKEND_DB_OPTIONS, ROCKSDB_BENCH_OPTIONS } from './backends.js';
import { bytesValue, rowPrefixes } from './rocks-raw.js';
import { prng } from './stats.js';

export interface RocksCopy {
  readonly db: RocksDB;
  readonly cf: ColumnFamily;
  close(): void;
}

/**
 * Copies the backend's database (`own`, a checkpoint: hard links of its SSTs) into `dir` and opens
 * the copy with the backend's options (SST syncs only), or with RocksDB's default syncs (`defaultSyncs`).
 */
export function openRocksCopy(own: { readonly db: RocksDB; readonly cf: ColumnFamily }, dir: string, defaultSyncs = false): RocksCopy {
  own.db.createCheckpoint(dir);
  const db = RocksDB.open(dir, { ...(defaultSyncs ? ROCKSDB_BENCH_OPTIONS : ROCKSDB_BACKEND_DB_OPTIONS), createIfMissing: false, disableWAL: true });
  const cf = db.getColumnFamily(own.cf.name);
  if (cf === undefined) {
    db.close();
    throw new Error(`rocksdb checkpoint baseline: the copy has no column family '${own.cf.name}'`);
  }
  return { db, cf, close: () => db.close() };
}

/** The snapshot suite's state: keys 0..entries-1, each with `valueBytes` random bytes. */
export function populate(be: KeyedStateBackend<number>, st: ValueState<Uint8Array>, entries: number, valueBytes: number): void {
  for (let k = 0; k < entries; k++) {
    be.setCurrentKey(k);
    st.update(randomFillSync(new Uint8Array(valueBytes)));
  }
}

const rowOf = rowPrefixes();

/**
 * Rewrites `ceil(entries × fraction)` random keys (seeded by `seed`) with random values in the
 * backend's state and the same rows in the copy; returns how many writes were made. Checks that
 * the last row written has the same bytes on both sides (a row layout change would make the
 * baseline write other rows).
 */
export function churnBoth(be: KeyedStateBackend<number>, st: ValueState<Uint8Array>, own: { readonly db: RocksDB; readonly cf: ColumnFamily }, copy: RocksCopy, entries: number, fraction: number, seed: number, valueBytes: number): number {
  const r = prng(seed);
  const changed = Math.ceil(entries * fraction);
  let lastRow: Uint8Array | undefined;
  for (let i = 0; i < changed; i++) {
    const k = Math.floor(r() * entries);
    const v = randomFillSync(new Uint8Array(valueBytes));
    be.setCurrentKey(k);
    st.update(v);
    copy.db.put(copy.cf, (lastRow = rowOf(k)), bytesValue(v));
  }
  if (lastRow !== undefined && Buffer.compare(own.db.get(own.cf, lastRow) ?? new Uint8Array(0), copy.db.get(copy.cf, lastRow) ?? new Uint8Array(1)) !== 0) {
    throw new Error("rocksdb checkpoint baseline: the copy does not hold the backend's bytes (row layout changed?)");
  }
  return changed;
}

/** RocksDB's own flush + createCheckpoint of the copy into `dir`, in ms (the directory is removed untimed). */
export function timeRocksCheckpoint(copy: RocksCopy, dir: string): number {
  const t0 = performance.now();
  copy.db.flush();
  copy.db.createCheckpoint(dir);
  const ms = performance.now() - t0;
  rmSync(dir, { recursive: true, force: true });
  return ms;
}

/** A RocksDB property of `cf` as an integer; an error where RocksDB does not give one (a wait on it would otherwise pass unseen). */
export function intProperty(db: RocksDB, cf: ColumnFamily, name: string): number {
  const v = Number(db.getProperty(name, cf));
  if (!Number.isInteger(v)) throw new Error(`RocksDB property ${name} not available`);
  return v;
}

/** Waits until RocksDB has no pending or running compaction or flush for `cf` (`timeoutMs` at most). */
export async function compactionsDone(db: RocksDB, cf: ColumnFamily, timeoutMs = 60_000): Promise<void> {
  const busy = (name: string) => intProperty(db, cf, name) > 0;
  const w0 = performance.now();
  while (busy('rocksdb.compaction-pending') || busy('rocksdb.num-running-compactions') || busy('rocksdb.num-running-flushes') || busy('rocksdb.mem-table-flush-pending')) {
    if (performance.now() - w0 > timeoutMs) throw new Error(`background compactions or flushes did not finish within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
