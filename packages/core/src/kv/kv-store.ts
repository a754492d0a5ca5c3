/**
 * The byte-level store SPI under core's generic keyed state (KvKeyedStateBackend). A store keeps
 * ordered byte keys in named key spaces, one per registered state; everything above it (row
 * layout, serializers, state semantics, canonical snapshots and restore, rescaling) is core's.
 *
 * Implementing a store means implementing the three interfaces below. Keys compare as unsigned
 * bytes, lexicographically (memcmp, then shorter first), like RocksDB's default comparator: the
 * row layout relies on it to make a key group, a key and a namespace contiguous ranges.
 *
 * Ownership: the store must not keep references to the key and value arrays it is given (callers
 * reuse their buffers) and callers must not modify arrays the store returns. All calls are
 * synchronous, as state access is; a store that needs I/O does it inside the call.
 *
 * See MinimalKvStore for a complete, deliberately short reference implementation, and
 * @flowstate/rocksdb for the RocksDB one (a key space is a column family there).
 */
import type { AdoptableReadBuffers } from '../snapshot/adoptable-read-buffers.js';
import type { KvTtlLayout } from '../state/ttl.js';
import { successorOf } from './kv-bytes.js';

/** A key and its value. */
export type KvEntry = readonly [key: Uint8Array, value: Uint8Array];

/** Reads of one key space, live or in a consistent view. */
export interface KvReadableKeySpace {
  /** The value of `key`, or undefined when it has none. */
  get(key: Uint8Array): Uint8Array | undefined;
  /**
   * Up to `limit` (>= 1) entries with lower <= key < upper, in key order. Fewer than `limit`
   * entries means the range is exhausted. Callers resume after the last key returned by scanning
   * from `successorOf(lastKey)`; a batch API keeps stores free of iterator lifecycles.
   */
  scan(lower: Uint8Array, upper: Uint8Array, limit: number): KvEntry[];
  /**
   * Optional: visits every entry with lower <= key < upper in key order, like forEachEntry, but
   * the key and value `visit` gets are only valid until it returns (the store may reuse one
   * buffer for all of them, saving an allocation per entry or batch). Full snapshots read
   * through it (forEachTransientEntry); without it they scan.
   */
  forEachTransient?(lower: Uint8Array, upper: Uint8Array, visit: (key: Uint8Array, value: Uint8Array) => void): void;
}

/**
 * The key space of one state (RocksDB: a column family; a store without such a notion keeps a
 * prefix per key space).
 */
export interface KvKeySpace extends KvReadableKeySpace {
  readonly name: string;
  put(key: Uint8Array, value: Uint8Array): void;
  delete(key: Uint8Array): void;
  /** Deletes every key with lower <= key < upper. */
  deleteRange(lower: Uint8Array, upper: Uint8Array): void;
  /**
   * Puts every entry atomically: a reader, a view or a crash sees all of them or none. Used for
   * bulk writes (restore) and all-or-nothing rewrites (serializer migration).
   */
  putAll(entries: readonly KvEntry[]): void;
  /**
   * Optional fast path for list state: the value of `key` becomes its current value followed by
   * `suffix` (just `suffix` when absent), without reading it first (RocksDB: a merge with the
   * list-append merge operator). Stores without it get read-concatenate-write (see appendValue).
   */
  append?(key: Uint8Array, suffix: Uint8Array): void;
}

/**
 * A consistent, read-only view of the whole store at the moment view() was called: later writes
 * are invisible to it (RocksDB: a snapshot). Full snapshots read it asynchronously while state
 * access goes on. Released once, after which it is not used again.
 */
export interface KvView {
  /** The key space as it was when the view was taken; undefined if it did not exist then. */
  keySpace(name: string): KvReadableKeySpace | undefined;
  release(): void;
}

/**
 * A bulk load of rows into key spaces (canonical restores): rows come in any order and become
 * visible together when finish() resolves; a key added twice keeps its last value. The arrays
 * handed to add() belong to the load (callers do not reuse them). A store offers it when it has a
 * cheaper path than putAll (RocksDB: sorted SST files, ingested, instead of write batches through
 * the memtable), ideally keeping the heavy I/O off the event loop.
 */
export interface KvBulkLoad {
  /**
   * Adds a row. Unless `copiesOnAdd` is true, the bulk load may keep `key` and `value` themselves
   * (views included) until finish() or abort(): the caller must not change their bytes before.
   */
  add(space: KvKeySpace, key: Uint8Array, value: Uint8Array): void;
  /**
   * Optional: add() copies the bytes of the key and the value before it returns (a value in one
   * of its `readBuffers` excepted: it may hold that buffer instead). A restore may then read into
   * buffers it reuses (no fresh multi-MiB buffer per read, see read-buffers.ts).
   */
  readonly copiesOnAdd?: boolean;
  /**
   * Optional: buffers a restore reads into (when nothing else keeps views of its records), whose
   * bytes add() may keep without copying: it takes a hold on the buffer of a value it keeps as a
   * view and gives it back once nothing reads the view any more. The restore calls release()
   * after each handle's reads settled. A bulk load with `copiesOnAdd` copies anything else it is given.
   */
  readonly readBuffers?: AdoptableReadBuffers;
  /**
   * Optional: a point between two key groups. Rows start with their key group, so in a restore
   * (which reads each key group once, whole) no row added later sorts among the rows added since
   * the previous boundary: a store that writes sorted files may write what it buffered now, into
   * files that later ones do not overlap, and build them while the restore reads on.
   */
  keyGroupBoundary?(): void;
  finish(): Promise<void>;
  /** Drops what was added and not yet finished (after a failure). Idempotent. */
  abort(): void;
}

/** How a key space is opened. */
export interface KvKeySpaceOptions {
  /**
   * The space holds TTL'd values in this layout. A store may then drop expired entries itself
   * (RocksDB: a compaction filter); others ignore it, since core drops them on read and snapshot.
   */
  readonly ttl?: KvTtlLayout;
}

/** An ordered byte-key store with named key spaces. */
export interface KvStore {
  /**
   * The key space called `name`, created (empty) when it does not exist yet. Options apply when
   * the space is created or first opened by this store instance.
   *
   * Core opens a restored state's key space without a TTL layout (the job may register it with
   * another TTL) and calls keySpace(name, { ttl }) again when the job registers the state; a store
   * with its own TTL cleanup should apply a layout given then (and otherwise does no TTL cleanup
   * of its own for that space, which is safe).
   */
  keySpace(name: string, options?: KvKeySpaceOptions): KvKeySpace;
  /**
   * Optional: the time (ms) that the store's own TTL cleanup compares against, for every state.
   * Core calls it before snapshots and before manual compactions, and, when the backend has a
   * processing-time clock of its own, before it opens a key space with a TTL layout, with the
   * earliest of the clocks its TTL states read (the processing time, and the watermark when a
   * state has event-time TTL): an earlier time only delays cleanup. A store never told may
   * compare processing-time entries against the wall clock (the backend's clock then) and must
   * keep event-time entries.
   */
  setTtlTime?(timestamp: number): void;
  /** Optional: a bulk load for restores (see KvBulkLoad); without it restores use putAll. */
  bulkLoad?(): KvBulkLoad;
  /** Names of the existing key spaces. */
  keySpaceNames(): string[];
  /** A consistent view of every key space (see KvView). */
  view(): KvView;
  /** Releases the store's resources; nothing is called after close(). */
  close(): void;
}

/** Entries per scan of forEachEntry. */
const SCAN_BATCH = 1024;

/** Visits every entry of a key space in key order, in batches (the visitor may write to the space). */
export function forEachEntry(space: KvReadableKeySpace, lower: Uint8Array, upper: Uint8Array, visit: (key: Uint8Array, value: Uint8Array) => void): void {
  let from = lower;
  for (;;) {
    const batch = space.scan(from, upper, SCAN_BATCH);
    for (const [k, v] of batch) visit(k, v);
    if (batch.length < SCAN_BATCH) return;
    from = successorOf(batch[batch.length - 1]![0]);
  }
}

/**
 * forEachEntry for a visitor that keeps nothing it is given past its call: through the store's
 * forEachTransient where it has one.
 */
export function forEachTransientEntry(space: KvReadableKeySpace, lower: Uint8Array, upper: Uint8Array, visit: (key: Uint8Array, value: Uint8Array) => void): void {
  if (space.forEachTransient !== undefined) space.forEachTransient(lower, upper, visit);
  else forEachEntry(space, lower, upper, visit);
}

/** Appends `suffix` to the value of `key`, through the store's fast path when it has one. */
export function appendValue(space: KvKeySpace, key: Uint8Array, suffix: Uint8Array): void {
  if (space.append !== undefined) {
    space.append(key, suffix);
    return;
  }
  const current = space.get(key);
  if (current === undefined) {
    space.put(key, suffix);
    return;
  }
  const joined = new Uint8Array(current.length + suffix.length);
  joined.set(current, 0);
  joined.set(suffix, current.length);
  space.put(key, joined);
}
