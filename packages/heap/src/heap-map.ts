import type { IdentityFn, TypeSerializer } from '@flowstate/core';
import type { HeapMap } from './heap-states.js';

/** Deep copy of a heap map value (tuples are copied; keys and values by their serializers). */
export function copyHeapMap(m: HeapMap, valueSerializer: TypeSerializer<unknown>): HeapMap {
  const out: HeapMap = new Map();
  const immutable = valueSerializer.isImmutableType;
  for (const [id, [k, v]] of m) out.set(id, [k, immutable || v === null ? v : valueSerializer.copy(v)]);
  return out;
}

export function heapMapToJs(m: HeapMap): Map<unknown, unknown> {
  const out = new Map<unknown, unknown>();
  for (const [k, v] of m.values()) out.set(k, v);
  return out;
}

export function heapMapFromJs(m: Map<unknown, unknown>, keyIdentity: IdentityFn<unknown>): HeapMap {
  const out: HeapMap = new Map();
  for (const [k, v] of m) out.set(keyIdentity(k), [k, v]);
  return out;
}
