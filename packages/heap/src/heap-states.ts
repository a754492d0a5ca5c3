import {
  checkNamespace,
  IllegalStateUsageError,
  type AggregateFunction,
  type AggregatingState,
  type InternalMapState,
  type InternalMapStateIterator,
  type InternalMergingState,
  type ListState,
  type MapStateIterator,
  type ReduceFunction,
  type ReducingState,
  type TypeSerializer,
  type ValueState,
  type Identity,
  type IdentityFn,
} from '@flowstate/core';
import type { HeapMap, HeapMapKeys } from './heap-map.js';
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
  // The accessors below run on every state access: each checks the current key and namespace
  // inline (one branch) and reads the table's fields itself, so that V8 inlines all of it into
  // the caller within its inlining budget (issue 16).
  protected read(): unknown {
    const c = this.ctx;
    const nsId = this.currentNsId;
    if (c.isSet !== true || nsId === undefined) this.notReady();
    const e = this.table.getForRead(c.currentKeyGroup, c.currentKeyId, nsId);
    return e === undefined ? undefined : e.value;
  }

  /** The current namespace's value, safe to mutate in place (see StateTable.getForUpdate). */
  protected readForUpdate(): unknown {
    const c = this.ctx;
    const nsId = this.currentNsId;
    if (c.isSet !== true || nsId === undefined) this.notReady();
    const e = this.table.getForUpdate(c.currentKeyGroup, c.currentKeyId, nsId);
    return e === undefined ? undefined : e.value;
  }

  /** Stores the current namespace's value. */
  protected write(value: unknown): void {
    const c = this.ctx;
    const nsId = this.currentNsId;
    if (c.isSet !== true || nsId === undefined) this.notReady();
    this.table.put(c.currentKeyGroup, c.currentKeyId, c.currentKey, nsId, this.namespace, value);
  }

  protected getForUpdate(nsId: Identity): unknown {
    const c = this.ctx;
    if (c.isSet !== true) this.noCurrentKey();
    return this.table.getForUpdate(c.currentKeyGroup, c.currentKeyId, nsId)?.value;
  }

  protected store(value: unknown, nsId: Identity, namespace: unknown): void {
    const c = this.ctx;
    if (c.isSet !== true) this.noCurrentKey();
    this.table.put(c.currentKeyGroup, c.currentKeyId, c.currentKey, nsId, namespace, value);
  }

  protected removeAt(nsId: Identity): unknown {
    const c = this.ctx;
    if (c.isSet !== true) this.noCurrentKey();
    return this.table.remove(c.currentKeyGroup, c.currentKeyId, nsId);
  }

  /** The usage error of an access without a current key or namespace. */
  private notReady(): never {
    if (!this.ctx.isSet) this.noCurrentKey();
    return this.reject('no current namespace set (call setCurrentNamespace first)');
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
    else this.write(value);
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
    const list = this.readForUpdate() as T[] | undefined;
    if (list === undefined) this.write([value]);
    else list.push(value);
  }

  addAll(values: readonly T[]): void {
    this.checkList(values);
    if (values.length === 0) return;
    const list = this.readForUpdate() as T[] | undefined;
    if (list === undefined) this.write(values.slice());
    else for (let i = 0; i < values.length; i++) list.push(values[i]!);
  }

  update(values: readonly T[]): void {
    this.checkList(values);
    if (values.length === 0) this.clear();
    else this.write(values.slice());
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
    const cur = this.readForUpdate() as T | undefined;
    this.write(cur === undefined ? value : this.reduce(cur, value));
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
    const cur = this.readForUpdate() as ACC | undefined;
    this.write(this.fn.add(value, cur === undefined ? this.fn.createAccumulator() : cur));
  }

  protected mergeValues(a: unknown, b: unknown): unknown {
    return this.fn.merge(a as ACC, b as ACC);
  }
}

export class HeapMapState<N, K, V> extends AbstractHeapState<N> implements InternalMapState<K, V>, OriginMap<K> {
  constructor(
    ctx: CurrentKeyContext,
    table: StateTable,
    ns: NamespaceAccess<N>,
    reg: Registered,
  ) {
    super(ctx, table, ns);
    // The layout is final here: a restored state's is resolved by its first registration, before
    // any state object is created for it (HeapKeyedStateBackend.applyRestored asserts this).
    this.layout = reg.mapKeys!;
    this.tupled = this.layout.tupled;
  }

  /** How the values are keyed (HeapMapKeys), and whether by tuples: fields, read on every access (tested with ===: see setCurrentKey). */
  private readonly layout: HeapMapKeys;
  private readonly tupled: boolean;

  private map(): HeapMap | undefined {
    return this.read() as HeapMap | undefined;
  }

  // Maps keyed by the user keys themselves (HeapMapKeys.tupled false, the common case) are read
  // and written here directly; the layout object handles tuples.
  get(key: K): V | null | undefined {
    const m = this.read() as HeapMap | undefined;
    if (m === undefined) return undefined;
    return (this.tupled === true ? this.layout.get(m, key) : m.get(key as Identity)) as V | null | undefined;
  }

  contains(key: K): boolean {
    const m = this.read() as HeapMap | undefined;
    if (m === undefined) return false;
    return this.tupled === true ? this.layout.has(m, key) : m.has(key as Identity);
  }

  put(key: K, value: V | null): void {
    if (key === null || key === undefined) this.reject('map keys must not be null or undefined');
    const m = this.readForUpdate() as HeapMap | undefined;
    const v = value === undefined ? null : value;
    if (m === undefined) this.write(this.layout.single(key, v));
    else if (this.tupled === true) this.layout.set(m, key, v);
    else m.set(key as Identity, v);
  }

  // One lookup for all entries (not one put each); keys are checked first, so that a refused
  // batch leaves the map as it was.
  putAll(entries: Iterable<readonly [K, V | null]>): void {
    const list = Array.isArray(entries) ? (entries as ReadonlyArray<readonly [K, V | null]>) : [...entries];
    if (list.length === 0) return;
    for (let i = 0; i < list.length; i++) {
      const k = list[i]![0];
      if (k === null || k === undefined) this.reject('map keys must not be null or undefined');
    }
    const keys = this.layout;
    let m = this.readForUpdate() as HeapMap | undefined;
    if (m === undefined) this.write((m = new Map()));
    for (let i = 0; i < list.length; i++) {
      const [k, v] = list[i]!;
      keys.set(m, k, v === undefined ? null : v);
    }
  }

  remove(key: K): void {
    const m = this.readForUpdate() as HeapMap | undefined;
    if (m === undefined) return;
    if (this.tupled === true) this.layout.delete(m, key);
    else m.delete(key as Identity);
    if (m.size === 0) this.clear();
  }

  /** remove(key) on the map of an iterator's origin (see MapOrigin), through the copy-on-write path as remove(). */
  removeFromOrigin(o: MapOrigin<K>, key: K): void {
    const e = this.table.getForUpdate(o.keyGroup, o.keyId, o.nsId);
    if (e === undefined) return;
    const m = e.value as HeapMap;
    this.layout.delete(m, key);
    if (m.size === 0) this.table.remove(o.keyGroup, o.keyId, o.nsId);
  }

  /** put(key, value) on the map of an iterator's origin (see MapOrigin), through the copy-on-write path as put(). */
  putAtOrigin(o: MapOrigin<K>, key: K, value: unknown): void {
    const e = this.table.getForUpdate(o.keyGroup, o.keyId, o.nsId);
    if (e !== undefined) this.layout.set(e.value as HeapMap, key, value);
    else this.table.put(o.keyGroup, o.keyId, o.key, o.nsId, o.namespace, this.layout.single(key, value));
  }

  isEmpty(): boolean {
    const m = this.map();
    return m === undefined || m.size === 0;
  }

  // Maps keyed by the user keys themselves get iterators over the Map's own iterators; the general
  // case (no map, tuples) is one method, so that these stay small for V8's inlining budget.
  entries(): InternalMapStateIterator<[K, V | null], V | null> {
    const m = this.read() as HeapMap | undefined;
    // The Map's own fresh [key, value] arrays, as they are.
    if (m !== undefined && this.tupled === false) return new DirectEntriesIterator<K, [K, V | null]>(this.origin(), m.entries());
    return this.projecting(m, ENTRY);
  }

  keys(): MapStateIterator<K> {
    const m = this.read() as HeapMap | undefined;
    if (m !== undefined && this.tupled === false) return new DirectKeysIterator<K>(this.origin(), m.keys() as Iterator<K>);
    return this.projecting(m, KEY);
  }

  values(): MapStateIterator<V | null> {
    const m = this.read() as HeapMap | undefined;
    if (m !== undefined && this.tupled === false) return new DirectValuesIterator<K, V | null>(this.origin(), m);
    return this.projecting(m, VALUE);
  }

  private projecting<T>(m: HeapMap | undefined, projection: Projection): ProjectingIterator<K, T> {
    return new ProjectingIterator<K, T>(this.origin(), m === undefined ? EMPTY_PAIRS : this.layout.entries(m), projection);
  }

  /** The map an iterator created now iterates: the current key's and namespace's (read() checked both are set). */
  private origin(): MapOrigin<K> {
    const c = this.ctx;
    return { state: this, keyGroup: c.currentKeyGroup, keyId: c.currentKeyId, key: c.currentKey, nsId: this.nsId, namespace: this.namespace };
  }

  /** For the iterators' remove() and setValue() without an entry to act on. */
  rejectIteratorCall(detail: string): never {
    this.reject(detail);
  }
}

const EMPTY_PAIRS: Iterator<readonly [unknown, unknown]> = { next: () => ({ done: true, value: undefined }) };

/** What a ProjectingIterator hands out of each [key, value] pair of its inner iterator. */
const ENTRY = 0;
const KEY = 1;
const VALUE = 2;
type Projection = typeof ENTRY | typeof KEY | typeof VALUE;

/** What a map iterator needs from its state (remove() removes the last key handed out, as Flink's does). */
interface OriginMap<K> {
  removeFromOrigin(origin: MapOrigin<K>, key: K): void;
  putAtOrigin(origin: MapOrigin<K>, key: K, value: unknown): void;
  rejectIteratorCall(detail: string): never;
}

/**
 * The map a map iterator was created on: the key (group, identity, object) and namespace (identity,
 * object) current then. Its remove() and setValue() act on that map, whatever the current key and
 * namespace are by the time they are called (a loop body may well switch keys), as a KV backend's
 * iterator acts on the rows it read. They go through the table (StateTable.getForUpdate), never
 * the map being iterated: a running snapshot may hold that one, with a copy in the live entry.
 */
interface MapOrigin<K> {
  readonly state: OriginMap<K>;
  readonly keyGroup: number;
  readonly keyId: Identity;
  readonly key: unknown;
  readonly nsId: Identity;
  readonly namespace: unknown;
}

/**
 * The iterators of entries(), keys() and values(): classes rather than closure-built objects, one
 * per layout and projection so that each next() is small enough to inline into the caller's loop
 * (issue 16). They cost one object per call plus what the Map's own iterators allocate.
 *
 * No common base class: V8 (11.3, Node 20) did not inline a base class's constructor (the
 * super() call) into the caller's loop, so each iterator cost a real call on top of its
 * allocation. Standalone, per call over 10 entries (valgrind instruction counts, session 9):
 * values() 9–17% fewer, keys() 7%, entries() 6%, an explicit next() loop over entries() 22% (the
 * number of young-generation collections, i.e. what is allocated, did not change). What they
 * share is removeLast() (and the entries iterators setLastValue()).
 */

/** remove() of every map iterator: the key handed out last, at most once per next(). */
function removeLast<K>(origin: MapOrigin<K>, canRemove: boolean, last: K | undefined): void {
  if (!canRemove) origin.state.rejectIteratorCall('iterator remove() without a preceding next(), or called twice');
  origin.state.removeFromOrigin(origin, last as K);
}

/** setValue() of the entries iterators: the value of the key handed out last (user keys are never undefined). */
function setLastValue<K>(origin: MapOrigin<K>, last: K | undefined, value: unknown): void {
  if (last === undefined) origin.state.rejectIteratorCall('iterator setValue() without a preceding next()');
  origin.state.putAtOrigin(origin, last, value);
}

/** keys() of a map keyed by the user keys: the Map's own results, as they are. */
class DirectKeysIterator<K> implements MapStateIterator<K> {
  private last: K | undefined = undefined;
  private canRemove = false;

  constructor(
    private readonly origin: MapOrigin<K>,
    private readonly inner: Iterator<K>,
  ) {}

  next(): IteratorResult<K> {
    const r = this.inner.next();
    this.canRemove = r.done !== true;
    this.last = r.value as K;
    return r;
  }

  remove(): void {
    const can = this.canRemove;
    this.canRemove = false;
    removeLast(this.origin, can, this.last);
  }

  [Symbol.iterator](): this {
    return this;
  }
}

/** entries() of a map keyed by the user keys: the Map's own fresh [key, value] arrays, as they are. */
class DirectEntriesIterator<K, T> implements InternalMapStateIterator<T, unknown> {
  private last: K | undefined = undefined;
  private canRemove = false;

  constructor(
    private readonly origin: MapOrigin<K>,
    private readonly inner: Iterator<[Identity, unknown]>,
  ) {}

  next(): IteratorResult<T> {
    const r = this.inner.next();
    this.canRemove = r.done !== true;
    if (this.canRemove) this.last = r.value[0] as K;
    return r as unknown as IteratorResult<T>;
  }

  remove(): void {
    const can = this.canRemove;
    this.canRemove = false;
    removeLast(this.origin, can, this.last);
  }

  setValue(value: unknown): void {
    setLastValue(this.origin, this.last, value);
  }

  [Symbol.iterator](): this {
    return this;
  }
}

/**
 * values() of a map keyed by the user keys: the Map's own values iterator, with its keys iterator
 * walked in step for remove() (both iterate the same Map, so they stand on the same entry whatever
 * changes in between). Before, each value was looked up again by its key: a generic Map lookup per
 * entry, as the key's type is unknown there (issue 16). A keys iterator made only when remove()
 * is called cannot find its entry by counting steps once the state removed an entry the values had
 * passed; keeping it right needs the state to reach the iterator, which then no longer stays in
 * registers and cost as much as the stepping it saved (session 9).
 */
class DirectValuesIterator<K, T> implements MapStateIterator<T> {
  private last: K | undefined = undefined;
  private canRemove = false;
  private readonly inner: Iterator<unknown>;
  private readonly keys: Iterator<Identity>;

  constructor(
    private readonly origin: MapOrigin<K>,
    map: HeapMap,
  ) {
    this.inner = map.values();
    this.keys = map.keys();
  }

  next(): IteratorResult<T> {
    const r = this.inner.next();
    const k = this.keys.next();
    this.canRemove = r.done !== true;
    this.last = k.value as K;
    return r as IteratorResult<T>;
  }

  remove(): void {
    const can = this.canRemove;
    this.canRemove = false;
    removeLast(this.origin, can, this.last);
  }

  [Symbol.iterator](): this {
    return this;
  }
}

/** Any layout: projects the [key, value] pairs of HeapMapKeys.entries, a fresh result per entry. */
class ProjectingIterator<K, T> implements InternalMapStateIterator<T, unknown> {
  private last: K | undefined = undefined;
  private canRemove = false;

  constructor(
    private readonly origin: MapOrigin<K>,
    private readonly inner: Iterator<readonly [unknown, unknown]>,
    private readonly projection: Projection,
  ) {}

  next(): IteratorResult<T> {
    const r = this.inner.next();
    if (r.done === true) {
      this.canRemove = false;
      return { done: true, value: undefined };
    }
    this.canRemove = true;
    const [k, v] = r.value;
    this.last = k as K;
    const p = this.projection;
    // A fresh [key, value] array per entry: callers may keep what entries() hands out.
    return { done: false, value: (p === KEY ? k : p === VALUE ? v : [k, v]) as T };
  }

  remove(): void {
    const can = this.canRemove;
    this.canRemove = false;
    removeLast(this.origin, can, this.last);
  }

  setValue(value: unknown): void {
    setLastValue(this.origin, this.last, value);
  }

  [Symbol.iterator](): this {
    return this;
  }
}
