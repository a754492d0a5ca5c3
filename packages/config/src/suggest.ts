/** "Did you mean": the known key closest to an unknown one, when it is close enough to be a typo. */

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

const lastSegment = (k: string) => k.slice(k.lastIndexOf('.') + 1);

/**
 * The closest of `candidates` to `key`: within a third of the key's length in edits (typos,
 * '-' for '.', a missing word), or with the same last segment (the right name under a wrong
 * prefix, e.g. 'state.checkpoints.interval').
 */
export function closestKey(key: string, candidates: readonly string[]): string | undefined {
  const k = key.toLowerCase();
  let best: { key: string; d: number } | undefined;
  for (const c of candidates) {
    const d = editDistance(k, c);
    if (best === undefined || d < best.d) best = { key: c, d };
  }
  if (best !== undefined && best.d <= Math.max(2, Math.floor(k.length / 3))) return best.key;
  const sameLeaf = candidates.filter((c) => lastSegment(c) === lastSegment(k));
  return sameLeaf.length === 1 ? sameLeaf[0] : undefined;
}

/** True when `key` is a typo of a candidate (used for keys outside flowstate's namespaces). */
export function isNearMiss(key: string, candidates: readonly string[]): string | undefined {
  const k = key.toLowerCase();
  for (const c of candidates) if (editDistance(k, c) <= 2) return c;
  return undefined;
}
