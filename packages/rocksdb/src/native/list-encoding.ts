// The value encoding of list state: what the native `flowstate.list-append` merge operator
// concatenates.
import { RocksDBError } from './errors.js';

/** Name of the merge operator registered on every column family. */
export const LIST_APPEND_MERGE_OPERATOR = 'flowstate.list-append';

/**
 * Encodes elements for the `flowstate.list-append` merge operator: each element
 * is `[u32 big-endian length][bytes]`. A stored value and every merge operand
 * is such a sequence, so RocksDB merges by plain concatenation.
 */
export function encodeListElements(elements: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const e of elements) total += 4 + e.byteLength;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let off = 0;
  for (const e of elements) {
    view.setUint32(off, e.byteLength, false);
    out.set(e, off + 4);
    off += 4 + e.byteLength;
  }
  return out;
}

/** Inverse of {@link encodeListElements}; throws ROCKSDB_CORRUPTION on malformed input. */
export function decodeListElements(bytes: Uint8Array): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Uint8Array[] = [];
  let off = 0;
  while (off < bytes.byteLength) {
    if (off + 4 > bytes.byteLength) throw new RocksDBError('ROCKSDB_CORRUPTION', 'truncated list element header');
    const len = view.getUint32(off, false);
    if (off + 4 + len > bytes.byteLength) throw new RocksDBError('ROCKSDB_CORRUPTION', 'truncated list element');
    out.push(bytes.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  return out;
}
