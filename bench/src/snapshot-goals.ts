/**
 * The values the snapshot goal rows are judged on, one function per goal, shared by the report
 * (goal rows) and the median of several runs (which takes each goal's rows whole from the run
 * where that goal's value is the median, median-results.ts).
 */
import type { ChurnSample, SnapshotResultRow } from './snapshot.js';
import { summarize } from './stats.js';

export type ChurnPhase = ChurnSample['phase'];
export const CHURN_PHASES: readonly ChurnPhase[] = ['compacted', 'after-bulk-load'];

/** A goal judged on snapshot rows; the incremental ones exist per churn phase. */
export type SnapshotGoal = `${'speedup' | 'vs-rocks' | 'upload'}:${ChurnPhase}` | 'sync-pause' | 'copy-on-write';

export const SNAPSHOT_GOALS: readonly SnapshotGoal[] = [
  ...CHURN_PHASES.flatMap((p) => [`speedup:${p}`, `vs-rocks:${p}`, `upload:${p}`] as const),
  'sync-pause',
  'copy-on-write',
];

/** The 1% churn samples of one phase (the incremental goals' samples). */
export function onePercent(s: SnapshotResultRow, phase: ChurnPhase): ChurnSample[] {
  return s.churn.filter((c) => c.churn === 0.01 && c.phase === phase);
}

const medianOf = (xs: readonly number[]) => summarize(xs).median;

/** Full (canonical) snapshot time over the incremental checkpoint's total time (median of the 1% samples). */
export function incrementalSpeedup(s: SnapshotResultRow, phase: ChurnPhase): number {
  return s.totalMs.median / medianOf(onePercent(s, phase).map((c) => c.totalMs));
}

/** The incremental checkpoint's total time over RocksDB's own flush + createCheckpoint (medians of the 1% samples). */
export function incrementalVsRocks(s: SnapshotResultRow, phase: ChurnPhase): number {
  const cs = onePercent(s, phase);
  return medianOf(cs.map((c) => c.totalMs)) / medianOf(cs.map((c) => c.rocksCheckpointMs ?? NaN));
}

/** Bytes the incremental checkpoint uploaded, as a fraction of the full state (median of the 1% samples). */
export function uploadedFraction(s: SnapshotResultRow, phase: ChurnPhase): number {
  return medianOf(onePercent(s, phase).map((c) => c.checkpointedSize / c.fullSize));
}

/** The longest synchronous phase over canonical, native full and incremental checkpoints. */
export function syncPauseMax(s: SnapshotResultRow): number {
  return Math.max(s.syncMs.max, s.nativeFull?.syncMs ?? 0, s.rebase?.syncMs ?? 0, ...s.churn.map((c) => c.syncMs));
}

/** The value `goal` is judged on for row `s`; NaN where the goal does not apply to the row. */
export function snapshotGoalValue(goal: SnapshotGoal, s: SnapshotResultRow): number {
  if (goal === 'sync-pause') return s.fullFormat === 'CANONICAL' ? syncPauseMax(s) : NaN;
  if (goal === 'copy-on-write') return s.rssPeakMb / s.rssBeforeMb;
  const [what, phase] = goal.split(':') as ['speedup' | 'vs-rocks' | 'upload', ChurnPhase];
  if (onePercent(s, phase).length === 0) return NaN;
  return what === 'speedup' ? incrementalSpeedup(s, phase) : what === 'vs-rocks' ? incrementalVsRocks(s, phase) : uploadedFraction(s, phase);
}
