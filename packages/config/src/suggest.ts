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

/**
 * True when `key` is too long to be a typo of any candidate. The edit distance is quadratic in the
 * key's length and a file may hold a key of a megabyte; a key over twice the longest candidate is
 * not a typo of one, so it gets no suggestion (and costs nothing).
 */
function beyondTypos(key: string, candidates: readonly string[]): boolean {
  return key.length > 2 * candidates.reduce((max, c) => Math.max(max, c.length), 0);
}

/** Words too common in keys to tell them apart. */
const GENERIC = new Set(['state', 'backend', 'execution', 'checkpointing', 'checkpoint', 'checkpoints', 'rocksdb', 's3']);
const words = (k: string) => k.split(/[.\-_]/).filter((w) => w !== '' && !GENERIC.has(w));

/** The one candidate that satisfies `test`, if exactly one does. */
function unique(hits: readonly string[]): string | undefined {
  const distinct = [...new Set(hits)];
  return distinct.length === 1 ? distinct[0] : undefined;
}

/**
 * The candidate `key` most likely meant, tried in order: a key cut short
 * ('max-concurrent' for 'max-concurrent-checkpoints'), a few typos (edits within a fifth of the
 * key's length), the same distinctive words under another prefix or in another order
 * ('state.checkpoints.interval', 'state.backend.incremental-checkpoints'). `sameOption` maps a
 * deprecated key to its option's key, so that two spellings of one option are one candidate.
 */
export function closestKey(key: string, candidates: readonly string[], sameOption: (candidate: string) => string = (c) => c): string | undefined {
  if (beyondTypos(key, candidates)) return undefined;
  const k = key.toLowerCase();
  const extended = candidates.filter((c) => c.startsWith(k)).sort((a, b) => a.length - b.length);
  if (extended.length > 0) return extended[0];
  let best: { key: string; d: number } | undefined;
  for (const c of candidates) {
    const d = editDistance(k, c);
    if (best === undefined || d < best.d) best = { key: c, d };
  }
  if (best !== undefined && best.d <= Math.max(2, Math.floor(k.length / 5))) return best.key;
  const mine = words(k);
  return mine.length === 0 ? undefined : unique(candidates.filter((c) => mine.every((w) => words(c).includes(w))).map(sameOption));
}

/** True when `key` is a typo of a candidate (used for keys outside flowstate's namespaces). */
export function isNearMiss(key: string, candidates: readonly string[]): string | undefined {
  if (beyondTypos(key, candidates)) return undefined;
  const k = key.toLowerCase();
  for (const c of candidates) if (editDistance(k, c) <= 2) return c;
  return undefined;
}
