import { assert } from '../assert.js';
import { IllegalStateUsageError } from '../errors.js';
import { KeyGroupRange } from './key-group-range.js';
import { murmur3_32, murmur3_32Range } from './murmur3.js';

/** Flink's upper bound on maxParallelism (key groups are addressed with 2 bytes). */
export const UPPER_BOUND_MAX_PARALLELISM = 1 << 15;
export const DEFAULT_LOWER_BOUND_MAX_PARALLELISM = 1 << 7;

export function checkMaxParallelism(maxParallelism: number): void {
  if (!Number.isInteger(maxParallelism) || maxParallelism < 1 || maxParallelism > UPPER_BOUND_MAX_PARALLELISM) {
    throw new IllegalStateUsageError(undefined, `maxParallelism must be an integer in [1, ${UPPER_BOUND_MAX_PARALLELISM}], got ${maxParallelism}`);
  }
}

/**
 * A keyed backend's maxParallelism must be a valid one, and its key groups key groups of that
 * maxParallelism. A KV backend writes a key group as a 1-byte prefix up to maxParallelism 128 and
 * a 2-byte one above: past 65,536 the rows of key group 65,536 were key group 0's, and a range
 * past maxParallelism (no key falls into it) made a snapshot's scan bounds wrap.
 */
export function checkKeyGroupRange(keyGroupRange: KeyGroupRange, maxParallelism: number): void {
  checkMaxParallelism(maxParallelism);
  if (keyGroupRange.endKeyGroup >= maxParallelism) {
    throw new IllegalStateUsageError(undefined, `key group range [${keyGroupRange.startKeyGroup}, ${keyGroupRange.endKeyGroup}] is not within maxParallelism ${maxParallelism} (key groups 0 to ${maxParallelism - 1})`);
  }
}

export function checkParallelism(parallelism: number, maxParallelism: number): void {
  checkMaxParallelism(maxParallelism);
  if (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > maxParallelism) {
    throw new IllegalStateUsageError(undefined, `parallelism must be an integer in [1, maxParallelism=${maxParallelism}], got ${parallelism}`);
  }
}

/** The key group of a serialized key: murmur3_32(keyBytes, seed 0) mod maxParallelism. */
export function assignToKeyGroup(serializedKey: Uint8Array, maxParallelism: number): number {
  return computeKeyGroupForKeyHash(murmur3_32(serializedKey, 0), maxParallelism);
}

/** assignToKeyGroup of bytes[start, end), without a view of it (keys read back from a block); the range is asserted as murmur3_32Range's. */
export function assignRangeToKeyGroup(bytes: Uint8Array, start: number, end: number, maxParallelism: number): number {
  return computeKeyGroupForKeyHash(murmur3_32Range(bytes, start, end, 0), maxParallelism);
}

/**
 * hash mod maxParallelism, the hash read as unsigned 32 bits. Written so that V8 keeps every step a
 * 32-bit integer (unsigned remainder, signed result): with a remainder of unknown sign it took the
 * remainder in floating point (x87 fprem), which cost more than the whole hash (issue 16).
 * maxParallelism must be a valid one (an integer in [1, 2^15], as the backends check).
 */
export function computeKeyGroupForKeyHash(hash: number, maxParallelism: number): number {
  return ((hash >>> 0) % (maxParallelism >>> 0)) | 0;
}

/** Flink's KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex. */
export function computeKeyGroupRangeForOperatorIndex(maxParallelism: number, parallelism: number, operatorIndex: number): KeyGroupRange {
  checkParallelism(parallelism, maxParallelism);
  assert(operatorIndex >= 0 && operatorIndex < parallelism, `operator index ${operatorIndex} in [0, ${parallelism})`);
  const start = Math.floor((operatorIndex * maxParallelism + parallelism - 1) / parallelism);
  const end = Math.floor(((operatorIndex + 1) * maxParallelism - 1) / parallelism);
  return KeyGroupRange.of(start, end);
}

/** Flink's KeyGroupRangeAssignment.computeOperatorIndexForKeyGroup. */
export function computeOperatorIndexForKeyGroup(maxParallelism: number, parallelism: number, keyGroupId: number): number {
  assert(keyGroupId >= 0 && keyGroupId < maxParallelism, `key group ${keyGroupId} in [0, ${maxParallelism})`);
  return Math.floor((keyGroupId * parallelism) / maxParallelism);
}

/** Flink's default: 1.5 x parallelism rounded up to a power of two, within [128, 32768]. */
export function computeDefaultMaxParallelism(parallelism: number): number {
  const target = parallelism + Math.floor(parallelism / 2);
  let p = 1;
  while (p < target) p <<= 1;
  return Math.min(Math.max(p, DEFAULT_LOWER_BOUND_MAX_PARALLELISM), UPPER_BOUND_MAX_PARALLELISM);
}
