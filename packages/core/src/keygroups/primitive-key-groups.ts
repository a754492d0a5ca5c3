import { CANONICAL_NAN_HIGH_WORD } from '../io/data-output.js';
import { computeKeyGroupForKeyHash } from './key-group-assignment.js';
import { murmur3Finish, murmur3MixBlock, murmur3MixTail } from './murmur3.js';

/**
 * The murmur3_32 hash of a primitive key's serialized bytes, computed from the key itself.
 *
 * Why: a key's key group is murmur3_32(serialized key) mod maxParallelism (key-group-assignment.ts),
 * but a backend that keeps primitive keys as themselves (the heap backends) never needs those
 * bytes. Serializing an int32 through a DataView into a buffer, taking a view of it and hashing
 * the bytes back out cost more than the rest of setCurrentKey together (issue 16). These functions
 * feed murmur3 the same words directly; they MUST give exactly the hash of the general path (pinned
 * by the key-group vectors and a randomized equality test in core's key-groups tests).
 *
 * Each returns NOT_HANDLED for a value it does not cover (a value the serializer would reject, or a
 * non-ASCII string): the caller then takes the general path, which hashes or rejects it.
 */
export type PrimitiveKeyHash = (key: unknown) => number;

/** Returned by a PrimitiveKeyHash for a value the general path must handle (hashes are ≥ 0). */
export const NOT_HANDLED = -1;

/** Scratch for the 8-byte types: DataView writes the serializer's exact big-endian bytes. */
const scratch = new DataView(new ArrayBuffer(8));

/** Int32Serializer: 4 bytes big-endian. murmur reads blocks little-endian, hence the byte swap. */
function int32HashOf(key: number): number {
  const k = ((key & 0xff) << 24) | ((key & 0xff00) << 8) | ((key >>> 8) & 0xff00) | (key >>> 24);
  return murmur3Finish(murmur3MixBlock(0, k), 4);
}

function isInt32(key: unknown): key is number {
  return typeof key === 'number' && (key | 0) === key;
}

function int32Hash(key: unknown): number {
  return isInt32(key) ? int32HashOf(key) : NOT_HANDLED;
}

/** Two 4-byte blocks of the scratch, read little-endian as murmur reads bytes. */
function scratch8Hash(): number {
  return murmur3Finish(murmur3MixBlock(murmur3MixBlock(0, scratch.getInt32(0, true)), scratch.getInt32(4, true)), 8);
}

function isInt64(key: unknown): key is bigint {
  return typeof key === 'bigint' && BigInt.asIntN(64, key) === key;
}

/** Int64Serializer: bigint, 8 bytes big-endian. */
function int64HashOf(key: bigint): number {
  scratch.setBigInt64(0, key);
  return scratch8Hash();
}

function int64Hash(key: unknown): number {
  return isInt64(key) ? int64HashOf(key) : NOT_HANDLED;
}

/** The hash of the canonical NaN's 8 bytes (the float64 serializer writes every NaN as it). */
const CANONICAL_NAN_HASH = ((): number => {
  scratch.setUint32(0, CANONICAL_NAN_HIGH_WORD);
  scratch.setUint32(4, 0);
  return scratch8Hash();
})();

/**
 * Float64Serializer: IEEE 754, 8 bytes big-endian (the same DataView write), every NaN as the
 * canonical NaN, as the serializer writes it (DataView would keep a NaN's payload and sign).
 */
function float64HashOf(key: number): number {
  if (key !== key) return CANONICAL_NAN_HASH;
  scratch.setFloat64(0, key);
  return scratch8Hash();
}

function float64Hash(key: unknown): number {
  return typeof key === 'number' ? float64HashOf(key) : NOT_HANDLED;
}

/** BooleanSerializer: one byte, 0 or 1. */
function booleanHash(key: unknown): number {
  if (typeof key !== 'boolean') return NOT_HANDLED;
  return murmur3Finish(murmur3MixTail(0, key ? 1 : 0), 1);
}

/**
 * StringSerializer: varuint UTF-8 byte length, then the UTF-8 bytes. Only ASCII strings (one byte
 * per UTF-16 unit, so the byte length is the string's length) are hashed here, byte by byte as
 * they would be written; any other string returns NOT_HANDLED on its first non-ASCII unit.
 */
function stringHash(key: unknown): number {
  if (typeof key !== 'string') return NOT_HANDLED;
  const n = key.length;
  let h = 0;
  let word = 0;
  let filled = 0;
  let len = 0;
  // The varuint length prefix (DataOutputSerializer.writeVarUint), then the characters.
  let v = n;
  for (;;) {
    const b = v >= 0x80 ? (v & 0x7f) | 0x80 : v;
    word |= b << (filled << 3);
    len++;
    if (++filled === 4) {
      h = murmur3MixBlock(h, word);
      word = 0;
      filled = 0;
    }
    if (v < 0x80) break;
    v = Math.floor(v / 128);
  }
  for (let i = 0; i < n; i++) {
    const c = key.charCodeAt(i);
    if (c >= 0x80) return NOT_HANDLED;
    word |= c << (filled << 3);
    if (++filled === 4) {
      h = murmur3MixBlock(h, word);
      word = 0;
      filled = 0;
    }
  }
  len += n;
  if (filled > 0) h = murmur3MixTail(h, word);
  return murmur3Finish(h, len);
}

/**
 * The key group of a primitive key (as assignToKeyGroup of its serialized bytes), or NOT_HANDLED.
 * maxParallelism must be a valid one (an integer in [1, 2^15], as the backends check).
 */
export type PrimitiveKeyGroup = (key: unknown, maxParallelism: number) => number;

const imul = Math.imul;

/**
 * int32 keys (the common case) in one function: murmur3_32 of the key's one 4-byte block, its
 * steps (murmur3.ts) spelled out for that length, so that setCurrentKey with it stays small enough
 * for V8 to inline the state call after it into the caller too: through the shared step functions
 * it was 358 bytes of bytecode of V8's 920-byte inlining budget (issue 16). Pinned to the general
 * path by the key-group vectors and the randomized tests, like every fast path here. For the same
 * budget the byte swap's first term has no mask (<< 24 drops the rest) and NOT_HANDLED is spelled
 * -1 (a module constant is a load and a hole check): a map state's values() did not fit otherwise.
 */
function int32KeyGroup(key: unknown, m: number): number {
  if (typeof key !== 'number' || (key | 0) !== key) return -1;
  let k = (key << 24) | ((key & 0xff00) << 8) | ((key >>> 8) & 0xff00) | (key >>> 24);
  k = imul(k, 0xcc9e2d51);
  k = imul((k << 15) | (k >>> 17), 0x1b873593);
  let h = (k << 13) | (k >>> 19);
  h = ((imul(h, 5) + 0xe6546b64) | 0) ^ 4;
  h = imul(h ^ (h >>> 16), 0x85ebca6b);
  h = imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (((h ^ (h >>> 16)) >>> 0) % (m >>> 0)) | 0;
}
const int64KeyGroup: PrimitiveKeyGroup = (key, m) => (isInt64(key) ? computeKeyGroupForKeyHash(int64HashOf(key), m) : NOT_HANDLED);
const float64KeyGroup: PrimitiveKeyGroup = (key, m) => (typeof key === 'number' ? computeKeyGroupForKeyHash(float64HashOf(key), m) : NOT_HANDLED);
const booleanKeyGroup: PrimitiveKeyGroup = (key, m) => (typeof key === 'boolean' ? computeKeyGroupForKeyHash(booleanHash(key), m) : NOT_HANDLED);
// Strings are checked while hashed (non-ASCII is found on the way): the one layout with a NOT_HANDLED hash.
const stringKeyGroup: PrimitiveKeyGroup = (key, m) => { const h = stringHash(key); return h < 0 ? NOT_HANDLED : computeKeyGroupForKeyHash(h, m); };

const BY_TYPE_ID: Readonly<Record<string, readonly [PrimitiveKeyHash, PrimitiveKeyGroup]>> = {
  int32: [int32Hash, int32KeyGroup],
  int64: [int64Hash, int64KeyGroup],
  float64: [float64Hash, float64KeyGroup],
  boolean: [booleanHash, booleanKeyGroup],
  string: [stringHash, stringKeyGroup],
};

/**
 * The fast hash for keys of the serializer with this typeId (the primitive types of
 * backend/identity.ts, whose formats are fixed by their typeIds), or undefined for other types.
 */
export function primitiveKeyHashFor(typeId: string): PrimitiveKeyHash | undefined {
  return Object.hasOwn(BY_TYPE_ID, typeId) ? BY_TYPE_ID[typeId]![0] : undefined;
}

/** The fast key group for keys of the serializer with this typeId, or undefined (see primitiveKeyHashFor). */
export function primitiveKeyGroupFor(typeId: string): PrimitiveKeyGroup | undefined {
  return Object.hasOwn(BY_TYPE_ID, typeId) ? BY_TYPE_ID[typeId]![1] : undefined;
}
