import { assert } from '../assert.js';

/**
 * MurmurHash3, x86 32-bit variant, over bytes. Part of the on-disk format: a key's key group is
 * murmur3_32(serialized key, seed 0) mod maxParallelism, forever. See docs/key-groups.md.
 */
export function murmur3_32(data: Uint8Array, seed = 0): number {
  // The whole array is a valid range: no check on this path (every serialized key's key group).
  return murmur3Body(data, 0, data.length, seed);
}

/**
 * murmur3_32 of data[start, end): a key read back from a block is hashed in place, without a view
 * of it. 0 <= start <= end <= data.length, integers (asserted: a wrong range would hash missing
 * bytes as zeros, or loop ~2^30 times for start > end).
 */
export function murmur3_32Range(data: Uint8Array, start: number, end: number, seed: number): number {
  // `x >>> 0 === x`: a non-negative integer. The message is built only when the check fails (once per key).
  if (start >>> 0 !== start || end >>> 0 !== end || start > end || end > data.length) assert(false, `range [${start}, ${end}) within [0, ${data.length}]`);
  return murmur3Body(data, start, end, seed);
}

/** The hash of data[start, end), a range the caller has checked. */
function murmur3Body(data: Uint8Array, start: number, end: number, seed: number): number {
  let h = seed >>> 0;
  const len = end - start;
  const nblocks = len >>> 2;
  let i = start;
  for (let b = 0; b < nblocks; b++, i += 4) h = murmur3MixBlock(h, data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24));
  const rem = len & 3;
  if (rem > 0) {
    let k = 0;
    if (rem === 3) k ^= data[i + 2]! << 16;
    if (rem >= 2) k ^= data[i + 1]! << 8;
    k ^= data[i]!;
    h = murmur3MixTail(h, k);
  }
  return murmur3Finish(h, len);
}

// The three steps of murmur3_32, shared with the primitive-key fast paths
// (primitive-key-groups.ts), which feed it words without materializing the key's bytes.

/** Mixes one full 4-byte block `k` (the bytes read little-endian) into the hash state. */
export function murmur3MixBlock(h: number, k: number): number {
  h ^= murmur3MixK(k);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** Mixes the last 1–3 bytes (little-endian in `k`) into the hash state. */
export function murmur3MixTail(h: number, k: number): number {
  return h ^ murmur3MixK(k);
}

/** Finalizes the hash state of `len` bytes into the unsigned 32-bit hash. */
export function murmur3Finish(h: number, len: number): number {
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function murmur3MixK(k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, 0x1b873593);
}
