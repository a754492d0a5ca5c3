import {
  assert,
  ListSerializer,
  Serializers,
  ValueStateDescriptor,
  VoidNamespace,
  type AppendingState,
  type InternalMergingState,
  type KeyedStateBackend,
  type ValueState,
  type StateDescriptor,
  type Window,
} from '@flowstate/core';
import { MAX_WATERMARK, type InternalTimer, type InternalTimerService, type Triggerable } from '../time/timer-service.js';
import { isMergingAssigner, type MergingWindowAssigner, type WindowAssigner } from './assigners.js';
import { IllegalWindowMergeError, InvalidWindowConfigError, MissingTimestampError } from './errors.js';
import { MergingWindowSet } from './merging-window-set.js';
import { WindowProcessContext, WindowTriggerContext, type WindowOutput } from './window-contexts.js';
import type { OutputTag } from '../side-output.js';
import type { InternalWindowFunction } from './window-functions.js';
import { isFire, isPurge, type Trigger } from './triggers.js';

export type { WindowOutput } from './window-contexts.js';

/** Everything a window operator is built from (what `keyedStream.window(...)...reduce(...)` collects). */
export interface WindowOperatorSpec<K, IN, C, OUT, W extends Window> {
  readonly uid: string;
  readonly assigner: WindowAssigner<IN, W>;
  readonly trigger: Trigger<IN, W>;
  /** Milliseconds of event time a window keeps its state after its end, for late elements. */
  readonly allowedLateness: number;
  /** Where elements too late for every window go; dropped (and counted) when absent. */
  readonly lateDataTag: OutputTag<IN> | undefined;
  /** The window contents: list, reducing or aggregating state in the window namespace. */
  readonly contentsDescriptor: StateDescriptor<AppendingState<IN, C>, unknown>;
  readonly windowFunction: InternalWindowFunction<C, OUT, K, W>;
}

type ContentsState<IN, C, W> = AppendingState<IN, C> & InternalMergingState<W>;

/** The name of the value state of [window, state window] pairs of merging assigners, in the void namespace. */
export const MERGING_WINDOW_SET_STATE = 'merging-window-set';

/**
 * Flink's WindowOperator: window contents are keyed state in the window's namespace, triggers
 * decide when they are emitted, and a cleanup timer at the window's max timestamp plus the
 * allowed lateness deletes them. Merging assigners (sessions) keep a MergingWindowSet per key and
 * merge the contents' namespaces.
 */
export class WindowOperator<K, IN, C, OUT, W extends Window> implements Triggerable<K, W> {
  private keyed!: KeyedStateBackend<K>;
  private timers!: InternalTimerService<W>;
  private contents!: ContentsState<IN, C, W>;
  /** Set for merging assigners: their window -> state window map, one per key. */
  private merging: { assigner: MergingWindowAssigner<IN, W>; state: ValueState<W[][]> } | undefined;
  private triggerCtx!: WindowTriggerContext<K, W>;
  private processCtx!: WindowProcessContext<K, W>;
  private output!: WindowOutput;
  /** Late elements dropped because no side output was set (Flink's numLateRecordsDropped). */
  numLateRecordsDropped = 0;

  constructor(readonly spec: WindowOperatorSpec<K, IN, C, OUT, W>) {
    const { allowedLateness, assigner, trigger } = spec;
    if (!Number.isSafeInteger(allowedLateness) || allowedLateness < 0) throw new InvalidWindowConfigError(`allowed lateness must be a non-negative integer (ms), got ${allowedLateness}`);
    if (allowedLateness > 0 && !assigner.isEventTime) throw new InvalidWindowConfigError('allowed lateness applies to event-time windows only');
    if (isMergingAssigner(assigner) && !trigger.canMerge()) throw new InvalidWindowConfigError('a merging window assigner needs a trigger that can merge');
  }

  /** Binds the operator to its subtask's keyed backend, timer service and output. */
  open(keyed: KeyedStateBackend<K>, timers: InternalTimerService<W>, output: WindowOutput): void {
    const { assigner, contentsDescriptor } = this.spec;
    this.keyed = keyed;
    this.timers = timers;
    this.output = output;
    this.contents = keyed.getOrCreateKeyedState(assigner.windowSerializer, contentsDescriptor) as unknown as ContentsState<IN, C, W>;
    if (isMergingAssigner(assigner)) {
      assert(typeof this.contents.mergeNamespaces === 'function', `window contents state '${contentsDescriptor.name}' of a merging assigner can merge`);
      const d = new ValueStateDescriptor<W[][]>(MERGING_WINDOW_SET_STATE, new ListSerializer(new ListSerializer(assigner.windowSerializer)));
      this.merging = { assigner, state: keyed.getPartitionedState(VoidNamespace, Serializers.voidNamespace, d) };
    }
    this.triggerCtx = new WindowTriggerContext(keyed, timers, assigner.windowSerializer, this.spec.trigger);
    this.processCtx = new WindowProcessContext(keyed, timers, assigner.windowSerializer, output);
  }

  processElement(value: IN, timestamp: number | undefined): void {
    const { assigner, uid } = this.spec;
    if (assigner.isEventTime && timestamp === undefined) throw new MissingTimestampError(`operator '${uid}'`);
    const windows = assigner.assignWindows(value, timestamp, { currentProcessingTime: () => this.timers.currentProcessingTime() });
    const skipped = this.merging !== undefined ? this.addToMergingWindows(windows, value, timestamp) : this.addToWindows(windows, value, timestamp);
    if (skipped && this.isElementLate(timestamp)) {
      if (this.spec.lateDataTag !== undefined) this.output.sideOutput(this.spec.lateDataTag, value, timestamp);
      else this.numLateRecordsDropped++;
    }
  }

  /** Returns true when every window was late (the element was skipped). */
  private addToWindows(windows: readonly W[], value: IN, timestamp: number | undefined): boolean {
    let skipped = true;
    for (const window of windows) {
      if (this.isWindowLate(window)) continue;
      skipped = false;
      this.contents.setCurrentNamespace(window);
      this.contents.add(value);
      this.onElementInWindow(window, value, timestamp);
    }
    return skipped;
  }

  private addToMergingWindows(windows: readonly W[], value: IN, timestamp: number | undefined): boolean {
    const set = new MergingWindowSet(this.merging!.assigner, this.merging!.state);
    let skipped = true;
    for (const window of windows) {
      const actual = set.addWindow(window, (result, merged, stateResult, mergedState) => this.onMerge(result, merged, stateResult, mergedState));
      if (this.isWindowLate(actual)) {
        set.retireWindow(actual);
        continue;
      }
      skipped = false;
      const stateWindow = set.getStateWindow(actual);
      assert(stateWindow !== undefined, `window ${String(actual)} has a state window`);
      this.contents.setCurrentNamespace(stateWindow);
      this.contents.add(value);
      this.onElementInWindow(actual, value, timestamp);
    }
    set.persist();
    return skipped;
  }

  /** The trigger's verdict on a new element, and the window's cleanup timer (contents namespace already set). */
  private onElementInWindow(window: W, value: IN, timestamp: number | undefined): void {
    const result = this.triggerCtx.at(window).onElement(value, timestamp);
    if (isFire(result)) this.emitContents(window);
    if (isPurge(result)) this.contents.clear();
    this.registerCleanupTimer(window);
  }

  private onMerge(mergeResult: W, mergedWindows: readonly W[], stateWindowResult: W, mergedStateWindows: readonly W[]): void {
    const { assigner, uid } = this.spec;
    if (assigner.isEventTime && mergeResult.maxTimestamp() + this.spec.allowedLateness <= this.timers.currentWatermark()) {
      throw new IllegalWindowMergeError(uid, `merging moved the end of event-time window ${String(mergeResult)} before the watermark ${this.timers.currentWatermark()}`);
    }
    if (!assigner.isEventTime && mergeResult.maxTimestamp() <= this.timers.currentProcessingTime()) {
      throw new IllegalWindowMergeError(uid, `merging moved the end of processing-time window ${String(mergeResult)} before the processing time ${this.timers.currentProcessingTime()}`);
    }
    this.triggerCtx.at(mergeResult).onMerge(mergedWindows);
    for (const m of mergedWindows) {
      this.triggerCtx.at(m).clear();
      this.deleteCleanupTimer(m);
    }
    this.contents.mergeNamespaces(stateWindowResult, mergedStateWindows);
  }

  /** Results go to the WindowOutput given to open, with the window's max timestamp, not to the timer's collector. */
  onEventTime(timer: InternalTimer<K, W>): void {
    this.onTimer(timer, true);
  }

  onProcessingTime(timer: InternalTimer<K, W>): void {
    this.onTimer(timer, false);
  }

  private onTimer(timer: InternalTimer<K, W>, eventTime: boolean): void {
    const window = timer.namespace;
    const set = this.merging !== undefined ? new MergingWindowSet(this.merging.assigner, this.merging.state) : undefined;
    const stateWindow = set === undefined ? window : set.getStateWindow(window);
    // A timer of a window that merged into another (or was retired): nothing of it is left.
    if (stateWindow === undefined) return;
    this.contents.setCurrentNamespace(stateWindow);
    const ctx = this.triggerCtx.at(window);
    const result = eventTime ? ctx.onEventTime(timer.timestamp) : ctx.onProcessingTime(timer.timestamp);
    if (isFire(result)) this.emitContents(window);
    if (isPurge(result)) this.contents.clear();
    if (this.spec.assigner.isEventTime === eventTime && timer.timestamp === this.cleanupTime(window)) this.clearAllState(window, set);
    set?.persist();
  }

  /** The window is over for good: its contents, trigger state and timers, per-window function state. */
  private clearAllState(window: W, set: MergingWindowSet<W> | undefined): void {
    this.contents.clear();
    this.triggerCtx.at(window).clear();
    this.spec.windowFunction.clear(window, this.processCtx.at(window));
    set?.retireWindow(window);
  }

  /** Hands the contents (namespace already set) to the window function; empty windows do not fire. */
  private emitContents(window: W): void {
    const c = this.contents.get();
    if (c === null || c === undefined) return;
    if (this.spec.contentsDescriptor.kind === 'LIST' && (c as readonly unknown[]).length === 0) return;
    const ts = window.maxTimestamp();
    const out = { collect: (v: OUT) => this.output.collect(v, ts) };
    this.spec.windowFunction.process(this.keyed.getCurrentKey(), window, this.processCtx.at(window), c, out);
  }

  /** Event time: max timestamp + allowed lateness, capped at the end of time; processing time: max timestamp. */
  private cleanupTime(window: W): number {
    if (!this.spec.assigner.isEventTime) return window.maxTimestamp();
    const t = window.maxTimestamp() + this.spec.allowedLateness;
    return t > MAX_WATERMARK ? MAX_WATERMARK : t;
  }

  private registerCleanupTimer(window: W): void {
    const t = this.cleanupTime(window);
    // A window that ends with time itself (global windows) is never cleaned up.
    if (t >= MAX_WATERMARK) return;
    if (this.spec.assigner.isEventTime) this.timers.registerEventTimeTimer(window, t);
    else this.timers.registerProcessingTimeTimer(window, t);
  }

  private deleteCleanupTimer(window: W): void {
    const t = this.cleanupTime(window);
    if (t >= MAX_WATERMARK) return;
    if (this.spec.assigner.isEventTime) this.timers.deleteEventTimeTimer(window, t);
    else this.timers.deleteProcessingTimeTimer(window, t);
  }

  private isWindowLate(window: W): boolean {
    return this.spec.assigner.isEventTime && this.cleanupTime(window) <= this.timers.currentWatermark();
  }

  private isElementLate(timestamp: number | undefined): boolean {
    return this.spec.assigner.isEventTime && timestamp! + this.spec.allowedLateness <= this.timers.currentWatermark();
  }
}

