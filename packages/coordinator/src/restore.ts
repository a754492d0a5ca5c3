import {
  CorruptCheckpointError,
  repartitionOperatorState,
  type CheckpointMetadata,
  type CompletedCheckpoint as StoredCheckpoint,
  type FlowstateError,
  type KeyedStateHandle,
  type OperatorSnapshotMetadata,
  type OperatorStateHandle,
  type StateHandleReader,
} from '@flowstate/core';

/** A completed checkpoint or savepoint a job can restore from. */
export interface RestorePoint {
  readonly checkpointId: number;
  readonly kind: 'CHECKPOINT' | 'SAVEPOINT';
  readonly pointer: string;
  readonly metadata: CheckpointMetadata;
  readonly reader: StateHandleReader;
}

/**
 * A checkpoint a restore did not use, and why. INCOMPLETE: its metadata references a missing or
 * resized file; UNREADABLE_METADATA: its metadata cannot be decoded; RESTORE_FAILED: restoring it
 * failed because a file is missing or corrupt, and an older retained checkpoint was used instead.
 */
export interface SkippedCheckpoint {
  readonly checkpointId: number;
  readonly pointer: string;
  readonly reason: 'INCOMPLETE' | 'UNREADABLE_METADATA' | 'RESTORE_FAILED';
  readonly error: FlowstateError;
}

/** The CorruptCheckpointError (a missing, resized or corrupt checkpoint file) behind a failure, if any. */
export function corruptionIn(e: unknown): CorruptCheckpointError | undefined {
  for (let c: unknown = e, depth = 0; c instanceof Error && depth < 16; c = c.cause, depth++) {
    if (c instanceof CorruptCheckpointError) return c;
  }
  return undefined;
}

/** Where a restore may fall back to: see fallbackRestorePoint. */
export interface RestoreLineage {
  /** Checkpoints on storage that are candidates, oldest first. */
  readonly retained: readonly StoredCheckpoint[];
  readonly reader: StateHandleReader;
  /** The first checkpoint id of this run. */
  readonly firstId: number;
  /**
   * Retained checkpoints of earlier runs up to this id are ancestors of this run's state (it
   * restored one of them); -1 when it started empty or from elsewhere (a savepoint).
   */
  readonly ancestorsUpTo: number;
  /** What this run started from. */
  readonly initial: RestorePoint | undefined;
}

/**
 * Restoring `point` failed because a file of it is missing or corrupt: the next older checkpoint
 * of this run's lineage, one this run completed, one of the earlier runs' it descends from, or
 * what it started from. A savepoint, or a checkpoint without an older one in the lineage, has no
 * fallback (undefined). Retained checkpoints between what this run restored and its own first one
 * belong to a timeline it left (a restore of an older checkpoint): never fall back into them.
 */
export function fallbackRestorePoint(point: RestorePoint, lineage: RestoreLineage): RestorePoint | undefined {
  if (point.kind !== 'CHECKPOINT') return undefined;
  if (!lineage.retained.some((c) => c.checkpointId === point.checkpointId)) return undefined;
  const inLineage = (id: number) => id <= lineage.ancestorsUpTo || id >= lineage.firstId;
  const older = lineage.retained.filter((c) => c.checkpointId < point.checkpointId && c.metadata.kind === 'CHECKPOINT' && inLineage(c.checkpointId)).at(-1);
  if (older !== undefined) return { checkpointId: older.checkpointId, kind: 'CHECKPOINT', pointer: older.pointer, metadata: older.metadata, reader: lineage.reader };
  if (point.checkpointId >= lineage.firstId && lineage.initial !== undefined && lineage.ancestorsUpTo < 0) return lineage.initial;
  return undefined;
}

/**
 * Operator state per new subtask. At unchanged parallelism each subtask keeps its own handles
 * (as Flink does) unless union or broadcast state needs the redistribution anyway.
 */
export function assignOperatorState(op: OperatorSnapshotMetadata, parallelism: number): OperatorStateHandle[][] {
  const previous = [...op.subtasks].sort((a, b) => a.subtaskIndex - b.subtaskIndex).map((s) => [...s.operator]);
  const needsRedistribution = previous.some((hs) => hs.some((h) => Object.values(h.states).some((s) => s.mode !== 'SPLIT_DISTRIBUTE')));
  if (op.parallelism === parallelism && previous.length === parallelism && !needsRedistribution) return previous;
  return repartitionOperatorState(previous, parallelism);
}

/** What one subtask of operator `uid` restores from `point` (at any parallelism), for createKeyedStateBackend / createOperatorStateBackend. */
export interface SubtaskRestoreState {
  /** Every old keyed handle: the backend reads only the key groups it owns. */
  readonly keyed: KeyedStateHandle[];
  readonly operator: OperatorStateHandle[];
  readonly reader: StateHandleReader;
  /** False when the point holds nothing for this operator (it starts empty). */
  readonly restored: boolean;
}

export function subtaskRestoreState(point: RestorePoint | undefined, uid: string, subtaskIndex: number, parallelism: number): SubtaskRestoreState | undefined {
  if (point === undefined) return undefined;
  const op = point.metadata.operators.find((o) => o.uid === uid);
  if (op === undefined) return { keyed: [], operator: [], reader: point.reader, restored: false };
  return { keyed: op.subtasks.flatMap((s) => s.keyed as KeyedStateHandle[]), operator: assignOperatorState(op, parallelism)[subtaskIndex] ?? [], reader: point.reader, restored: true };
}
