import { assert } from '@flowstate/core';
import type { ProcessingTimeClock } from './clock.js';
import { MIN_WATERMARK } from './timer-service.js';

/**
 * Watermark generation at the sources (Flink's WatermarkStrategy, WatermarkGenerator and
 * TimestampAssigner). A source task assigns every record its timestamp, feeds it to the
 * generator, and lets the generator emit a watermark periodically. Flink's period is processing
 * time (pipeline.auto-watermark-interval, 200 ms); here it is a number of records, so that runs
 * are deterministic from their input, plus every time the source has nothing to emit.
 */

/** Where a generator sends watermarks and idleness (Flink's WatermarkOutput). */
export interface WatermarkOutput {
  /** Emits `timestamp` unless a watermark >= it was already emitted; marks the output active. */
  emitWatermark(timestamp: number): void;
  /** No records for now: downstream leaves this source subtask out of its minimum. */
  markIdle(): void;
  markActive(): void;
}

export interface WatermarkGenerator<T> {
  onEvent(event: T, timestamp: number, output: WatermarkOutput): void;
  onPeriodicEmit(output: WatermarkOutput): void;
}

/** The event time of a record; `recordTimestamp` is the timestamp it already carries, if any. */
export type TimestampAssigner<T> = (event: T, recordTimestamp: number | undefined) => number;

/** Flink's BoundedOutOfOrdernessWatermarks: the watermark trails the largest timestamp seen by the bound. */
export class BoundedOutOfOrdernessWatermarks<T> implements WatermarkGenerator<T> {
  private maxTimestamp: number;

  constructor(private readonly outOfOrdernessMs: number) {
    assert(Number.isSafeInteger(outOfOrdernessMs) && outOfOrdernessMs >= 0, `out-of-orderness ${outOfOrdernessMs} >= 0`);
    // Starts so that the first watermark is MIN_WATERMARK, not below it.
    this.maxTimestamp = MIN_WATERMARK + outOfOrdernessMs + 1;
  }

  onEvent(_event: T, timestamp: number): void {
    if (timestamp > this.maxTimestamp) this.maxTimestamp = timestamp;
  }

  onPeriodicEmit(output: WatermarkOutput): void {
    output.emitWatermark(this.maxTimestamp - this.outOfOrdernessMs - 1);
  }
}

/**
 * Flink's WatermarksWithIdleness: when no record arrived for `timeoutMs` of processing time, the
 * output is marked idle instead of emitting; the next record makes it active again.
 */
export class WatermarksWithIdleness<T> implements WatermarkGenerator<T> {
  private lastActivity: number;

  constructor(
    private readonly inner: WatermarkGenerator<T>,
    private readonly timeoutMs: number,
    private readonly clock: ProcessingTimeClock,
  ) {
    assert(Number.isFinite(timeoutMs) && timeoutMs > 0, `idleness timeout ${timeoutMs} > 0`);
    this.lastActivity = clock.now();
  }

  onEvent(event: T, timestamp: number, output: WatermarkOutput): void {
    this.lastActivity = this.clock.now();
    this.inner.onEvent(event, timestamp, output);
  }

  onPeriodicEmit(output: WatermarkOutput): void {
    if (this.clock.now() - this.lastActivity >= this.timeoutMs) output.markIdle();
    else this.inner.onPeriodicEmit(output);
  }
}

interface StrategySpec<T> {
  readonly generator: ((clock: ProcessingTimeClock) => WatermarkGenerator<T>) | undefined;
  readonly assigner: TimestampAssigner<T> | undefined;
  readonly idleTimeoutMs: number | undefined;
  readonly emitEveryRecords: number;
}

/** How a source stamps its records and generates watermarks; immutable, `with...` returns a copy. */
export class WatermarkStrategy<T> {
  private constructor(private readonly spec: StrategySpec<T>) {}

  /** Records may arrive up to `maxOutOfOrdernessMs` later than a record with a larger timestamp. */
  static forBoundedOutOfOrderness<T>(maxOutOfOrdernessMs: number): WatermarkStrategy<T> {
    assert(Number.isSafeInteger(maxOutOfOrdernessMs) && maxOutOfOrdernessMs >= 0, `out-of-orderness ${maxOutOfOrdernessMs} >= 0`);
    return new WatermarkStrategy<T>({ generator: () => new BoundedOutOfOrdernessWatermarks<T>(maxOutOfOrdernessMs), assigner: undefined, idleTimeoutMs: undefined, emitEveryRecords: 1 });
  }

  /** Timestamps never decrease (bounded out-of-orderness of 0). */
  static forMonotonousTimestamps<T>(): WatermarkStrategy<T> {
    return WatermarkStrategy.forBoundedOutOfOrderness<T>(0);
  }

  /** Any generator (Flink's WatermarkStrategy.forGenerator). */
  static forGenerator<T>(create: (clock: ProcessingTimeClock) => WatermarkGenerator<T>): WatermarkStrategy<T> {
    return new WatermarkStrategy<T>({ generator: create, assigner: undefined, idleTimeoutMs: undefined, emitEveryRecords: 1 });
  }

  /** Timestamps only; no watermark until the end of input (MAX_WATERMARK). */
  static noWatermarks<T>(): WatermarkStrategy<T> {
    return new WatermarkStrategy<T>({ generator: undefined, assigner: undefined, idleTimeoutMs: undefined, emitEveryRecords: 1 });
  }

  withTimestampAssigner(assigner: TimestampAssigner<T>): WatermarkStrategy<T> {
    return new WatermarkStrategy<T>({ ...this.spec, assigner });
  }

  /** Marks the source subtask idle after `timeoutMs` of processing time without a record. */
  withIdleness(timeoutMs: number): WatermarkStrategy<T> {
    assert(Number.isFinite(timeoutMs) && timeoutMs > 0, `idleness timeout ${timeoutMs} > 0`);
    return new WatermarkStrategy<T>({ ...this.spec, idleTimeoutMs: timeoutMs });
  }

  /**
   * Calls the generator's onPeriodicEmit after every `records` records (default 1: a watermark
   * follows each record that advanced it). Larger values send fewer watermark events.
   */
  withPeriodicEmitEvery(records: number): WatermarkStrategy<T> {
    assert(Number.isSafeInteger(records) && records >= 1, `periodic emit every ${records} >= 1 records`);
    return new WatermarkStrategy<T>({ ...this.spec, emitEveryRecords: records });
  }

  get timestampAssigner(): TimestampAssigner<T> | undefined {
    return this.spec.assigner;
  }

  get emitEveryRecords(): number {
    return this.spec.emitEveryRecords;
  }

  /** A generator for one source subtask, or undefined for noWatermarks. */
  createWatermarkGenerator(clock: ProcessingTimeClock): WatermarkGenerator<T> | undefined {
    const g = this.spec.generator?.(clock);
    if (g === undefined || this.spec.idleTimeoutMs === undefined) return g;
    return new WatermarksWithIdleness(g, this.spec.idleTimeoutMs, clock);
  }
}
