import {
  checkNamespace,
  IllegalStateUsageError,
  type AggregateFunction,
  type AggregatingState,
  type InternalMergingState,
  type ListState,
  type MapState,
  type MapStateIterator,
  type ReduceFunction,
  type ReducingState,
  type TypeSerializer,
  type ValueState,
  type Identity,
  type IdentityFn,
} from '@flowstate/core';
import type { HeapMap } from './heap-map.js';
import type { Registered } from './heap-registered.js';
import type { StateTable } from './state-table.js';

/** What a heap state needs from its backend: the current key, its key group and identity. */
export interface CurrentKeyContext {
  readonly currentKey: unknown;
  readonly currentKeyGroup: number;
  readonly currentKeyId: Identity;
  /** Whether a key was set (states check this flag inline: it is on every access's path). */
  readonly isSet: boolean;
}


/** How a state identifies, keeps and starts with its namespaces. */
export interface NamespaceAccess<N> {
  readonly identity: IdentityFn<N>;
  /** Namespaces are kept as of setCurrentNamespace: a mutable one is copied so later changes do not move stored entries. */
  readonly copy: (namespace: N) => N;
  /** VoidNamespace for non-windowed state; undefined until setCurrentNamespace otherwise. */
  readonly initial: N | undefined;
}

abstract class AbstractHeapState<N> {
  protected namespace: N | undefined;
  private currentNsId: Identity | undefined;
  protected readonly nsIdentity: IdentityFn<N>;

  constructor(
    protected readonly ctx: CurrentKeyContext,
    protected readonly table: StateTable,
    private readonly ns: NamespaceAccess<N>,
  ) {
    this.nsIdentity = ns.identity;
    if (ns.initial !== undefined) this.setCurrentNamespace(ns.initial);
  }

  get name(): string {
    return this.table.meta.name;
  }

  protected copyNamespace(namespace: N): N {
    return this.ns.copy(namespace);
  }

  /** The current namespace's identity; a state used before any namespace was set is a usage error (as in RocksDB). */
  protected get nsId(): Identity {
    if (this.currentNsId === undefined) this.reject('no current namespace set (call setCurrentNamespace first)');
    return this.currentNsId;
  }

  setCurrentNamespace(namespace: N): void {
    checkNamespace(this.name, namespace);
    const kept = this.copyNamespace(namespace);
    // Identity first: a namespace its serializer refuses leaves the current one in place.
    this.currentNsId = this.nsIdentity(kept);
    this.namespace = kept;
  }

  // Every access checks `ctx.isSet` inline and throws from a separate method: building the error's
  // arguments (the state name behind a getter chain) on every call cost measurable time (issue 16).

  /**
   * The value for a caller that may keep or mutate it: values of mutable types are copied on
   * read while a snapshot still needs them (Flink's CopyOnWriteStateMap does the same).
   */
  protected read(): unknown {
    const c = this.ctx;
    if (!c.isSet) this.noCurrentKey();
    // Written out rather than calling getForUpdate: every read goes through here,
    // and the fewer calls, the more of it V8 inlines into the caller.
    const t = this.table;
    const nsId = this.nsId;
    return (t.valuesAreMutable() ? t.getForUpdate(c.currentKeyGroup, c.currentKeyId, nsId) : t.get(c.currentKeyGroup, c.currentKeyId, nsId))?.value;
  }

  protected getForUpdate(nsId = this.nsId): unknown {
    const c = this.ctx;
    if (!c.isSet) this.noCurrentKey();
    return this.table.getForUpdate(c.currentKeyGroup, c.currentKeyId, nsId)?.value;
  }

  protected store(value: unknown, nsId = this.nsId, namespace: unknown = this.namespace): void {
    const c = this.ctx;
    if (!c.isSet) this.noCurrentKey();
    this.table.put(c.currentKeyGroup, c.currentKeyId, c.currentKey, nsId, namespace, value);
  }

  protected removeAt(nsId: Identity): unknown {
    const c = this.ctx;
    if (!c.isSet) this.noCurrentKey();
    return this.table.remove(c.currentKeyGroup, c.currentKeyId, nsId);
  }

  private noCurrentKey(): never {
    this.reject('no current key set (call setCurrentKey first)');
  }

  clear(): void {
    this.removeAt(this.nsId);
  }

  protected reject(detail: string): never {
    throw new IllegalStateUsageError(this.name, detail);
  }
}

export class HeapValueState<N, T> extends AbstractHeapState<N> implements ValueState<T> {
  constructor(
    ctx: CurrentKeyContext,
    table: StateTable,
    ns: NamespaceAccess<N>,
    private readonly serializer: () => TypeSerializer<T>,
    private readonly defaultValue: T | null,
  ) {
    super(ctx, table, ns);
  }

  value(): T | null {
    const v = this.read() as T | undefined;
    if (v !== undefined) return v;
    return this.defaultValue === null || this.defaultValue === undefined ? null : this.serializer().copy(this.defaultValue);
  }

  update(value: T | null): void {
    if (value === null || value === undefined) this.clear();
    else this.store(value);
  }
}

abstract class AbstractMergingState<N> extends AbstractHeapState<N> implements InternalMergingState<N> {
  protected abstract mergeValues(a: unknown, b: unknown): unknown;

  mergeNamespaces(target: N, sources: readonly N[]): void {
    checkNamespace(this.name, target);
    for (const source of sources) checkNamespace(this.name, source);
    const targetId = this.nsIdentity(target);
    let merged: unknown = undefined;
    for (const source of sources) {
      const sid = this.nsIdentity(source);
      if (sid === targetId) continue;
      const v = this.removeAt(sid);
      if (v === undefined) continue;
      merged = merged === undefined ? v : this.mergeValues(merged, v);
    }
    if (merged === undefined) return;
    const existing = this.getForUpdate(targetId);
    this.store(existing === undefined ? merged : this.mergeValues(existing, merged), targetId, this.copyNamespace(target));
  }
}

export class HeapListState<N, T> extends AbstractMergingState<N> implements ListState<T> {
  get(): readonly T[] {
    return (this.read() as T[] | undefined) ?? [];
  }

  add(value: T): void {
    if (value === null || value === undefined) this.reject('list elements must not be null or undefined');
    const list = this.getForUpdate() as T[] | undefined;
    if (list === undefined) this.store([value]);
    else list.push(value);
  }

  addAll(values: readonly T[]): void {
    this.checkList(values);
    if (values.length === 0) return;
    const list = this.getForUpdate() as T[] | undefined;
    if (list === undefined) this.store(values.slice());
    else for (let i = 0; i < values.length; i++) list.push(values[i]!);
  }

  update(values: readonly T[]): void {
    this.checkList(values);
    if (values.length === 0) this.clear();
    else this.store(values.slice());
  }

  // Indexed loops and slice() rather than for-of and spread: lists are copied and checked element
  // by element on every update / addAll, and the iterator protocol cost about as much again.
  private checkList(values: readonly T[]): void {
    if (values === null || values === undefined || !Array.isArray(values)) this.reject('the list of values must not be null');
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v === null || v === undefined) this.reject('list elements must not be null or undefined');
    }
  }

  protected mergeValues(a: unknown, b: unknown): unknown {
    return [...(a as T[]), ...(b as T[])];
  }
}

export class HeapReducingState<N, T> extends AbstractMergingState<N> implements ReducingState<T> {
  constructor(
    ctx: CurrentKeyContext,
    table: StateTable,
    ns: NamespaceAccess<N>,
    private readonly reduce: ReduceFunction<T>,
  ) {
    super(ctx, table, ns);
  }

  get(): T | null {
    return (this.read() as T | undefined) ?? null;
  }

  add(value: T): void {
    if (value === null || value === undefined) this.reject('reducing state does not accept null');
    const cur = this.getForUpdate() as T | undefined;
    this.store(cur === undefined ? value : this.reduce(cur, value));
  }

  protected mergeValues(a: unknown, b: unknown): unknown {
    return this.reduce(a as T, b as T);
  }
}

export class HeapAggregatingState<N, IN, ACC, OUT> extends AbstractMergingState<N> implements AggregatingState<IN, OUT> {
  constructor(
    ctx: CurrentKeyContext,
    table: StateTable,
    ns: NamespaceAccess<N>,
    private readonly fn: AggregateFunction<IN, ACC, OUT>,
  ) {
    super(ctx, table, ns);
  }

  get(): OUT | null {
    const acc = this.read() as ACC | undefined;
    return acc === undefined ? null : this.fn.getResult(acc);
  }

  add(value: IN): void {
    if (value === null || value === undefined) this.reject('aggregating state does not accept null');
    const cur = this.getForUpdate() as ACC | undefined;
    this.store(this.fn.add(value, cur === undefined ? this.fn.createAccumulator() : cur));
  }

  protected mergeValues(a: unknown, b: unknown): unknown {
    return this.fn.merge(a as ACC, b as ACC);
  }
}

export class HeapMapState<N, K, V> extends AbstractHeapState<N> implements MapState<K, V> {
  constructor(
    ctx: CurrentKeyContext,
    table: StateTable,
    ns: NamespaceAccess<N>,
    /** Read on every access: its `mapKeys` (the values' layout) is replaced when a restored state is registered. */
    private readonly reg: Registered,
  ) {
    super(ctx, table, ns);
  }

  private map(): HeapMap | undefined {
    return this.read() as HeapMap | undefined;
  }

  get(key: K): V | null | undefined {
    const m = this.map();
    return m === undefined ? undefined : (this.reg.mapKeys!.get(m, key) as V | null | undefined);
  }

  contains(key: K): boolean {
    const m = this.map();
    return m !== undefined && this.reg.mapKeys!.has(m, key);
  }

  put(key: K, value: V | null): void {
    if (key === null || key === undefined) this.reject('map keys must not be null or undefined');
    const m = this.getForUpdate() as HeapMap | undefined;
    const v = value === undefined ? null : value;
    if (m === undefined) super.store(this.reg.mapKeys!.single(key, v));
    else this.reg.mapKeys!.set(m, key, v);
  }

  putAll(entries: Iterable<readonly [K, V | null]>): void {
    for (const [k, v] of entries) this.put(k, v);
  }

  remove(key: K): void {
    const m = this.getForUpdate() as HeapMap | undefined;
    if (m === undefined) return;
    this.reg.mapKeys!.delete(m, key);
    if (m.size === 0) this.clear();
  }

  isEmpty(): boolean {
    const m = this.map();
    return m === undefined || m.size === 0;
  }

  entries(): MapStateIterator<[K, V | null]> {
    return this.iterator<[K, V | null]>(ENTRY);
  }

  keys(): MapStateIterator<K> {
    return this.iterator<K>(KEY);
  }

  values(): MapStateIterator<V | null> {
    return this.iterator<V | null>(VALUE);
  }

  private iterator<T>(projection: Projection): MapStateIterator<T> {
    const m = this.map();
    if (m === undefined) return new HeapMapIterator<K, V, T>(this, EMPTY_PAIRS, projection);
    const keys = this.reg.mapKeys!;
    // Maps keyed by the user keys themselves: the Map's own keys() / entries() results are handed
    // out as they are (their [key, value] arrays are fresh); tuples are never handed out.
    if (!keys.tupled && projection === KEY) return new HeapMapIterator<K, V, T>(this, m.keys(), KEYS_DIRECT);
    if (!keys.tupled && projection === ENTRY) return new HeapMapIterator<K, V, T>(this, m.entries(), ENTRIES_DIRECT);
    return new HeapMapIterator<K, V, T>(this, keys.entries(m), projection);
  }

  /** For HeapMapIterator.remove(). */
  rejectRemove(): never {
    this.reject('iterator remove() without a preceding next(), or called twice');
  }
}

const EMPTY_PAIRS: Iterator<readonly [unknown, unknown]> = { next: () => ({ done: true, value: undefined }) };

/** What a map iterator hands out of each [key, value] pair of its inner iterator. */
const ENTRY = 0;
const KEY = 1;
const VALUE = 2;
/** The inner iterator yields keys, handed out as they are. */
const KEYS_DIRECT = 3;
/** The inner iterator yields fresh [key, value] arrays, handed out as they are. */
const ENTRIES_DIRECT = 4;
type Projection = typeof ENTRY | typeof KEY | typeof VALUE | typeof KEYS_DIRECT | typeof ENTRIES_DIRECT;

/**
 * The iterator of entries(), keys() and values(): a class rather than a closure-built object, and
 * a projection code rather than a callback, so that iterating costs one object per call and the
 * result objects only (issue 16). remove() removes the last key handed out, as Flink's does.
 */
class HeapMapIterator<K, V, T> implements MapStateIterator<T> {
  private last: K | undefined;
  private canRemove = false;

  constructor(
    private readonly state: { remove(key: K): void; rejectRemove(): never },
    private readonly inner: Iterator<unknown>,
    private readonly projection: Projection,
  ) {}

  next(): IteratorResult<T> {
    const r = this.inner.next();
    if (r.done === true) {
      this.canRemove = false;
      return { done: true, value: undefined };
    }
    this.canRemove = true;
    const p = this.projection;
    if (p === KEYS_DIRECT) {
      this.last = r.value as K;
      return r as IteratorResult<T>;
    }
    if (p === ENTRIES_DIRECT) {
      this.last = (r.value as [K, unknown])[0];
      return r as IteratorResult<T>;
    }
    const [k, v] = r.value as readonly [unknown, unknown];
    this.last = k as K;
    // A fresh [key, value] array per entry: callers may keep what entries() hands out.
    return { done: false, value: (p === KEY ? k : p === VALUE ? v : [k, v]) as T };
  }

  remove(): void {
    if (!this.canRemove) this.state.rejectRemove();
    this.canRemove = false;
    this.state.remove(this.last as K);
  }

  [Symbol.iterator](): this {
    return this;
  }
}
