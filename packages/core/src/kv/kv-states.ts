import { DataInputDeserializer } from '../io/data-input.js';
import { DataOutputSerializer } from '../io/data-output.js';
import type { ListSerializer } from '../serialization/collections.js';
import { deserializeExact, ExactDeserializer, type TypeSerializer } from '../serialization/type-serializer.js';
import type { AggregateFunction, AggregatingState, ListState, ReduceFunction, ReducingState, ValueState } from '../state/state.js';
import { AbstractKvState, AbstractMergingKvState, type KvStateContext, type KvStateInfo } from './kv-state-base.js';
import { appendValue } from './kv-store.js';
import { deserializeKvList } from './kv-values.js';

export class KvValueState<N, T> extends AbstractKvState<N> implements ValueState<T> {
  /** Reused for every read (serializers do not call back into this state). */
  private readonly input = new ExactDeserializer();

  constructor(
    ctx: KvStateContext,
    info: KvStateInfo,
    namespace: N,
    private readonly defaultValue: T | null,
  ) {
    super(ctx, info, namespace);
  }

  value(): T | null {
    const bytes = this.space.get(this.rowKey());
    if (bytes !== undefined) return this.input.decode(this.info.stateSerializer as TypeSerializer<T>, bytes, 'value');
    const d = this.defaultValue;
    return d === null || d === undefined ? null : (this.info.stateSerializer as TypeSerializer<T>).copy(d);
  }

  update(value: T | null): void {
    if (value === null || value === undefined) {
      this.clear();
      return;
    }
    const key = this.rowKey();
    this.space.put(key, this.serializeValue(value));
  }
}

/** List state: elements stored as [u32 length][bytes]... (see kv-values.ts), appended without a read where the store can. */
export class KvListState<N, T> extends AbstractMergingKvState<N> implements ListState<T> {
  private readonly listOut = new DataOutputSerializer(256);
  /** Reused for every read (serializers do not call back into this state). */
  private readonly input = new DataInputDeserializer(new Uint8Array(0));

  private get elementSerializer(): TypeSerializer<T> {
    return (this.info.stateSerializer as ListSerializer<T>).elementSerializer;
  }

  /** Elements in the stored list format, serialized in one buffer; valid until the next call. */
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
    const bytes = this.space.get(this.rowKey());
    if (bytes === undefined) return [];
    return deserializeKvList(bytes, this.elementSerializer, this.input);
  }

  add(value: T): void {
    const e = this.encode([value]);
    appendValue(this.space, this.rowKey(), e);
  }

  addAll(values: readonly T[]): void {
    this.checkList(values);
    if (values.length === 0) return;
    appendValue(this.space, this.rowKey(), this.encode(values));
  }

  update(values: readonly T[]): void {
    this.checkList(values);
    if (values.length === 0) {
      this.clear();
      return;
    }
    this.space.put(this.rowKey(), this.encode(values));
  }

  private checkList(values: readonly T[]): void {
    if (values === null || values === undefined || !Array.isArray(values)) this.reject('the list of values must not be null');
    for (const v of values) if (v === null || v === undefined) this.reject('list elements must not be null or undefined');
  }

  protected mergeRaw(target: Uint8Array, source: Uint8Array): Uint8Array {
    return Buffer.concat([target, source]);
  }
}

export class KvReducingState<N, T> extends AbstractMergingKvState<N> implements ReducingState<T> {
  constructor(
    ctx: KvStateContext,
    info: KvStateInfo,
    namespace: N,
    private readonly reduce: ReduceFunction<T>,
  ) {
    super(ctx, info, namespace);
  }

  private get serializer(): TypeSerializer<T> {
    return this.info.stateSerializer as TypeSerializer<T>;
  }

  get(): T | null {
    const bytes = this.space.get(this.rowKey());
    return bytes === undefined ? null : deserializeExact(this.serializer, bytes, 'value');
  }

  add(value: T): void {
    if (value === null || value === undefined) this.reject('reducing state does not accept null');
    // One row key for the read and the write (a copy: the user's reduce function may use this state).
    const key = this.rowKey().slice();
    const bytes = this.space.get(key);
    const next = bytes === undefined ? value : this.reduce(deserializeExact(this.serializer, bytes, 'value'), value);
    this.space.put(key, this.serializeValue(next));
  }

  protected mergeRaw(target: Uint8Array, source: Uint8Array): Uint8Array {
    const s = this.serializer;
    return this.serializeValue(this.reduce(deserializeExact(s, target, 'value'), deserializeExact(s, source, 'value'))).slice();
  }
}

export class KvAggregatingState<N, IN, ACC, OUT> extends AbstractMergingKvState<N> implements AggregatingState<IN, OUT> {
  constructor(
    ctx: KvStateContext,
    info: KvStateInfo,
    namespace: N,
    private readonly fn: AggregateFunction<IN, ACC, OUT>,
  ) {
    super(ctx, info, namespace);
  }

  private get serializer(): TypeSerializer<ACC> {
    return this.info.stateSerializer as TypeSerializer<ACC>;
  }

  private acc(): ACC | undefined {
    const bytes = this.space.get(this.rowKey());
    return bytes === undefined ? undefined : deserializeExact(this.serializer, bytes, 'value');
  }

  get(): OUT | null {
    const a = this.acc();
    return a === undefined ? null : this.fn.getResult(a);
  }

  add(value: IN): void {
    if (value === null || value === undefined) this.reject('aggregating state does not accept null');
    const key = this.rowKey().slice();
    const bytes = this.space.get(key);
    const next = this.fn.add(value, bytes === undefined ? this.fn.createAccumulator() : deserializeExact(this.serializer, bytes, 'value'));
    this.space.put(key, this.serializeValue(next));
  }

  protected mergeRaw(target: Uint8Array, source: Uint8Array): Uint8Array {
    const s = this.serializer;
    return this.serializeValue(this.fn.merge(deserializeExact(s, target, 'value'), deserializeExact(s, source, 'value'))).slice();
  }
}
