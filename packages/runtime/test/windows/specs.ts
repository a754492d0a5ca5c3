/** Window operator specs the window tests share. */
import { MsgpackSerializer, type AggregateFunction, type TimeWindow, type Window } from '@flowstate/core';
import {
  aggregateContents,
  processContents,
  reduceContents,
  type OutputTag,
  type ProcessWindowFunction,
  type Trigger,
  type WindowAssigner,
  type WindowOperatorSpec,
} from '../../src/index.js';

export interface KV {
  readonly k: string;
  readonly n: number;
}

export const KV_SERIALIZER = MsgpackSerializer.INSTANCE as unknown as MsgpackSerializer<KV>;

export const sumKV = (a: KV, b: KV): KV => ({ k: a.k, n: a.n + b.n });

export interface SpecOptions<W extends Window> {
  readonly trigger?: Trigger<KV, W>;
  readonly allowedLateness?: number;
  readonly lateDataTag?: OutputTag<KV>;
}

function base<W extends Window>(assigner: WindowAssigner<KV, W>, o: SpecOptions<W>) {
  return { uid: 'window', assigner, trigger: o.trigger ?? assigner.defaultTrigger(), allowedLateness: o.allowedLateness ?? 0, lateDataTag: o.lateDataTag };
}

/** Sums `n` per key and window with reducing state; emits the reduced KV. */
export function reduceSpec<W extends Window>(assigner: WindowAssigner<KV, W>, o: SpecOptions<W> = {}): WindowOperatorSpec<string, KV, KV, KV, W> {
  return { ...base(assigner, o), ...reduceContents<string, KV, W>(sumKV, KV_SERIALIZER) };
}

/** "key:start-end=sum" per fired time window, from the list of elements. */
export const describeWindow: ProcessWindowFunction<KV, string, string, TimeWindow> = {
  process(key, ctx, elements, out) {
    out.collect(`${key}:${ctx.window.start}-${ctx.window.end}=${elements.reduce((s, e) => s + e.n, 0)}`);
  },
};

export function processSpec(assigner: WindowAssigner<KV, TimeWindow>, o: SpecOptions<TimeWindow> = {}, fn = describeWindow): WindowOperatorSpec<string, KV, readonly KV[], string, TimeWindow> {
  return { ...base(assigner, o), ...processContents(fn, KV_SERIALIZER) };
}

/** Average of `n` with an {sum, count} accumulator. */
export const AVERAGE: AggregateFunction<KV, { sum: number; count: number }, number> = {
  createAccumulator: () => ({ sum: 0, count: 0 }),
  add: (v, acc) => ({ sum: acc.sum + v.n, count: acc.count + 1 }),
  getResult: (acc) => acc.sum / acc.count,
  merge: (a, b) => ({ sum: a.sum + b.sum, count: a.count + b.count }),
};

export function aggregateSpec<W extends Window>(assigner: WindowAssigner<KV, W>, o: SpecOptions<W> = {}): WindowOperatorSpec<string, KV, number, number, W> {
  return { ...base(assigner, o), ...aggregateContents<string, KV, { sum: number; count: number }, number, W>(AVERAGE, MsgpackSerializer.INSTANCE as unknown as MsgpackSerializer<{ sum: number; count: number }>) };
}
