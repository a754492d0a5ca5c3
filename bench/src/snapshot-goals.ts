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

/** Median of per-sample ratios; NaN when a sample has no finite ratio (a baseline not measured). */
function medianRatio(ratios: readonly number[]): number {
  return ratios.length === 0 || !ratios.every((x) => Number.isFinite(x)) ? NaN : medianOf(ratios);
}

/**
 * A 1% sample's full canonical snapshot time: the one timed next to it (fullMs, since session 33),
 * else (older results) the full-snapshot table's median, taken before any churn.
 */
export function pairedFullMs(s: SnapshotResultRow, c: ChurnSample): number {
  return c.fullMs ?? s.totalMs.median;
}

/**
 * Full (canonical) snapshot time over the incremental checkpoint's total time: the median of the
 * per-sample ratios over the 1% samples, each against the full snapshot of the same state timed
 * next to it (for older results without one, the table's median full time: for an odd count the
 * same as the ratio of medians they were judged on).
 */
export function incrementalSpeedup(s: SnapshotResultRow, phase: ChurnPhase): number {
  return medianRatio(onePercent(s, phase).map((c) => pairedFullMs(s, c) / c.totalMs));
}

/**
 * The incremental checkpoint's total time over RocksDB's own flush + createCheckpoint: the median
 * of the per-sample ratios over the 1% samples (until session 33 a ratio of the two medians); NaN
 * when a sample has no RocksDB time.
 */
export function incrementalVsRocks(s: SnapshotResultRow, phase: ChurnPhase): number {
  return medianRatio(onePercent(s, phase).map((c) => c.totalMs / (c.rocksCheckpointMs ?? NaN)));
}

/** Bytes the incremental checkpoint uploaded, as a fraction of the full state (median of the 1% samples). */
export function uploadedFraction(s: SnapshotResultRow, phase: ChurnPhase): number {
  return medianOf(onePercent(s, phase).map((c) => c.checkpointedSize / c.fullSize));
}

/** The longest synchronous phase over canonical (those paired with increments included), native full and incremental checkpoints. */
export function syncPauseMax(s: SnapshotResultRow): number {
  return Math.max(s.syncMs.max, s.nativeFull?.syncMs ?? 0, s.rebase?.syncMs ?? 0, ...s.churn.map((c) => Math.max(c.syncMs, c.fullSyncMs ?? 0)));
}

/** The value `goal` is judged on for row `s`; NaN where the goal does not apply to the row. */
export function snapshotGoalValue(goal: SnapshotGoal, s: SnapshotResultRow): number {
  if (goal === 'sync-pause') return s.fullFormat === 'CANONICAL' ? syncPauseMax(s) : NaN;
  if (goal === 'copy-on-write') return s.rssPeakMb / s.rssBeforeMb;
  const [what, phase] = goal.split(':') as ['speedup' | 'vs-rocks' | 'upload', ChurnPhase];
  if (onePercent(s, phase).length === 0) return NaN;
  return what === 'speedup' ? incrementalSpeedup(s, phase) : what === 'vs-rocks' ? incrementalVsRocks(s, phase) : uploadedFraction(s, phase);
}
