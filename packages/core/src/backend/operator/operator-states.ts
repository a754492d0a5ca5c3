import { IllegalStateUsageError } from '../../errors.js';
import type { TypeSerializer } from '../../serialization/type-serializer.js';
import type { BroadcastState, ListState, MapStateIterator } from '../../state/state.js';
import type { Identity, IdentityFn } from '../identity.js';

/** A registered list state (split or union); `list` is replaced by update() and clear(). */
export interface ListEntry {
  readonly mode: 'SPLIT_DISTRIBUTE' | 'UNION';
  readonly serializer: TypeSerializer<unknown>;
  list: unknown[];
}

/** A registered broadcast state: entries by key identity, key kept for iteration. */
export interface BroadcastEntry {
  readonly keySerializer: TypeSerializer<unknown>;
  readonly valueSerializer: TypeSerializer<unknown>;
  readonly identity: IdentityFn<unknown>;
  readonly map: Map<Identity, [unknown, unknown]>;
}

export class OperatorListState<T> implements ListState<T> {
  constructor(
    private readonly name: string,
    private readonly entry: ListEntry,
  ) {}
  private check(v: unknown): void {
    if (v === null || v === undefined) throw new IllegalStateUsageError(this.name, 'list elements must not be null or undefined');
  }
  get(): readonly T[] {
    return this.entry.list as T[];
  }
  add(value: T): void {
    this.check(value);
    this.entry.list.push(value);
  }
  addAll(values: readonly T[]): void {
    if (values === null || values === undefined) throw new IllegalStateUsageError(this.name, 'the list of values must not be null');
    values.forEach((v) => this.check(v));
    this.entry.list.push(...values);
  }
  update(values: readonly T[]): void {
    if (values === null || values === undefined) throw new IllegalStateUsageError(this.name, 'the list of values must not be null');
    values.forEach((v) => this.check(v));
    this.entry.list = [...values];
  }
  clear(): void {
    this.entry.list = [];
  }
}

export class OperatorBroadcastState<K, V> implements BroadcastState<K, V> {
  constructor(
    private readonly name: string,
    private readonly entry: BroadcastEntry,
  ) {}
  get(key: K): V | null | undefined {
    return this.entry.map.get(this.entry.identity(key))?.[1] as V | null | undefined;
  }
  contains(key: K): boolean {
    return this.entry.map.has(this.entry.identity(key));
  }
  put(key: K, value: V | null): void {
    if (key === null || key === undefined) throw new IllegalStateUsageError(this.name, 'broadcast state keys must not be null');
    this.entry.map.set(this.entry.identity(key), [key, value ?? null]);
  }
  putAll(entries: Iterable<readonly [K, V | null]>): void {
    for (const [k, v] of entries) this.put(k, v);
  }
  remove(key: K): void {
    this.entry.map.delete(this.entry.identity(key));
  }
  clear(): void {
    this.entry.map.clear();
  }
  immutableEntries(): IterableIterator<[K, V | null]> {
    return [...this.entry.map.values()].map(([k, v]) => [k, v] as [K, V | null])[Symbol.iterator]();
  }
  entries(): MapStateIterator<[K, V | null]> {
    const inner = this.entry.map.values();
    let last: K | undefined;
    let canRemove = false;
    const it: MapStateIterator<[K, V | null]> = {
      next: () => {
        const r = inner.next();
        if (r.done === true) return { done: true, value: undefined };
        last = r.value[0] as K;
        canRemove = true;
        return { done: false, value: [r.value[0] as K, r.value[1] as V | null] };
      },
      remove: () => {
        if (!canRemove) throw new IllegalStateUsageError(this.name, 'iterator remove() without a preceding next(), or called twice');
        canRemove = false;
        this.remove(last as K);
      },
      [Symbol.iterator]: () => it,
    };
    return it;
  }
}
