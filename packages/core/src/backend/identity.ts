import { assert } from '../assert.js';
import { DataOutputSerializer } from '../io/data-output.js';
import type { TypeSerializer } from '../serialization/type-serializer.js';

/**
 * A JS Map key with value semantics for a serialized type. Primitive types are their own identity;
 * everything else is identified by its serialized bytes (as a latin1 string), because JS Maps
 * compare objects by reference and state must compare keys by value.
 */
export type Identity = string | number | bigint | boolean | object;
export type IdentityFn<T> = (value: T) => Identity;

const PRIMITIVE_TYPES = new Set(['string', 'int32', 'float64', 'int64', 'boolean']);

/** True when values of this serializer are their own identity (JS primitives). */
export function isPrimitiveType(serializer: TypeSerializer<unknown>): boolean {
  return PRIMITIVE_TYPES.has(serializer.typeId);
}

/** The identity of serialized bytes: a latin1 string over them, without copying them first. */
export function bytesIdentity(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/**
 * The identity of a key, given its serialized bytes: setCurrentKey and restore must agree on it,
 * or restored entries would not be found.
 */
export function keyIdOf(primitive: boolean, key: unknown, serializedKey: Uint8Array | undefined): Identity {
  if (primitive) return key as Identity;
  assert(serializedKey !== undefined, 'non-primitive keys come with their serialized bytes');
  return bytesIdentity(serializedKey);
}

export function identityFunction<T>(serializer: TypeSerializer<T>): IdentityFn<T> {
  if (isPrimitiveType(serializer as TypeSerializer<unknown>)) return (v) => v as unknown as Identity;
  // One value only; a number key is much faster than hashing a (frozen) object in a JS Map.
  if (serializer.typeId === 'void-namespace') return () => 0;
  const out = new DataOutputSerializer(64);
  return (v) => {
    out.clear();
    serializer.serialize(v, out);
    return bytesIdentity(out.bytesView());
  };
}
