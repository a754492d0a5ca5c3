import { CorruptDataError } from '../errors.js';
import { DataInputDeserializer } from '../io/data-input.js';
import { DataOutputSerializer } from '../io/data-output.js';

/**
 * Values in a KvStore. Value, reducing and aggregating state store the serialized value; map state
 * one row per user key with [presence byte][user value] (MapSerializer.serializeNullableValue);
 * list state its elements as [u32 big-endian length][bytes]..., so that appending is plain
 * concatenation (RocksDB's list-append merge operator relies on that).
 */

/** Encodes list elements, [u32 length][bytes] each. */
export function encodeKvList(elements: readonly Uint8Array[]): Uint8Array {
  const out = new DataOutputSerializer(elements.reduce((n, e) => n + 4 + e.length, 0));
  for (const e of elements) {
    out.writeUint32(e.length);
    out.writeBytes(e);
  }
  return out.toBytes();
}

/** Decodes list elements (views into `bytes`); CorruptDataError when truncated. */
export function decodeKvList(bytes: Uint8Array): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Uint8Array[] = [];
  let off = 0;
  while (off < bytes.byteLength) {
    if (off + 4 > bytes.byteLength) throw new CorruptDataError('truncated list element header', off);
    const len = view.getUint32(off, false);
    if (off + 4 + len > bytes.byteLength) throw new CorruptDataError('truncated list element', off);
    out.push(bytes.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  return out;
}

/** Stored list -> canonical list value (varuint count, lp(element)...), written to `out`. */
export function kvListToCanonical(stored: Uint8Array, out: DataOutputSerializer): Uint8Array {
  const elements = decodeKvList(stored);
  out.clear();
  out.writeVarUint(elements.length);
  for (const e of elements) out.writeLengthPrefixed(e);
  return out.bytesView();
}

/** Canonical list value -> stored list. */
export function canonicalListToKv(canonical: Uint8Array): Uint8Array {
  const input = new DataInputDeserializer(canonical);
  const n = input.readLength('list length');
  const elements: Uint8Array[] = [];
  for (let i = 0; i < n; i++) elements.push(input.readLengthPrefixed());
  if (input.remaining !== 0) input.fail('list value has trailing bytes');
  return encodeKvList(elements);
}

/** Stored map value -> canonical user value (null when the user value is null). */
export function kvMapValueToCanonical(stored: Uint8Array): Uint8Array | null {
  return stored[0] === 1 ? stored.subarray(1) : null;
}

/** Canonical user value -> stored map value. */
export function canonicalMapValueToKv(userValue: Uint8Array | null): Uint8Array {
  if (userValue === null) return new Uint8Array([0]);
  const out = new Uint8Array(userValue.length + 1);
  out[0] = 1;
  out.set(userValue, 1);
  return out;
}
