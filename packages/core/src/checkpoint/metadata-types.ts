import type { KeyedStateHandle, OperatorStateHandle, StreamStateHandle } from '../storage/handles.js';

// The shape of `_metadata`, apart from its encoding (metadata.ts) and its validation
// (metadata-structure.ts), so that both can name it without importing each other.

export interface SubtaskStateMetadata {
  readonly subtaskIndex: number;
  readonly keyed: readonly KeyedStateHandle[];
  readonly operator: readonly OperatorStateHandle[];
  /**
   * In-flight records an unaligned checkpoint persisted for this subtask (channel state). The
   * encoding belongs to the runtime that wrote it; a restore replays them before any new input.
   * Absent for aligned checkpoints and savepoints.
   */
  readonly channelState?: readonly StreamStateHandle[];
  /**
   * The subtask had finished its input (end of data on every input, endInput and finish ran)
   * when it took this snapshot (Flink's finished task state). A restore does not run its
   * endInput and finish again. Absent means false.
   */
  readonly finished?: boolean;
}

export interface OperatorSnapshotMetadata {
  /** The operator's stable uid. */
  readonly uid: string;
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly subtasks: readonly SubtaskStateMetadata[];
}

/** What `_metadata` holds: the complete description of one checkpoint or savepoint. */
export interface CheckpointMetadata {
  readonly checkpointId: number;
  readonly kind: 'CHECKPOINT' | 'SAVEPOINT';
  readonly timestamp: number;
  readonly operators: readonly OperatorSnapshotMetadata[];
  /** Free-form properties (e.g. source offsets of a demo, the writer's version). */
  readonly properties?: Readonly<Record<string, string | number | boolean>>;
}
