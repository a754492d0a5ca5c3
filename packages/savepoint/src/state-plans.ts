import {
  DataOutputSerializer,
  MapSerializer,
  MapSerializerSnapshot,
  IllegalStateUsageError,
  StateMigrationError,
  type KeyedStateMetaInfo,
  type TypeSerializer,
} from '@flowstate/core';
import { decodeExact } from './keyed.js';
import type { RawRecord, RecordOrigin, StatePlan } from './rewrite.js';

/** Entry handed to a keyed state transformation: decoded with the savepoint's serializers. */
export interface TransformEntry {
  readonly key: unknown;
  readonly namespace: unknown;
  /** MAP states: the user key of this entry. */
  readonly userKey?: unknown;
  /** The value (MAP: the user value, possibly null; LIST: the array of elements). */
  readonly value: unknown;
}

export interface KeyedStateTransformation {
  /** Returns the new value (MAP: the new user value or null), or undefined to drop the entry. */
  readonly map: (entry: TransformEntry) => unknown;
  /** The state serializer of the new values (MAP: a MapSerializer); default: the current one. */
  readonly serializer?: TypeSerializer<unknown>;
}

/** One change of one keyed state, in the order the caller asked for them. */
export type StateChange =
  | { readonly type: 'transform'; readonly t: KeyedStateTransformation }
  | { readonly type: 'upgrade'; readonly serializer: TypeSerializer<unknown> }
  | { readonly type: 'remove' };

type RecordStep = (r: RawRecord, o: RecordOrigin) => RawRecord | null;
type Step = { meta: KeyedStateMetaInfo; fn: RecordStep | undefined };

/** What the changes make of one state: its new meta info and a record transformation, or null (removed). */
export function planState(meta: KeyedStateMetaInfo, changes: readonly StateChange[], keySerializer: TypeSerializer<unknown>): StatePlan | null {
  let current: KeyedStateMetaInfo = meta;
  const steps: RecordStep[] = [];
  for (const c of changes) {
    if (c.type === 'remove') return null;
    const step = c.type === 'upgrade' ? upgradeStep(current, c.serializer) : transformStep(current, c.t, keySerializer);
    current = step.meta;
    if (step.fn !== undefined) steps.push(step.fn);
  }
  if (steps.length === 0) return { meta: current };
  return {
    meta: current,
    transform: (r, o) => {
      let x: RawRecord | null = r;
      for (const s of steps) {
        x = s(x, o);
        if (x === null) return null;
      }
      return x;
    },
  };
}

function withSerializer(meta: KeyedStateMetaInfo, s: TypeSerializer<unknown>): KeyedStateMetaInfo {
  return { ...meta, stateSerializerSnapshot: s.snapshotConfiguration() };
}

/** Schema evolution of one state, as its serializer snapshot's compatibility resolution says. */
function upgradeStep(meta: KeyedStateMetaInfo, next: TypeSerializer<unknown>): Step {
  if (meta.kind === 'MAP') return upgradeMapStep(meta, next);
  const c = meta.stateSerializerSnapshot.resolveSchemaCompatibility(next);
  if (meta.kind === 'PRIORITY_QUEUE' && c.type === 'COMPATIBLE_AFTER_MIGRATION') {
    throw new StateMigrationError(meta.name, 'is priority-queue (timer) state: its elements are ordered by their bytes and cannot be migrated (as in Flink)');
  }
  switch (c.type) {
    case 'INCOMPATIBLE':
      throw new StateMigrationError(meta.name, `cannot be upgraded to '${next.typeId}': ${c.reason}`);
    case 'COMPATIBLE_AS_IS':
      return { meta: withSerializer(meta, next), fn: undefined };
    case 'COMPATIBLE_WITH_RECONFIGURED_SERIALIZER':
      return { meta: withSerializer(meta, c.serializer), fn: undefined };
    case 'COMPATIBLE_AFTER_MIGRATION': {
      const reader = meta.stateSerializerSnapshot.restoreSerializer();
      const out = new DataOutputSerializer(256);
      return {
        meta: withSerializer(meta, next),
        fn: (r, o) => {
          out.clear();
          next.serialize(c.migrate(decodeExact(reader, r.value!, o.file, o.offset, `value of '${meta.name}'`)), out);
          return { ...r, value: out.toBytes() };
        },
      };
    }
  }
}

/** MAP state: user keys are identities and keep their serializer; user values evolve. */
function upgradeMapStep(meta: KeyedStateMetaInfo, next: TypeSerializer<unknown>): Step {
  const old = meta.stateSerializerSnapshot;
  if (!(old instanceof MapSerializerSnapshot) || !(next instanceof MapSerializer)) {
    throw new StateMigrationError(meta.name, `MAP state needs a map serializer, got '${next.typeId}'`);
  }
  const ns = next as MapSerializer<unknown, unknown>;
  const os = old as MapSerializerSnapshot<unknown, unknown>;
  const kc = os.keySnapshot.resolveSchemaCompatibility(ns.keySerializer);
  if (kc.type !== 'COMPATIBLE_AS_IS') throw new StateMigrationError(meta.name, `map user keys cannot change serializer (${kc.type === 'INCOMPATIBLE' ? kc.reason : kc.type})`);
  const vc = os.valueSnapshot.resolveSchemaCompatibility(ns.valueSerializer);
  if (vc.type === 'INCOMPATIBLE') throw new StateMigrationError(meta.name, `map values: ${vc.reason}`);
  if (vc.type === 'COMPATIBLE_AS_IS') return { meta: withSerializer(meta, ns), fn: undefined };
  const reconfigured = vc.type === 'COMPATIBLE_WITH_RECONFIGURED_SERIALIZER' ? vc.serializer : undefined;
  const reader = reconfigured ?? os.valueSnapshot.restoreSerializer();
  const writer = reconfigured ?? ns.valueSerializer;
  const migrate = vc.type === 'COMPATIBLE_AFTER_MIGRATION' ? vc.migrate : (v: unknown) => v;
  const finalSer = reconfigured !== undefined ? new MapSerializer(ns.keySerializer, reconfigured) : ns;
  const out = new DataOutputSerializer(256);
  return {
    meta: withSerializer(meta, finalSer as TypeSerializer<unknown>),
    fn: (r, o) => {
      if (r.value === null) return r;
      out.clear();
      writer.serialize(migrate(decodeExact(reader, r.value, o.file, o.offset, `value of '${meta.name}'`)), out);
      return { ...r, value: out.toBytes() };
    },
  };
}

/** A user transformation: every entry decoded, mapped, and written with the (new) serializer. */
function transformStep(meta: KeyedStateMetaInfo, t: KeyedStateTransformation, keySerializer: TypeSerializer<unknown>): Step {
  // An element carries its key: a transformed one could leave its key group or its order.
  if (meta.kind === 'PRIORITY_QUEUE') throw new IllegalStateUsageError(meta.name, 'is priority-queue (timer) state, which cannot be transformed; remove it or keep it as it is');
  const nsSer = meta.namespaceSerializerSnapshot.restoreSerializer();
  const oldSer = meta.stateSerializerSnapshot.restoreSerializer();
  const newSer = t.serializer ?? oldSer;
  if (meta.kind === 'MAP') return transformMapStep(meta, t, keySerializer, nsSer, oldSer, newSer);
  const out = new DataOutputSerializer(256);
  return {
    meta: withSerializer(meta, newSer),
    fn: (r, o) => {
      const v = t.map({
        ...decodeKeyAndNamespace(keySerializer, nsSer, r, o),
        value: decodeExact(oldSer, r.value!, o.file, o.offset, `value of '${meta.name}'`),
      });
      if (v === undefined || v === null) return null;
      out.clear();
      newSer.serialize(v, out);
      return { ...r, value: out.toBytes() };
    },
  };
}

function transformMapStep(
  meta: KeyedStateMetaInfo,
  t: KeyedStateTransformation,
  keySerializer: TypeSerializer<unknown>,
  nsSer: TypeSerializer<unknown>,
  oldSer: TypeSerializer<unknown>,
  newSer: TypeSerializer<unknown>,
): Step {
  if (!(oldSer instanceof MapSerializer) || !(newSer instanceof MapSerializer)) throw new StateMigrationError(meta.name, 'MAP state needs map serializers');
  const oldV = (oldSer as MapSerializer<unknown, unknown>).valueSerializer;
  const oldK = (oldSer as MapSerializer<unknown, unknown>).keySerializer;
  const newV = (newSer as MapSerializer<unknown, unknown>).valueSerializer;
  const out = new DataOutputSerializer(256);
  const w = `'${meta.name}'`;
  return {
    meta: withSerializer(meta, newSer),
    fn: (r, o) => {
      const v = t.map({
        ...decodeKeyAndNamespace(keySerializer, nsSer, r, o),
        userKey: decodeExact(oldK, r.userKey!, o.file, o.offset, `user key of ${w}`),
        value: r.value === null ? null : decodeExact(oldV, r.value, o.file, o.offset, `value of ${w}`),
      });
      if (v === undefined) return null;
      if (v === null) return { ...r, value: null };
      out.clear();
      newV.serialize(v, out);
      return { ...r, value: out.toBytes() };
    },
  };
}

function decodeKeyAndNamespace(
  keySerializer: TypeSerializer<unknown>,
  nsSer: TypeSerializer<unknown>,
  r: { readonly key: Uint8Array; readonly namespace: Uint8Array },
  o: { readonly file: string; readonly offset: number },
): { key: unknown; namespace: unknown } {
  return { key: decodeExact(keySerializer, r.key, o.file, o.offset, 'key'), namespace: decodeExact(nsSer, r.namespace, o.file, o.offset, 'namespace') };
}
