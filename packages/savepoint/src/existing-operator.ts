import {
  IllegalStateUsageError,
  collectStreamHandles,
  finishedOnRestore,
  isKeyGroupsStateHandle,
  repartitionOperatorState,
  type KeyGroupsStateHandle,
  type OperatorSnapshotMetadata,
  type OperatorStateHandle,
  type SubtaskStateMetadata,
  type TypeSerializerSnapshot,
} from '@flowstate/core';
import { UnsupportedSavepointOperationError } from './errors.js';
import { keyConversion, KeyRekeying, rekeyPriorityQueue, type KeyChange } from './key-change.js';
import type { SavepointOutput } from './output.js';
import type { SavepointReader } from './reader.js';
import { rewriteKeyedState, type RecordOrigin, type StatePlan } from './rewrite.js';
import { planState, type StateChange } from './state-plans.js';

export type { KeyChange } from './key-change.js';

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
  if (!changesKeyed && p === old.parallelism && maxParallelism === old.maxParallelism) return copyExisting(src, uid, old, output, options);
  if (keyed.length === 0 && changesKeyed) throw new IllegalStateUsageError(undefined, `operator '${old.uid}' has no keyed state for a keyed state change`);
  // Refused (if at all) before anything of this operator is written.
  const carried = carriedSubtaskState(old, p, maxParallelism, op.keyChange !== undefined);
  let keyedHandles: KeyGroupsStateHandle[] = [];
  if (keyed.length > 0) {
    const spec = await keyedPlan(src, old.uid, op);
    keyedHandles = await rewriteKeyedState(src, old.uid, { ...spec, parallelism: p, maxParallelism }, output, options);
  }
  const oldOperator: OperatorStateHandle[][] = Array.from({ length: old.parallelism }, () => []);
  for (const s of old.subtasks) oldOperator[s.subtaskIndex] = [...s.operator];
  for (const h of oldOperator.flat()) await output.copy(src.dir, h.stream, options.onBytes);
  for (const c of carried) for (const h of c.channelState ?? []) await output.copy(src.dir, h, options.onBytes);
  const newOperator = p === old.parallelism ? oldOperator : repartitionForSavepoint(oldOperator, p);
  const subtasks: SubtaskStateMetadata[] = [];
  for (let i = 0; i < p; i++) {
    const k = keyedHandles[i];
    subtasks.push({ subtaskIndex: i, keyed: k === undefined ? [] : [k], operator: newOperator[i] ?? [], ...carried[i] });
  }
  return { uid, parallelism: p, maxParallelism, subtasks };
}

/**
 * An unchanged operator: every file it references copied (verified), its metadata as it was.
 * Every stream handle of its subtasks (core's walk), so that no field is missed: the channel state
 * of an unaligned checkpoint was, when this listed keyed and operator handles by hand.
 */
async function copyExisting(src: SavepointReader, uid: string, old: OperatorSnapshotMetadata, output: SavepointOutput, options: ExistingWriteOptions): Promise<OperatorSnapshotMetadata> {
  for (const h of collectStreamHandles(old.subtasks)) await output.copy(src.dir, h, options.onBytes);
  return { ...old, uid };
}

type CarriedState = Pick<SubtaskStateMetadata, 'channelState' | 'finished'>;

/**
 * What each new subtask keeps beyond its state: the in-flight records (channel state) and the
 * finished flag of an unaligned or final checkpoint. While every key group stays with its subtask
 * (same parallelism, maxParallelism and key bytes) each subtask keeps its own. Otherwise channel
 * state is refused: its records were routed to their subtask by key group, and only the job's
 * partitioners could route them again (the runtime does, restoring the checkpoint itself). The
 * finished flags follow core's finishedOnRestore, the rule the runtime restores by: rewritten or
 * not, a savepoint restores with the same subtasks finished.
 */
function carriedSubtaskState(old: OperatorSnapshotMetadata, p: number, maxParallelism: number, keyChange: boolean): CarriedState[] {
  const sameLayout = p === old.parallelism && maxParallelism === old.maxParallelism && !keyChange;
  if (!sameLayout) refuseMovedChannelState(old, p, maxParallelism, keyChange);
  const finished = finishedOnRestore(old, p, { redistributed: !sameLayout });
  const channelState = new Map(old.subtasks.map((s) => [s.subtaskIndex, s.channelState]));
  return finished.map((f, i) => {
    const inflight = sameLayout ? channelState.get(i) : undefined;
    return { ...(inflight === undefined ? {} : { channelState: inflight }), ...(f ? { finished: true } : {}) };
  });
}

/** In-flight records cannot follow their key groups to other subtasks (see carriedSubtaskState). */
function refuseMovedChannelState(old: OperatorSnapshotMetadata, p: number, maxParallelism: number, keyChange: boolean): void {
  const inflight = old.subtasks.filter((s) => (s.channelState?.length ?? 0) > 0).map((s) => s.subtaskIndex);
  if (inflight.length === 0) return;
  const changes = [
    ...(p !== old.parallelism ? [`parallelism ${old.parallelism} -> ${p}`] : []),
    ...(maxParallelism !== old.maxParallelism ? [`maxParallelism ${old.maxParallelism} -> ${maxParallelism}`] : []),
    ...(keyChange ? ['a new key serializer'] : []),
  ];
  throw new UnsupportedSavepointOperationError(
    `rewriting operator '${old.uid}' with ${changes.join(', ')}`,
    `subtask(s) ${inflight.join(', ')} hold in-flight records of an unaligned checkpoint (channel state), which belong to the subtask owning their key groups and cannot be re-partitioned without the job's partitioners; restore the checkpoint with the job (which re-partitions them by its partitioners when the parallelism changes), or rewrite an aligned savepoint`,
  );
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
  const rekeying = new KeyRekeying(oldKeySerializer, kc.serializer, keyConversion(uid, m.keySerializerSnapshot, kc));
  return {
    keySerializerSnapshot: kc.serializer.snapshotConfiguration(),
    // Timers hold their key inside their bytes too: those are re-keyed with the record key.
    states: states.map((s) => (s === null || s.meta.kind !== 'PRIORITY_QUEUE' ? s : rekeyPriorityQueue(uid, s, rekeying))),
    convertKey: (bytes, origin) => rekeying.rekey(bytes, origin).bytes,
  };
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
