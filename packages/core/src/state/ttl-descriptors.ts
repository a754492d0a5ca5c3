/**
 * The inner side of TTL (Flink's TtlStateFactory): for a descriptor with TTL, the descriptor the
 * backend actually registers, whose values are TtlValue<V> serialized by TtlSerializer (so their
 * bytes follow KvTtlLayout in KV stores and canonical snapshots carry the timestamps), and the
 * decorator handed to the user around the backend's state.
 */
import { ListSerializerSnapshot, MapSerializerSnapshot } from '../serialization/collections.js';
import type { ListSerializer, MapSerializer } from '../serialization/collections.js';
import type { TypeSerializer, TypeSerializerSnapshot } from '../serialization/type-serializer.js';
import {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
  type StateDescriptor,
  type StateKind,
} from './descriptors.js';
import type { AggregateFunction, State } from './state.js';
import { isExpiredAt } from './ttl-config.js';
import type { KvTtlLayout, StateTtlConfig } from './ttl.js';
import { isRestamp, TtlAggregatingState, TtlListState, TtlMapState, TtlReducingState, TtlValueState, type TtlRestamp, type TtlStateContext } from './ttl-states.js';
import { TTL_SERIALIZER_TYPE_ID, TtlSerializer, TtlSerializerSnapshot, ttlValue, type TtlSerializerInfo, type TtlValue } from './ttl-value.js';

function info(config: StateTtlConfig, nullableUserValue: boolean): TtlSerializerInfo {
  return { ttlMs: config.ttlMs, timeCharacteristic: config.timeCharacteristic, nullableUserValue };
}

/**
 * Flink's TtlReduceFunction: expired operands are dropped, the result is stamped now. A re-stamp
 * marker (OnReadAndWrite) keeps the value and renews its timestamp.
 */
function ttlReduce<T>(reduce: (a: T, b: T) => T, ctx: TtlStateContext): (a: TtlValue<T>, b: TtlValue<T>) => TtlValue<T> {
  const ttlMs = ctx.config.ttlMs;
  return (a, b) => {
    const now = ctx.time.currentTimestamp();
    if (isRestamp(b)) return ttlValue(a.userValue, now);
    const aLive = !isExpiredAt(a.lastAccessTimestamp, ttlMs, now);
    const bLive = !isExpiredAt(b.lastAccessTimestamp, ttlMs, now);
    if (aLive && bLive) return ttlValue(reduce(a.userValue, b.userValue), now);
    if (aLive) return ttlValue(a.userValue, now);
    if (bLive) return ttlValue(b.userValue, now);
    // Both expired (a merge of two expired namespaces): keep the later one, still expired, for cleanup on read.
    return a.lastAccessTimestamp >= b.lastAccessTimestamp ? a : b;
  };
}

/** Flink's TtlAggregateFunction; getResult is the identity so that the decorator checks expiry before the user's getResult. */
function ttlAggregate<IN, ACC>(fn: AggregateFunction<IN, ACC, unknown>, ctx: TtlStateContext): AggregateFunction<IN | TtlRestamp, TtlValue<ACC>, TtlValue<ACC>> {
  const ttlMs = ctx.config.ttlMs;
  const merge = ttlReduce((a: ACC, b: ACC) => fn.merge(a, b), ctx);
  return {
    createAccumulator: () => ttlValue(fn.createAccumulator(), ctx.time.currentTimestamp()),
    add: (value, acc) => {
      const now = ctx.time.currentTimestamp();
      if (isRestamp(value)) return ttlValue(acc.userValue, now);
      const base = isExpiredAt(acc.lastAccessTimestamp, ttlMs, now) ? fn.createAccumulator() : acc.userValue;
      return ttlValue(fn.add(value, base), now);
    },
    getResult: (acc) => acc,
    merge,
  };
}

/** The descriptor a backend registers for a descriptor with TTL (its `ttl` is set, so registration sees it). */
export function ttlInnerDescriptor(d: StateDescriptor<State, unknown>, ctx: TtlStateContext): StateDescriptor<State, unknown> {
  const config = ctx.config;
  let inner: StateDescriptor<State, unknown>;
  switch (d.kind) {
    case 'VALUE':
      inner = new ValueStateDescriptor(d.name, new TtlSerializer(d.serializer, info(config, false))) as unknown as StateDescriptor<State, unknown>;
      break;
    case 'LIST': {
      const ld = d as unknown as ListStateDescriptor<unknown>;
      inner = new ListStateDescriptor(d.name, new TtlSerializer(ld.elementSerializer, info(config, false))) as unknown as StateDescriptor<State, unknown>;
      break;
    }
    case 'MAP': {
      const md = d as unknown as MapStateDescriptor<unknown, unknown>;
      inner = new MapStateDescriptor(d.name, md.userKeySerializer, new TtlSerializer(md.userValueSerializer, info(config, true))) as unknown as StateDescriptor<State, unknown>;
      break;
    }
    case 'REDUCING': {
      const rd = d as unknown as ReducingStateDescriptor<unknown>;
      inner = new ReducingStateDescriptor(d.name, ttlReduce(rd.reduceFunction, ctx), new TtlSerializer(d.serializer, info(config, false))) as unknown as StateDescriptor<State, unknown>;
      break;
    }
    case 'AGGREGATING': {
      const ad = d as unknown as AggregatingStateDescriptor<unknown, unknown, unknown>;
      inner = new AggregatingStateDescriptor(d.name, ttlAggregate(ad.aggregateFunction, ctx), new TtlSerializer(d.serializer, info(config, false))) as unknown as StateDescriptor<State, unknown>;
      break;
    }
  }
  return inner.enableTimeToLive(config);
}

/** The user-facing decorator around the backend's state for the inner descriptor. */
export function ttlDecorate(d: StateDescriptor<State, unknown>, inner: State & { setCurrentNamespace(ns: unknown): void }, ctx: TtlStateContext): State & { setCurrentNamespace(ns: unknown): void } {
  const i = inner as never;
  switch (d.kind) {
    case 'VALUE':
      return new TtlValueState(d.name, i, ctx);
    case 'LIST':
      return new TtlListState(d.name, i, ctx);
    case 'MAP':
      return new TtlMapState(d.name, i, ctx);
    case 'REDUCING':
      return new TtlReducingState(d.name, i, ctx);
    case 'AGGREGATING':
      return new TtlAggregatingState(d.name, i, ctx, (d as unknown as AggregatingStateDescriptor<unknown, unknown, unknown>).aggregateFunction);
  }
}

/** The TTL serializer inside a state serializer of `kind` (the list element's, the map value's), if any. */
export function ttlSerializerOf(kind: StateKind, stateSerializer: TypeSerializer<unknown>): TtlSerializer<unknown> | undefined {
  const s =
    kind === 'LIST' ? (stateSerializer as ListSerializer<unknown>).elementSerializer : kind === 'MAP' ? (stateSerializer as MapSerializer<unknown, unknown>).valueSerializer : stateSerializer;
  return s instanceof TtlSerializer ? (s as TtlSerializer<unknown>) : undefined;
}

/** The TTL serializer snapshot inside a restored state serializer snapshot of `kind`, if any. */
export function ttlSnapshotOf(kind: StateKind, snapshot: TypeSerializerSnapshot<unknown>): TtlSerializerSnapshot<unknown> | undefined {
  let s: TypeSerializerSnapshot<unknown> | undefined = snapshot;
  if (kind === 'LIST') s = snapshot instanceof ListSerializerSnapshot ? (snapshot as ListSerializerSnapshot<unknown>).elementSnapshot : undefined;
  if (kind === 'MAP') s = snapshot instanceof MapSerializerSnapshot ? (snapshot as MapSerializerSnapshot<unknown, unknown>).valueSnapshot : undefined;
  return s !== undefined && s.typeId === TTL_SERIALIZER_TYPE_ID && s instanceof TtlSerializerSnapshot ? (s as TtlSerializerSnapshot<unknown>) : undefined;
}

/** KvTtlLayout's layout name for a state kind. */
export function kvTtlLayoutKind(kind: StateKind): KvTtlLayout['layout'] {
  return kind === 'LIST' ? 'LIST' : kind === 'MAP' ? 'MAP' : 'VALUE';
}

/** The KV key-space layout of a TTL serializer (from a live serializer or a restored snapshot). */
export function kvTtlLayout(kind: StateKind, ttl: TtlSerializerInfo): KvTtlLayout {
  return Object.freeze({ layout: kvTtlLayoutKind(kind), ttlMs: ttl.ttlMs, timeCharacteristic: ttl.timeCharacteristic });
}
