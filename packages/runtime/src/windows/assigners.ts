import { GlobalWindow, GlobalWindowSerializer, TimeWindow, TimeWindowSerializer, type TypeSerializer, type Window } from '@flowstate/core';
import { InvalidWindowConfigError, MissingTimestampError } from './errors.js';
import { EventTimeTrigger, NeverTrigger, ProcessingTimeTrigger, type Trigger } from './triggers.js';

/** What an assigner may ask of the operator (Flink's WindowAssignerContext). */
export interface WindowAssignerContext {
  currentProcessingTime(): number;
}

/** Assigns each element to zero or more windows (Flink's WindowAssigner). */
export interface WindowAssigner<T, W extends Window> {
  /** `timestamp` is the record's event time; undefined when it has none. */
  assignWindows(element: T, timestamp: number | undefined, ctx: WindowAssignerContext): readonly W[];
  defaultTrigger(): Trigger<T, W>;
  readonly windowSerializer: TypeSerializer<W>;
  /** Event-time windows are late once the watermark passes their end plus the allowed lateness. */
  readonly isEventTime: boolean;
}

/** An assigner whose windows merge, like sessions (Flink's MergingWindowAssigner). */
export interface MergingWindowAssigner<T, W extends Window> extends WindowAssigner<T, W> {
  /** Calls `merge` once per group of windows that become one. */
  mergeWindows(windows: readonly W[], merge: (toBeMerged: W[], mergeResult: W) => void): void;
}

export function isMergingAssigner<T, W extends Window>(a: WindowAssigner<T, W>): a is MergingWindowAssigner<T, W> {
  return typeof (a as Partial<MergingWindowAssigner<T, W>>).mergeWindows === 'function';
}

function checkPositive(what: string, v: number): void {
  if (!Number.isSafeInteger(v) || v <= 0) throw new InvalidWindowConfigError(`${what} must be a positive integer (ms), got ${v}`);
}

function checkOffset(offset: number, period: number, what: string): void {
  if (!Number.isSafeInteger(offset) || Math.abs(offset) >= period) {
    throw new InvalidWindowConfigError(`offset must be an integer with |offset| < ${what} (${period}), got ${offset}`);
  }
}


abstract class TimeWindowAssigner<T> implements WindowAssigner<T, TimeWindow> {
  readonly windowSerializer = TimeWindowSerializer.INSTANCE;
  constructor(readonly isEventTime: boolean) {}
  abstract assignWindows(element: T, timestamp: number | undefined, ctx: WindowAssignerContext): readonly TimeWindow[];
  defaultTrigger(): Trigger<T, TimeWindow> {
    return this.isEventTime ? new EventTimeTrigger<TimeWindow>() : new ProcessingTimeTrigger<TimeWindow>();
  }
  protected timeOf(timestamp: number | undefined, ctx: WindowAssignerContext): number {
    if (!this.isEventTime) return ctx.currentProcessingTime();
    if (timestamp === undefined) throw new MissingTimestampError(String(this));
    return timestamp;
  }
}

/** Fixed-size, non-overlapping windows aligned to the epoch plus `offset` (Flink's Tumbling*Windows). */
export class TumblingWindows<T = unknown> extends TimeWindowAssigner<T> {
  private constructor(
    isEventTime: boolean,
    readonly size: number,
    readonly offset: number,
  ) {
    super(isEventTime);
    checkPositive('window size', size);
    checkOffset(offset, size, 'size');
  }

  static eventTime<T = unknown>(size: number, offset = 0): TumblingWindows<T> {
    return new TumblingWindows<T>(true, size, offset);
  }

  static processingTime<T = unknown>(size: number, offset = 0): TumblingWindows<T> {
    return new TumblingWindows<T>(false, size, offset);
  }

  override assignWindows(_e: T, timestamp: number | undefined, ctx: WindowAssignerContext): readonly TimeWindow[] {
    const start = TimeWindow.getWindowStartWithOffset(this.timeOf(timestamp, ctx), this.offset, this.size);
    return [new TimeWindow(start, start + this.size)];
  }

  override toString(): string {
    return `Tumbling${this.isEventTime ? 'EventTime' : 'ProcessingTime'}Windows(${this.size}, offset ${this.offset})`;
  }
}

/** Windows of `size` starting every `slide`: an element is in size/slide of them (Flink's Sliding*Windows). */
export class SlidingWindows<T = unknown> extends TimeWindowAssigner<T> {
  private constructor(
    isEventTime: boolean,
    readonly size: number,
    readonly slide: number,
    readonly offset: number,
  ) {
    super(isEventTime);
    checkPositive('window size', size);
    checkPositive('window slide', slide);
    checkOffset(offset, slide, 'slide');
  }

  static eventTime<T = unknown>(size: number, slide: number, offset = 0): SlidingWindows<T> {
    return new SlidingWindows<T>(true, size, slide, offset);
  }

  static processingTime<T = unknown>(size: number, slide: number, offset = 0): SlidingWindows<T> {
    return new SlidingWindows<T>(false, size, slide, offset);
  }

  override assignWindows(_e: T, timestamp: number | undefined, ctx: WindowAssignerContext): readonly TimeWindow[] {
    const t = this.timeOf(timestamp, ctx);
    const windows: TimeWindow[] = [];
    const lastStart = TimeWindow.getWindowStartWithOffset(t, this.offset, this.slide);
    for (let start = lastStart; start > t - this.size; start -= this.slide) windows.push(new TimeWindow(start, start + this.size));
    return windows;
  }

  override toString(): string {
    return `Sliding${this.isEventTime ? 'EventTime' : 'ProcessingTime'}Windows(${this.size}, ${this.slide}, offset ${this.offset})`;
  }
}

/** The session gap of one element (Flink's SessionWindowTimeGapExtractor). */
export type SessionGapExtractor<T> = (element: T) => number;

/**
 * One window [t, t + gap) per element; windows that overlap or touch merge into a session
 * (Flink's EventTimeSessionWindows, ProcessingTimeSessionWindows and their dynamic-gap variants).
 */
export class SessionWindows<T = unknown> extends TimeWindowAssigner<T> implements MergingWindowAssigner<T, TimeWindow> {
  private constructor(
    isEventTime: boolean,
    private readonly gapOf: SessionGapExtractor<T>,
  ) {
    super(isEventTime);
  }

  static eventTime<T = unknown>(gap: number): SessionWindows<T> {
    checkPositive('session gap', gap);
    return new SessionWindows<T>(true, () => gap);
  }

  static processingTime<T = unknown>(gap: number): SessionWindows<T> {
    checkPositive('session gap', gap);
    return new SessionWindows<T>(false, () => gap);
  }

  static eventTimeWithDynamicGap<T>(extractor: SessionGapExtractor<T>): SessionWindows<T> {
    return new SessionWindows<T>(true, extractor);
  }

  static processingTimeWithDynamicGap<T>(extractor: SessionGapExtractor<T>): SessionWindows<T> {
    return new SessionWindows<T>(false, extractor);
  }

  override assignWindows(element: T, timestamp: number | undefined, ctx: WindowAssignerContext): readonly TimeWindow[] {
    const t = this.timeOf(timestamp, ctx);
    const gap = this.gapOf(element);
    checkPositive('session gap', gap);
    return [new TimeWindow(t, t + gap)];
  }

  mergeWindows(windows: readonly TimeWindow[], merge: (toBeMerged: TimeWindow[], mergeResult: TimeWindow) => void): void {
    TimeWindow.mergeWindows(windows, merge);
  }

  override toString(): string {
    return `${this.isEventTime ? 'EventTime' : 'ProcessingTime'}SessionWindows`;
  }
}

/** Everything of a key in one window that never ends; needs a trigger such as CountTrigger (Flink's GlobalWindows). */
export class GlobalWindows<T = unknown> implements WindowAssigner<T, GlobalWindow> {
  readonly windowSerializer = GlobalWindowSerializer.INSTANCE;
  readonly isEventTime = false;
  private static readonly WINDOWS: readonly GlobalWindow[] = Object.freeze([GlobalWindow.INSTANCE]);

  static create<T = unknown>(): GlobalWindows<T> {
    return new GlobalWindows<T>();
  }

  assignWindows(): readonly GlobalWindow[] {
    return GlobalWindows.WINDOWS;
  }

  defaultTrigger(): Trigger<T, GlobalWindow> {
    return new NeverTrigger<GlobalWindow>();
  }
}
