import { compareBytes } from './kv-bytes.js';
import type { KvEntry, KvKeySpace, KvReadableKeySpace, KvStore, KvView } from './kv-store.js';

/**
 * The reference KvStore: each key space is an array of entries sorted by key, in memory. It is
 * written to be read: every operation is the obvious one (binary search, splice), at O(n) per
 * insert and O(n) per view. Use it to learn the SPI, to test against, or as a template; keep
 * large state in a real store.
 */
export class MinimalKvStore implements KvStore {
  private readonly spaces = new Map<string, MinimalKeySpace>();

  keySpace(name: string): KvKeySpace {
    let space = this.spaces.get(name);
    if (space === undefined) {
      space = new MinimalKeySpace(name);
      this.spaces.set(name, space);
    }
    return space;
  }

  keySpaceNames(): string[] {
    return [...this.spaces.keys()];
  }

  /**
   * Copies each key space's entry array, not the bytes: stored arrays are never modified (a put
   * replaces the entry), so the copy is a consistent view however the store changes afterwards.
   */
  view(): KvView {
    const copies = new Map<string, SortedEntries>();
    for (const [name, space] of this.spaces) copies.set(name, new SortedEntries(space.entries.slice()));
    return {
      keySpace: (name) => copies.get(name),
      release: () => copies.clear(),
    };
  }

  close(): void {
    this.spaces.clear();
  }
}

/** Read operations over a sorted entry array. */
class SortedEntries implements KvReadableKeySpace {
  constructor(readonly entries: KvEntry[] = []) {}

  /** Index of the first entry whose key is >= `key` (entries.length if none). */
  protected lowerBound(key: Uint8Array): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareBytes(this.entries[mid]![0], key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Whether the entry at `i` exists and has exactly `key`. */
  protected holds(i: number, key: Uint8Array): boolean {
    return i < this.entries.length && compareBytes(this.entries[i]![0], key) === 0;
  }

  get(key: Uint8Array): Uint8Array | undefined {
    const i = this.lowerBound(key);
    return this.holds(i, key) ? this.entries[i]![1] : undefined;
  }

  scan(lower: Uint8Array, upper: Uint8Array, limit: number): KvEntry[] {
    const out: KvEntry[] = [];
    for (let i = this.lowerBound(lower); i < this.entries.length && out.length < limit; i++) {
      const entry = this.entries[i]!;
      if (compareBytes(entry[0], upper) >= 0) break;
      out.push(entry);
    }
    return out;
  }
}

/** A writable key space. Keys and values are copied in: callers reuse their buffers. */
class MinimalKeySpace extends SortedEntries implements KvKeySpace {
  constructor(readonly name: string) {
    super();
  }

  put(key: Uint8Array, value: Uint8Array): void {
    const i = this.lowerBound(key);
    const entry: KvEntry = [key.slice(), value.slice()];
    if (this.holds(i, key)) this.entries[i] = entry;
    else this.entries.splice(i, 0, entry);
  }

  delete(key: Uint8Array): void {
    const i = this.lowerBound(key);
    if (this.holds(i, key)) this.entries.splice(i, 1);
  }

  deleteRange(lower: Uint8Array, upper: Uint8Array): void {
    const from = this.lowerBound(lower);
    const to = this.lowerBound(upper);
    if (to > from) this.entries.splice(from, to - from);
  }

  /** Atomic because nothing else runs while it does (puts cannot fail half way). */
  putAll(entries: readonly KvEntry[]): void {
    for (const [key, value] of entries) this.put(key, value);
  }
}
