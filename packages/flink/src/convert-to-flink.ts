import { randomUUID } from 'node:crypto';
import {
  computeKeyGroupRangeForOperatorIndex,
  DataInputDeserializer,
  defaultSerializerRegistry,
  deserializeCheckpointMetadata,
  FsCheckpointStorage,
  IllegalStateUsageError,
  KeyGroupRange,
  ListSerializer,
  MapSerializer,
  readKeyedStateHeader,
  readKeyGroups,
  readOperatorStateStream,
  type FileSystem,
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
    case 'bytes': return buildSnapshot(`${BASE}array.BytePrimitiveArraySerializer$BytePrimitiveArraySerializerSnapshot`, 3, () => {});
    default: return undefined;
  }
}

/** flowstate values -> the JS values the Flink serializers take (VoidNamespace is null there). */
function toFlink(v: unknown): unknown {
  if (typeof v === 'object' && v !== null && '__voidNamespace' in v) return null;
  return v;
}

function decode(s: TypeSerializer<unknown>, b: Uint8Array): unknown {
  return s.deserialize(new DataInputDeserializer(b));
}

/**
 * Converts a flowstate canonical savepoint (read through `fs`, whose root is its directory) into
 * an Apache Flink canonical savepoint in `outDir` (RocksDB-canonical layout, KeyGroupsSavepointStateHandle,
 * state files next to `_metadata`). Keys are assigned to Flink's key groups (Java hashCode +
 * MathUtils.murmurHash). States converted from Flink by `convertFlinkToFlowstate` get their
 * original Flink serializers back; others need a flowstate type with a Flink twin.
 */
export async function convertFlowstateToFlink(fs: FileSystem, outDir: string, options: FlowstateToFlinkOptions = {}): Promise<{ files: string[]; skipped: string[] }> {
  const version = options.metadataVersion ?? 6;
  if (version < 3 || version > 6) throw new IllegalStateUsageError(undefined, `Flink metadata version must be 3..6, got ${version}`);
  const storage = new FsCheckpointStorage(fs, { layout: 'savepoint' });
  const loc = await storage.resolveCheckpoint('');
  const md = deserializeCheckpointMetadata(loc.metadata, `${fs.displayRoot}/_metadata`);
  const registry = options.registry ?? defaultSerializerRegistry;
  const props = md.properties ?? {};
  return withOutputDirectory(outDir, async (em) => {
    const skipped: string[] = [];
    const operators: OperatorState[] = [];
    for (const op of md.operators) {
      const uid = options.uids?.[op.uid] ?? op.uid;
      const flinkMeta = (name: string): StateMetaInfo | undefined => {
        const hex = props[`${FLINK_STATE_META_PROPERTY}${op.uid}.${name}`];
        return typeof hex === 'string' ? readStateMetaInfo(new JavaDataInput(Buffer.from(hex, 'hex'), 'properties'), defaultFlinkSerializers) : undefined;
      };
      const keyHex = props[`${FLINK_KEY_SERIALIZER_PROPERTY}${op.uid}`];
      const flinkKey = typeof keyHex === 'string' ? defaultFlinkSerializers.readVersioned(new JavaDataInput(Buffer.from(keyHex, 'hex'), 'properties')) : undefined;
      const keyed = await keyedRecords(storage, op, registry, flinkKey, flinkMeta, skipped);
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
      // A uid mapped explicitly decides the ID; otherwise an ID recorded when converting from Flink is kept.
      const recordedId = props[`${FLINK_OPERATOR_ID_PROPERTY}${op.uid}`];
      const operatorId = options.uids?.[op.uid] === undefined && typeof recordedId === 'string' && /^[0-9a-f]{32}$/.test(recordedId) ? recordedId : operatorIdFromUid(uid);
      const keepsUid = operatorId === operatorIdFromUid(uid);
      operators.push({ ...(version >= 5 ? { name: keepsUid ? uid : '', uid: keepsUid ? uid : '' } : {}), operatorId, parallelism: op.parallelism, maxParallelism: op.maxParallelism, coordinatorState: null, fullyFinished: false, subtasks });
    }
    await em.write('_metadata', writeFlinkMetadata({ version, checkpointId: BigInt(md.checkpointId), masterStates: [], operators, ...(version >= 4 ? { propertiesBytes: canonicalSavepointProperties() } : {}) }));
    return { files: [...em.written], skipped };
  });
}

async function keyedRecords(
  storage: FsCheckpointStorage,
  op: { uid: string; maxParallelism: number; subtasks: readonly { keyed: readonly { type: string }[] }[] },
  registry: SerializerSnapshotRegistry,
  flinkKey: FlinkSerializerSnapshot | undefined,
  flinkMeta: (name: string) => StateMetaInfo | undefined,
  skipped: string[],
): Promise<{ header: { version: number; compression: boolean; keySerializer: FlinkSerializerSnapshot; states: StateMetaInfo[] }; byKeyGroup: Map<number, CanonicalRecord[]> } | undefined> {
  const handles = op.subtasks.flatMap((s) => s.keyed);
  if (handles.length === 0) return undefined;
  const states: StateMetaInfo[] = [];
  const byKeyGroup = new Map<number, CanonicalRecord[]>();
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
      if (m.kind === 'PRIORITY_QUEUE') {
        const why = `${op.uid}/${m.name}: priority-queue (timer) state is not converted to Flink`;
        if (!skipped.includes(why)) skipped.push(why);
        return -1;
      }
      const flink = flinkMeta(m.name) ?? synthesizeMeta(m.name, m.kind, m.namespaceSerializerSnapshot.restoreSerializer() as TypeSerializer<unknown>, m.stateSerializerSnapshot.restoreSerializer() as TypeSerializer<unknown>);
      if (flink === undefined) {
        skipped.push(`${op.uid}/${m.name}: serializer '${m.stateSerializerSnapshot.typeId}' has no Flink equivalent`);
        return -1;
      }
      states.push(flink);
      return states.length - 1;
    });
    const flinkHeader = { version: 6, compression: false, keySerializer: keySnap, states, length: 0 };
    const enc = new KeyedEntryDecoder(flinkHeader, op.maxParallelism);
    const serializers = header.states.map((m) => ({ ns: m.namespaceSerializerSnapshot.restoreSerializer() as TypeSerializer<unknown>, value: m.stateSerializerSnapshot.restoreSerializer() as TypeSerializer<unknown> }));
    const hash = keySnap.serializer.hashCode!;
    await readKeyGroups(storage, kh, header, KeyGroupRange.of(kh.keyGroupRange.start, kh.keyGroupRange.end), (_g, r) => {
      const id = ids[r.stateIndex]!;
      if (id < 0) return;
      const meta = header.states[r.stateIndex]!;
      const key = toFlink(decode(fsKey, r.key));
      const kg = keyGroupForHash(hash(key), op.maxParallelism);
      const ns = toFlink(decode(serializers[r.stateIndex]!.ns, r.namespace));
      let entry;
      if (meta.kind === 'MAP') {
        const ms = serializers[r.stateIndex]!.value as unknown as MapSerializer<unknown, unknown>;
        entry = { state: meta.name, kind: 'MAP', keyGroup: kg, key, namespace: ns, userKey: decode(ms.keySerializer, r.userKey!), value: r.value === null ? null : decode(ms.valueSerializer, r.value) };
      } else {
        entry = { state: meta.name, kind: meta.kind, keyGroup: kg, key, namespace: ns, value: decode(serializers[r.stateIndex]!.value, r.value!) };
      }
      for (const rec of enc.encode(entry, id)) (byKeyGroup.get(kg) ?? byKeyGroup.set(kg, []).get(kg)!).push(rec);
    });
  }
  if (keySnap === undefined || states.length === 0) return undefined;
  for (const l of byKeyGroup.values()) l.sort((a, b) => a.stateId - b.stateId || Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
  return { header: { version: 6, compression: false, keySerializer: keySnap, states }, byKeyGroup };
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
