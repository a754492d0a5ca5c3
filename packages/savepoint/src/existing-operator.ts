import {
  DataOutputSerializer,
  IllegalStateUsageError,
  isKeyGroupsStateHandle,
  repartitionOperatorState,
  StateMigrationError,
  type KeyGroupsStateHandle,
  type OperatorSnapshotMetadata,
  type OperatorStateHandle,
  type SubtaskStateMetadata,
  type TypeSerializer,
  type TypeSerializerSnapshot,
} from '@flowstate/core';
import { UnsupportedSavepointOperationError } from './errors.js';
import { decodeExact } from './keyed.js';
import type { SavepointOutput } from './output.js';
import type { SavepointReader } from './reader.js';
import { rewriteKeyedState, type RecordOrigin, type StatePlan } from './rewrite.js';
import { planState, type StateChange } from './state-plans.js';

export interface KeyChange {
  readonly serializer: TypeSerializer<unknown>;
  readonly convert: ((oldKey: unknown) => unknown) | undefined;
}

/** An operator of the source savepoint and what the writer was asked to change about it. */
export interface ExistingOperator {
  readonly kind: 'existing';
  readonly source: OperatorSnapshotMetadata;
  readonly changes: Map<string, StateChange[]>;
  keyChange: KeyChange | undefined;
  parallelism: number | undefined;
  maxParallelism: number | undefined;
}

export interface ExistingWriteOptions {
  readonly onBytes?: (n: number) => void;
  readonly spillBudget?: number;
}

/**
 * Writes an operator of the source savepoint: its files copied verbatim (verified) when nothing
 * about its keyed state changes, its keyed state rewritten otherwise (see rewriteKeyedState).
 */
export async function writeExisting(src: SavepointReader, uid: string, op: ExistingOperator, output: SavepointOutput, options: ExistingWriteOptions): Promise<OperatorSnapshotMetadata> {
  const old = op.source;
  const p = op.parallelism ?? old.parallelism;
  const maxParallelism = op.maxParallelism ?? old.maxParallelism;
  const keyed = old.subtasks.flatMap((s) => s.keyed);
  const native = keyed.find((h) => !isKeyGroupsStateHandle(h));
  if (native !== undefined) {
    throw new UnsupportedSavepointOperationError(
      `writing operator '${old.uid}'`,
      `its keyed state is a native '${native.type}' snapshot; native files are opaque to the savepoint tools and their key groups cannot be recomputed (take a canonical savepoint instead)`,
    );
  }
  const changesKeyed = op.changes.size > 0 || op.keyChange !== undefined;
  if (!changesKeyed && p === old.parallelism && maxParallelism === old.maxParallelism) {
    for (const s of old.subtasks) {
      for (const h of s.keyed) await output.copy(src.dir, (h as KeyGroupsStateHandle).stream, options.onBytes);
      for (const h of s.operator) await output.copy(src.dir, h.stream, options.onBytes);
    }
    return { ...old, uid };
  }
  if (keyed.length === 0 && changesKeyed) throw new IllegalStateUsageError(undefined, `operator '${old.uid}' has no keyed state for a keyed state change`);
  let keyedHandles: KeyGroupsStateHandle[] = [];
  if (keyed.length > 0) {
    const spec = await keyedPlan(src, old.uid, op);
    keyedHandles = await rewriteKeyedState(src, old.uid, { ...spec, parallelism: p, maxParallelism }, output, options);
  }
  const oldOperator: OperatorStateHandle[][] = Array.from({ length: old.parallelism }, () => []);
  for (const s of old.subtasks) oldOperator[s.subtaskIndex] = [...s.operator];
  for (const h of oldOperator.flat()) await output.copy(src.dir, h.stream, options.onBytes);
  const newOperator = p === old.parallelism ? oldOperator : repartitionForSavepoint(oldOperator, p);
  const subtasks: SubtaskStateMetadata[] = [];
  for (let i = 0; i < p; i++) {
    const k = keyedHandles[i];
    subtasks.push({ subtaskIndex: i, keyed: k === undefined ? [] : [k], operator: newOperator[i] ?? [] });
  }
  return { uid, parallelism: p, maxParallelism, subtasks };
}

interface KeyedPlan {
  readonly keySerializerSnapshot: TypeSerializerSnapshot<unknown>;
  readonly states: (StatePlan | null)[];
  readonly convertKey?: (k: Uint8Array, o: RecordOrigin) => Uint8Array;
}

/** The plan of every keyed state of the operator, and the key conversion of a key serializer change. */
async function keyedPlan(src: SavepointReader, uid: string, op: ExistingOperator): Promise<KeyedPlan> {
  const { merged } = await src.keyedSources(uid);
  const m = merged!;
  for (const name of op.changes.keys()) {
    if (!m.states.some((s) => s.name === name)) {
      throw new IllegalStateUsageError(name, `operator '${uid}' has no keyed state with this name (it has: ${m.states.map((s) => s.name).join(', ')})`);
    }
  }
  const oldKeySerializer = m.keySerializerSnapshot.restoreSerializer();
  const states = m.states.map((meta) => planState(meta, op.changes.get(meta.name) ?? [], oldKeySerializer));
  if (op.keyChange === undefined) return { keySerializerSnapshot: m.keySerializerSnapshot, states };
  const kc = op.keyChange;
  const convert = keyConversion(uid, m.keySerializerSnapshot, kc);
  const out = new DataOutputSerializer(64);
  return {
    keySerializerSnapshot: kc.serializer.snapshotConfiguration(),
    states,
    convertKey: (bytes, origin) => {
      out.clear();
      kc.serializer.serialize(convert(decodeExact(oldKeySerializer, bytes, origin.file, origin.offset, 'key')), out);
      return out.toBytes();
    },
  };
}

function keyConversion(uid: string, old: TypeSerializerSnapshot<unknown>, kc: KeyChange): (old: unknown) => unknown {
  if (kc.convert !== undefined) return kc.convert;
  const compat = old.resolveSchemaCompatibility(kc.serializer);
  if (compat.type === 'COMPATIBLE_AS_IS') return (k) => k;
  if (compat.type === 'COMPATIBLE_AFTER_MIGRATION') return compat.migrate;
  throw new StateMigrationError(`<key of ${uid}>`, `the new key serializer '${kc.serializer.typeId}' cannot take over the keys (${compat.type === 'INCOMPATIBLE' ? compat.reason : compat.type}); pass a conversion function`);
}

/**
 * Operator state of a rescaled savepoint. Restore-time repartitioning gives every subtask all
 * UNION elements; a savepoint must instead keep each element once (the union over its subtasks
 * is the state), so UNION is split like SPLIT_DISTRIBUTE here and BROADCAST is copied.
 */
function repartitionForSavepoint(old: OperatorStateHandle[][], p: number): OperatorStateHandle[][] {
  const asSplit = old.map((hs) =>
    hs.map((h) => ({
      ...h,
      states: Object.fromEntries(Object.entries(h.states).map(([n, e]) => [n, e.mode === 'UNION' ? { ...e, mode: 'SPLIT_DISTRIBUTE' as const } : e])),
    })),
  );
  const unionNames = new Set(old.flat().flatMap((h) => Object.entries(h.states).filter(([, e]) => e.mode === 'UNION').map(([n]) => n)));
  return repartitionOperatorState(asSplit, p).map((hs) =>
    hs.map((h) => ({
      ...h,
      states: Object.fromEntries(Object.entries(h.states).map(([n, e]) => [n, unionNames.has(n) ? { ...e, mode: 'UNION' as const } : e])),
    })),
  );
}
