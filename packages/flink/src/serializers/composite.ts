import { FlinkOpaqueSerializerError } from '../errors.js';
import { javaFoldHash } from '../hash/key-groups.js';
import type { JavaDataInput } from '../io/java-input.js';
import type { JavaDataOutput } from '../io/java-output.js';
import { LongSerializer } from './primitives.js';
import type { NestedCount, SnapshotContent, SnapshotReadContext, SnapshotReader } from './registry.js';
import type { FlinkTypeSerializer } from './types.js';

const COMPOSITE_MAGIC = 911108;

/** The outer payload of most composite snapshots: none. */
export const noOuterSnapshot = (): Record<string, unknown> => ({});

/**
 * CompositeTypeSerializerSnapshot: since version 3 `magic, outer version, outer payload`, before
 * that the outer payload alone; then the nested snapshots. `nestedCount`: how many the class has
 * (checked before `build` sees them; unchecked without).
 */
export function compositeReader(
  build: (nested: FlinkTypeSerializer[], outer: Record<string, unknown>, ctx: SnapshotReadContext) => FlinkTypeSerializer,
  readOuter: (input: JavaDataInput, outerVersion: number) => Record<string, unknown> = noOuterSnapshot,
  nestedCount?: NestedCount,
): SnapshotReader {
  return (ctx): SnapshotContent => {
    let outerVersion = ctx.version;
    if (ctx.version > 2) {
      const at = ctx.input.position;
      if (ctx.input.readInt() !== COMPOSITE_MAGIC) ctx.input.fail(`bad composite serializer snapshot magic in ${ctx.className}`, at);
      outerVersion = ctx.input.readInt();
    }
    const outer = readOuter(ctx.input, outerVersion);
    const nested = ctx.readNestedDelegate(nestedCount);
    return { serializer: build(nested.map((n) => n.serializer), outer, ctx), nested, config: { ...outer, outerVersion } };
  };
}

export function tupleSerializer(fields: FlinkTypeSerializer[], tupleClass: string): FlinkTypeSerializer<unknown[]> {
  const length = fields.every((f) => f.length > 0) ? fields.reduce((a, f) => a + f.length, 0) : -1;
  return {
    serializerClass: 'org.apache.flink.api.java.typeutils.runtime.TupleSerializer',
    length,
    deserialize: (i) => fields.map((f) => f.deserialize(i)),
    serialize: (v, o) => fields.forEach((f, k) => f.serialize(v[k], o)),
    hashCode: (v) => javaFoldHash(fields.map((f, k) => hashOf(f, v[k], tupleClass)), 0),
  };
}

/** Java's hashCode of one nested value (null hashes to 0). */
export function hashOf(s: FlinkTypeSerializer, v: unknown, container: string): number {
  if (v === null || v === undefined) return 0;
  if (s.hashCode === undefined) throw new FlinkOpaqueSerializerError(undefined, s.serializerClass, `Java hashCode() inside ${container} is not known`);
  return s.hashCode(v);
}

/** An i32 count, then each element as `element` reads and writes it (Flink's list and array serializers). */
function countPrefixedSerializer(
  serializerClass: string,
  countName: string,
  element: { read(i: JavaDataInput): unknown; write(x: unknown, o: JavaDataOutput): void },
): FlinkTypeSerializer<unknown[]> {
  return {
    serializerClass,
    length: -1,
    deserialize: (i) => {
      const at = i.position;
      const n = i.readCount(countName);
      const out: unknown[] = [];
      // Elements of no bytes are claimed (JavaDataInput.claimItems): nested lists of them would multiply.
      for (let k = 0; k < n; k++) {
        const before = i.progress;
        out.push(element.read(i));
        i.claimIfEmpty(before, countName, at);
      }
      return out;
    },
    serialize: (v, o) => {
      o.writeInt(v.length);
      for (const x of v) element.write(x, o);
    },
  };
}

export function listSerializer(elem: FlinkTypeSerializer): FlinkTypeSerializer<unknown[]> {
  return {
    ...countPrefixedSerializer('org.apache.flink.api.common.typeutils.base.ListSerializer', 'list size', {
      read: (i) => elem.deserialize(i),
      write: (x, o) => elem.serialize(x, o),
    }),
    hashCode: (v) => javaFoldHash(v.map((x) => hashOf(elem, x, 'List')), 1),
  };
}

export function mapSerializer(key: FlinkTypeSerializer, value: FlinkTypeSerializer): FlinkTypeSerializer<Map<unknown, unknown>> {
  return {
    serializerClass: 'org.apache.flink.api.common.typeutils.base.MapSerializer',
    length: -1,
    deserialize: (i) => {
      const n = i.readCount('map size', 2);
      const out = new Map<unknown, unknown>();
      // No entry is of no bytes (its null flag takes one): entries are bounded by the bytes, not claimed.
      for (let k = 0; k < n; k++) {
        const kk = key.deserialize(i);
        out.set(kk, i.readBoolean() ? null : value.deserialize(i));
      }
      return out;
    },
    serialize: (v, o) => {
      o.writeInt(v.size);
      for (const [k, x] of v) {
        key.serialize(k, o);
        o.writeBoolean(x === null || x === undefined);
        if (x !== null && x !== undefined) value.serialize(x, o);
      }
    },
  };
}

export interface Timer {
  readonly timestamp: bigint;
  readonly key: unknown;
  readonly namespace: unknown;
}

const SIGN = 1n << 63n;
/** TimerSerializer: timestamp with its sign bit flipped (so bytes sort like numbers), key, namespace. */
export function timerSerializer(key: FlinkTypeSerializer, namespace: FlinkTypeSerializer): FlinkTypeSerializer<Timer> {
  return {
    serializerClass: 'org.apache.flink.streaming.api.operators.TimerSerializer',
    length: key.length >= 0 && namespace.length >= 0 ? 8 + key.length + namespace.length : -1,
    deserialize: (i) => ({ timestamp: BigInt.asIntN(64, i.readLong() ^ SIGN), key: key.deserialize(i), namespace: namespace.deserialize(i) }),
    serialize: (v, o) => {
      o.writeLong(BigInt.asIntN(64, v.timestamp ^ SIGN));
      key.serialize(v.key, o);
      namespace.serialize(v.namespace, o);
    },
  };
}

/** NullableSerializer: a null flag, then the value or `padding` zero bytes. */
export function nullableSerializer(inner: FlinkTypeSerializer, padding: number): FlinkTypeSerializer {
  return {
    serializerClass: 'org.apache.flink.api.java.typeutils.runtime.NullableSerializer',
    length: padding > 0 ? padding + 1 : -1,
    deserialize: (i) => {
      if (i.readBoolean()) {
        i.skip(padding);
        return null;
      }
      return inner.deserialize(i);
    },
    serialize: (v, o) => {
      o.writeBoolean(v === null);
      if (v === null) for (let k = 0; k < padding; k++) o.writeByte(0);
      else inner.serialize(v, o);
    },
    ...(inner.hashCode === undefined ? {} : { hashCode: (v: unknown) => (v === null ? 0 : inner.hashCode!(v)) }),
  };
}

/** TtlSerializer: last access timestamp, then the user value. */
export function ttlSerializer(nested: FlinkTypeSerializer[]): FlinkTypeSerializer<{ lastAccessTimestamp: bigint; value: unknown }> {
  const ts = nested[0] ?? LongSerializer;
  const value = nested[1]!;
  return {
    serializerClass: 'org.apache.flink.runtime.state.ttl.TtlStateFactory$TtlSerializer',
    length: -1,
    deserialize: (i) => ({ lastAccessTimestamp: ts.deserialize(i) as bigint, value: value.deserialize(i) }),
    serialize: (v, o) => {
      ts.serialize(v.lastAccessTimestamp, o);
      value.serialize(v.value, o);
    },
  };
}

/** GenericArraySerializer: i32 length, per element a presence flag and the element. */
export function genericArraySerializer(elem: FlinkTypeSerializer): FlinkTypeSerializer<unknown[]> {
  return countPrefixedSerializer('org.apache.flink.api.common.typeutils.base.GenericArraySerializer', 'array length', {
    read: (i) => (i.readBoolean() ? elem.deserialize(i) : null),
    write: (x, o) => {
      o.writeBoolean(x !== null);
      if (x !== null) elem.serialize(x, o);
    },
  });
}

/** A serializer whose values flowstate does not decode: reading one names the Java class. */
export function opaqueSerializer(serializerClass: string, length = -1): FlinkTypeSerializer<never> {
  const fail = (): never => {
    throw new FlinkOpaqueSerializerError(undefined, serializerClass);
  };
  return { serializerClass, length, opaque: true, deserialize: fail, serialize: fail };
}
