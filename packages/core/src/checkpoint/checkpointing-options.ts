/**
 * How a job checkpoints: Flink's CheckpointingMode, with unaligned checkpoints (Flink's
 * `execution.checkpointing.unaligned.enabled`) folded in as a third mode.
 */
export type CheckpointingMode = 'EXACTLY_ONCE' | 'AT_LEAST_ONCE' | 'UNALIGNED';

/**
 * Every checkpointing setting of a job, defaults applied (Flink's CheckpointConfig): what the
 * runtime resolves its JobOptions.checkpointing to and what @flowstate/config reads from a Flink
 * configuration, defined once so that the two cannot drift apart. Times are in milliseconds.
 */
export interface ResolvedCheckpointingOptions {
  readonly mode: CheckpointingMode;
  /** Periodic checkpoints off when undefined. */
  readonly intervalMs: number | undefined;
  readonly timeoutMs: number;
  readonly maxConcurrentCheckpoints: number;
  readonly minPauseBetweenCheckpointsMs: number;
  readonly tolerableFailedCheckpoints: number;
  readonly retainedCheckpoints: number;
  /** EXACTLY_ONCE only: an alignment longer than this switches to unaligned; never when undefined. */
  readonly alignedCheckpointTimeoutMs: number | undefined;
}
