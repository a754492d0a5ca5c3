/**
 * mulberry32: a tiny seeded PRNG with the same sequence in every JS engine, for deterministic
 * simulations, test data and benchmarks (TIGER_STYLE: every run reproducible from its seed).
 * Not for anything security related.
 */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
