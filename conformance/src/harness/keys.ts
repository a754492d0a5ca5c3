import {
  assignToKeyGroup,
  computeKeyGroupRangeForOperatorIndex,
  DataOutputSerializer,
  type KeyGroupRange,
  type TypeSerializer,
} from '@flowstate/core';

/** maxParallelism of every case that does not say otherwise (Flink's default lower bound). */
export const MAX_PARALLELISM = 128;

export function serializeKey<K>(key: K, serializer: TypeSerializer<K>): Uint8Array {
  const out = new DataOutputSerializer(32);
  serializer.serialize(key, out);
  return out.toBytes();
}

/**
 * The key group the suite expects a backend to put `key` in: murmur3 of the serialized key, as
 * the core defines it. Computed independently of the backend so routing bugs cannot cancel out.
 */
export function keyGroupOf<K>(key: K, serializer: TypeSerializer<K>, maxParallelism = MAX_PARALLELISM): number {
  return assignToKeyGroup(serializeKey(key, serializer), maxParallelism);
}

/** The key-group ranges of all subtasks of an operator at `parallelism`. */
export function subtaskRanges(parallelism: number, maxParallelism = MAX_PARALLELISM): KeyGroupRange[] {
  return Array.from({ length: parallelism }, (_, i) => computeKeyGroupRangeForOperatorIndex(maxParallelism, parallelism, i));
}

export function keysInRange<K>(keys: Iterable<K>, range: KeyGroupRange, serializer: TypeSerializer<K>, maxParallelism = MAX_PARALLELISM): K[] {
  return [...keys].filter((k) => range.contains(keyGroupOf(k, serializer, maxParallelism)));
}
