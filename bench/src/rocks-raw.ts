/**
 * Raw RocksDB baseline for the state access benchmarks: a second database opened through the raw
 * binding (`RocksDB.open`) with the same options as the backend's (block cache, write buffers,
 * compression, WAL off), holding the same rows. Row keys and values are precomputed byte for byte
 * as the backend lays them out (`[key group][lp(key)][lp(namespace)][user key]`, see
 * packages/core/src/kv/kv-row-layout.ts), so the baseline is "the binding's sync get/put/merge/
 * iterate on identical bytes" and the ratio is the backend's own overhead (key serialization, key
 * group hashing, value (de)serialization, state bookkeeping).
 *
 * `verifyIdenticalRows` checks after setup that the backend's database holds the very bytes the
 * baseline uses, so a layout change cannot silently make the comparison unfair.
 */
import {
  assignToKeyGroup,
  DataOutputSerializer,
  KvRowLayout,
  Serializers,
  VoidNamespace,
  type KeyedStateBackend,
  type TypeSerializer,
} from '@flowstate/core';
import { STATE_CF_PREFIX } from '@flowstate/rocksdb';
import { RocksDB, WriteBatch, type ColumnFamily } from '@flowstate/rocksdb/native';
import { MAX_PARALLELISM, ROCKSDB_BACKEND_DB_OPTIONS, ROCKSDB_BENCH_OPTIONS } from './backends.js';

export interface RawRocks {
  readonly db: RocksDB;
  readonly cf: ColumnFamily;
  /** Row key prefix `[kg][lp(key)][lp(void namespace)]` of int32 key k (computed on demand, cached). */
  prefix(k: number): Uint8Array;
  close(): void;
}

function ser<T>(s: TypeSerializer<T>, v: T): Uint8Array {
  const o = new DataOutputSerializer(16);
  s.serialize(v, o);
  return o.toBytes();
}

/** The row key prefix `[kg][lp(key)][lp(void namespace)]` of int32 keys, as the backend lays it out (cached). */
export function rowPrefixes(): (k: number) => Uint8Array {
  const layout = new KvRowLayout(MAX_PARALLELISM);
  const ns = ser(Serializers.voidNamespace, VoidNamespace);
  const cache = new Map<number, Uint8Array>();
  return (k: number): Uint8Array => {
    let p = cache.get(k);
    if (p === undefined) {
      const keyBytes = ser(Serializers.int32, k);
      const out = new DataOutputSerializer(16);
      layout.writeKeyGroup(out, assignToKeyGroup(keyBytes, MAX_PARALLELISM));
      out.writeLengthPrefixed(keyBytes);
      out.writeLengthPrefixed(ns);
      p = out.toBytes();
      cache.set(k, p);
    }
    return p;
  };
}

/** `likeBackend`: the backend's own database options (ROCKSDB_BACKEND_DB_OPTIONS), else the benchmark settings with RocksDB's default syncs. */
export function openRawRocks(path: string, likeBackend: boolean): RawRocks {
  const db = RocksDB.open(path, { ...(likeBackend ? ROCKSDB_BACKEND_DB_OPTIONS : ROCKSDB_BENCH_OPTIONS), createIfMissing: true, disableWAL: true });
  const cf = db.createColumnFamily('raw');
  return { db, cf, prefix: rowPrefixes(), close: () => db.close() };
}

/** Rows per write batch of `fillRows`: small against the write buffer, so memtable switches fall where single puts put them (within one batch). */
const FILL_BATCH_ROWS = 1000;

/**
 * Writes `rows` into the raw baseline's column family in order, in write batches (setup, untimed):
 * the same rows in the same order as one put each, at a fraction of the cost (2 M single puts were
 * most of the access suite's setup time on RocksDB maps).
 */
export function fillRows(raw: RawRocks, rows: Iterable<readonly [Uint8Array, Uint8Array]>): void {
  const batch = new WriteBatch();
  let n = 0;
  for (const [k, v] of rows) {
    batch.put(raw.cf, k, v);
    if (++n === FILL_BATCH_ROWS) {
      raw.db.write(batch);
      batch.clear();
      n = 0;
    }
  }
  if (n > 0) raw.db.write(batch);
}

export const bytesValue = (v: Uint8Array): Uint8Array => ser(Serializers.bytes, v);

export const float64Bytes = (v: number): Uint8Array => ser(Serializers.float64, v);
export const int32Bytes = (v: number): Uint8Array => ser(Serializers.int32, v);

export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** The exclusive upper bound of all rows starting with `prefix` (as the backend's prefixEnd). */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  const out = prefix.slice();
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i]! < 0xff) {
      out[i]!++;
      return out.subarray(0, i + 1);
    }
  }
  throw new Error('prefix has no upper bound');
}

const same = (a: Uint8Array | undefined, b: Uint8Array | undefined) => a !== undefined && b !== undefined && Buffer.compare(a, b) === 0;

/** The RocksDB database and column family behind a state of a RocksDB keyed backend. */
export function backendColumnFamily(be: KeyedStateBackend<number>, stateName: string): { db: RocksDB; cf: ColumnFamily } {
  const db = (be as unknown as { db?: RocksDB }).db;
  const cf = db?.getColumnFamily(STATE_CF_PREFIX + stateName);
  if (db === undefined || cf === undefined) throw new Error(`rocksdb-raw baseline: cannot find column family of state '${stateName}' in the backend`);
  return { db, cf };
}

/** Throws unless the backend's row for `row` (in state `stateName`) has the same bytes as the raw baseline's. */
export function verifyIdenticalRows(be: KeyedStateBackend<number>, stateName: string, raw: RawRocks, rows: readonly Uint8Array[]): void {
  const { db, cf } = backendColumnFamily(be, stateName);
  for (const row of rows) {
    const a = db.get(cf, row);
    const b = raw.db.get(raw.cf, row);
    if (!same(a, b)) throw new Error(`rocksdb-raw baseline: row ${Buffer.from(row).toString('hex')} differs (backend ${a ? Buffer.from(a).toString('hex').slice(0, 64) : 'missing'}, raw ${b ? Buffer.from(b).toString('hex').slice(0, 64) : 'missing'}); the key layout changed?`);
  }
}
