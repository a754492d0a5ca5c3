/**
 * The elements of one key group of a priority queue (Flink's per-key-group InternalPriorityQueue
 * inside KeyGroupPartitionedPriorityQueue): on the heap a binary heap with a set, in a KvStore a
 * sorted key range with a cached head.
 */
export interface KeyGroupQueue<T> {
  peek(): T | undefined;
  /** Adds `element` unless an equal one is present; true when the head of this key group changed. */
  add(element: T): boolean;
  /** Removes the element equal to `element`, if any; true when the head of this key group changed. */
  remove(element: T): boolean;
  poll(): T | undefined;
  size(): number;
  /** The elements, in no particular order (a copy). */
  elements(): T[];
}
