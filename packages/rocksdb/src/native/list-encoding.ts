// The value encoding of list state: what the native `flowstate.list-append` merge operator
// concatenates.
import { CorruptDataError, decodeKvList, encodeKvList } from '@flowstate/core';
import { RocksDBError } from './errors.js';

/** Name of the merge operator registered on every column family. */
export const LIST_APPEND_MERGE_OPERATOR = 'flowstate.list-append';

/**
 * Encodes elements for the `flowstate.list-append` merge operator: each element is
 * `[u32 big-endian length][bytes]`, so RocksDB merges by plain concatenation. This is core's list
 * value format for every KvStore (kv-values.ts); the binding re-exports it rather than keeping a copy.
 */
export const encodeListElements: (elements: readonly Uint8Array[]) => Uint8Array = encodeKvList;

/** Inverse of {@link encodeListElements}; throws ROCKSDB_CORRUPTION on malformed input. */
export function decodeListElements(bytes: Uint8Array): Uint8Array[] {
  try {
    return decodeKvList(bytes);
  } catch (e) {
    if (e instanceof CorruptDataError) throw new RocksDBError('ROCKSDB_CORRUPTION', e.message);
    throw e;
  }
}
