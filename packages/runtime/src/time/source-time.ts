import { ListStateDescriptor, Serializers, type ListState, type OperatorStateBackend } from '@flowstate/core';
import type { ChannelMessage } from '../channel.js';
import type { ProcessingTimeClock } from './clock.js';
import { MAX_WATERMARK, MIN_WATERMARK } from './timer-service.js';
import type { TimestampAssigner, WatermarkGenerator, WatermarkOutput, WatermarkStrategy } from './watermarks.js';

/**
 * The last watermark each source subtask emitted, as union list state: after a restore (at any
 * parallelism) every subtask starts from the minimum of them, so watermarks never go back behind
 * what downstream had already seen and the timers restored below it fire without waiting for a
 * full new round of input. Flink keeps this state in its sources (split watermarks); operators
 * do not checkpoint watermarks.
 */
const SOURCE_WATERMARK = new ListStateDescriptor<number>('_source_watermark', Serializers.float64);

/**
 * Event time of one source subtask: stamps records, runs the watermark generator and sends its
 * watermarks and idleness downstream (through `send`, which reaches every output channel).
 */
export class SourceTime<T> implements WatermarkOutput {
  private readonly assigner: TimestampAssigner<T> | undefined;
  private readonly generator: WatermarkGenerator<T> | undefined;
  private readonly emitEvery: number;
  private sinceEmit = 0;
  private lastEmitted = MIN_WATERMARK;
  private idle = false;
  private state: ListState<number> | undefined;

  constructor(
    /** Undefined: records carry no timestamp, and only MAX_WATERMARK is sent (at the end). */
    strategy: WatermarkStrategy<T> | undefined,
    clock: ProcessingTimeClock,
    private readonly send: (message: ChannelMessage) => void,
  ) {
    this.assigner = strategy?.timestampAssigner;
    this.generator = strategy?.createWatermarkGenerator(clock);
    this.emitEvery = strategy?.emitEveryRecords ?? 1;
  }

  get currentWatermark(): number {
    return this.lastEmitted;
  }

  /**
   * Before the source's initializeState: restores the floor the watermark starts from. Only a
   * source with a watermark generator has this state, so jobs without event time keep none.
   */
  initialize(operatorState: OperatorStateBackend, restored: boolean): void {
    if (this.generator === undefined) return;
    this.state = operatorState.getUnionListState(SOURCE_WATERMARK);
    if (!restored) return;
    const all = this.state.get();
    if (all.length > 0) this.emitWatermark(Math.min(...all));
  }

  /** The record's timestamp (before it is emitted: a record makes an idle source active again). */
  timestampOf(value: T): number | undefined {
    if (this.idle) this.markActive();
    return this.assigner === undefined ? undefined : this.assigner(value, undefined);
  }

  /**
   * After the record left: the generator sees it, and emits every N records. Watermarks follow
   * the record they account for (as in Flink's SourceOutputWithWatermarks), so a watermark a
   * generator emits on an event never makes that event late.
   */
  afterRecord(value: T, timestamp: number | undefined): void {
    const g = this.generator;
    if (g === undefined) return;
    if (timestamp !== undefined) g.onEvent(value, timestamp, this);
    if (++this.sinceEmit >= this.emitEvery) {
      this.sinceEmit = 0;
      g.onPeriodicEmit(this);
    }
  }

  /** The source had nothing to emit: the generator may emit, or decide the subtask is idle. */
  onNoRecord(): void {
    this.sinceEmit = 0;
    this.generator?.onPeriodicEmit(this);
  }

  /** On the barrier, before the operator state backend snapshots. */
  snapshot(): void {
    this.state?.update(this.lastEmitted === MIN_WATERMARK ? [] : [this.lastEmitted]);
  }

  /** End of input: event time ends (not on stop-with-savepoint, which does not drain). */
  finish(): void {
    this.emitWatermark(MAX_WATERMARK);
  }

  emitWatermark(timestamp: number): void {
    if (timestamp <= this.lastEmitted) return;
    if (this.idle) this.markActive();
    this.lastEmitted = timestamp;
    this.send({ kind: 'watermark', timestamp });
  }

  markIdle(): void {
    if (this.idle) return;
    this.idle = true;
    this.send({ kind: 'watermark-status', idle: true });
  }

  markActive(): void {
    if (!this.idle) return;
    this.idle = false;
    this.send({ kind: 'watermark-status', idle: false });
  }
}
