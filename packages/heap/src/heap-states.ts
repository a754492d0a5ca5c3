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
import type { StateTable } from './state-table.js';

/** What a heap state needs from its backend: the current key, its key group and identity. */
export interface CurrentKeyContext {
  readonly currentKey: unknown;
  readonly currentKeyGroup: number;
  readonly currentKeyId: Identity;
  /** Throws if no key was set. */
  checkKeySet(stateName: string): void;
}

/** Heap map state values: user key identity -> [user key, user value]. */
export type HeapMap = Map<Identity, [unknown, unknown]>;

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

  protected getEntryValue(): unknown {
    const c = this.ctx;
    c.checkKeySet(this.name);
    return this.table.get(c.currentKeyGroup, c.currentKeyId, this.nsId)?.value;
  }

  /**
   * The value for a caller that may keep or mutate it: values of mutable types are copied on
   * read while a snapshot still needs them (Flink's CopyOnWriteStateMap does the same).
   */
  protected read(): unknown {
    return this.table.valuesAreMutable() ? this.getForUpdate() : this.getEntryValue();
  }

  protected getForUpdate(nsId = this.nsId): unknown {
    const c = this.ctx;
    c.checkKeySet(this.name);
    return this.table.getForUpdate(c.currentKeyGroup, c.currentKeyId, nsId)?.value;
  }

  protected store(value: unknown, nsId = this.nsId, namespace: unknown = this.namespace): void {
    const c = this.ctx;
    c.checkKeySet(this.name);
    this.table.put(c.currentKeyGroup, c.currentKeyId, c.currentKey, nsId, namespace, value);
  }

  protected removeAt(nsId: Identity): unknown {
    const c = this.ctx;
    c.checkKeySet(this.name);
    return this.table.remove(c.currentKeyGroup, c.currentKeyId, nsId);
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
    if (list === undefined) this.store([...values]);
    else for (const v of values) list.push(v);
  }

  update(values: readonly T[]): void {
    this.checkList(values);
    if (values.length === 0) this.clear();
    else this.store([...values]);
  }

  private checkList(values: readonly T[]): void {
    if (values === null || values === undefined || !Array.isArray(values)) this.reject('the list of values must not be null');
    for (const v of values) if (v === null || v === undefined) this.reject('list elements must not be null or undefined');
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
    private readonly userKeyIdentity: () => IdentityFn<K>,
  ) {
    super(ctx, table, ns);
  }

  private map(): HeapMap | undefined {
    return this.read() as HeapMap | undefined;
  }

  get(key: K): V | null | undefined {
    return this.map()?.get(this.userKeyIdentity()(key))?.[1] as V | null | undefined;
  }

  contains(key: K): boolean {
    return this.map()?.has(this.userKeyIdentity()(key)) ?? false;
  }

  put(key: K, value: V | null): void {
    this.putEntry(key, value);
  }

  private putEntry(key: K, value: V | null): void {
    if (key === null || key === undefined) this.reject('map keys must not be null or undefined');
    const id = this.userKeyIdentity()(key);
    const m = this.getForUpdate() as HeapMap | undefined;
    const v = value === undefined ? null : value;
    if (m === undefined) super.store(new Map([[id, [key, v]]]));
    else m.set(id, [key, v]);
  }

  putAll(entries: Iterable<readonly [K, V | null]>): void {
    for (const [k, v] of entries) this.putEntry(k, v);
  }

  remove(key: K): void {
    const m = this.getForUpdate() as HeapMap | undefined;
    if (m === undefined) return;
    m.delete(this.userKeyIdentity()(key));
    if (m.size === 0) this.clear();
  }

  isEmpty(): boolean {
    const m = this.map();
    return m === undefined || m.size === 0;
  }

  entries(): MapStateIterator<[K, V | null]> {
    return this.iterate((k, v) => [k, v] as [K, V | null]);
  }

  keys(): MapStateIterator<K> {
    return this.iterate((k) => k);
  }

  values(): MapStateIterator<V | null> {
    return this.iterate((_k, v) => v);
  }

  private iterate<T>(project: (k: K, v: V | null) => T): MapStateIterator<T> {
    const m = this.map();
    const inner = (m ?? new Map<Identity, [unknown, unknown]>()).values();
    let last: K | undefined;
    let canRemove = false;
    const self = this;
    const it: MapStateIterator<T> = {
      next(): IteratorResult<T> {
        const r = inner.next();
        if (r.done === true) {
          canRemove = false;
          return { done: true, value: undefined };
        }
        last = r.value[0] as K;
        canRemove = true;
        return { done: false, value: project(r.value[0] as K, r.value[1] as V | null) };
      },
      remove(): void {
        if (!canRemove) self.reject('iterator remove() without a preceding next(), or called twice');
        canRemove = false;
        self.remove(last as K);
      },
      [Symbol.iterator]() {
        return it;
      },
    };
    return it;
  }
}
