/**
 * TTL decorators (Flink's AbstractTtlState and its subclasses): a TTL'd state is the backend's
 * ordinary state over TtlValue<V> (see ttl-descriptors.ts for the inner descriptor), wrapped here.
 * The decorators implement expiry, visibility, timestamp updates and cleanup on read once for
 * every backend, so heap and KV states behave identically; states without TTL never pass here.
 */
import { IllegalStateUsageError } from '../errors.js';
import { isExpiredAt } from './ttl-config.js';
import type { StateTtlConfig, TtlTimeProvider } from './ttl.js';
import { rejectNull, ttlValue, type TtlValue } from './ttl-value.js';
import type {
  AggregateFunction,
  AggregatingState,
  InternalMapState,
  InternalMergingState,
  ListState,
  MapState,
  MapStateIterator,
  ReducingState,
  State,
  ValueState,
} from './state.js';

/** What a TTL decorator needs from its backend. */
export interface TtlStateContext {
  readonly config: StateTtlConfig;
  /** Processing time, or the watermark for event-time TTL. */
  readonly time: TtlTimeProvider;
  /** Called on every state access: the backend's incremental cleanup, when configured. */
  readonly onAccess: (() => void) | undefined;
}

type Inner<S> = S & { setCurrentNamespace(ns: unknown): void };

/** A marker the inner reducing and aggregating functions recognise: "re-stamp the current value" (OnReadAndWrite). */
export interface TtlRestamp {
  readonly restamp: true;
}
export const TTL_RESTAMP: TtlRestamp = Object.freeze({ restamp: true });

export function isRestamp(v: unknown): v is TtlRestamp {
  return v === TTL_RESTAMP;
}

abstract class AbstractTtlState<S extends State> {
  protected readonly ttlMs: number;
  protected readonly returnExpired: boolean;
  protected readonly updateOnRead: boolean;

  constructor(
    protected readonly name: string,
    protected readonly inner: Inner<S>,
    protected readonly ctx: TtlStateContext,
  ) {
    this.ttlMs = ctx.config.ttlMs;
    this.returnExpired = ctx.config.stateVisibility === 'ReturnExpiredIfNotCleanedUp';
    this.updateOnRead = ctx.config.updateType === 'OnReadAndWrite';
  }

  protected now(): number {
    return this.ctx.time.currentTimestamp();
  }

  protected accessed(): void {
    this.ctx.onAccess?.();
  }

  protected expired(v: TtlValue<unknown>): boolean {
    return isExpiredAt(v.lastAccessTimestamp, this.ttlMs, this.now());
  }

  setCurrentNamespace(namespace: unknown): void {
    this.inner.setCurrentNamespace(namespace);
  }

  mergeNamespaces(target: unknown, sources: readonly unknown[]): void {
    this.accessed();
    const m = this.inner as unknown as Partial<InternalMergingState<unknown>>;
    if (m.mergeNamespaces === undefined) throw new IllegalStateUsageError(this.name, 'this state kind does not merge namespaces');
    m.mergeNamespaces(target, sources);
  }

  clear(): void {
    this.accessed();
    this.inner.clear();
  }

  /**
   * Flink's getWithTtlCheckAndUpdate: an expired value is cleared (cleanup on read) and returned
   * only with ReturnExpiredIfNotCleanedUp; an unexpired one is re-stamped with OnReadAndWrite.
   * `key` is the map key of map state (ignored by the others). What clearing and re-stamping mean
   * is each state's dropExpired / restamp: methods rather than callbacks, so a read allocates no
   * closures (issue 16).
   */
  protected checked<V>(v: TtlValue<V> | null | undefined, key?: unknown): TtlValue<V> | undefined {
    if (v === null || v === undefined) return undefined;
    if (this.expired(v)) {
      this.dropExpired(key);
      return this.returnExpired ? v : undefined;
    }
    if (this.updateOnRead) this.restamp(v, key);
    return v;
  }

  /** Cleanup on read of an expired value (checked). */
  protected dropExpired(_key: unknown): void {
    this.inner.clear();
  }

  /** Re-stamps a value read with OnReadAndWrite (checked); states that never call checked need none. */
  protected restamp(_v: TtlValue<unknown>, _key: unknown): void {
    throw new IllegalStateUsageError(this.name, 'this state kind re-stamps its values itself');
  }
}

export class TtlValueState<T> extends AbstractTtlState<ValueState<TtlValue<T>>> implements ValueState<T> {
  value(): T | null {
    this.accessed();
    const v = this.checked(this.inner.value());
    return v === undefined ? null : v.userValue;
  }

  protected override restamp(old: TtlValue<unknown>): void {
    this.inner.update(ttlValue(old.userValue as T, this.now()));
  }

  update(value: T | null): void {
    this.accessed();
    if (value === null || value === undefined) this.inner.clear();
    else this.inner.update(ttlValue(value, this.now()));
  }
}

export class TtlReducingState<T> extends AbstractTtlState<ReducingState<TtlValue<T>>> implements ReducingState<T> {
  get(): T | null {
    this.accessed();
    const v = this.checked(this.inner.get());
    return v === undefined ? null : v.userValue;
  }

  protected override restamp(): void {
    this.inner.add(TTL_RESTAMP as unknown as TtlValue<T>);
  }

  add(value: T): void {
    this.accessed();
    rejectNull(this.name, value, 'reducing state does not accept null');
    this.inner.add(ttlValue(value, this.now()));
  }
}

export class TtlAggregatingState<IN, ACC, OUT> extends AbstractTtlState<AggregatingState<IN | TtlRestamp, TtlValue<ACC>>> implements AggregatingState<IN, OUT> {
  constructor(
    name: string,
    inner: Inner<AggregatingState<IN | TtlRestamp, TtlValue<ACC>>>,
    ctx: TtlStateContext,
    private readonly fn: AggregateFunction<IN, ACC, OUT>,
  ) {
    super(name, inner, ctx);
  }

  get(): OUT | null {
    this.accessed();
    // The inner function's getResult is the identity: the accumulator is checked here, then the user's getResult applies.
    const v = this.checked(this.inner.get());
    return v === undefined ? null : this.fn.getResult(v.userValue);
  }

  protected override restamp(): void {
    this.inner.add(TTL_RESTAMP);
  }

  add(value: IN): void {
    this.accessed();
    rejectNull(this.name, value, 'aggregating state does not accept null');
    this.inner.add(value);
  }
}

export class TtlListState<T> extends AbstractTtlState<ListState<TtlValue<T>>> implements ListState<T> {
  /**
   * Elements expire one by one (Flink's TtlListState): expired ones are removed on read (the list
   * is rewritten, or cleared when none is left) and returned this once with ReturnExpiredIfNotCleanedUp.
   */
  get(): readonly T[] {
    this.accessed();
    const all = this.inner.get();
    if (all.length === 0) return [];
    const now = this.now();
    const live = all.filter((e) => !isExpiredAt(e.lastAccessTimestamp, this.ttlMs, now));
    if (this.updateOnRead && live.length > 0) this.inner.update(live.map((e) => ttlValue(e.userValue, now)));
    else if (live.length !== all.length) this.writeBack(live);
    return (this.returnExpired ? all : live).map((e) => e.userValue);
  }

  private writeBack(live: readonly TtlValue<T>[]): void {
    if (live.length === 0) this.inner.clear();
    else this.inner.update(live);
  }

  add(value: T): void {
    this.accessed();
    rejectNull(this.name, value, 'list elements must not be null or undefined');
    this.inner.add(ttlValue(value, this.now()));
  }

  addAll(values: readonly T[]): void {
    this.accessed();
    this.inner.addAll(this.wrapAll(values));
  }

  update(values: readonly T[]): void {
    this.accessed();
    this.inner.update(this.wrapAll(values));
  }

  private wrapAll(values: readonly T[]): TtlValue<T>[] {
    if (values === null || values === undefined || !Array.isArray(values)) throw new IllegalStateUsageError(this.name, 'the list of values must not be null');
    for (const v of values) rejectNull(this.name, v, 'list elements must not be null or undefined');
    const now = this.now();
    return values.map((v) => ttlValue(v, now));
  }
}

export class TtlMapState<K, V> extends AbstractTtlState<InternalMapState<K, TtlValue<V | null>>> implements MapState<K, V> {
  /** Map entries expire one by one (Flink's TtlMapState). */
  private getChecked(key: K): TtlValue<V | null> | undefined {
    return this.checked(this.inner.get(key), key);
  }

  protected override dropExpired(key: unknown): void {
    this.inner.remove(key as K);
  }

  protected override restamp(old: TtlValue<unknown>, key: unknown): void {
    this.inner.put(key as K, ttlValue(old.userValue as V | null, this.now()));
  }

  get(key: K): V | null | undefined {
    this.accessed();
    return this.getChecked(key)?.userValue;
  }

  contains(key: K): boolean {
    this.accessed();
    return this.getChecked(key) !== undefined;
  }

  put(key: K, value: V | null): void {
    this.accessed();
    this.inner.put(key, ttlValue(value === undefined ? null : value, this.now()));
  }

  putAll(entries: Iterable<readonly [K, V | null]>): void {
    this.accessed();
    const now = this.now();
    const wrapped: Array<[K, TtlValue<V | null>]> = [];
    for (const [k, v] of entries) wrapped.push([k, ttlValue(v === undefined ? null : v, now)]);
    this.inner.putAll(wrapped);
  }

  remove(key: K): void {
    this.accessed();
    this.inner.remove(key);
  }

  isEmpty(): boolean {
    this.accessed();
    const it = this.iterate((k) => k, false);
    const empty = it.next().done === true;
    // Left after one entry: the inner iterator lets go of its scan buffer now.
    it.return!();
    return empty;
  }

  entries(): MapStateIterator<[K, V | null]> {
    this.accessed();
    return this.iterate((k, v) => [k, v] as [K, V | null], true);
  }

  keys(): MapStateIterator<K> {
    this.accessed();
    return this.iterate((k) => k, true);
  }

  values(): MapStateIterator<V | null> {
    this.accessed();
    return this.iterate((_k, v) => v, true);
  }

  /**
   * Iterates the inner entries: expired ones are removed through the inner iterator (cleanup on
   * read) and yielded only with ReturnExpiredIfNotCleanedUp; with OnReadAndWrite every entry
   * yielded is re-stamped (when `restamp`: isEmpty reads without touching). Both go through the
   * inner iterator, into the map the iteration began on: the state itself (put) writes to the
   * current key's map, and the caller may have switched keys between two next() calls.
   */
  private iterate<R>(project: (k: K, v: V | null) => R, restamp: boolean): MapStateIterator<R> {
    const inner = this.inner.entries();
    const self = this;
    let removedCurrent = false;
    const it: MapStateIterator<R> = {
      next(): IteratorResult<R> {
        for (;;) {
          const r = inner.next();
          if (r.done === true) return { done: true, value: undefined };
          const k = r.value[0];
          // Inner map values are TtlValues, never null (the user value inside may be).
          const v = r.value[1]!;
          removedCurrent = false;
          const now = self.now();
          if (isExpiredAt(v.lastAccessTimestamp, self.ttlMs, now)) {
            inner.remove();
            removedCurrent = true;
            if (!self.returnExpired) continue;
          } else if (restamp && self.updateOnRead) {
            inner.setValue(ttlValue(v.userValue, now));
          }
          return { done: false, value: project(k, v.userValue) };
        }
      },
      remove(): void {
        // An expired entry handed out with ReturnExpiredIfNotCleanedUp is already gone.
        if (removedCurrent) {
          removedCurrent = false;
          return;
        }
        inner.remove();
      },
      // Left before its end (`break`): the inner iterator releases what it holds (KvMapState's scan buffer).
      return(): IteratorResult<R> {
        inner.return?.();
        return { done: true, value: undefined };
      },
      [Symbol.iterator]() {
        return it;
      },
    };
    return it;
  }
}
