// Checks for what the RocksDB KvStore hands to the native TTL compaction filter: the layouts come
// from core's state registration (or a restored checkpoint's metadata), so a wrong one is a typed
// error naming the state, not a native invalid-argument.
import { IllegalStateUsageError, type KvTtlLayout } from '@flowstate/core';
import { RocksDBError } from '../native.js';

/** RocksDBKvStore options. */
export interface RocksDBKvStoreOptions {
  /**
   * Entries a TTL compaction filter processes before it reads the current time again (Flink's
   * queryTimeAfterNumEntries; default 1000). One value for the store: the KvStore SPI passes
   * the layout of each space, not its cleanup settings.
   */
  readonly ttlQueryTimeAfterNumEntries?: number;
}

const LAYOUTS: ReadonlySet<string> = new Set(['VALUE', 'LIST', 'MAP']);
const TIMES: ReadonlySet<string> = new Set(['ProcessingTime', 'EventTime']);

export function checkTtlLayout(state: string, ttl: KvTtlLayout): void {
  if (!LAYOUTS.has(ttl.layout)) throw new IllegalStateUsageError(state, `unknown TTL value layout '${String(ttl.layout)}'`);
  if (!Number.isSafeInteger(ttl.ttlMs) || ttl.ttlMs <= 0) throw new IllegalStateUsageError(state, `TTL must be a positive integer number of milliseconds, got ${ttl.ttlMs}`);
  if (!TIMES.has(ttl.timeCharacteristic)) throw new IllegalStateUsageError(state, `unknown TTL time characteristic '${String(ttl.timeCharacteristic)}'`);
}

export function checkQueryTimeAfterNumEntries(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 0xffffffff) throw new RocksDBError('ROCKSDB_INVALID_ARGUMENT', `ttlQueryTimeAfterNumEntries must be an integer in [1, 2^32-1], got ${n}`);
}
