import { IllegalStateUsageError } from '../errors.js';

/** Unsigned lexicographic order, the order of every KvStore (negative, zero or positive). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** The smallest key greater than `key`: where a scan resumes after it. */
export function successorOf(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key.length + 1);
  out.set(key, 0);
  return out;
}

/** The smallest byte string greater than every string with this prefix (a scan's exclusive upper bound). */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  const out = prefix.slice();
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i]! < 0xff) {
      out[i]!++;
      return out.subarray(0, i + 1);
    }
  }
  // All 0xff: no finite upper bound exists; rows never start so (the key group comes first).
  throw new IllegalStateUsageError(undefined, 'prefix has no upper bound');
}
