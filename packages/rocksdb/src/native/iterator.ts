// Iterators over one column family, read ahead in packed batches (one native call per batch).
import { RocksDBError } from './errors.js';
import type { NativeIterator } from './native-types.js';
import type { Snapshot } from './snapshot.js';
import type { Entry } from './types.js';

export interface IteratorOptions {
  /** Inclusive lower bound. */
  lowerBound?: Uint8Array;
  /** Exclusive upper bound. */
  upperBound?: Uint8Array;
  /** Read at this snapshot (ignores later writes). */
  snapshot?: Snapshot;
  /** Stop when the key prefix (fixedPrefixLength) differs from the seek key's. Requires fixedPrefixLength. */
  prefixSameAsStart?: boolean;
  /** Whether blocks read by this iterator populate the block cache. Default true. */
  fillCache?: boolean;
}

// @internal Module accessors, installed by the class's static block: the rest of the binding
// reaches the native object without exposing it (the barrel ../native.ts does not re-export them).
export let wrapIterator: (n: NativeIterator) => RocksIterator;

/**
 * @internal Decodes the native packed batch layout (host-endian u32):
 * [count][klen_0][vlen_0]...[klen_n-1][vlen_n-1] then k_0 v_0 k_1 v_1 ...
 * With `copy`, every key/value is copied out (slice), so entries don't pin the batch buffer;
 * without, they are views of it (one allocation per entry fewer).
 */
export function unpackBatch(packed: ArrayBuffer, copy = true): Entry[] {
  const count = new Uint32Array(packed, 0, 1)[0] ?? 0;
  const lens = new Uint32Array(packed, 4, 2 * count);
  const bytes = new Uint8Array(packed);
  const out: Entry[] = new Array<Entry>(count);
  let off = 4 * (1 + 2 * count);
  for (let i = 0; i < count; i++) {
    const kl = lens[2 * i] ?? 0;
    const vl = lens[2 * i + 1] ?? 0;
    const key = copy ? bytes.slice(off, off + kl) : new Uint8Array(packed, off, kl);
    off += kl;
    const value = copy ? bytes.slice(off, off + vl) : new Uint8Array(packed, off, vl);
    off += vl;
    out[i] = [key, value];
  }
  if (off !== packed.byteLength) throw new RocksDBError('ROCKSDB_UNKNOWN', 'malformed packed iterator batch');
  return out;
}

/**
 * A RocksDB iterator over one column family. Must be positioned with a seek
 * before use. `key()`/`value()`/`next()`/`prev()` throw ROCKSDB_INVALID_ARGUMENT
 * when the iterator is not valid. Iterating with `for..of` starts at the first
 * entry (or at the current position if already positioned) and reads ahead in
 * batches, so the iterator's position afterwards is unspecified.
 */
export class RocksIterator implements Iterable<Entry> {
  readonly #native: NativeIterator;
  #positioned = false;

  private constructor(native: NativeIterator) {
    this.#native = native;
  }

  seek(key: Uint8Array): void {
    this.#native.seek(key);
    this.#positioned = true;
  }

  /** Positions at the last key <= `key`. */
  seekForPrev(key: Uint8Array): void {
    this.#native.seekForPrev(key);
    this.#positioned = true;
  }

  seekToFirst(): void {
    this.#native.seekToFirst();
    this.#positioned = true;
  }

  seekToLast(): void {
    this.#native.seekToLast();
    this.#positioned = true;
  }

  /** Whether the iterator is positioned on an entry. Throws if the iterator hit an I/O error. */
  valid(): boolean {
    return this.#native.valid();
  }

  next(): void {
    this.#native.next();
  }

  prev(): void {
    this.#native.prev();
  }

  key(): Uint8Array {
    return this.#native.key();
  }

  value(): Uint8Array {
    return this.#native.value();
  }

  /**
   * Returns up to `maxEntries` entries starting at the current position and
   * advances past them (one native call and one buffer instead of 3 calls per
   * entry). A batch also ends early once it holds ~8 MiB of keys+values.
   * Returns an empty array when the iterator is not valid.
   */
  nextBatch(maxEntries = 1024): Entry[] {
    const packed = this.#native.nextBatchPacked(maxEntries);
    return packed === undefined ? [] : unpackBatch(packed);
  }

  /** Frees the native iterator (idempotent). */
  close(): void {
    this.#native.close();
  }

  /** True after close(), or once the database closed / the column family was dropped. */
  get isClosed(): boolean {
    return this.#native.isClosed();
  }

  *[Symbol.iterator](): Generator<Entry, void, undefined> {
    if (!this.#positioned) this.seekToFirst();
    for (;;) {
      const packed = this.#native.nextBatchPacked(256);
      if (packed === undefined) return;
      yield* unpackBatch(packed);
    }
  }

  static {
    wrapIterator = (n) => new RocksIterator(n);
  }
}
