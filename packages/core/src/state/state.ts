/**
 * The user-facing state interfaces, named after Flink's org.apache.flink.api.common.state.
 * Keyed state is scoped to the backend's current key and the state's current namespace.
 */
export interface State {
  /** Removes the value for the current key (and namespace). */
  clear(): void;
}

export interface ValueState<T> extends State {
  /** The value, or a copy of the descriptor's default (or null) when there is none. */
  value(): T | null;
  /** `update(null)` behaves like `clear()`. */
  update(value: T | null): void;
}

export interface AppendingState<IN, OUT> extends State {
  get(): OUT;
  add(value: IN): void;
}

export interface ListState<T> extends AppendingState<T, readonly T[]> {
  /** The elements; an empty array when there are none. Treat the array as read-only. */
  get(): readonly T[];
  /** Rejects null and undefined. */
  add(value: T): void;
  /** Adding an empty array is a no-op; null elements are rejected before anything is added. */
  addAll(values: readonly T[]): void;
  /** Replaces the list; `update([])` empties it. */
  update(values: readonly T[]): void;
}

/** An iterator over map state that can remove the entry it returned last. */
export interface MapStateIterator<T> extends IterableIterator<T> {
  /**
   * Removes the last returned entry; throws if called twice or before next(). It is removed from
   * the map the iterator was created on, whatever the current key and namespace are by now.
   */
  remove(): void;
}

export interface MapState<K, V> extends State {
  get(key: K): V | null | undefined;
  put(key: K, value: V | null): void;
  putAll(entries: Iterable<readonly [K, V | null]>): void;
  remove(key: K): void;
  contains(key: K): boolean;
  entries(): MapStateIterator<[K, V | null]>;
  keys(): MapStateIterator<K>;
  values(): MapStateIterator<V | null>;
  isEmpty(): boolean;
}

export interface ReducingState<T> extends AppendingState<T, T | null> {}

export interface AggregatingState<IN, OUT> extends AppendingState<IN, OUT | null> {}

export type ReduceFunction<T> = (a: T, b: T) => T;

export interface AggregateFunction<IN, ACC, OUT> {
  createAccumulator(): ACC;
  add(value: IN, accumulator: ACC): ACC;
  getResult(accumulator: ACC): OUT;
  merge(a: ACC, b: ACC): ACC;
}

/** Broadcast state: a map that is identical on every subtask. */
export interface ReadOnlyBroadcastState<K, V> {
  get(key: K): V | null | undefined;
  contains(key: K): boolean;
  immutableEntries(): IterableIterator<[K, V | null]>;
}

export interface BroadcastState<K, V> extends ReadOnlyBroadcastState<K, V> {
  put(key: K, value: V | null): void;
  putAll(entries: Iterable<readonly [K, V | null]>): void;
  remove(key: K): void;
  entries(): MapStateIterator<[K, V | null]>;
  clear(): void;
}

/** Keyed state bound to a namespace that can be switched (Flink's InternalKvState). */
export interface InternalKvState<N> {
  setCurrentNamespace(namespace: N): void;
}

/**
 * A backend's map state, as the TTL decorator (TtlMapState) uses it: its entries() iterator can
 * also replace the value of the entry it returned last.
 */
export interface InternalMapState<K, V> extends MapState<K, V> {
  entries(): InternalMapStateIterator<[K, V | null], V | null>;
}

/** An iterator of a backend's map state (Flink's map iterators hand out entries with setValue). */
export interface InternalMapStateIterator<T, V> extends MapStateIterator<T> {
  /**
   * Replaces the value of the last returned entry, in the map the iterator was created on (as
   * remove()): TTL re-stamps the entries it reads with it, and the current key may have changed
   * since the iteration began. Throws before next().
   */
  setValue(value: V): void;
}

/** Merging of namespaces for window merging (Flink's InternalMergingState). */
export interface InternalMergingState<N> extends InternalKvState<N> {
  /** Merges the state of the source namespaces into the target namespace and clears the sources. */
  mergeNamespaces(target: N, sources: readonly N[]): void;
}
