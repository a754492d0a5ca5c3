/**
 * When the runtime's checkpointing goal can be judged, one rule shared by the report (goal rows)
 * and the median of several runs (which takes the row whole from the run where this value is the
 * median, median-results.ts), as snapshot-goals.ts does for the snapshot goals.
 */
import type { RuntimeResult } from './runtime.js';

/**
 * Periodic checkpoints every run with checkpointing must complete for the goal to be judged. The
 * first fires one interval after the job starts: a run shorter than that measures the end-of-input
 * checkpoint alone (the quick preset's 1,000,000 records ran ~0.4 s and did, until session 33).
 */
export const MIN_PERIODIC_CHECKPOINTS = 2;

/** How a runtime result stands on the checkpointing goal. */
export type CheckpointingJudgement =
  /** Results written before session 33: periodic checkpoints were not counted. */
  | { readonly kind: 'not-counted' }
  /** Some checkpoint did not complete: not met, whatever the ratio. */
  | { readonly kind: 'failed'; readonly failed: number }
  /** A run with checkpointing completed fewer than MIN_PERIODIC_CHECKPOINTS: not measured. */
  | { readonly kind: 'too-few'; readonly periodic: number }
  | { readonly kind: 'judged'; readonly periodic: number };

export function checkpointingJudgement(t: RuntimeResult): CheckpointingJudgement {
  const periodic = t.minPeriodicCheckpoints;
  if (periodic === undefined) return { kind: 'not-counted' };
  const failed = t.failedCheckpoints ?? 0;
  if (failed > 0) return { kind: 'failed', failed };
  return periodic < MIN_PERIODIC_CHECKPOINTS ? { kind: 'too-few', periodic } : { kind: 'judged', periodic };
}

/** The value a median picks the checkpointing goal's run on: the ratio when judged, 0 when a checkpoint failed (not met), NaN when it cannot be judged (the worst). */
export function checkpointingGoalValue(t: RuntimeResult): number {
  const j = checkpointingJudgement(t);
  return j.kind === 'judged' ? t.throughputRatio : j.kind === 'failed' ? 0 : NaN;
}
