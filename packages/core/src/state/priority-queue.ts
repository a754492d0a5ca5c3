import type { TypeSerializer } from '../serialization/type-serializer.js';

/**
 * Keyed priority-queue state (Flink's KeyGroupedInternalPriorityQueue), created by a keyed state
 * backend with `createPriorityQueue` and snapshotted, restored and rescaled with its key groups.
 * Timers are its main user: `_timer_state/event_<name>` and `_timer_state/processing_<name>`.
 */

/** What a backend must know of the elements of a priority queue. */
export interface PriorityQueueElementType<K, T> {
  /**
   * Serializes elements so that unsigned byte order equals priority order (Flink's
   * byteOrderedElementSerializer): ordered stores (RocksDB, LMDB) keep the queue sorted by it.
   * Equal bytes mean the same element (set semantics).
   */
  readonly serializer: TypeSerializer<T>;
  /** Priority order (smaller first); must agree with the byte order of `serializer`. */
  compare(a: T, b: T): number;
  /** The key of the element: it lives in that key's key group. */
  keyOf(element: T): K;
}

/**
 * A priority queue with set semantics, ordered within each key group, with one head over all key
 * groups of the backend.
 */
export interface KeyGroupedInternalPriorityQueue<T> {
  /** Adds `element` unless an equal one is present; true when the head of the queue changed. */
  add(element: T): boolean;
  /** Removes the element equal to `element`, if any; true when the head of the queue changed. */
  remove(element: T): boolean;
  /** Removes and returns the head, or undefined when empty. */
  poll(): T | undefined;
  /** The head, or undefined when empty. */
  peek(): T | undefined;
  size(): number;
  isEmpty(): boolean;
  addAll(elements: Iterable<T>): void;
  /**
   * Polls heads in order while `canConsume(head)` holds, at most `maxElements` of them, handing
   * each to `consume` after it left the queue (so `consume` may add elements). Returns how many.
   */
  bulkPoll(canConsume: (head: T) => boolean, consume: (element: T) => void, maxElements?: number): number;
  /** The elements of one key group, in no particular order. */
  getSubsetForKeyGroup(keyGroup: number): T[];
}
