import { DataInputDeserializer } from '../io/data-input.js';
import { DataOutputSerializer } from '../io/data-output.js';
import type { TypeSerializer } from '../serialization/type-serializer.js';

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

/**
 * The framing of a stored list, the one place that checks it: `input` reads the list (reset over
 * it, positioned at an element's header, `total` its length); reads the header and narrows reads
 * to the element, whose end it returns. CorruptDataError when the header (at its offset) or the
 * element (at the offset its bytes start) is truncated. Exported for readers of the same bytes
 * outside a state (the bench's raw-binding baseline).
 */
export function frameKvListElement(input: DataInputDeserializer, total: number): number {
  const at = input.position;
  input.limitTo(total);
  if (at + 4 > total) input.fail('truncated list element header');
  const end = at + 4 + input.readUint32();
  if (end > total) input.fail('truncated list element');
  input.limitTo(end);
  return end;
}

/** Decodes list elements (views into `bytes`); CorruptDataError when truncated. */
export function decodeKvList(bytes: Uint8Array): Uint8Array[] {
  const input = new DataInputDeserializer(bytes);
  const total = bytes.byteLength;
  const out: Uint8Array[] = [];
  while (input.position < total) out.push(input.readBytes(frameKvListElement(input, total) - input.position));
  return out;
}

/**
 * Deserializes every element of a stored list with one deserializer (reset over `bytes`, narrowed
 * to each element in turn): no subarray per element, no intermediate array. Each element must
 * consume exactly its bytes, as decodeKvList + deserializeExact would require.
 */
export function deserializeKvList<T>(bytes: Uint8Array, serializer: TypeSerializer<T>, input: DataInputDeserializer): T[] {
  input.reset(bytes);
  const total = bytes.byteLength;
  const out: T[] = [];
  while (input.position < total) {
    frameKvListElement(input, total);
    out.push(serializer.deserialize(input));
    if (input.remaining !== 0) input.fail(`list element has ${input.remaining} trailing bytes`);
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
