import type { State, StateDescriptor, Window } from '@flowstate/core';
import type { Collector } from '../functions.js';
import type { OutputTag } from '../side-output.js';


/** Keyed state of the current key (Flink's KeyedStateStore). */
export interface KeyedStateStore {
  getState<S extends State, V>(descriptor: StateDescriptor<S, V>): S;
}

/** What a ProcessWindowFunction sees of the window it evaluates (Flink's ProcessWindowFunction.Context). */
export interface ProcessWindowContext<W extends Window> {
  readonly window: W;
  currentProcessingTime(): number;
  currentWatermark(): number;
  /** State of the current key in this window; clear it in `clear`, which runs when the window is purged. */
  windowState(): KeyedStateStore;
  /** State of the current key, shared by all its windows. */
  globalState(): KeyedStateStore;
  /** Emits to a side output, with the window's max timestamp. */
  output<X>(tag: OutputTag<X>, value: X): void;
}

/**
 * Evaluates a window (Flink's ProcessWindowFunction). `elements` are the window's contents, or
 * the single pre-aggregated value when combined with reduce or aggregate.
 */
export interface ProcessWindowFunction<IN, OUT, K, W extends Window> {
  process(key: K, context: ProcessWindowContext<W>, elements: readonly IN[], out: Collector<OUT>): void;
  /** The window is cleaned up (at max timestamp + allowed lateness): delete its window state. */
  clear?(context: ProcessWindowContext<W>): void;
}

/**
 * What the operator calls with a window's contents as its state holds them (the list, the
 * reduced value or the aggregate result): Flink's InternalWindowFunction.
 */
export interface InternalWindowFunction<C, OUT, K, W extends Window> {
  process(key: K, window: W, context: ProcessWindowContext<W>, contents: C, out: Collector<OUT>): void;
  clear(window: W, context: ProcessWindowContext<W>): void;
}

/** Passes the reduced value or aggregate result on unchanged. */
export function passThroughSingleValue<V, K, W extends Window>(): InternalWindowFunction<V, V, K, W> {
  return {
    process: (_k, _w, _c, contents, out) => out.collect(contents),
    clear: () => {},
  };
}

/** Hands a pre-aggregated value to a ProcessWindowFunction as a one-element iterable. */
export function singleValueProcess<V, OUT, K, W extends Window>(fn: ProcessWindowFunction<V, OUT, K, W>): InternalWindowFunction<V, OUT, K, W> {
  return {
    process: (key, _w, ctx, contents, out) => fn.process(key, ctx, [contents], out),
    clear: (_w, ctx) => fn.clear?.(ctx),
  };
}

/** Hands the list of elements to a ProcessWindowFunction. */
export function listProcess<IN, OUT, K, W extends Window>(fn: ProcessWindowFunction<IN, OUT, K, W>): InternalWindowFunction<readonly IN[], OUT, K, W> {
  return {
    process: (key, _w, ctx, contents, out) => fn.process(key, ctx, contents, out),
    clear: (_w, ctx) => fn.clear?.(ctx),
  };
}
