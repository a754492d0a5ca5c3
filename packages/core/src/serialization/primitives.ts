import { IllegalStateUsageError } from '../errors.js';
import type { DataInputDeserializer } from '../io/data-input.js';
import type { DataOutputSerializer } from '../io/data-output.js';
import { SimpleTypeSerializerSnapshot } from './simple-snapshot.js';
import type { TypeSerializer, TypeSerializerSnapshot } from './type-serializer.js';

/**
 * A serializer of values never mutated in place and without configuration of its own: copy is the
 * identity and its snapshot restores this same serializer.
 */
export abstract class ImmutableSerializer<T> implements TypeSerializer<T> {
  abstract readonly typeId: string;
  readonly isImmutableType = true;
  abstract serialize(value: T, out: DataOutputSerializer): void;
  abstract deserialize(input: DataInputDeserializer): T;
  copy(value: T): T {
    return value;
  }
  snapshotConfiguration(): TypeSerializerSnapshot<T> {
    return new SimpleTypeSerializerSnapshot(this.typeId, () => this);
  }
}

/** UTF-8, varuint length prefix. */
export class StringSerializer extends ImmutableSerializer<string> {
  static readonly INSTANCE = new StringSerializer();
  readonly typeId = 'string';
  serialize(value: string, out: DataOutputSerializer): void {
    if (typeof value !== 'string') throw new IllegalStateUsageError(undefined, `string serializer got ${typeof value}`);
    out.writeString(value);
  }
  deserialize(input: DataInputDeserializer): string {
    return input.readString();
  }
}

/** One byte, 0 or 1. */
export class BooleanSerializer extends ImmutableSerializer<boolean> {
  static readonly INSTANCE = new BooleanSerializer();
  readonly typeId = 'boolean';
  serialize(value: boolean, out: DataOutputSerializer): void {
    out.writeBoolean(value);
  }
  deserialize(input: DataInputDeserializer): boolean {
    return input.readBoolean();
  }
}

/**
 * IEEE 754 double, 8 bytes big-endian; every NaN as the canonical NaN 0x7ff8000000000000, as
 * Flink's DoubleSerializer writes it (DataOutputSerializer.writeFloat64).
 */
export class Float64Serializer extends ImmutableSerializer<number> {
  static readonly INSTANCE = new Float64Serializer();
  readonly typeId = 'float64';
  serialize(value: number, out: DataOutputSerializer): void {
    out.writeFloat64(value);
  }
  deserialize(input: DataInputDeserializer): number {
    return input.readFloat64();
  }
}

/** Signed 32-bit integer, 4 bytes big-endian. Rejects non-integers instead of truncating them. */
export class Int32Serializer extends ImmutableSerializer<number> {
  static readonly INSTANCE = new Int32Serializer();
  readonly typeId = 'int32';
  serialize(value: number, out: DataOutputSerializer): void {
    if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) {
      throw new IllegalStateUsageError(undefined, `int32 serializer got ${String(value)}`);
    }
    out.writeInt32(value);
  }
  deserialize(input: DataInputDeserializer): number {
    return input.readInt32();
  }
}

/** Signed 64-bit integer as bigint, 8 bytes big-endian. */
export class Int64Serializer extends ImmutableSerializer<bigint> {
  static readonly INSTANCE = new Int64Serializer();
  readonly typeId = 'int64';
  serialize(value: bigint, out: DataOutputSerializer): void {
    if (typeof value !== 'bigint') throw new IllegalStateUsageError(undefined, `int64 serializer got ${typeof value}`);
    out.writeBigInt64(BigInt.asIntN(64, value) === value ? value : invalidInt64(value));
  }
  deserialize(input: DataInputDeserializer): bigint {
    return input.readBigInt64();
  }
}

function invalidInt64(v: bigint): never {
  throw new IllegalStateUsageError(undefined, `int64 serializer got out-of-range ${v}`);
}

/** Raw bytes, varuint length prefix. Byte arrays are mutable, so copies are real copies. */
export class BytesSerializer implements TypeSerializer<Uint8Array> {
  static readonly INSTANCE = new BytesSerializer();
  readonly typeId = 'bytes';
  readonly isImmutableType = false;
  serialize(value: Uint8Array, out: DataOutputSerializer): void {
    out.writeLengthPrefixed(value);
  }
  deserialize(input: DataInputDeserializer): Uint8Array {
    return new Uint8Array(input.readLengthPrefixed());
  }
  deserializeView(input: DataInputDeserializer): Uint8Array {
    return input.readLengthPrefixed();
  }
  copy(value: Uint8Array): Uint8Array {
    return new Uint8Array(value);
  }
  snapshotConfiguration(): TypeSerializerSnapshot<Uint8Array> {
    return new SimpleTypeSerializerSnapshot(this.typeId, () => this);
  }
}

/** The namespace of state that is not scoped to windows: serializes to zero bytes. */
export const VoidNamespace = Object.freeze({ __voidNamespace: true as const });
export type VoidNamespace = typeof VoidNamespace;

export class VoidNamespaceSerializer extends ImmutableSerializer<VoidNamespace> {
  static readonly INSTANCE = new VoidNamespaceSerializer();
  readonly typeId = 'void-namespace';
  serialize(_value: VoidNamespace, _out: DataOutputSerializer): void {}
  deserialize(_input: DataInputDeserializer): VoidNamespace {
    return VoidNamespace;
  }
}
