import {
  assert,
  assignToKeyGroup,
  computeKeyGroupRangeForOperatorIndex,
  DataOutputSerializer,
  FsCheckpointStorage,
  GlobalWindow,
  GlobalWindowSerializer,
  KeyedStateStreamEncoder,
  ListSerializer,
  MapSerializer,
  queueMetaInfo,
  serializeCheckpointMetadata,
  TimerSerializer,
  TtlSerializer,
  TimeWindow,
  TimeWindowSerializer,
  Serializers,
  VoidNamespace,
  writeOperatorStateStream,
  type CheckpointMetadata,
  type CheckpointStreamFactory,
  type FileSystem,
  type KeyedStateMetaInfo,
  type OperatorSnapshotMetadata,
  type OperatorStateContent,
  type StateKind,
  type SubtaskStateMetadata,
  type TypeSerializer,
} from '@flowstate/core';
import { FlinkUnsupportedError } from './errors.js';
import { JavaDataOutput } from './io/java-output.js';
import { checkKeyedStateMetaInfos, serializerOf, stateKind, writeStateMetaInfo, type StateMetaInfo } from './keyed/meta-info.js';
import { writeVersionedSnapshot } from './serializers/registry.js';
import type { OperatorState } from './metadata/types.js';
import { checkOperatorStateSerializers, readOperatorStates } from './operator/reader.js';
import type { FlinkSavepoint } from './savepoint.js';
import type { DecodedKeyedEntry } from './keyed/decode.js';
import type { FlinkSerializerSnapshot } from './serializers/types.js';
import type { Timer } from './serializers/composite.js';
import { ClampedTimerLog, isClamped, safeTimestamp } from './timer-timestamps.js';
import type { TimeWindow as FlinkTimeWindow } from './serializers/primitives.js';

const BASE = 'org.apache.flink.api.common.typeutils.base.';

/** A flowstate serializer for a Flink one, and how a decoded Flink value becomes its value. */
interface Mapped {
  readonly serializer: TypeSerializer<unknown>;
  readonly convert: (v: unknown) => unknown;
}

const id = (v: unknown): unknown => v;
/** Core serializers are typed by their value; here values are `unknown` until converted. */
const asUnknown = (s: object): TypeSerializer<unknown> => s as TypeSerializer<unknown>;

const FLINK_TTL_SNAPSHOT = 'org.apache.flink.runtime.state.ttl.TtlStateFactory$TtlSerializerSnapshot';

/**
 * Flink's TtlSerializer (i64 last access, user value) as core's TtlSerializer, so a Flink TTL state
 * is a flowstate TTL state. Flink's snapshot records neither the TTL nor the time characteristic:
 * the TTL is written as 0 (unknown; on restore the job's descriptor decides it, as in Flink) and
 * the time is processing time, Flink's only TTL time. Map values (`mapValue`) use core's
 * nullable-user-value layout.
 */
function ttlSerializerFor(s: FlinkSerializerSnapshot, mapValue: boolean): Mapped | undefined {
  const user = s.nested[1] === undefined ? undefined : flowstateSerializerFor(s.nested[1]);
  if (user === undefined) return undefined;
  const serializer = asUnknown(new TtlSerializer(user.serializer, { ttlMs: 0, timeCharacteristic: 'ProcessingTime', nullableUserValue: mapValue }));
  const convert = (v: unknown): unknown => {
    const t = v as { lastAccessTimestamp: bigint; value: unknown };
    return { userValue: t.value === null ? null : user.convert(t.value), lastAccessTimestamp: safeTimestamp(t.lastAccessTimestamp) };
  };
  return { serializer, convert };
}

const WINDOWS = 'org.apache.flink.streaming.api.windowing.windows.';

/** A window bound core's TimeWindow cannot hold; convertOperator names the state and file. */
class UnsafeWindowBound extends Error {}

/** Flink's TimeWindow (two Java longs) as core's TimeWindow, whose bounds are safe integers. */
function timeWindowOf(v: unknown): TimeWindow {
  const w = v as FlinkTimeWindow;
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  for (const b of [w.start, w.end]) {
    if (b > max || b < -max) throw new UnsafeWindowBound(`TimeWindow bound ${b} is outside flowstate's safe-integer timestamps (±(2^53 - 1))`);
  }
  return new TimeWindow(Number(w.start), Number(w.end));
}

/** Window namespaces as core's, so that converted window state is the window operator's own. */
const WINDOW_NAMESPACES: Record<string, Mapped> = {
  [`${WINDOWS}TimeWindow$Serializer$TimeWindowSerializerSnapshot`]: { serializer: asUnknown(TimeWindowSerializer.INSTANCE), convert: timeWindowOf },
  [`${WINDOWS}GlobalWindow$Serializer$GlobalWindowSerializerSnapshot`]: { serializer: asUnknown(GlobalWindowSerializer.INSTANCE), convert: () => GlobalWindow.INSTANCE },
};

/**
 * Flink serializer -> flowstate serializer. Primitives, String, byte[], List, Map, TTL,
 * VoidNamespace and the TimeWindow/GlobalWindow namespaces map to their flowstate equivalents;
 * every other decodable type (Tuple, POJO, Avro, Row, Enum) is carried as MessagePack of its
 * decoded value; opaque serializers have no mapping.
 */
export function flowstateSerializerFor(s: FlinkSerializerSnapshot, mapValue = false): Mapped | undefined {
  if (s.serializer.opaque === true) return undefined;
  const cls = s.className;
  if (cls === FLINK_TTL_SNAPSHOT) return ttlSerializerFor(s, mapValue);
  const simple: Record<string, object> = {
    [`${BASE}LongSerializer$LongSerializerSnapshot`]: Serializers.int64,
    [`${BASE}IntSerializer$IntSerializerSnapshot`]: Serializers.int32,
    [`${BASE}ShortSerializer$ShortSerializerSnapshot`]: Serializers.int32,
    [`${BASE}ByteSerializer$ByteSerializerSnapshot`]: Serializers.int32,
    [`${BASE}BooleanSerializer$BooleanSerializerSnapshot`]: Serializers.boolean,
    [`${BASE}DoubleSerializer$DoubleSerializerSnapshot`]: Serializers.float64,
    [`${BASE}FloatSerializer$FloatSerializerSnapshot`]: Serializers.float64,
    [`${BASE}StringSerializer$StringSerializerSnapshot`]: Serializers.string,
    [`${BASE}array.BytePrimitiveArraySerializer$BytePrimitiveArraySerializerSnapshot`]: Serializers.bytes,
  };
  const direct = simple[cls];
  if (direct !== undefined) return { serializer: asUnknown(direct), convert: id };
  const window = WINDOW_NAMESPACES[cls];
  if (window !== undefined) return window;
  if (cls === 'org.apache.flink.runtime.state.VoidNamespaceSerializer$VoidNamespaceSerializerSnapshot') {
    return { serializer: asUnknown(Serializers.voidNamespace), convert: () => VoidNamespace };
  }
  if (cls === `${BASE}ListSerializerSnapshot`) {
    const e = flowstateSerializerFor(s.nested[0]!);
    if (e === undefined) return undefined;
    return { serializer: asUnknown(new ListSerializer(e.serializer)), convert: (v) => (v as unknown[]).map(e.convert) };
  }
  if (cls === `${BASE}MapSerializerSnapshot`) {
    const k = flowstateSerializerFor(s.nested[0]!);
    const v = flowstateSerializerFor(s.nested[1]!, true);
    if (k === undefined || v === undefined) return undefined;
    return {
      serializer: asUnknown(new MapSerializer(k.serializer, v.serializer)),
      convert: (m) => new Map([...(m as Map<unknown, unknown>)].map(([a, b]) => [k.convert(a), b === null ? null : v.convert(b)])),
    };
  }
  return { serializer: Serializers.msgpack, convert: id };
}

export interface FlinkToFlowstateOptions {
  /** Operator ID (hex) -> flowstate uid, for metadata V2-V4 (which store no uids) or to rename. */
  readonly uids?: Readonly<Record<string, string>>;
  readonly checkpointId?: number;
}

export interface FlinkToFlowstateResult {
  readonly metadata: CheckpointMetadata;
  /** States not converted, with the reason (opaque serializers, native keyed state). */
  readonly skipped: readonly string[];
}

function bytesOf(s: TypeSerializer<unknown>, v: unknown): Uint8Array {
  const o = new DataOutputSerializer(64);
  s.serialize(v, o);
  return o.toBytes();
}

/**
 * Converts a Flink savepoint into a flowstate canonical savepoint written through `fs` (its root
 * is the savepoint directory). Operators keep parallelism and maxParallelism; keys are
 * re-partitioned into flowstate's key groups (murmur3 of the serialized key). Flink timers
 * (`_timer_state/*` priority queues) become PRIORITY_QUEUE states of core's InternalTimer
 * (timestamps clamped to safe integers, the originals of clamped ones kept in the properties);
 * Flink TTL states become TTL states (TtlSerializer); opaque serializers and RocksDB-native state are skipped
 * and listed.
 */
export async function convertFlinkToFlowstate(sp: FlinkSavepoint, fs: FileSystem, options: FlinkToFlowstateOptions = {}): Promise<FlinkToFlowstateResult> {
  const checkpointId = options.checkpointId ?? Number(sp.metadata.checkpointId);
  const location = await new FsCheckpointStorage(fs, { layout: 'savepoint' }).initializeLocationForCheckpoint(checkpointId);
  const skipped: string[] = [];
  const operators: OperatorSnapshotMetadata[] = [];
  const properties: Record<string, string> = { convertedFrom: `Apache Flink _metadata V${sp.metadata.version}` };
  const clamped = new ClampedTimerLog();
  for (const op of sp.operators) {
    if (op.fullyFinished) continue;
    const uid = options.uids?.[op.operatorId] ?? (op.uid !== undefined && op.uid !== '' ? op.uid : op.operatorId);
    const subtasks = await convertOperator(sp, op, uid, location.streamFactory, skipped, clamped);
    if (subtasks.some((s) => s.keyed.length + s.operator.length > 0)) operators.push({ uid, parallelism: op.parallelism, maxParallelism: op.maxParallelism, subtasks });
    Object.assign(properties, await flinkTypeProperties(sp, op, uid));
    const log = clamped.drain(uid);
    Object.assign(properties, log.properties);
    skipped.push(...log.notes);
  }
  const metadata: CheckpointMetadata = { checkpointId, kind: 'SAVEPOINT', timestamp: Date.now(), operators, properties };
  await location.finalizeCheckpoint(serializeCheckpointMetadata(metadata));
  return { metadata, skipped };
}

/** Property keys under which the Flink serializers of converted states are kept (hex of Flink's bytes). */
export const FLINK_KEY_SERIALIZER_PROPERTY = 'flink.keySerializer.';
export const FLINK_STATE_META_PROPERTY = 'flink.stateMetaInfo.';
/** Operators without a uid in Flink (metadata V2-V4, or no `.uid()`) keep their operator ID here. */
export const FLINK_OPERATOR_ID_PROPERTY = 'flink.operatorId.';

/**
 * The Flink serializer snapshots of an operator's states, so that converting back to Flink
 * restores the exact Java serializers (Tuple, POJO, Avro, Row... travel as MessagePack here).
 */
async function flinkTypeProperties(sp: FlinkSavepoint, op: OperatorState, uid: string): Promise<Record<string, string>> {
  const out: Record<string, string> = { [`${FLINK_OPERATOR_ID_PROPERTY}${uid}`]: op.operatorId };
  const hex = (f: (o: JavaDataOutput) => void): string => {
    const o = new JavaDataOutput();
    f(o);
    return Buffer.from(o.bytesView()).toString('hex');
  };
  for (const info of await sp.keyedStreams(op)) {
    if (info.header === undefined) continue;
    out[`${FLINK_KEY_SERIALIZER_PROPERTY}${uid}`] = hex((o) => writeVersionedSnapshot(o, info.header!.keySerializer));
    for (const m of info.header.states) out[`${FLINK_STATE_META_PROPERTY}${uid}.${m.name}`] = hex((o) => writeStateMetaInfo(o, m));
  }
  for (const s of op.subtasks) {
    const h = s.managedOperatorState;
    if (h === null || h.stream === null) continue;
    const { header } = readOperatorStates(h, await sp.resolve(h.stream), sp.registry);
    for (const m of [...header.operatorStates, ...header.broadcastStates]) out[`${FLINK_STATE_META_PROPERTY}${uid}.${m.name}`] = hex((o) => writeStateMetaInfo(o, m));
  }
  return out;
}

interface StatePlan {
  readonly meta: KeyedStateMetaInfo;
  readonly key: Mapped;
  readonly ns: Mapped;
  readonly value: Mapped;
  readonly userKey?: Mapped;
  readonly userValue?: Mapped;
}

const VOID: Mapped = { serializer: asUnknown(Serializers.voidNamespace), convert: () => VoidNamespace };
const FLINK_TIMER_SNAPSHOT = 'org.apache.flink.streaming.api.operators.TimerSerializerSnapshot';

/** A `_timer_state/*` queue as flowstate priority-queue state of InternalTimers (keys as the operator's keys). */
function planQueue(m: StateMetaInfo, key: Mapped, label: string, skipped: string[]): StatePlan | undefined {
  const element = serializerOf(m, 'VALUE_SERIALIZER');
  // A timer snapshot carried opaquely (a class nested in it has no reader) has no nested snapshots.
  const nsSnapshot = element?.className === FLINK_TIMER_SNAPSHOT ? element.nested[1] : undefined;
  const ns = nsSnapshot === undefined ? undefined : flowstateSerializerFor(nsSnapshot);
  if (ns === undefined) {
    skipped.push(`${label}/${m.name}: priority queue of ${element?.className ?? '?'} elements, not Flink timers with a namespace flowstate can read`);
    return undefined;
  }
  const serializer = asUnknown(new TimerSerializer(key.serializer, ns.serializer));
  const convert = (v: unknown): unknown => {
    const t = v as Timer;
    return { timestamp: safeTimestamp(t.timestamp), key: key.convert(t.key), namespace: ns.convert(t.namespace) };
  };
  return { meta: queueMetaInfo(m.name, serializer.snapshotConfiguration()), key, ns: VOID, value: { serializer, convert } };
}

function planState(m: StateMetaInfo, key: Mapped, label: string, skipped: string[]): StatePlan | undefined {
  const kind = stateKind(m);
  if (kind === 'PRIORITY_QUEUE') return planQueue(m, key, label, skipped);
  if (!['VALUE', 'LIST', 'MAP', 'REDUCING', 'AGGREGATING'].includes(kind)) {
    skipped.push(`${label}/${m.name}: ${kind} state has no flowstate savepoint equivalent`);
    return undefined;
  }
  const nsSnap = serializerOf(m, 'NAMESPACE_SERIALIZER');
  const valueSnap = serializerOf(m, 'VALUE_SERIALIZER');
  const ns = nsSnap === undefined ? undefined : flowstateSerializerFor(nsSnap);
  const value = valueSnap === undefined ? undefined : flowstateSerializerFor(valueSnap);
  if (ns === undefined || value === undefined) {
    skipped.push(`${label}/${m.name}: serializer ${valueSnap?.className ?? '?'} is opaque to flowstate`);
    return undefined;
  }
  const meta: KeyedStateMetaInfo = { name: m.name, kind: kind as StateKind, namespaceSerializerSnapshot: ns.serializer.snapshotConfiguration(), stateSerializerSnapshot: value.serializer.snapshotConfiguration() };
  if (kind !== 'MAP') return { meta, key, ns, value };
  const uk = flowstateSerializerFor(valueSnap!.nested[0]!);
  const uv = flowstateSerializerFor(valueSnap!.nested[1]!, true);
  if (uk === undefined || uv === undefined) {
    skipped.push(`${label}/${m.name}: map serializer is opaque to flowstate`);
    return undefined;
  }
  return { meta, key, ns, value, userKey: uk, userValue: uv };
}

type ConvertedRecord = { state: number; key: Uint8Array; ns: Uint8Array; value?: Uint8Array; userKey?: Uint8Array; userValue?: Uint8Array | null };

/** One decoded Flink record as flowstate bytes, in flowstate's key group (a map record becomes one row per entry). */
function addRecord(records: Map<number, ConvertedRecord[]>, p: StatePlan, index: number, e: DecodedKeyedEntry, maxParallelism: number, clamped: ClampedTimerLog): void {
  const keyBytes = bytesOf(p.key.serializer, p.key.convert(e.key));
  const kg = assignToKeyGroup(keyBytes, maxParallelism);
  const nsBytes = bytesOf(p.ns.serializer, p.ns.convert(e.namespace));
  const list = records.get(kg) ?? records.set(kg, []).get(kg)!;
  if (p.meta.kind === 'MAP') {
    const entries: [unknown, unknown][] = e.userKey !== undefined ? [[e.userKey, e.value]] : [...(e.value as Map<unknown, unknown>)];
    for (const [uk, uv] of entries) {
      list.push({ state: index, key: keyBytes, ns: nsBytes, userKey: bytesOf(p.userKey!.serializer, p.userKey!.convert(uk)), userValue: uv === null ? null : bytesOf(p.userValue!.serializer, p.userValue!.convert(uv)) });
    }
  } else {
    const value = bytesOf(p.value.serializer, p.value.convert(e.value));
    // Timestamps beyond the safe integers are clamped; their originals go to the properties.
    if (p.meta.kind === 'PRIORITY_QUEUE' && isClamped((e.value as Timer).timestamp)) clamped.record(p.meta.name, value, (e.value as Timer).timestamp);
    list.push({ state: index, key: keyBytes, ns: nsBytes, value });
  }
}

type Factory = CheckpointStreamFactory;

async function convertOperator(sp: FlinkSavepoint, op: OperatorState, uid: string, factory: Factory, skipped: string[], clamped: ClampedTimerLog): Promise<SubtaskStateMetadata[]> {
  const records = new Map<number, ConvertedRecord[]>();
  let plans: StatePlan[] = [];
  let keySnapshot: ReturnType<TypeSerializer<unknown>['snapshotConfiguration']> | undefined;
  const infos = await sp.keyedStreams(op);
  for (const info of infos) {
    if (!sp.readsRecords(info)) {
      if (info.format !== 'none') skipped.push(`${uid}: subtask ${info.subtask} has ${info.format} keyed state, which flowstate cannot read${info.format === 'rocksdb-native' ? ' without a RocksDB binding' : ''}`);
      continue;
    }
    const key = flowstateSerializerFor(info.header!.keySerializer);
    if (key === undefined) {
      skipped.push(`${uid}: key serializer ${info.header!.keySerializer.className} is opaque to flowstate; keyed state skipped`);
      continue;
    }
    keySnapshot ??= key.serializer.snapshotConfiguration();
    checkKeyedStateMetaInfos(info.header!.states, info.stream?.file ?? sp.metadataFile, info.stream?.baseOffset ?? 0);
    for (const m of info.header!.states) {
      if (plans.some((p) => p.meta.name === m.name) || skipped.some((x) => x.startsWith(`${uid}/${m.name}:`))) continue;
      const plan = planState(m, key, uid, skipped);
      if (plan !== undefined) plans = [...plans, plan];
    }
    // Only the planned states are decoded: the values of skipped (opaque) ones are never touched.
    for await (const e of sp.anyDecodedRecords(info, op.maxParallelism, new Set(plans.map((p) => p.meta.name)))) {
      const index = plans.findIndex((p) => p.meta.name === e.state);
      if (index < 0) continue;
      try {
        addRecord(records, plans[index]!, index, e, op.maxParallelism, clamped);
      } catch (err) {
        if (err instanceof UnsafeWindowBound) throw new FlinkUnsupportedError(info.stream?.file ?? sp.metadataFile, `state '${e.state}' of '${uid}', key group ${e.keyGroup}: ${err.message}`);
        throw err;
      }
    }
  }
  const subtasks: SubtaskStateMetadata[] = [];
  for (let i = 0; i < op.parallelism; i++) {
    const keyed = [];
    if (keySnapshot !== undefined && plans.length > 0) {
      const range = computeKeyGroupRangeForOperatorIndex(op.maxParallelism, op.parallelism, i);
      const enc = new KeyedStateStreamEncoder(range, keySnapshot, plans.map((p) => p.meta));
      const out = factory.createCheckpointStateOutputStream('EXCLUSIVE');
      await out.write(enc.encodeHeader());
      for (const kg of range) {
        enc.beginKeyGroup(kg);
        for (const r of records.get(kg) ?? []) {
          if (r.userKey !== undefined) enc.writeMapEntry(r.state, r.key, r.ns, r.userKey, r.userValue ?? null);
          else enc.writeEntry(r.state, r.key, r.ns, r.value!);
        }
        await enc.endKeyGroupTo(out);
      }
      keyed.push(enc.finish(await out.closeAndGetHandle()));
    }
    const operator = [];
    const s = op.subtasks.find((x) => x.index === i && !x.finished);
    const h = s?.managedOperatorState ?? null;
    if (h !== null && h.stream !== null) {
      const stream = await sp.resolve(h.stream);
      const read = readOperatorStates(h, stream, sp.registry);
      checkOperatorStateSerializers(read, stream);
      const contents = convertOperatorStates(read, uid, skipped);
      if (contents.length > 0) operator.push(await writeOperatorStateStream(factory.createCheckpointStateOutputStream('EXCLUSIVE'), contents));
    }
    subtasks.push({ subtaskIndex: i, keyed, operator });
  }
  return subtasks;
}

/** A serializer an operator state's meta info names: checkOperatorStateSerializers refused the stream otherwise. */
function required(meta: StateMetaInfo, key: 'KEY_SERIALIZER' | 'VALUE_SERIALIZER'): FlinkSerializerSnapshot {
  const s = serializerOf(meta, key);
  assert(s !== undefined, `operator state '${meta.name}' names its ${key} (checked before)`);
  return s;
}

function convertOperatorStates(read: ReturnType<typeof readOperatorStates>, uid: string, skipped: string[]): OperatorStateContent[] {
  const out: OperatorStateContent[] = [];
  for (const st of read.states) {
    const meta = [...read.header.operatorStates, ...read.header.broadcastStates].find((m) => m.name === st.name)!;
    if (st.mode === 'BROADCAST') {
      const k = flowstateSerializerFor(required(meta, 'KEY_SERIALIZER'));
      const v = flowstateSerializerFor(required(meta, 'VALUE_SERIALIZER'));
      if (k === undefined || v === undefined || st.values === undefined) {
        if (!skipped.includes(`${uid}/${st.name}: opaque broadcast state serializers`)) skipped.push(`${uid}/${st.name}: opaque broadcast state serializers`);
        continue;
      }
      const elements = (st.values as [unknown, unknown][]).map(([a, b]) => {
        const o = new DataOutputSerializer(32);
        k.serializer.serialize(k.convert(a), o);
        o.writeUint8(b === null ? 0 : 1);
        if (b !== null) v.serializer.serialize(v.convert(b), o);
        return o.toBytes();
      });
      out.push({ meta: { name: st.name, mode: 'BROADCAST', firstSerializerSnapshot: k.serializer.snapshotConfiguration(), secondSerializerSnapshot: v.serializer.snapshotConfiguration() }, elements });
      continue;
    }
    const e = flowstateSerializerFor(required(meta, 'VALUE_SERIALIZER'));
    if (e === undefined || st.values === undefined) {
      const msg = `${uid}/${st.name}: serializer ${st.serializer} is opaque to flowstate`;
      if (!skipped.includes(msg)) skipped.push(msg);
      continue;
    }
    out.push({ meta: { name: st.name, mode: st.mode, firstSerializerSnapshot: e.serializer.snapshotConfiguration(), secondSerializerSnapshot: undefined }, elements: st.values.map((x) => bytesOf(e.serializer, e.convert(x))) });
  }
  return out;
}
