import type { JavaDataInput } from '../io/java-input.js';
import type { JavaDataOutput } from '../io/java-output.js';
import { readStringValue, writeStringValue } from '../io/string-value.js';
import { javaDoubleHash, javaFloatHash, javaLongHash, javaStringHash } from '../hash/key-groups.js';
import type { FlinkTypeSerializer } from './types.js';

const BASE = 'org.apache.flink.api.common.typeutils.base.';
const ARRAYS = 'org.apache.flink.api.common.typeutils.base.array.';

function fixed<T>(name: string, length: number, read: (i: JavaDataInput) => T, write: (o: JavaDataOutput, v: T) => void, hash?: (v: T) => number): FlinkTypeSerializer<T> {
  return { serializerClass: name, length, deserialize: read, serialize: (v, o) => write(o, v), ...(hash === undefined ? {} : { hashCode: hash }) };
}

export const LongSerializer = fixed<bigint>(`${BASE}LongSerializer`, 8, (i) => i.readLong(), (o, v) => o.writeLong(v), javaLongHash);
export const IntSerializer = fixed<number>(`${BASE}IntSerializer`, 4, (i) => i.readInt(), (o, v) => o.writeInt(v), (v) => v | 0);
export const ShortSerializer = fixed<number>(`${BASE}ShortSerializer`, 2, (i) => i.readShort(), (o, v) => o.writeShort(v), (v) => v | 0);
export const ByteSerializer = fixed<number>(`${BASE}ByteSerializer`, 1, (i) => i.readByte(), (o, v) => o.writeByte(v), (v) => v | 0);
export const BooleanSerializer = fixed<boolean>(`${BASE}BooleanSerializer`, 1, (i) => i.readBoolean(), (o, v) => o.writeBoolean(v), (v) => (v ? 1231 : 1237));
export const DoubleSerializer = fixed<number>(`${BASE}DoubleSerializer`, 8, (i) => i.readDouble(), (o, v) => o.writeDouble(v), javaDoubleHash);
export const FloatSerializer = fixed<number>(`${BASE}FloatSerializer`, 4, (i) => i.readFloat(), (o, v) => o.writeFloat(v), javaFloatHash);
/** Java char as a one-character string. */
export const CharSerializer = fixed<string>(`${BASE}CharSerializer`, 2, (i) => String.fromCharCode(i.readChar()), (o, v) => o.writeChar(v.charCodeAt(0)), (v) => v.charCodeAt(0));

export const StringSerializer: FlinkTypeSerializer<string | null> = {
  serializerClass: `${BASE}StringSerializer`,
  length: -1,
  deserialize: readStringValue,
  serialize: (v, o) => writeStringValue(o, v),
  hashCode: (v) => (v === null ? 0 : javaStringHash(v)),
};

/** Java arrays hash by identity: no hashCode (they cannot be keys in Flink either). */
function primitiveArray<T>(name: string, elemBytes: number, read: (i: JavaDataInput) => T, write: (o: JavaDataOutput, v: T) => void): FlinkTypeSerializer<T[]> {
  return {
    serializerClass: `${ARRAYS}${name}`,
    length: -1,
    deserialize: (i) => {
      const n = i.readCount('array length', elemBytes);
      const out: T[] = [];
      for (let k = 0; k < n; k++) out.push(read(i));
      return out;
    },
    serialize: (v, o) => {
      o.writeInt(v.length);
      for (const x of v) write(o, x);
    },
  };
}

export const BytePrimitiveArraySerializer: FlinkTypeSerializer<Uint8Array> = {
  serializerClass: `${ARRAYS}BytePrimitiveArraySerializer`,
  length: -1,
  // A copy (Java's byte[] is its own array), not a view that a caller's writes would share with the stream.
  deserialize: (i) => i.readBytesCopy(i.readCount('byte[] length')),
  serialize: (v, o) => {
    o.writeInt(v.length);
    o.writeBytes(v);
  },
};
export const IntPrimitiveArraySerializer = primitiveArray<number>('IntPrimitiveArraySerializer', 4, (i) => i.readInt(), (o, v) => o.writeInt(v));
export const LongPrimitiveArraySerializer = primitiveArray<bigint>('LongPrimitiveArraySerializer', 8, (i) => i.readLong(), (o, v) => o.writeLong(v));
export const ShortPrimitiveArraySerializer = primitiveArray<number>('ShortPrimitiveArraySerializer', 2, (i) => i.readShort(), (o, v) => o.writeShort(v));
export const CharPrimitiveArraySerializer = primitiveArray<number>('CharPrimitiveArraySerializer', 2, (i) => i.readChar(), (o, v) => o.writeChar(v));
export const BooleanPrimitiveArraySerializer = primitiveArray<boolean>('BooleanPrimitiveArraySerializer', 1, (i) => i.readBoolean(), (o, v) => o.writeBoolean(v));
export const DoublePrimitiveArraySerializer = primitiveArray<number>('DoublePrimitiveArraySerializer', 8, (i) => i.readDouble(), (o, v) => o.writeDouble(v));
export const FloatPrimitiveArraySerializer = primitiveArray<number>('FloatPrimitiveArraySerializer', 4, (i) => i.readFloat(), (o, v) => o.writeFloat(v));
export const StringArraySerializer = primitiveArray<string | null>('StringArraySerializer', 1, readStringValue, writeStringValue);

/** VoidNamespace: one 0 byte on the wire, yet getLength() is 0 in Flink. */
export const VoidNamespaceSerializer: FlinkTypeSerializer<null> = {
  serializerClass: 'org.apache.flink.runtime.state.VoidNamespaceSerializer',
  length: 0,
  deserialize: (i) => {
    i.readByte();
    return null;
  },
  serialize: (_v, o) => o.writeByte(0),
  hashCode: () => 99,
};

/** GlobalWindow: one 0 byte, like VoidNamespace. */
export const GlobalWindowSerializer: FlinkTypeSerializer<'GlobalWindow'> = {
  serializerClass: 'org.apache.flink.streaming.api.windowing.windows.GlobalWindow$Serializer',
  length: 0,
  deserialize: (i) => {
    i.readByte();
    return 'GlobalWindow';
  },
  serialize: (_v, o) => o.writeByte(0),
};

export interface TimeWindow {
  readonly start: bigint;
  readonly end: bigint;
}
export const TimeWindowSerializer: FlinkTypeSerializer<TimeWindow> = {
  serializerClass: 'org.apache.flink.streaming.api.windowing.windows.TimeWindow$Serializer',
  length: 0,
  deserialize: (i) => ({ start: i.readLong(), end: i.readLong() }),
  serialize: (v, o) => {
    o.writeLong(v.start);
    o.writeLong(v.end);
  },
  // TimeWindow.hashCode = MathUtils.longToIntWithBitMixing(start + ((end - start) / 2))... not needed for keys.
};

/** Table's StringData (BinaryStringData): i32 byte length + UTF-8. */
export const StringDataSerializer: FlinkTypeSerializer<string> = {
  serializerClass: 'org.apache.flink.table.runtime.typeutils.StringDataSerializer',
  length: -1,
  deserialize: (i) => {
    const b = i.readBytes(i.readCount('string length'));
    return new TextDecoder().decode(b);
  },
  serialize: (v, o) => {
    const b = new TextEncoder().encode(v);
    o.writeInt(b.length);
    o.writeBytes(b);
  },
};
