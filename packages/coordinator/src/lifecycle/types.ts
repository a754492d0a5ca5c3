import type { CheckpointOptions, CheckpointStorage, CheckpointStorageLocation, KeyedStateHandle, OperatorStateHandle, StreamStateHandle, CheckpointMetadata } from '@flowstate/core';
import type { RestorePoint } from '../restore.js';

/**
 * The types of the checkpoint lifecycle both coordinators share (the runtime's, driven by
 * barriers, and the embedded one, which snapshots registered backends itself).
 */

/** What every participant's acknowledgement reports about its snapshot (a subtask's part of the history). */
export interface SubtaskCheckpointFigures {
  readonly syncDurationMs: number;
  readonly asyncDurationMs: number;
  readonly alignmentDurationMs: number;
  readonly checkpointedSize: number;
  readonly fullSize: number;
}

/** A subtask's acknowledgement of a checkpoint: its handles and figures (Flink's AcknowledgeCheckpoint). */
export interface CheckpointAcknowledgement<S extends SubtaskCheckpointFigures = SubtaskCheckpointFigures> {
  readonly uid: string;
  readonly subtaskIndex: number;
  readonly keyed: KeyedStateHandle | null;
  readonly operator: OperatorStateHandle | null;
  readonly channelState: StreamStateHandle | null;
  /** The subtask had finished its input when it took this snapshot. */
  readonly finished?: boolean;
  readonly stats: S;
}

/** A subtask as the coordinator sees it: told when a checkpoint completes or is aborted. */
export interface CheckpointParticipant {
  /** Unique within an attempt, e.g. `uid#index`. */
  readonly name: string;
  /** `endOfJob`: the final checkpoint (or the stop-with-savepoint) completed. */
  notifyCheckpointComplete(checkpointId: number, endOfJob: boolean): void;
  notifyCheckpointAborted(checkpointId: number): void;
}

/** A run of the job's participants (the runtime's execution attempt; the embedded coordinator has one). */
export interface CheckpointAttempt<T extends CheckpointParticipant> {
  readonly attempt: number;
  /** Every participant that must acknowledge a checkpoint. */
  readonly tasks: readonly T[];
  /** Too many checkpoints failed in a row (tolerable-failed-checkpoints): the attempt fails over. */
  fail(cause: unknown): void;
}

export type CheckpointStatus = 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';

/** Flink's checkpoint statistics, per checkpoint, with the per-subtask figures. */
export interface CheckpointStats<S = SubtaskCheckpointFigures> {
  readonly checkpointId: number;
  readonly kind: 'CHECKPOINT' | 'SAVEPOINT';
  status: CheckpointStatus;
  readonly triggerTimestamp: number;
  /** Trigger to completion (or failure). */
  durationMs: number;
  failureReason: string | undefined;
  /** Where the completed checkpoint lives (pointer relative to its storage). */
  pointer: string | undefined;
  readonly tasks: S[];
}

export interface CompletedCheckpoint<S = SubtaskCheckpointFigures> extends RestorePoint {
  readonly stats: CheckpointStats<S>;
}

/** How the coordinator lays out `_metadata`: the operators and what goes into its properties. */
export interface MetadataLayout {
  readonly operators: ReadonlyArray<{ readonly uid: string; readonly parallelism: number; readonly maxParallelism: number }>;
  readonly properties: Readonly<Record<string, string>>;
}

/** Flags of a trigger: the final checkpoint (FLIP-147), a stop-with-savepoint. */
export interface TriggerFlags {
  readonly final: boolean;
  readonly stop: boolean;
}

/** A checkpoint that was triggered and is not complete yet (Flink's PendingCheckpoint). */
export interface PendingCheckpoint<T extends CheckpointParticipant, A extends CheckpointAcknowledgement, V extends CheckpointAttempt<T> = CheckpointAttempt<T>> {
  readonly id: number;
  readonly kind: 'CHECKPOINT' | 'SAVEPOINT';
  readonly timestamp: number;
  readonly location: CheckpointStorageLocation;
  readonly storage: CheckpointStorage;
  readonly options: CheckpointOptions;
  readonly attempt: V;
  readonly layout: MetadataLayout;
  readonly acks: Map<string, A>;
  readonly stats: CheckpointStats<A['stats']>;
  readonly flags: TriggerFlags;
  readonly waiters: Array<{ resolve: (c: CompletedCheckpoint<A['stats']>) => void; reject: (e: unknown) => void }>;
  timer: NodeJS.Timeout | undefined;
  finalizing: boolean;
  /** While `_metadata` is being written: an abort leaves the cleanup to complete(). */
  finalizeInFlight: boolean;
  /** Set once `_metadata` was (possibly) written: from then on the checkpoint may look complete. */
  metadata: CheckpointMetadata | undefined;
}
