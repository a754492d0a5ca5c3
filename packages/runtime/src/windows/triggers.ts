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

/** The defaults of Flink's triggers: timers change nothing, and the trigger works with merging windows. */
abstract class BaseTrigger<T, W extends Window> implements Trigger<T, W> {
  abstract onElement(element: T, timestamp: number | undefined, window: W, ctx: TriggerContext): TriggerResult;
  abstract onMerge(window: W, ctx: OnMergeContext): void;
  abstract clear(window: W, ctx: TriggerContext): void;
  onProcessingTime(_time: number, _window: W, _ctx: TriggerContext): TriggerResult {
    return 'CONTINUE';
  }
  onEventTime(_time: number, _window: W, _ctx: TriggerContext): TriggerResult {
    return 'CONTINUE';
  }
  canMerge(): boolean {
    return true;
  }
}

/** The clock a window-end trigger follows: its current time and its timers. */
interface TriggerClock {
  now(ctx: TriggerContext): number;
  registerTimer(ctx: TriggerContext, time: number): void;
  deleteTimer(ctx: TriggerContext, time: number): void;
}

const eventTimeClock: TriggerClock = {
  now: (ctx) => ctx.currentWatermark(),
  registerTimer: (ctx, time) => ctx.registerEventTimeTimer(time),
  deleteTimer: (ctx, time) => ctx.deleteEventTimeTimer(time),
};

const processingTimeClock: TriggerClock = {
  now: (ctx) => ctx.currentProcessingTime(),
  registerTimer: (ctx, time) => ctx.registerProcessingTimeTimer(time),
  deleteTimer: (ctx, time) => ctx.deleteProcessingTimeTimer(time),
};

/** Fires when its clock reaches the window's end: the event-time and processing-time triggers differ only in the clock. */
abstract class WindowEndTrigger<W extends Window> extends BaseTrigger<unknown, W> {
  constructor(private readonly clock: TriggerClock) {
    super();
  }
  onElement(_e: unknown, _t: number | undefined, window: W, ctx: TriggerContext): TriggerResult {
    this.clock.registerTimer(ctx, window.maxTimestamp());
    return 'CONTINUE';
  }
  onMerge(window: W, ctx: OnMergeContext): void {
    // The merged windows' timers were deleted; a merged window whose end already passed is not
    // registered again, since its cleanup (or a late element) fires it.
    if (window.maxTimestamp() > this.clock.now(ctx)) this.clock.registerTimer(ctx, window.maxTimestamp());
  }
  clear(window: W, ctx: TriggerContext): void {
    this.clock.deleteTimer(ctx, window.maxTimestamp());
  }
}

/** Fires once the watermark passes the window's end (Flink's EventTimeTrigger). */
export class EventTimeTrigger<W extends Window = Window> extends WindowEndTrigger<W> {
  constructor() {
    super(eventTimeClock);
  }
  override onElement(e: unknown, t: number | undefined, window: W, ctx: TriggerContext): TriggerResult {
    // A late element within the allowed lateness fires its (already complete) window at once.
    if (window.maxTimestamp() <= ctx.currentWatermark()) return 'FIRE';
    return super.onElement(e, t, window, ctx);
  }
  override onEventTime(time: number, window: W): TriggerResult {
    return time === window.maxTimestamp() ? 'FIRE' : 'CONTINUE';
  }
}

/** Fires when processing time reaches the window's end (Flink's ProcessingTimeTrigger). */
export class ProcessingTimeTrigger<W extends Window = Window> extends WindowEndTrigger<W> {
  constructor() {
    super(processingTimeClock);
  }
  override onProcessingTime(): TriggerResult {
    return 'FIRE';
  }
}

/** Fires every `maxCount` elements of a window (Flink's CountTrigger); its count is window state. */
export class CountTrigger<W extends Window = Window> extends BaseTrigger<unknown, W> {
  private readonly countDescriptor = new ReducingStateDescriptor<number>('count', (a, b) => a + b, Serializers.float64);

  constructor(readonly maxCount: number) {
    super();
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
  onMerge(_window: W, ctx: OnMergeContext): void {
    ctx.mergePartitionedState(this.countDescriptor);
  }
  clear(_window: W, ctx: TriggerContext): void {
    ctx.getPartitionedState(this.countDescriptor).clear();
  }
}

/** Never fires: the default of global windows, which need a trigger of their own (Flink's NeverTrigger). */
export class NeverTrigger<W extends Window = Window> extends BaseTrigger<unknown, W> {
  onElement(): TriggerResult {
    return 'CONTINUE';
  }
  clear(): void {}
  override canMerge(): boolean {
    return false;
  }
  onMerge(): void {
    // The operator refuses non-merging triggers with merging assigners when it is built.
    assert(false, 'NeverTrigger does not support merging');
  }
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
