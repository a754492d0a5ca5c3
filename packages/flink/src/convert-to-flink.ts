import { randomUUID } from 'node:crypto';
import { isAbsolute } from 'node:path';
import {
  computeKeyGroupRangeForOperatorIndex,
  DataInputDeserializer,
  defaultSerializerRegistry,
  deserializeCheckpointMetadata,
  FsCheckpointStorage,
  GlobalWindow,
  IllegalStateUsageError,
  KeyGroupRange,
  ListSerializer,
  MapSerializer,
  readKeyedStateHeader,
  readKeyGroups,
  readOperatorStateStream,
  TimerSerializer,
  TtlSerializer,
  TimeWindow,
  type FileSystem,
  type InternalTimer,
  type KeyGroupsStateHandle,
  type OperatorStateHandle as FlowstateOperatorHandle,
  type SerializerSnapshotRegistry,
  type TypeSerializer,
} from '@flowstate/core';
import { FLINK_KEY_SERIALIZER_PROPERTY, FLINK_OPERATOR_ID_PROPERTY, FLINK_STATE_META_PROPERTY } from './convert.js';
import { FlinkUnsupportedError } from './errors.js';
import { keyGroupForHash } from './hash/key-groups.js';
import { operatorIdFromUid } from './hash/murmur3-128.js';
import { JavaDataInput } from './io/java-input.js';
import { JavaDataOutput } from './io/java-output.js';
import { canonicalSavepointProperties } from './java/savepoint-properties.js';
import { KeyedEntryDecoder } from './keyed/decode.js';
import { encodeOperatorStream, type CanonicalRecord, type OperatorStateData } from './keyed/encode.js';
import { readStateMetaInfo, serializerOf, type StateMetaInfo } from './keyed/meta-info.js';
import { writeFlinkMetadata } from './metadata/metadata.js';
import type { OperatorState, SubtaskState } from './metadata/types.js';
import { defaultFlinkSerializers } from './serializers/builtins.js';
import { FlinkSnapshots, buildSnapshot } from './serializers/build.js';
import type { FlinkSerializerSnapshot } from './serializers/types.js';
import type { Timer } from './serializers/composite.js';
import { recordedTimerTimestamps } from './timer-timestamps.js';
import { withOutputDirectory, writeCanonicalFile } from './writer.js';

/** `_metadata` version per Flink release line, for `--flink-version`. */
export function metadataVersionForFlink(flinkVersion: string): number {
  const m = /^(\d+)\.(\d+)/.exec(flinkVersion);
  if (m === null) throw new IllegalStateUsageError(undefined, `--flink-version must look like 1.18 or 2.0, got '${flinkVersion}'`);
  const [major, minor] = [Number(m[1]), Number(m[2])];
  if (major === 1 && minor < 11) throw new IllegalStateUsageError(undefined, `Flink ${flinkVersion} reads metadata V2, which flowstate does not write (Flink 2.x does not either)`);
  if (major === 1) return minor <= 15 ? 3 : 4;
  if (major === 2) return minor === 0 ? 5 : 6;
  throw new IllegalStateUsageError(undefined, `unknown Flink version '${flinkVersion}'`);
}

export interface FlowstateToFlinkOptions {
  /** `_metadata` version (3-6; default 6 = Flink 2.1+). */
  readonly metadataVersion?: number;
  /** flowstate uid -> Flink uid (the operator ID is murmur3_128 of the Flink uid). */
  readonly uids?: Readonly<Record<string, string>>;
  /** Readers of custom flowstate serializer snapshots. */
  readonly registry?: SerializerSnapshotRegistry;
}

const BASE = 'org.apache.flink.api.common.typeutils.base.';

/** flowstate serializer -> Flink snapshot, for the types with a Flink twin. */
function flinkSnapshotFor(s: TypeSerializer<unknown>): FlinkSerializerSnapshot | undefined {
  if (s instanceof TtlSerializer) {
    // Flink's TTL is processing time only: watermark stamps would be read as wall-clock times.
    if (s.info.timeCharacteristic !== 'ProcessingTime') return undefined;
    const user = flinkSnapshotFor(s.userSerializer as TypeSerializer<unknown>);
    return user === undefined ? undefined : FlinkSnapshots.ttl(user);
  }
  if (s instanceof ListSerializer) {
    const e = flinkSnapshotFor(s.elementSerializer as TypeSerializer<unknown>);
    return e === undefined ? undefined : FlinkSnapshots.list(e);
  }
  if (s instanceof MapSerializer) {
    const k = flinkSnapshotFor(s.keySerializer as TypeSerializer<unknown>);
    const v = flinkSnapshotFor(s.valueSerializer as TypeSerializer<unknown>);
    return k === undefined || v === undefined ? undefined : FlinkSnapshots.map(k, v);
  }
  switch (s.typeId) {
    case 'int64': return FlinkSnapshots.long();
    case 'int32': return FlinkSnapshots.int();
    case 'string': return FlinkSnapshots.string();
    case 'float64': return FlinkSnapshots.double();
    case 'boolean': return FlinkSnapshots.boolean();
    case 'void-namespace': return FlinkSnapshots.voidNamespace();
    case 'time-window': return FlinkSnapshots.timeWindow();
    case 'global-window': return FlinkSnapshots.globalWindow();
    case 'bytes': return buildSnapshot(`${BASE}array.BytePrimitiveArraySerializer$BytePrimitiveArraySerializerSnapshot`, 3, () => {});
    default: return undefined;
  }
}

/** flowstate values -> the JS values the Flink serializers take (VoidNamespace is null there, windows use Java longs). */
function toFlink(v: unknown): unknown {
  if (typeof v === 'object' && v !== null && '__voidNamespace' in v) return null;
  if (v instanceof TimeWindow) return { start: BigInt(v.start), end: BigInt(v.end) };
  if (v === GlobalWindow.INSTANCE) return 'GlobalWindow';
  return v;
}

/**
 * A decoded flowstate value as the Flink serializers take it, led by its flowstate serializer:
 * TtlValue -> { lastAccessTimestamp: bigint, value }, InternalTimer -> Timer (bigint timestamp),
 * through lists and maps.
 */
function toFlinkValue(s: TypeSerializer<unknown>, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  const of = (x: object): TypeSerializer<unknown> => x as TypeSerializer<unknown>;
  if (s instanceof TtlSerializer) {
    const t = v as { userValue: unknown; lastAccessTimestamp: number };
    return { lastAccessTimestamp: BigInt(t.lastAccessTimestamp), value: toFlinkValue(of(s.userSerializer), t.userValue) };
  }
  if (s instanceof TimerSerializer) {
    const t = v as InternalTimer<unknown, unknown>;
    return { timestamp: BigInt(t.timestamp), key: toFlinkValue(of(s.keySerializer), t.key), namespace: toFlinkValue(of(s.namespaceSerializer), t.namespace) };
  }
  if (s instanceof ListSerializer) return (v as unknown[]).map((e) => toFlinkValue(of(s.elementSerializer), e));
  if (s instanceof MapSerializer) {
    return new Map([...(v as Map<unknown, unknown>)].map(([a, b]) => [toFlinkValue(of(s.keySerializer), a), toFlinkValue(of(s.valueSerializer), b)]));
  }
  return toFlink(v);
}

/** A TTL'd map value with a null user value: Flink's TtlSerializer hands null to the user serializer, which only String's accepts. */
function isUnwritableNull(s: TypeSerializer<unknown>, v: unknown, flinkUser: FlinkSerializerSnapshot | undefined): boolean {
  if (!(s instanceof TtlSerializer)) return false;
  const user = (v as { userValue: unknown } | null)?.userValue;
  return (user === null || user === undefined) && flinkUser?.className !== `${BASE}StringSerializer$StringSerializerSnapshot`;
}

function decode(s: TypeSerializer<unknown>, b: Uint8Array): unknown {
  return s.deserialize(new DataInputDeserializer(b));
}

/**
 * Converts a flowstate canonical savepoint (read through `fs`, whose root is its directory) into
 * an Apache Flink canonical savepoint in `outDir` (RocksDB-canonical layout, KeyGroupsSavepointStateHandle,
 * state files next to `_metadata`). Keys are assigned to Flink's key groups (Java hashCode +
 * MathUtils.murmurHash). States converted from Flink by `convertFlinkToFlowstate` get their
 * original Flink serializers back; others need a flowstate type with a Flink twin. Timer queues
 * become Flink timer states (PRIORITY_QUEUE meta info, TimerSerializer snapshot, records sorted
 * by their bytes as the RocksDB full snapshot writes them); processing-time TTL states Flink's
 * TtlSerializer layout. Event-time TTL and priority queues of other elements are skipped (listed).
 */
export async function convertFlowstateToFlink(fs: FileSystem, outDir: string, options: FlowstateToFlinkOptions = {}): Promise<{ files: string[]; skipped: string[] }> {
  const version = options.metadataVersion ?? 6;
  if (version < 3 || version > 6) throw new IllegalStateUsageError(undefined, `Flink metadata version must be 3..6, got ${version}`);
  const storage = new FsCheckpointStorage(fs, { layout: 'savepoint' });
  const loc = await storage.resolveCheckpoint('');
  const md = deserializeCheckpointMetadata(loc.metadata, `${fs.displayRoot}/_metadata`);
  const registry = options.registry ?? defaultSerializerRegistry;
  const props = md.properties ?? {};
  // A local input (its root an absolute path): the output must not land inside it.
  const inputDir = isAbsolute(fs.displayRoot) ? fs.displayRoot : undefined;
  // Before anything is written: a refused uid map leaves no output behind.
  const identities = flinkIdentities(md.operators, props, options.uids);
  return withOutputDirectory(outDir, async (em) => {
    const skipped: string[] = [];
    const operators: OperatorState[] = [];
    for (const [index, op] of md.operators.entries()) {
      const { uid, operatorId } = identities[index]!;
      const flinkMeta = (name: string): StateMetaInfo | undefined => {
        const hex = props[`${FLINK_STATE_META_PROPERTY}${op.uid}.${name}`];
        return typeof hex === 'string' ? readStateMetaInfo(new JavaDataInput(Buffer.from(hex, 'hex'), 'properties'), defaultFlinkSerializers) : undefined;
      };
      const keyHex = props[`${FLINK_KEY_SERIALIZER_PROPERTY}${op.uid}`];
      const flinkKey = typeof keyHex === 'string' ? defaultFlinkSerializers.readVersioned(new JavaDataInput(Buffer.from(keyHex, 'hex'), 'properties')) : undefined;
      const timerTimestamps = (state: string): Map<string, bigint[]> => recordedTimerTimestamps(props, op.uid, state);
      const keyed = await keyedRecords(storage, op, registry, { flinkKey, flinkMeta, timerTimestamps }, skipped);
      const subtasks: SubtaskState[] = [];
      for (let i = 0; i < op.parallelism; i++) {
        let managedKeyedState: SubtaskState['managedKeyedState'] = null;
        if (keyed !== undefined) {
          const range = computeKeyGroupRangeForOperatorIndex(op.maxParallelism, op.parallelism, i);
          const name = randomUUID();
          const enc = await writeCanonicalFile(em, name, keyed.header, range.startKeyGroup, range.numberOfKeyGroups, (kg) => keyed.byKeyGroup.get(kg) ?? []);
          managedKeyedState = { type: 'key-groups', tag: 7, startKeyGroup: range.startKeyGroup, offsets: enc.offsets, stream: { type: 'relative-file', relativePath: name, size: enc.size } };
        }
        let managedOperatorState: SubtaskState['managedOperatorState'] = null;
        const st = op.subtasks.find((s) => s.subtaskIndex === i);
        const opHandles = (st?.operator ?? []) as FlowstateOperatorHandle[];
        if (opHandles.length > 0) {
          const data = await operatorData(storage, opHandles, registry, flinkMeta, op.uid, skipped);
          if (data.states.length > 0) {
            const enc = encodeOperatorStream({ version: version >= 5 ? 6 : 5, compression: false, operatorStates: data.operatorMetas, broadcastStates: data.broadcastMetas }, data.states);
            const name = randomUUID();
            await em.write(name, enc.bytes);
            managedOperatorState = { type: 'operator-stream', tag: 4, states: data.states.map((s) => ({ name: s.name, mode: s.mode, offsets: enc.offsets.get(s.name) ?? [] })), stream: { type: 'relative-file', relativePath: name, size: enc.bytes.length } };
          }
        }
        subtasks.push({ index: i, finished: false, managedOperatorState, rawOperatorState: null, managedKeyedState, rawKeyedState: null, inputChannelState: [], resultSubpartitionState: [], operatorStateFlags: [managedOperatorState === null ? 0 : 1, 0] });
      }
      const keepsUid = operatorId === operatorIdFromUid(uid);
      operators.push({ ...(version >= 5 ? { name: keepsUid ? uid : '', uid: keepsUid ? uid : '' } : {}), operatorId, parallelism: op.parallelism, maxParallelism: op.maxParallelism, coordinatorState: null, fullyFinished: false, subtasks });
    }
    await em.write('_metadata', writeFlinkMetadata({ version, checkpointId: BigInt(md.checkpointId), masterStates: [], operators, ...(version >= 4 ? { propertiesBytes: canonicalSavepointProperties() } : {}) }));
    return { files: [...em.written], skipped };
  }, inputDir);
}

/**
 * Each operator's Flink uid and operator ID, in order. A uid mapped explicitly decides the ID;
 * otherwise an ID recorded when converting from Flink is kept. Refuses a uid map that names no
 * operator (the operator would keep its old uid without a word) and two operators under one ID
 * (Flink would take them for one).
 */
function flinkIdentities(operators: readonly { readonly uid: string }[], props: Readonly<Record<string, unknown>>, uids: Readonly<Record<string, string>> | undefined): Array<{ uid: string; operatorId: string }> {
  const known = operators.map((op) => op.uid);
  for (const from of Object.keys(uids ?? {})) {
    if (!known.includes(from)) throw new IllegalStateUsageError(undefined, `uid map: the savepoint has no operator with uid '${from}' (it has: ${known.join(', ') || 'none'})`);
  }
  const seen = new Map<string, string>();
  return operators.map((op) => {
    // Own keys only: a uid such as `constructor` must not find Object.prototype's members.
    const mapped = uids !== undefined && Object.hasOwn(uids, op.uid) ? uids[op.uid] : undefined;
    const uid = mapped ?? op.uid;
    const recordedId = props[`${FLINK_OPERATOR_ID_PROPERTY}${op.uid}`];
    const operatorId = mapped === undefined && typeof recordedId === 'string' && /^[0-9a-f]{32}$/.test(recordedId) ? recordedId : operatorIdFromUid(uid);
    const other = seen.get(operatorId);
    if (other !== undefined) throw new IllegalStateUsageError(undefined, `operators '${other}' and '${op.uid}' would get one Flink operator ID (uid '${uid}')`);
    seen.set(operatorId, op.uid);
    return { uid, operatorId };
  });
}

async function keyedRecords(
  storage: FsCheckpointStorage,
  op: { uid: string; maxParallelism: number; subtasks: readonly { keyed: readonly { type: string }[] }[] },
  registry: SerializerSnapshotRegistry,
  recorded: RecordedFlinkTypes,
  skipped: string[],
): Promise<{ header: { version: number; compression: boolean; keySerializer: FlinkSerializerSnapshot; states: StateMetaInfo[] }; byKeyGroup: Map<number, CanonicalRecord[]> } | undefined> {
  const handles = op.subtasks.flatMap((s) => s.keyed);
  if (handles.length === 0) return undefined;
  const states: StateMetaInfo[] = [];
  const byKeyGroup = new Map<number, CanonicalRecord[]>();
  const { flinkKey, flinkMeta, timerTimestamps } = recorded;
  let keySnap: FlinkSerializerSnapshot | undefined = flinkKey;
  for (const h of handles) {
    if (h.type !== 'key-groups') {
      skipped.push(`${op.uid}: ${h.type} keyed state (convert it to canonical first)`);
      continue;
    }
    const kh = h as KeyGroupsStateHandle;
    const header = await readKeyedStateHeader(storage, kh, registry);
    const fsKey = header.keySerializerSnapshot.restoreSerializer() as TypeSerializer<unknown>;
    keySnap ??= flinkSnapshotFor(fsKey);
    if (keySnap === undefined || keySnap.serializer.hashCode === undefined) {
      skipped.push(`${op.uid}: key serializer '${fsKey.typeId}' has no Flink equivalent whose Java hashCode is known; keyed state skipped`);
      return undefined;
    }
    const ids = header.states.map((m) => {
      const existing = states.findIndex((s) => s.name === m.name);
      if (existing >= 0) return existing;
      const value = m.stateSerializerSnapshot.restoreSerializer() as TypeSerializer<unknown>;
      const flink = flinkMeta(m.name) ?? (m.kind === 'PRIORITY_QUEUE' ? synthesizeQueueMeta(m.name, keySnap!, value) : synthesizeMeta(m.name, m.kind, m.namespaceSerializerSnapshot.restoreSerializer() as TypeSerializer<unknown>, value));
      if (flink === undefined) {
        skipped.push(`${op.uid}/${m.name}: ${whyNoFlinkTwin(m.kind, value)}`);
        return -1;
      }
      states.push(flink);
      return states.length - 1;
    });
    const flinkHeader = { version: 6, compression: false, keySerializer: keySnap, states, length: 0 };
    const enc = new KeyedEntryDecoder(flinkHeader, op.maxParallelism);
    const serializers = header.states.map((m) => ({ ns: m.namespaceSerializerSnapshot.restoreSerializer() as TypeSerializer<unknown>, value: m.stateSerializerSnapshot.restoreSerializer() as TypeSerializer<unknown> }));
    const hash = keySnap.serializer.hashCode!;
    const originals = new Map<string, Map<string, bigint[]>>();
    await readKeyGroups(storage, kh, header, KeyGroupRange.of(kh.keyGroupRange.start, kh.keyGroupRange.end), (_g, r) => {
      const id = ids[r.stateIndex]!;
      if (id < 0) return;
      const meta = header.states[r.stateIndex]!;
      const push = (rec: CanonicalRecord, kg: number): void => void (byKeyGroup.get(kg) ?? byKeyGroup.set(kg, []).get(kg)!).push(rec);
      if (meta.kind === 'PRIORITY_QUEUE') {
        const recorded = originals.get(meta.name) ?? originals.set(meta.name, timerTimestamps(meta.name)).get(meta.name)!;
        for (const rec of timerRecords(serializers[r.stateIndex]!.value, r.value!, recorded, hash, op.maxParallelism, (e) => enc.encode({ ...e, state: meta.name, kind: 'PRIORITY_QUEUE' }, id))) push(rec.record, rec.keyGroup);
        return;
      }
      const key = toFlinkValue(fsKey, decode(fsKey, r.key));
      const kg = keyGroupForHash(hash(key), op.maxParallelism);
      const nsSer = serializers[r.stateIndex]!.ns;
      const ns = toFlinkValue(nsSer, decode(nsSer, r.namespace));
      let entry;
      if (meta.kind === 'MAP') {
        const ms = serializers[r.stateIndex]!.value as unknown as MapSerializer<unknown, unknown>;
        const vs = ms.valueSerializer as TypeSerializer<unknown>;
        const ks = ms.keySerializer as TypeSerializer<unknown>;
        const value = r.value === null ? null : decode(vs, r.value);
        if (isUnwritableNull(vs, value, serializerOf(states[id]!, 'VALUE_SERIALIZER')?.nested[1]?.nested[1])) {
          const why = `${op.uid}/${meta.name}: TTL map entries with a null value are not converted (Flink's TtlSerializer passes null to a user serializer that cannot write it)`;
          if (!skipped.includes(why)) skipped.push(why);
          return;
        }
        entry = { state: meta.name, kind: 'MAP', keyGroup: kg, key, namespace: ns, userKey: toFlinkValue(ks, decode(ks, r.userKey!)), value: toFlinkValue(vs, value) };
      } else {
        const vs = serializers[r.stateIndex]!.value;
        entry = { state: meta.name, kind: meta.kind, keyGroup: kg, key, namespace: ns, value: toFlinkValue(vs, decode(vs, r.value!)) };
      }
      for (const rec of enc.encode(entry, id)) push(rec, kg);
    });
  }
  if (keySnap === undefined || states.length === 0) return undefined;
  for (const l of byKeyGroup.values()) l.sort((a, b) => a.stateId - b.stateId || Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
  return { header: { version: 6, compression: false, keySerializer: keySnap, states }, byKeyGroup };
}

/** What converting back needs from a conversion Flink -> flowstate: the Flink serializers and the exact timestamps of clamped timers. */
interface RecordedFlinkTypes {
  readonly flinkKey: FlinkSerializerSnapshot | undefined;
  readonly flinkMeta: (name: string) => StateMetaInfo | undefined;
  /** Timer bytes (hex) -> the Java long timestamps a clamped timer stood for. */
  readonly timerTimestamps: (state: string) => Map<string, bigint[]>;
}

/**
 * Canonical records of one flowstate timer, in the Flink key group of its key. A timer whose
 * timestamp was clamped when it came from Flink becomes the timers it stood for.
 */
function timerRecords(
  serializer: TypeSerializer<unknown>,
  element: Uint8Array,
  recorded: Map<string, bigint[]>,
  hash: (key: unknown) => number,
  maxParallelism: number,
  encode: (e: { keyGroup: number; key: unknown; namespace: unknown; value: Timer }) => CanonicalRecord[],
): { keyGroup: number; record: CanonicalRecord }[] {
  const timer = decode(serializer, element) as InternalTimer<unknown, unknown>;
  const t = toFlinkValue(serializer, timer) as Timer;
  const keyGroup = keyGroupForHash(hash(t.key), maxParallelism);
  const clamped = Math.abs(timer.timestamp) === Number.MAX_SAFE_INTEGER ? recorded.get(Buffer.from(element).toString('hex')) : undefined;
  return (clamped ?? [t.timestamp]).flatMap((timestamp) => encode({ keyGroup, key: t.key, namespace: t.namespace, value: { ...t, timestamp } }).map((record) => ({ keyGroup, record })));
}

/** RegisteredPriorityQueueStateBackendMetaInfo.snapshot(): no options, the element serializer as VALUE_SERIALIZER. */
function synthesizeQueueMeta(name: string, key: FlinkSerializerSnapshot, element: TypeSerializer<unknown>): StateMetaInfo | undefined {
  if (!(element instanceof TimerSerializer)) return undefined;
  const ns = flinkSnapshotFor(element.namespaceSerializer as TypeSerializer<unknown>);
  if (ns === undefined) return undefined;
  return { name, backendStateType: 'PRIORITY_QUEUE', options: [], serializers: [['VALUE_SERIALIZER', FlinkSnapshots.timer(key, ns)]] };
}

function containsEventTimeTtl(s: TypeSerializer<unknown>): boolean {
  if (s instanceof TtlSerializer) return s.info.timeCharacteristic !== 'ProcessingTime';
  if (s instanceof ListSerializer) return containsEventTimeTtl(s.elementSerializer as TypeSerializer<unknown>);
  if (s instanceof MapSerializer) return containsEventTimeTtl(s.valueSerializer as TypeSerializer<unknown>);
  return false;
}

function whyNoFlinkTwin(kind: string, value: TypeSerializer<unknown>): string {
  if (kind === 'PRIORITY_QUEUE' && !(value instanceof TimerSerializer)) return `priority queue of '${value.typeId}' elements: Flink keeps only timers (TimerSerializer) in keyed priority-queue state`;
  if (kind === 'PRIORITY_QUEUE') return `timer namespace serializer '${(value as TimerSerializer<unknown, unknown>).namespaceSerializer.typeId}' has no Flink equivalent`;
  if (containsEventTimeTtl(value)) return "event-time TTL: Flink's TTL is processing time only, and the watermark stamps would be read as wall-clock times";
  return `serializer '${value.typeId}' has no Flink equivalent`;
}

function synthesizeMeta(name: string, kind: string, ns: TypeSerializer<unknown>, value: TypeSerializer<unknown>): StateMetaInfo | undefined {
  const nsSnap = flinkSnapshotFor(ns);
  const valueSnap = flinkSnapshotFor(value);
  if (nsSnap === undefined || valueSnap === undefined) return undefined;
  return { name, backendStateType: 'KEY_VALUE', options: [['KEYED_STATE_TYPE', kind]], serializers: [['NAMESPACE_SERIALIZER', nsSnap], ['VALUE_SERIALIZER', valueSnap]] };
}

async function operatorData(
  storage: FsCheckpointStorage,
  handles: readonly FlowstateOperatorHandle[],
  registry: SerializerSnapshotRegistry,
  flinkMeta: (name: string) => StateMetaInfo | undefined,
  uid: string,
  skipped: string[],
): Promise<{ states: OperatorStateData[]; operatorMetas: StateMetaInfo[]; broadcastMetas: StateMetaInfo[] }> {
  const states: OperatorStateData[] = [];
  const operatorMetas: StateMetaInfo[] = [];
  const broadcastMetas: StateMetaInfo[] = [];
  for (const h of handles) {
    for (const { meta, elements } of await readOperatorStateStream(storage, h, registry)) {
      const first = meta.firstSerializerSnapshot.restoreSerializer() as TypeSerializer<unknown>;
      const second = meta.secondSerializerSnapshot?.restoreSerializer() as TypeSerializer<unknown> | undefined;
      const given = flinkMeta(meta.name);
      const m = given ?? synthesizeOperatorMeta(meta.name, meta.mode, first, second);
      if (m === undefined) {
        skipped.push(`${uid}/${meta.name}: serializer '${first.typeId}' has no Flink equivalent`);
        continue;
      }
      const ser = (k: 'KEY_SERIALIZER' | 'VALUE_SERIALIZER'): FlinkSerializerSnapshot => serializerOf(m, k)!;
      const bytes = (s: FlinkSerializerSnapshot, v: unknown, o: JavaDataOutput): void => s.serializer.serialize(toFlink(v), o);
      if (meta.mode === 'BROADCAST') {
        const o = new JavaDataOutput();
        o.writeInt(elements.length);
        for (const e of elements) {
          const d = new DataInputDeserializer(e);
          const k = first.deserialize(d);
          if (!d.readBoolean()) throw new FlinkUnsupportedError(uid, `broadcast state '${meta.name}' holds a null value, which Flink's broadcast state cannot`);
          bytes(ser('KEY_SERIALIZER'), k, o);
          bytes(ser('VALUE_SERIALIZER'), second!.deserialize(d), o);
        }
        states.push({ name: meta.name, mode: 'BROADCAST', elements: [o.toBytes()] });
        broadcastMetas.push(m);
        continue;
      }
      states.push({
        name: meta.name,
        mode: meta.mode,
        elements: elements.map((e) => {
          const o = new JavaDataOutput();
          bytes(ser('VALUE_SERIALIZER'), decode(first, e), o);
          return o.toBytes();
        }),
      });
      operatorMetas.push(m);
    }
  }
  return { states, operatorMetas, broadcastMetas };
}

function synthesizeOperatorMeta(name: string, mode: string, first: TypeSerializer<unknown>, second: TypeSerializer<unknown> | undefined): StateMetaInfo | undefined {
  const a = flinkSnapshotFor(first);
  if (a === undefined) return undefined;
  if (mode !== 'BROADCAST') return { name, backendStateType: 'OPERATOR', options: [['OPERATOR_STATE_DISTRIBUTION_MODE', mode]], serializers: [['VALUE_SERIALIZER', a]] };
  const b = second === undefined ? undefined : flinkSnapshotFor(second);
  if (b === undefined) return undefined;
  return { name, backendStateType: 'BROADCAST', options: [['OPERATOR_STATE_DISTRIBUTION_MODE', 'BROADCAST']], serializers: [['VALUE_SERIALIZER', b], ['KEY_SERIALIZER', a]] };
}
