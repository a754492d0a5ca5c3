import {
  checkNamespace,
  DataInputDeserializer,
  deserializeExact,
  DataOutputSerializer,
  IllegalStateUsageError,
  type AggregateFunction,
  type AggregatingState,
  type ListSerializer,
  type ListState,
  type MapSerializer,
  type MapState,
  type MapStateIterator,
  type ReduceFunction,
  type ReducingState,
  type TypeSerializer,
  type ValueState,
} from '@flowstate/core';
import { decodeListElements, type ColumnFamily, type RocksDB } from '../native.js';

/** What a RocksDB state needs from its backend. */
export interface RocksStateContext {
  readonly db: RocksDB;
  /** [key group][lp(key)] of the current key. Throws if no key is set. */
  currentKeyPrefix(stateName: string): Uint8Array;
}

/** A registered state's column family and current serializers (they change on migration). */
export interface RocksStateInfo {
  readonly name: string;
  readonly cf: ColumnFamily;
  namespaceSerializer: TypeSerializer<unknown>;
  stateSerializer: TypeSerializer<unknown>;
}

abstract class AbstractRocksState<N> {
  /** lp(serialized namespace); undefined until a namespace is set (states of windowed operators). */
  private nsBytesOrUndefined: Uint8Array | undefined;
  protected readonly keyOut = new DataOutputSerializer(64);
  protected readonly valueOut = new DataOutputSerializer(64);

  constructor(
    protected readonly ctx: RocksStateContext,
    protected readonly info: RocksStateInfo,
    initialNamespace: N,
  ) {
    if (initialNamespace !== undefined) this.setCurrentNamespace(initialNamespace);
  }

  protected get nsBytes(): Uint8Array {
    if (this.nsBytesOrUndefined === undefined) this.reject('no current namespace set (call setCurrentNamespace first)');
    return this.nsBytesOrUndefined;
  }

  get name(): string {
    return this.info.name;
  }

  setCurrentNamespace(namespace: N): void {
    checkNamespace(this.name, namespace);
    // Same immutable namespace as before (the common case, e.g. VoidNamespace): nothing to redo.
    if (this.nsBytesOrUndefined !== undefined && namespace === this.lastNamespace && (typeof namespace !== 'object' || namespace === null || Object.isFrozen(namespace))) return;
    this.nsBytesOrUndefined = this.nsBytesOf(namespace);
    this.lastNamespace = namespace;
  }

  private lastNamespace: N | undefined;

  /** lp(serialized namespace). */
  protected nsBytesOf(namespace: N): Uint8Array {
    const o = this.valueOut;
    o.clear();
    this.info.namespaceSerializer.serialize(namespace, o);
    const inner = o.bytesView();
    const out = new DataOutputSerializer(inner.length + 5);
    out.writeLengthPrefixed(inner);
    return out.toBytes();
  }

  /** [kg][lp(key)][lp(ns)] for the current key and the given namespace bytes; valid until the next call. */
  protected rowKey(ns: Uint8Array = this.nsBytes): Uint8Array {
    const k = this.keyOut;
    k.clear();
    k.writeBytes(this.ctx.currentKeyPrefix(this.name));
    k.writeBytes(ns);
    return k.bytesView();
  }

  protected serializeValue(v: unknown): Uint8Array {
    const o = this.valueOut;
    o.clear();
    this.info.stateSerializer.serialize(v, o);
    return o.bytesView();
  }

  clear(): void {
    this.ctx.db.delete(this.info.cf, this.rowKey());
  }

  protected reject(detail: string): never {
    throw new IllegalStateUsageError(this.name, detail);
  }
}

export class RocksValueState<N, T> extends AbstractRocksState<N> implements ValueState<T> {
  constructor(
    ctx: RocksStateContext,
    info: RocksStateInfo,
    namespace: N,
    private readonly defaultValue: T | null,
  ) {
    super(ctx, info, namespace);
  }

  value(): T | null {
    const bytes = this.ctx.db.get(this.info.cf, this.rowKey());
    if (bytes !== undefined) return deserializeExact(this.info.stateSerializer as TypeSerializer<T>, bytes, 'value');
    const d = this.defaultValue;
    return d === null || d === undefined ? null : (this.info.stateSerializer as TypeSerializer<T>).copy(d);
  }

  update(value: T | null): void {
    if (value === null || value === undefined) {
      this.clear();
      return;
    }
    const key = this.rowKey();
    this.ctx.db.put(this.info.cf, key, this.serializeValue(value));
  }
}

/** Base of the states that merge namespaces: values are read, merged and written back. */
abstract class AbstractMergingRocksState<N> extends AbstractRocksState<N> {
  protected abstract mergeRaw(target: Uint8Array | undefined, source: Uint8Array): Uint8Array;

  mergeNamespaces(target: N, sources: readonly N[]): void {
    checkNamespace(this.name, target);
    for (const s of sources) checkNamespace(this.name, s);
    const tns = this.nsBytesOf(target);
    let merged: Uint8Array | undefined;
    for (const s of sources) {
      const sns = this.nsBytesOf(s);
      if (Buffer.compare(sns, tns) === 0) continue;
      const k = this.rowKey(sns).slice();
      const v = this.ctx.db.get(this.info.cf, k);
      if (v === undefined) continue;
      this.ctx.db.delete(this.info.cf, k);
      merged = merged === undefined ? v : this.mergeRaw(merged, v);
    }
    if (merged === undefined) return;
    const tk = this.rowKey(tns).slice();
    const existing = this.ctx.db.get(this.info.cf, tk);
    this.ctx.db.put(this.info.cf, tk, existing === undefined ? merged : this.mergeRaw(existing, merged));
  }
}

/** List state: elements stored as [u32 length][bytes]..., appended with the list-append merge operator. */
export class RocksListState<N, T> extends AbstractMergingRocksState<N> implements ListState<T> {
  private get elementSerializer(): TypeSerializer<T> {
    return (this.info.stateSerializer as ListSerializer<T>).elementSerializer;
  }

  private readonly listOut = new DataOutputSerializer(256);

  /** Elements in the merge operator's format, [u32 length][bytes]..., serialized in one buffer. */
  private encode(values: readonly T[]): Uint8Array {
    const o = this.listOut;
    o.clear();
    const es = this.elementSerializer;
    for (const v of values) {
      if (v === null || v === undefined) this.reject('list elements must not be null or undefined');
      const at = o.length;
      o.writeUint32(0);
      es.serialize(v, o);
      o.writeUint32At(at, o.length - at - 4);
    }
    return o.bytesView();
  }

  get(): readonly T[] {
    const bytes = this.ctx.db.get(this.info.cf, this.rowKey());
    if (bytes === undefined) return [];
    const es = this.elementSerializer;
    return decodeListElements(bytes).map((e) => deserializeExact(es, e, 'list element'));
  }

  add(value: T): void {
    const e = this.encode([value]);
    this.ctx.db.merge(this.info.cf, this.rowKey(), e);
  }

  addAll(values: readonly T[]): void {
    this.checkList(values);
    if (values.length === 0) return;
    this.ctx.db.merge(this.info.cf, this.rowKey(), this.encode(values));
  }

  update(values: readonly T[]): void {
    this.checkList(values);
    if (values.length === 0) {
      this.clear();
      return;
    }
    this.ctx.db.put(this.info.cf, this.rowKey(), this.encode(values));
  }

  private checkList(values: readonly T[]): void {
    if (values === null || values === undefined || !Array.isArray(values)) this.reject('the list of values must not be null');
    for (const v of values) if (v === null || v === undefined) this.reject('list elements must not be null or undefined');
  }

  protected mergeRaw(target: Uint8Array | undefined, source: Uint8Array): Uint8Array {
    return target === undefined ? source : Buffer.concat([target, source]);
  }
}

export class RocksReducingState<N, T> extends AbstractMergingRocksState<N> implements ReducingState<T> {
  constructor(
    ctx: RocksStateContext,
    info: RocksStateInfo,
    namespace: N,
    private readonly reduce: ReduceFunction<T>,
  ) {
    super(ctx, info, namespace);
  }

  get(): T | null {
    const bytes = this.ctx.db.get(this.info.cf, this.rowKey());
    return bytes === undefined ? null : deserializeExact(this.info.stateSerializer as TypeSerializer<T>, bytes, 'value');
  }

  add(value: T): void {
    if (value === null || value === undefined) this.reject('reducing state does not accept null');
    const cur = this.get();
    const next = cur === null ? value : this.reduce(cur, value);
    const key = this.rowKey().slice();
    this.ctx.db.put(this.info.cf, key, this.serializeValue(next));
  }

  protected mergeRaw(target: Uint8Array | undefined, source: Uint8Array): Uint8Array {
    const s = this.info.stateSerializer as TypeSerializer<T>;
    if (target === undefined) return source;
    return this.serializeValue(this.reduce(deserializeExact(s, target, 'value'), deserializeExact(s, source, 'value'))).slice();
  }
}

export class RocksAggregatingState<N, IN, ACC, OUT> extends AbstractMergingRocksState<N> implements AggregatingState<IN, OUT> {
  constructor(
    ctx: RocksStateContext,
    info: RocksStateInfo,
    namespace: N,
    private readonly fn: AggregateFunction<IN, ACC, OUT>,
  ) {
    super(ctx, info, namespace);
  }

  private acc(): ACC | undefined {
    const bytes = this.ctx.db.get(this.info.cf, this.rowKey());
    return bytes === undefined ? undefined : deserializeExact(this.info.stateSerializer as TypeSerializer<ACC>, bytes, 'value');
  }

  get(): OUT | null {
    const a = this.acc();
    return a === undefined ? null : this.fn.getResult(a);
  }

  add(value: IN): void {
    if (value === null || value === undefined) this.reject('aggregating state does not accept null');
    const a = this.acc();
    const next = this.fn.add(value, a === undefined ? this.fn.createAccumulator() : a);
    const key = this.rowKey().slice();
    this.ctx.db.put(this.info.cf, key, this.serializeValue(next));
  }

  protected mergeRaw(target: Uint8Array | undefined, source: Uint8Array): Uint8Array {
    const s = this.info.stateSerializer as TypeSerializer<ACC>;
    if (target === undefined) return source;
    return this.serializeValue(this.fn.merge(deserializeExact(s, target, 'value'), deserializeExact(s, source, 'value'))).slice();
  }
}

/** Map state: one row per user key, [kg][key][ns][user key] -> [presence byte][value]. */
export class RocksMapState<N, K, V> extends AbstractRocksState<N> implements MapState<K, V> {
  private get ser(): MapSerializer<K, V> {
    return this.info.stateSerializer as unknown as MapSerializer<K, V>;
  }

  private userRow(key: K): Uint8Array {
    if (key === null || key === undefined) this.reject('map keys must not be null or undefined');
    const k = this.keyOut;
    k.clear();
    k.writeBytes(this.ctx.currentKeyPrefix(this.name));
    k.writeBytes(this.nsBytes);
    this.ser.keySerializer.serialize(key, k);
    return k.bytesView();
  }

  private decodeValue(bytes: Uint8Array): V | null {
    const input = new DataInputDeserializer(bytes);
    const v = this.ser.deserializeNullableValue(input);
    if (input.remaining !== 0) input.fail('map value has trailing bytes');
    return v;
  }

  get(key: K): V | null | undefined {
    const bytes = this.ctx.db.get(this.info.cf, this.userRow(key));
    return bytes === undefined ? undefined : this.decodeValue(bytes);
  }

  contains(key: K): boolean {
    return this.ctx.db.get(this.info.cf, this.userRow(key)) !== undefined;
  }

  put(key: K, value: V | null): void {
    const row = this.userRow(key).slice();
    const o = this.valueOut;
    o.clear();
    this.ser.serializeNullableValue(value === undefined ? null : value, o);
    this.ctx.db.put(this.info.cf, row, o.bytesView());
  }

  putAll(entries: Iterable<readonly [K, V | null]>): void {
    for (const [k, v] of entries) this.put(k, v);
  }

  remove(key: K): void {
    this.ctx.db.delete(this.info.cf, this.userRow(key));
  }

  override clear(): void {
    const prefix = this.rowKey().slice();
    this.ctx.db.deleteRange(this.info.cf, prefix, prefixEnd(prefix));
  }

  isEmpty(): boolean {
    const prefix = this.rowKey().slice();
    const it = this.ctx.db.iterator(this.info.cf, { lowerBound: prefix, upperBound: prefixEnd(prefix) });
    try {
      it.seekToFirst();
      return !it.valid();
    } finally {
      it.close();
    }
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

  /** Reads the user entries of the current key and namespace in batches, like Flink's RocksDBMapIterator. */
  private iterate<T>(project: (k: K, v: V | null) => T): MapStateIterator<T> {
    const prefix = this.rowKey().slice();
    const upper = prefixEnd(prefix);
    const db = this.ctx.db;
    const cf = this.info.cf;
    const ks = this.ser.keySerializer;
    let batch: Array<[Uint8Array, Uint8Array]> = [];
    let pos = 0;
    let lastRow: Uint8Array | undefined;
    let done = false;
    let canRemove = false;
    const fetch = () => {
      const it = db.iterator(cf, { lowerBound: lastRow === undefined ? prefix : lastRow, upperBound: upper });
      try {
        it.seekToFirst();
        if (lastRow !== undefined && it.valid() && Buffer.compare(it.key(), lastRow) === 0) it.next();
        batch = it.valid() ? it.nextBatch(128) : [];
      } finally {
        it.close();
      }
      pos = 0;
      if (batch.length === 0) done = true;
    };
    const self = this;
    const iter: MapStateIterator<T> = {
      next(): IteratorResult<T> {
        if (done) return { done: true, value: undefined };
        if (pos >= batch.length) {
          fetch();
          if (done) {
            canRemove = false;
            return { done: true, value: undefined };
          }
        }
        const [row, value] = batch[pos++]!;
        lastRow = row;
        canRemove = true;
        const k = deserializeExact(ks, row.subarray(prefix.length), 'map key');
        return { done: false, value: project(k, self.decodeValue(value)) };
      },
      remove(): void {
        const row = lastRow;
        if (!canRemove || row === undefined) {
          self.reject('iterator remove() without a preceding next(), or called twice');
          return;
        }
        canRemove = false;
        db.delete(cf, row);
      },
      [Symbol.iterator]() {
        return iter;
      },
    };
    return iter;
  }
}

/** The smallest byte string greater than every string with this prefix. */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  const out = prefix.slice();
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i]! < 0xff) {
      out[i]!++;
      return out.subarray(0, i + 1);
    }
  }
  // All 0xff: no finite upper bound exists; callers never build such prefixes (key group first).
  throw new IllegalStateUsageError(undefined, 'prefix has no upper bound');
}
