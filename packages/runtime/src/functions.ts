import type { BroadcastState, ListState, ListStateDescriptor, MapStateDescriptor, ReadOnlyBroadcastState, State, StateDescriptor } from '@flowstate/core';
import type { OutputTag } from './side-output.js';
import type { SOURCE_IDLE } from './source-idle.js';

/** Emits records downstream. */
export interface Collector<T> {
  collect(value: T): void;
}

/** Which subtask of which operator runs, and how it was started. */
export interface SubtaskInfo {
  readonly operatorUid: string;
  readonly subtaskIndex: number;
  readonly parallelism: number;
  readonly maxParallelism: number;
  /** 0 for the first run, incremented on every restart after a failure. */
  readonly attempt: number;
  /** True when the subtask was restored from a checkpoint or savepoint. */
  readonly isRestored: boolean;
  /** Checkpoints are taken (Flink's isCheckpointingEnabled): a transaction pre-committed now will be committed by one. */
  readonly isCheckpointingEnabled: boolean;
}

/** What a function can see of the subtask that runs it. */
export interface RuntimeContext extends SubtaskInfo {
  /** Keyed state, scoped to the current key. Throws unless the operator follows a keyBy. */
  getState<S extends State, V>(descriptor: StateDescriptor<S, V>): S;
  /** Operator list state, redistributed by even split when the parallelism changes. */
  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T>;
  /** Operator list state of which every subtask receives the union on restore. */
  getUnionListState<T>(descriptor: ListStateDescriptor<T>): ListState<T>;
  getBroadcastState<K, V>(descriptor: MapStateDescriptor<K, V>): BroadcastState<K, V>;
}

export interface SnapshotContext {
  readonly checkpointId: number;
  readonly timestamp: number;
  readonly savepoint: boolean;
}

/**
 * Flink's CheckpointedFunction: `initializeState` runs before any record (and before restored
 * in-flight records), `snapshotState` runs on the barrier, before the backends snapshot, so what
 * it writes into state is part of the checkpoint.
 */
export interface CheckpointedFunction {
  initializeState(ctx: RuntimeContext): void | Promise<void>;
  snapshotState(ctx: SnapshotContext): void | Promise<void>;
}

/** Flink's CheckpointListener. */
export interface CheckpointListener {
  notifyCheckpointComplete(checkpointId: number): void | Promise<void>;
  notifyCheckpointAborted?(checkpointId: number): void | Promise<void>;
}

/** Optional hooks of every user function. */
export interface RichFunction extends Partial<CheckpointedFunction>, Partial<CheckpointListener> {
  open?(ctx: RuntimeContext): void | Promise<void>;
  close?(): void | Promise<void>;
}

export interface ProcessFunction<IN, OUT> extends RichFunction {
  processElement(value: IN, ctx: RuntimeContext & ProcessContext, out: Collector<OUT>): void | Promise<void>;
  /**
   * Called once when every input has ended (bounded input), before end of data goes downstream
   * and before the final checkpoint. Not called when the job stops with a savepoint, nor again
   * after a restore from a snapshot taken after it ran.
   */
  endInput?(out: Collector<OUT>): void | Promise<void>;
}

export interface KeyedContext<K> extends RuntimeContext {
  readonly currentKey: K;
}

/** Time and side outputs as a process function sees them (Flink's ProcessFunction.Context). */
export interface ProcessContext {
  /** The event time of the record being processed (or of the firing timer); undefined when it has none. */
  timestamp(): number | undefined;
  /** Sends `value` to the side output `tag` (see DataStream.getSideOutput), with the current timestamp. */
  output<T>(tag: OutputTag<T>, value: T): void;
}

/** Timers of the current key (Flink's TimerService); registering the same time twice keeps one timer. */
export interface TimerService {
  currentProcessingTime(): number;
  currentWatermark(): number;
  registerEventTimeTimer(time: number): void;
  deleteEventTimeTimer(time: number): void;
  registerProcessingTimeTimer(time: number): void;
  deleteProcessingTimeTimer(time: number): void;
}

export type TimeDomain = 'EVENT_TIME' | 'PROCESSING_TIME';

export interface KeyedProcessContext<K> extends KeyedContext<K>, ProcessContext {
  timerService(): TimerService;
}

/** Flink's OnTimerContext: the key is the timer's, the timestamp the timer's time. */
export interface OnTimerContext<K> extends KeyedProcessContext<K> {
  timeDomain(): TimeDomain;
}

export interface KeyedProcessFunction<K, IN, OUT> extends RichFunction {
  processElement(value: IN, ctx: KeyedProcessContext<K>, out: Collector<OUT>): void | Promise<void>;
  /**
   * A timer of this key fired: event-time timers when the watermark reaches their time (at the
   * latest at the end of input), processing-time ones when the clock does. Synchronous: timers
   * fire while the task advances its watermark. Records collected here carry the timer's time
   * (event time) or no timestamp (processing time).
   */
  onTimer?(timestamp: number, ctx: OnTimerContext<K>, out: Collector<OUT>): void;
}

/** Two keyed inputs with the same key type, sharing keyed state (Flink's KeyedCoProcessFunction). */
export interface KeyedCoProcessFunction<K, IN1, IN2, OUT> extends RichFunction {
  processElement1(value: IN1, ctx: KeyedProcessContext<K>, out: Collector<OUT>): void | Promise<void>;
  processElement2(value: IN2, ctx: KeyedProcessContext<K>, out: Collector<OUT>): void | Promise<void>;
  /** As KeyedProcessFunction.onTimer. */
  onTimer?(timestamp: number, ctx: OnTimerContext<K>, out: Collector<OUT>): void;
}

export interface ReadOnlyBroadcastContext extends RuntimeContext {
  getReadOnlyBroadcastState<K, V>(descriptor: MapStateDescriptor<K, V>): ReadOnlyBroadcastState<K, V>;
}

/** The broadcast side of a keyed broadcast function: no current key, but every key's state can be visited. */
export interface KeyedBroadcastContext extends RuntimeContext {
  /** Calls `fn` for every key that has state for `descriptor` (Flink's applyToKeyedState). */
  applyToKeyedState<S extends State, V>(descriptor: StateDescriptor<S, V>, fn: (key: unknown, state: S) => void): void;
}

/** A keyed stream connected with a broadcast stream (Flink's KeyedBroadcastProcessFunction). */
export interface KeyedBroadcastProcessFunction<K, IN, B, OUT> extends RichFunction {
  processElement(value: IN, ctx: KeyedProcessContext<K> & ReadOnlyBroadcastContext, out: Collector<OUT>): void | Promise<void>;
  /** As KeyedProcessFunction.onTimer (timers are registered from processElement). */
  onTimer?(timestamp: number, ctx: OnTimerContext<K> & ReadOnlyBroadcastContext, out: Collector<OUT>): void;
  /** Keyed state is not scoped to a key here: getState throws; use applyToKeyedState. */
  processBroadcastElement(value: B, ctx: KeyedBroadcastContext, out: Collector<OUT>): void | Promise<void>;
}

/** A non-broadcast input connected with a broadcast input (Flink's BroadcastProcessFunction). */
export interface BroadcastProcessFunction<IN, B, OUT> extends RichFunction {
  processElement(value: IN, ctx: ReadOnlyBroadcastContext, out: Collector<OUT>): void | Promise<void>;
  /** Every subtask sees every broadcast element and must update its broadcast state identically. */
  processBroadcastElement(value: B, ctx: RuntimeContext, out: Collector<OUT>): void | Promise<void>;
}

/** A sink; add CheckpointedFunction and CheckpointListener for transactional behaviour. */
export interface SinkFunction<T> extends RichFunction {
  invoke(value: T, ctx: RuntimeContext): void | Promise<void>;
  /**
   * All input ended (and was processed). Pre-commit what is buffered: the final checkpoint,
   * triggered once every task finished, records it and commits it when it completes.
   */
  finish?(): void | Promise<void>;
}

/**
 * A parallel, replayable source. Each subtask restores its position from operator state in
 * `initializeState` and stores it in `snapshotState` (Flink's legacy SourceFunction with
 * CheckpointedFunction, minus the emission thread: the task pulls instead).
 */
export interface SourceFunction<T> extends CheckpointedFunction, Partial<CheckpointListener> {
  open?(ctx: RuntimeContext): void | Promise<void>;
  /**
   * The next record, `undefined` when this subtask has emitted everything (bounded input), or
   * SOURCE_IDLE when it has nothing to emit for now (the task retries; a WatermarkStrategy
   * withIdleness then marks the subtask idle once its timeout passed).
   */
  pollNext(): T | undefined | typeof SOURCE_IDLE;
  close?(): void | Promise<void>;
}
