import {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  ReducingStateDescriptor,
  type AggregateFunction,
  type AppendingState,
  type ReduceFunction,
  type StateDescriptor,
  type TypeSerializer,
  type Window,
} from '@flowstate/core';
import { listProcess, passThroughSingleValue, singleValueProcess, type InternalWindowFunction, type ProcessWindowFunction } from './window-functions.js';

/** The name of the window contents state (Flink's "window-contents"). */
export const WINDOW_CONTENTS_STATE = 'window-contents';

/** How a window keeps its contents and what it hands to the window function. */
export interface WindowContents<K, IN, C, OUT, W extends Window> {
  readonly contentsDescriptor: StateDescriptor<AppendingState<IN, C>, unknown>;
  readonly windowFunction: InternalWindowFunction<C, OUT, K, W>;
}

/** Reduced incrementally in reducing state; the reduced value, or what `fn` makes of it, is emitted. */
export function reduceContents<K, IN, W extends Window, OUT = IN>(
  reduce: ReduceFunction<IN>,
  serializer: TypeSerializer<IN>,
  fn?: ProcessWindowFunction<IN, OUT, K, W>,
): WindowContents<K, IN, IN, OUT, W> {
  return {
    contentsDescriptor: new ReducingStateDescriptor<IN>(WINDOW_CONTENTS_STATE, reduce, serializer) as unknown as StateDescriptor<AppendingState<IN, IN>, unknown>,
    windowFunction: fn ? singleValueProcess(fn) : (passThroughSingleValue<IN, K, W>() as unknown as InternalWindowFunction<IN, OUT, K, W>),
  };
}

/** Aggregated incrementally in aggregating state; the result, or what `fn` makes of it, is emitted. */
export function aggregateContents<K, IN, ACC, R, W extends Window, OUT = R>(
  aggregate: AggregateFunction<IN, ACC, R>,
  accumulatorSerializer: TypeSerializer<ACC>,
  fn?: ProcessWindowFunction<R, OUT, K, W>,
): WindowContents<K, IN, R, OUT, W> {
  return {
    contentsDescriptor: new AggregatingStateDescriptor<IN, ACC, R>(WINDOW_CONTENTS_STATE, aggregate, accumulatorSerializer) as unknown as StateDescriptor<AppendingState<IN, R>, unknown>,
    windowFunction: fn ? singleValueProcess(fn) : (passThroughSingleValue<R, K, W>() as unknown as InternalWindowFunction<R, OUT, K, W>),
  };
}

/** Every element kept in list state; `fn` sees them all when the window fires. */
export function processContents<K, IN, OUT, W extends Window>(fn: ProcessWindowFunction<IN, OUT, K, W>, elementSerializer: TypeSerializer<IN>): WindowContents<K, IN, readonly IN[], OUT, W> {
  return {
    contentsDescriptor: new ListStateDescriptor<IN>(WINDOW_CONTENTS_STATE, elementSerializer) as unknown as StateDescriptor<AppendingState<IN, readonly IN[]>, unknown>,
    windowFunction: listProcess(fn),
  };
}
