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
 * The identity of float64 -0. A JS Map compares keys by SameValueZero, which merges -0 with 0, but
 * their serialized bytes differ and Flink's heap backend (Double.equals) keeps them apart, as
 * RocksDB does with their bytes: -0 gets an identity no number can have.
 */
export const NEGATIVE_ZERO_IDENTITY = '-0';

/**
 * The identity of every float64 NaN. All NaNs are one value, as for Double.equals (which compares
 * canonical bits) and for their serialized bytes (the float64 serializer writes the canonical NaN).
 * A Map finds NaN under NaN, but identities are also compared with === (the heap's namespace
 * chains), where NaN !== NaN: an entry under a NaN namespace was never found again.
 */
export const NAN_IDENTITY = 'NaN';

function float64Identity(v: unknown): Identity {
  if (v !== v) return NAN_IDENTITY;
  return v === 0 && 1 / (v as number) < 0 ? NEGATIVE_ZERO_IDENTITY : (v as Identity);
}

function float64OfIdentity(id: Identity): unknown {
  return id === NEGATIVE_ZERO_IDENTITY ? -0 : id === NAN_IDENTITY ? NaN : id;
}

const itself = (v: unknown): Identity => v as Identity;

/**
 * For a primitive type (isPrimitiveType): its identity function, or undefined for other types.
 * Primitives are their own identity except float64 -0 and NaN (see NEGATIVE_ZERO_IDENTITY, NAN_IDENTITY).
 */
export function primitiveIdentity(serializer: TypeSerializer<unknown>): IdentityFn<unknown> | undefined {
  if (!isPrimitiveType(serializer)) return undefined;
  return serializer.typeId === 'float64' ? float64Identity : itself;
}

/** The inverse of primitiveIdentity: the value of an identity (primitive types only). */
export function primitiveOfIdentity(serializer: TypeSerializer<unknown>): ((id: Identity) => unknown) | undefined {
  if (!isPrimitiveType(serializer)) return undefined;
  return serializer.typeId === 'float64' ? float64OfIdentity : itself;
}

/**
 * The identity of a key, given its serialized bytes: setCurrentKey and restore must agree on it,
 * or restored entries would not be found. `primitive` is the key type's primitiveIdentity.
 */
export function keyIdOf(primitive: IdentityFn<unknown> | undefined, key: unknown, serializedKey: Uint8Array | undefined): Identity {
  if (primitive !== undefined) return primitive(key);
  assert(serializedKey !== undefined, 'non-primitive keys come with their serialized bytes');
  return bytesIdentity(serializedKey);
}

export function identityFunction<T>(serializer: TypeSerializer<T>): IdentityFn<T> {
  const primitive = primitiveIdentity(serializer as TypeSerializer<unknown>);
  if (primitive !== undefined) return primitive as IdentityFn<T>;
  // One value only; a number key is much faster than hashing a (frozen) object in a JS Map.
  if (serializer.typeId === 'void-namespace') return () => 0;
  const out = new DataOutputSerializer(64);
  return (v) => {
    out.clear();
    serializer.serialize(v, out);
    return bytesIdentity(out.bytesView());
  };
}
