/**
 * Build order of the heap access rows. Within one process, of the structures a row compares (the
 * backend's state, the JS Map, the minimal heap baseline), whichever is built later ran 15–20%
 * faster with identical code (valueGet 0.84× built subject-first, 0.97–1.07× baseline-first). A
 * fixed order therefore favours one side. Each heap row is measured in two child processes with
 * opposite build orders, each with half the time budget, and its ratio is the median of the union
 * of both halves' per-round ratios; each order's own median is kept, as information, so the bias shows.
 */
import { summarize, type Summary } from './stats.js';

export type BuildOrder = 'subject-first' | 'baseline-first';
export const BUILD_ORDERS: readonly BuildOrder[] = ['subject-first', 'baseline-first'];

/** Per kept round of one half: ops/s of the subject, the baseline and (if any) the information-only side. */
export interface HalfRounds {
  readonly backend: readonly number[];
  readonly baseline: readonly number[];
  readonly info?: readonly number[];
  readonly skippedRounds: number;
}

export interface CombinedRounds {
  readonly backendOps: Summary;
  readonly baselineOps: Summary;
  /** Per-round ratios backend / baseline over both halves (median = the row's ratio). */
  readonly ratioRounds: Summary;
  readonly infoOps?: Summary;
  /** Median of the per-round ratios backend / info over both halves. */
  readonly infoRatio?: number;
  /** Each build order's own median per-round ratio (information: the size of the build-order bias). */
  readonly byBuildOrder: Readonly<Record<BuildOrder, number>>;
  readonly skippedRounds: number;
}

function ratios(xs: readonly number[], ys: readonly number[]): number[] {
  return xs.map((x, i) => x / ys[i]!);
}

/** Combines the two halves of a row (opposite build orders): every round of both counts once. */
export function combineHalves(halves: Readonly<Record<BuildOrder, HalfRounds>>): CombinedRounds {
  const hs = BUILD_ORDERS.map((o) => halves[o]);
  const all = (pick: (h: HalfRounds) => readonly number[]) => hs.flatMap((h) => [...pick(h)]);
  const withInfo = hs.every((h) => h.info !== undefined);
  const info = withInfo ? { infoOps: summarize(all((h) => h.info!)), infoRatio: summarize(hs.flatMap((h) => ratios(h.backend, h.info!))).median } : {};
  // Per half (BUILD_ORDERS order): each half's own median, and all of them for the row's ratio.
  const perHalf = hs.map((h) => ratios(h.backend, h.baseline));
  return {
    backendOps: summarize(all((h) => h.backend)),
    baselineOps: summarize(all((h) => h.baseline)),
    ratioRounds: summarize(perHalf.flat()),
    ...info,
    byBuildOrder: Object.fromEntries(BUILD_ORDERS.map((o, i) => [o, summarize(perHalf[i]!).median])) as Record<BuildOrder, number>,
    skippedRounds: hs.reduce((s, h) => s + h.skippedRounds, 0),
  };
}

/**
 * Runs the build steps (subject, information-only side, baseline; absent ones skipped) as listed
 * subject-first, reversed baseline-first: the information-only JS Map sits between them either way.
 */
export function inBuildOrder(order: BuildOrder, subject: () => void, info: () => void, baseline: (() => void) | undefined): void {
  const steps = [subject, info, ...(baseline ? [baseline] : [])];
  for (const s of order === 'baseline-first' ? steps.reverse() : steps) s();
}
