import { JavaDataInput } from '../io/java-input.js';
import { JavaDataOutput } from '../io/java-output.js';
import { defaultFlinkSerializers } from './builtins.js';
import { writeVersionedSnapshot, type FlinkSerializerRegistry } from './registry.js';
import type { FlinkSerializerSnapshot } from './types.js';

/**
 * Builds serializer snapshots the way Flink writes them, then reads them back through the
 * registry: what a writer needs to emit new Flink state, and what tests use as their own fixtures.
 */
export function buildSnapshot(className: string, version: number, payload: (out: JavaDataOutput) => void, registry: FlinkSerializerRegistry = defaultFlinkSerializers): FlinkSerializerSnapshot {
  const out = new JavaDataOutput();
  out.writeUTF(className);
  out.writeInt(version);
  payload(out);
  return registry.readVersioned(new JavaDataInput(out.toBytes(), `<built ${className}>`));
}

const BASE = 'org.apache.flink.api.common.typeutils.base.';

function composite(className: string, outerVersion: number, outer: (o: JavaDataOutput) => void, nested: readonly FlinkSerializerSnapshot[]): FlinkSerializerSnapshot {
  return buildSnapshot(className, 3, (o) => {
    o.writeInt(911108);
    o.writeInt(outerVersion);
    outer(o);
    o.writeInt(1333245);
    o.writeInt(1);
    o.writeInt(nested.length);
    for (const n of nested) writeVersionedSnapshot(o, n);
  });
}

/** Snapshots of Flink's built-in serializers, byte-identical to what Flink 1.8+ writes. */
export const FlinkSnapshots = {
  simple: (serializerClass: string): FlinkSerializerSnapshot => {
    const short = serializerClass.replace(/^.*\./, '');
    return buildSnapshot(`${serializerClass}$${short}Snapshot`, 3, () => {});
  },
  long: () => FlinkSnapshots.simple(`${BASE}LongSerializer`),
  int: () => FlinkSnapshots.simple(`${BASE}IntSerializer`),
  string: () => FlinkSnapshots.simple(`${BASE}StringSerializer`),
  boolean: () => FlinkSnapshots.simple(`${BASE}BooleanSerializer`),
  double: () => FlinkSnapshots.simple(`${BASE}DoubleSerializer`),
  bytes: () => buildSnapshot('org.apache.flink.api.common.typeutils.base.array.BytePrimitiveArraySerializer$BytePrimitiveArraySerializerSnapshot', 3, () => {}),
  voidNamespace: () => buildSnapshot('org.apache.flink.runtime.state.VoidNamespaceSerializer$VoidNamespaceSerializerSnapshot', 3, () => {}),
  timeWindow: () => buildSnapshot('org.apache.flink.streaming.api.windowing.windows.TimeWindow$Serializer$TimeWindowSerializerSnapshot', 3, () => {}),
  globalWindow: () => buildSnapshot('org.apache.flink.streaming.api.windowing.windows.GlobalWindow$Serializer$GlobalWindowSerializerSnapshot', 3, () => {}),
  tuple: (tupleClass: string, fields: readonly FlinkSerializerSnapshot[]) =>
    composite('org.apache.flink.api.java.typeutils.runtime.TupleSerializerSnapshot', 1, (o) => o.writeUTF(tupleClass), fields),
  list: (elem: FlinkSerializerSnapshot) => composite(`${BASE}ListSerializerSnapshot`, 1, () => {}, [elem]),
  map: (k: FlinkSerializerSnapshot, v: FlinkSerializerSnapshot) => composite(`${BASE}MapSerializerSnapshot`, 1, () => {}, [k, v]),
  timer: (k: FlinkSerializerSnapshot, ns: FlinkSerializerSnapshot) => composite('org.apache.flink.streaming.api.operators.TimerSerializerSnapshot', 2, () => {}, [k, ns]),
  /** TtlStateFactory.TtlSerializerSnapshot (outer version 2): nested the timestamp's LongSerializer and the user's. */
  ttl: (user: FlinkSerializerSnapshot) => composite('org.apache.flink.runtime.state.ttl.TtlStateFactory$TtlSerializerSnapshot', 2, () => {}, [FlinkSnapshots.long(), user]),
  enum: (enumClass: string, constants: readonly string[]) =>
    buildSnapshot(`${BASE}EnumSerializer$EnumSerializerSnapshot`, 2, (o) => {
      o.writeUTF(enumClass);
      o.writeInt(constants.length);
      for (const c of constants) o.writeUTF(c);
    }),
};
