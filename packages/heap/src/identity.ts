import { DataOutputSerializer, type TypeSerializer } from '@flowstate/core';

/**
 * A JS Map key with value semantics for a serialized type. Primitive types are their own identity;
 * everything else is identified by its serialized bytes (as a latin1 string), because JS Maps
 * compare objects by reference and state must compare keys by value.
 */
export type Identity = string | number | bigint | boolean | object;
export type IdentityFn<T> = (value: T) => Identity;

const PRIMITIVE_TYPES = new Set(['string', 'int32', 'float64', 'int64', 'boolean']);

export function identityFunction<T>(serializer: TypeSerializer<T>): IdentityFn<T> {
  if (PRIMITIVE_TYPES.has(serializer.typeId)) return (v) => v as unknown as Identity;
  // One value only; a number key is much faster than hashing a (frozen) object in a JS Map.
  if (serializer.typeId === 'void-namespace') return () => 0;
  const out = new DataOutputSerializer(64);
  return (v) => {
    out.clear();
    serializer.serialize(v, out);
    return Buffer.from(out.bytesView()).toString('latin1');
  };
}
