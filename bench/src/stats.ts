import { mulberry32 } from '@flowstate/core';
/** Small statistics helpers: quantiles with linear interpolation, median absolute deviation. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (pos - lo);
}

export interface Summary {
  readonly median: number;
  readonly p25: number;
  readonly p75: number;
  readonly min: number;
  readonly max: number;
  /** Median absolute deviation. */
  readonly mad: number;
  readonly samples: number;
}

export function summarize(values: readonly number[]): Summary {
  const s = [...values].sort((a, b) => a - b);
  const median = quantile(s, 0.5);
  const dev = s.map((v) => Math.abs(v - median)).sort((a, b) => a - b);
  return { median, p25: quantile(s, 0.25), p75: quantile(s, 0.75), min: s[0] ?? NaN, max: s[s.length - 1] ?? NaN, mad: quantile(dev, 0.5), samples: s.length };
}

/** Wall-clock milliseconds of one call, awaited. */
export async function timed(fn: () => unknown): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Deterministic PRNG (mulberry32) so every run touches the same keys. */
export const prng = mulberry32;
