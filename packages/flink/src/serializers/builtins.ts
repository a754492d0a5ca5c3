import { FlinkSerializerRegistry, type SnapshotReader } from './registry.js';
import * as P from './primitives.js';
import {
  compositeReader,
  genericArraySerializer,
  listSerializer,
  mapSerializer,
  noOuterSnapshot,
  nullableSerializer,
  opaqueSerializer,
  timerSerializer,
  ttlSerializer,
  tupleSerializer,
} from './composite.js';
import { readEnumSnapshot, readPojoSnapshot } from './pojo.js';
import { readOptionalMap } from './optional-map.js';
import { readAvroSnapshot } from './avro.js';
import { readExternalSnapshot, readRowDataSnapshot } from './rowdata.js';
import type { FlinkTypeSerializer } from './types.js';

/**
 * SimpleTypeSerializerSnapshot: version 3 has no payload, version 2 one UTF (the serializer
 * class). Version 1 was Java serialization and is refused like Flink does since 1.17.
 */
export function simpleReader(serializer: FlinkTypeSerializer, typeName?: string): SnapshotReader {
  return (ctx) => {
    if (ctx.version === 2) ctx.input.readUTF();
    else if (ctx.version !== 3) ctx.input.fail(`${ctx.className} version ${ctx.version} is not readable (2 and 3 are)`);
    return { serializer, config: typeName === undefined ? {} : { typeName } };
  };
}

const BASE = 'org.apache.flink.api.common.typeutils.base.';
const ARR = 'org.apache.flink.api.common.typeutils.base.array.';
/** TwoPhaseCommitSinkFunction.StateSerializerSnapshot: first outer version that writes supportsNullTransaction. */
const TWO_PHASE_COMMIT_OUTER_WITH_FLAG = 4;
const simple = (cls: string, pkg: string = BASE): string => `${pkg}${cls}$${cls}Snapshot`;
/** org.apache.flink.api.java.tuple.Tuple.MAX_ARITY: Tuple25 is the largest tuple class. */
const TUPLE_MAX_ARITY = 25;

/** Kryo snapshot: type class and three optional maps (registrations, default serializers, classes), all framed. */
const readKryoSnapshot: SnapshotReader = (ctx) => {
  const typeClass = ctx.input.readUTF();
  const registrations = readOptionalMap(ctx.input, 'Kryo registration').map((e) => e.name);
  readOptionalMap(ctx.input, 'Kryo default serializer');
  readOptionalMap(ctx.input, 'Kryo default serializer class');
  return {
    serializer: opaqueSerializer(`org.apache.flink.api.java.typeutils.runtime.kryo.KryoSerializer(${typeClass})`),
    config: { typeName: `Kryo(${typeClass})`, typeClass, registrations },
  };
};

function buildDefaultRegistry(): FlinkSerializerRegistry {
  const r = new FlinkSerializerRegistry();
  // Flink names them <Type>Serializer and <type>PrimitiveArraySerializer; the type name is what users see.
  for (const t of ['Long', 'Int', 'Short', 'Byte', 'Boolean', 'Double', 'Float', 'Char', 'String'] as const) {
    r.register(simple(`${t}Serializer`), simpleReader(P[`${t}Serializer`], t));
  }
  for (const t of ['Byte', 'Int', 'Long', 'Short', 'Char', 'Boolean', 'Double', 'Float'] as const) {
    r.register(simple(`${t}PrimitiveArraySerializer`, ARR), simpleReader(P[`${t}PrimitiveArraySerializer`], `${t.toLowerCase()}[]`));
  }
  r.register(simple('StringArraySerializer', ARR), simpleReader(P.StringArraySerializer, 'String[]'));
  r.register('org.apache.flink.runtime.state.VoidNamespaceSerializer$VoidNamespaceSerializerSnapshot', simpleReader(P.VoidNamespaceSerializer, 'VoidNamespace'));
  r.register('org.apache.flink.streaming.api.windowing.windows.GlobalWindow$Serializer$GlobalWindowSerializerSnapshot', simpleReader(P.GlobalWindowSerializer, 'GlobalWindow'));
  r.register('org.apache.flink.streaming.api.windowing.windows.TimeWindow$Serializer$TimeWindowSerializerSnapshot', simpleReader(P.TimeWindowSerializer, 'TimeWindow'));
  r.register('org.apache.flink.table.runtime.typeutils.StringDataSerializer$StringDataSerializerSnapshot', simpleReader(P.StringDataSerializer, 'StringData'));
  r.register('org.apache.flink.runtime.state.JavaSerializer$JavaSerializerSnapshot', simpleReader(opaqueSerializer('org.apache.flink.runtime.state.JavaSerializer'), 'JavaSerialized'));
  // Nested counts are those of Flink's getNestedSerializers: a tuple of no fields is Tuple0Serializer's
  // (a simple snapshot), and none has more than Tuple.MAX_ARITY.
  r.register('org.apache.flink.api.java.typeutils.runtime.TupleSerializerSnapshot', compositeReader(
    (n, o) => tupleSerializer(n, o['tupleClass'] as string),
    (i) => ({ tupleClass: i.readUTF() }),
    [1, TUPLE_MAX_ARITY],
  ));
  r.register(`${BASE}ListSerializerSnapshot`, compositeReader((n) => listSerializer(n[0]!), noOuterSnapshot, 1));
  r.register(`${BASE}MapSerializerSnapshot`, compositeReader((n) => mapSerializer(n[0]!, n[1]!), noOuterSnapshot, 2));
  r.register(`${BASE}GenericArraySerializerSnapshot`, compositeReader((n) => genericArraySerializer(n[0]!), (i) => ({ componentClass: i.readUTF() }), 1));
  r.register('org.apache.flink.streaming.api.operators.TimerSerializerSnapshot', compositeReader((n) => timerSerializer(n[0]!, n[1]!), noOuterSnapshot, 2));
  r.register('org.apache.flink.api.java.typeutils.runtime.NullableSerializer$NullableSerializerSnapshot', compositeReader(
    (n, o) => nullableSerializer(n[0]!, o['padding'] as number),
    (i) => ({ padding: i.readCount('null padding length') }),
    1,
  ));
  // Timestamp (LongSerializer) and user value.
  r.register('org.apache.flink.runtime.state.ttl.TtlStateFactory$TtlSerializerSnapshot', compositeReader((n) => ttlSerializer(n), noOuterSnapshot, 2));
  r.register('org.apache.flink.api.java.typeutils.runtime.PojoSerializerSnapshot', readPojoSnapshot);
  r.register(`${BASE}EnumSerializer$EnumSerializerSnapshot`, readEnumSnapshot);
  r.register('org.apache.flink.api.java.typeutils.runtime.kryo.KryoSerializerSnapshot', readKryoSnapshot);
  r.register('org.apache.flink.formats.avro.typeutils.AvroSerializerSnapshot', readAvroSnapshot);
  r.register('org.apache.flink.table.runtime.typeutils.RowDataSerializer$RowDataSerializerSnapshot', readRowDataSnapshot);
  r.register('org.apache.flink.table.runtime.typeutils.ExternalSerializer$ExternalSerializerSnapshot', readExternalSnapshot);
  // TwoPhaseCommitSinkFunction state: composite of the transaction and context serializers (opaque here).
  // Its outer snapshot (StateSerializerSnapshot.readOuterSnapshot) is empty before outer version 4 and
  // one boolean `supportsNullTransaction` from version 4 on (the version Flink 1.20 writes).
  r.register('org.apache.flink.streaming.api.functions.sink.TwoPhaseCommitSinkFunction$StateSerializerSnapshot', compositeReader(
    () => opaqueSerializer('org.apache.flink.streaming.api.functions.sink.TwoPhaseCommitSinkFunction$StateSerializer'),
    (i, outerVersion) => (outerVersion >= TWO_PHASE_COMMIT_OUTER_WITH_FLAG ? { supportsNullTransaction: i.readBoolean() } : {}),
    2,
  ));
  for (const cls of ['TransactionStateSerializer', 'ContextStateSerializer', 'NextTransactionalIdHintSerializer']) {
    const ser = `org.apache.flink.streaming.connectors.kafka.FlinkKafkaProducer$${cls}`;
    r.register(`${ser}$${cls}Snapshot`, simpleReader(opaqueSerializer(ser)));
  }
  return r;
}

/** Readers for Flink's built-in snapshot classes. Extend it (`.extend().register(...)`) for user serializers. */
export const defaultFlinkSerializers: FlinkSerializerRegistry = buildDefaultRegistry();

