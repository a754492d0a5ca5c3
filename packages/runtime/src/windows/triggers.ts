import { assert, ReducingStateDescriptor, Serializers, type State, type StateDescriptor, type Window } from '@flowstate/core';
import { InvalidWindowConfigError } from './errors.js';

/**
 * Triggers decide when a window's contents are emitted (Flink's Trigger). They run with the
 * window's key as the current key; their state and timers live in the window's namespace.
 */

/** FIRE emits the window's contents; PURGE drops them (the window itself lives until cleanup). */
export type TriggerResult = 'CONTINUE' | 'FIRE' | 'PURGE' | 'FIRE_AND_PURGE';

export function isFire(r: TriggerResult): boolean {
  return r === 'FIRE' || r === 'FIRE_AND_PURGE';
}

export function isPurge(r: TriggerResult): boolean {
  return r === 'PURGE' || r === 'FIRE_AND_PURGE';
}

/** What a trigger can do for the current key and window (Flink's Trigger.TriggerContext). */
export interface TriggerContext {
  currentProcessingTime(): number;
  currentWatermark(): number;
  registerProcessingTimeTimer(time: number): void;
  registerEventTimeTimer(time: number): void;
  deleteProcessingTimeTimer(time: number): void;
  deleteEventTimeTimer(time: number): void;
  /** Keyed state scoped to the current key and window. */
  getPartitionedState<S extends State, V>(descriptor: StateDescriptor<S, V>): S;
}

/** The context of Trigger.onMerge: the windows merged into the current one are known. */
export interface OnMergeContext extends TriggerContext {
  /** Merges the named (list, reducing or aggregating) state of the merged windows into the current window. */
  mergePartitionedState<S extends State, V>(descriptor: StateDescriptor<S, V>): void;
}

export interface Trigger<T, W extends Window> {
  onElement(element: T, timestamp: number | undefined, window: W, ctx: TriggerContext): TriggerResult;
  onProcessingTime(time: number, window: W, ctx: TriggerContext): TriggerResult;
  onEventTime(time: number, window: W, ctx: TriggerContext): TriggerResult;
  /** True when the trigger can be used with merging window assigners (it implements onMerge). */
  canMerge(): boolean;
  /** Windows were merged into `window`: re-register timers, merge state. */
  onMerge(window: W, ctx: OnMergeContext): void;
  /** The window is purged for good: delete the timers and state this trigger holds for it. */
  clear(window: W, ctx: TriggerContext): void;
}

abstract class NonMergingTrigger<T, W extends Window> implements Trigger<T, W> {
  abstract onElement(element: T, timestamp: number | undefined, window: W, ctx: TriggerContext): TriggerResult;
  abstract onProcessingTime(time: number, window: W, ctx: TriggerContext): TriggerResult;
  abstract onEventTime(time: number, window: W, ctx: TriggerContext): TriggerResult;
  abstract clear(window: W, ctx: TriggerContext): void;
  canMerge(): boolean {
    return false;
  }
  onMerge(_window: W, _ctx: OnMergeContext): void {
    // The operator refuses non-merging triggers with merging assigners when it is built.
    assert(false, `${this.constructor.name} does not support merging`);
  }
}

/** Fires once the watermark passes the window's end (Flink's EventTimeTrigger). */
export class EventTimeTrigger<W extends Window = Window> implements Trigger<unknown, W> {
  onElement(_e: unknown, _t: number | undefined, window: W, ctx: TriggerContext): TriggerResult {
    // A late element within the allowed lateness fires its (already complete) window at once.
    if (window.maxTimestamp() <= ctx.currentWatermark()) return 'FIRE';
    ctx.registerEventTimeTimer(window.maxTimestamp());
    return 'CONTINUE';
  }
  onEventTime(time: number, window: W): TriggerResult {
    return time === window.maxTimestamp() ? 'FIRE' : 'CONTINUE';
  }
  onProcessingTime(): TriggerResult {
    return 'CONTINUE';
  }
  canMerge(): boolean {
    return true;
  }
  onMerge(window: W, ctx: OnMergeContext): void {
    // The merged windows' timers were deleted; a merged window already past the watermark is
    // not registered again, since its cleanup (or a late element) fires it.
    if (window.maxTimestamp() > ctx.currentWatermark()) ctx.registerEventTimeTimer(window.maxTimestamp());
  }
  clear(window: W, ctx: TriggerContext): void {
    ctx.deleteEventTimeTimer(window.maxTimestamp());
  }
}

/** Fires when processing time reaches the window's end (Flink's ProcessingTimeTrigger). */
export class ProcessingTimeTrigger<W extends Window = Window> implements Trigger<unknown, W> {
  onElement(_e: unknown, _t: number | undefined, window: W, ctx: TriggerContext): TriggerResult {
    ctx.registerProcessingTimeTimer(window.maxTimestamp());
    return 'CONTINUE';
  }
  onEventTime(): TriggerResult {
    return 'CONTINUE';
  }
  onProcessingTime(): TriggerResult {
    return 'FIRE';
  }
  canMerge(): boolean {
    return true;
  }
  onMerge(window: W, ctx: OnMergeContext): void {
    if (window.maxTimestamp() > ctx.currentProcessingTime()) ctx.registerProcessingTimeTimer(window.maxTimestamp());
  }
  clear(window: W, ctx: TriggerContext): void {
    ctx.deleteProcessingTimeTimer(window.maxTimestamp());
  }
}

/** Fires every `maxCount` elements of a window (Flink's CountTrigger); its count is window state. */
export class CountTrigger<W extends Window = Window> implements Trigger<unknown, W> {
  private readonly countDescriptor = new ReducingStateDescriptor<number>('count', (a, b) => a + b, Serializers.float64);

  constructor(readonly maxCount: number) {
    if (!Number.isSafeInteger(maxCount) || maxCount < 1) throw new InvalidWindowConfigError(`CountTrigger needs a positive integer count, got ${maxCount}`);
  }

  static of<W extends Window = Window>(maxCount: number): CountTrigger<W> {
    return new CountTrigger<W>(maxCount);
  }

  onElement(_e: unknown, _t: number | undefined, _w: W, ctx: TriggerContext): TriggerResult {
    const count = ctx.getPartitionedState(this.countDescriptor);
    count.add(1);
    if ((count.get() ?? 0) < this.maxCount) return 'CONTINUE';
    count.clear();
    return 'FIRE';
  }
  onEventTime(): TriggerResult {
    return 'CONTINUE';
  }
  onProcessingTime(): TriggerResult {
    return 'CONTINUE';
  }
  canMerge(): boolean {
    return true;
  }
  onMerge(_window: W, ctx: OnMergeContext): void {
    ctx.mergePartitionedState(this.countDescriptor);
  }
  clear(_window: W, ctx: TriggerContext): void {
    ctx.getPartitionedState(this.countDescriptor).clear();
  }
}

/** Never fires: the default of global windows, which need a trigger of their own (Flink's NeverTrigger). */
export class NeverTrigger<W extends Window = Window> extends NonMergingTrigger<unknown, W> {
  onElement(): TriggerResult {
    return 'CONTINUE';
  }
  onEventTime(): TriggerResult {
    return 'CONTINUE';
  }
  onProcessingTime(): TriggerResult {
    return 'CONTINUE';
  }
  clear(): void {}
}

/** Turns every FIRE of the inner trigger into FIRE_AND_PURGE (Flink's PurgingTrigger). */
export class PurgingTrigger<T, W extends Window> implements Trigger<T, W> {
  constructor(readonly inner: Trigger<T, W>) {}

  static of<T, W extends Window>(inner: Trigger<T, W>): PurgingTrigger<T, W> {
    return new PurgingTrigger(inner);
  }

  private static purging(r: TriggerResult): TriggerResult {
    return isFire(r) ? 'FIRE_AND_PURGE' : r;
  }
  onElement(element: T, timestamp: number | undefined, window: W, ctx: TriggerContext): TriggerResult {
    return PurgingTrigger.purging(this.inner.onElement(element, timestamp, window, ctx));
  }
  onEventTime(time: number, window: W, ctx: TriggerContext): TriggerResult {
    return PurgingTrigger.purging(this.inner.onEventTime(time, window, ctx));
  }
  onProcessingTime(time: number, window: W, ctx: TriggerContext): TriggerResult {
    return PurgingTrigger.purging(this.inner.onProcessingTime(time, window, ctx));
  }
  canMerge(): boolean {
    return this.inner.canMerge();
  }
  onMerge(window: W, ctx: OnMergeContext): void {
    this.inner.onMerge(window, ctx);
  }
  clear(window: W, ctx: TriggerContext): void {
    this.inner.clear(window, ctx);
  }
}
