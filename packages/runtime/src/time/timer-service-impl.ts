import { assert, type KeyedStateBackend, type KeyGroupedInternalPriorityQueue, type TypeSerializer } from '@flowstate/core';
import type { Collector } from '../functions.js';
import type { ProcessingTimeClock } from './clock.js';
import { createTimerQueue } from './timer-queue.js';
import { MIN_WATERMARK, type InternalTimer, type InternalTimerService, type Triggerable } from './timer-service.js';

/** What fires timers needs of the task: its output, and who fires processing-time timers once due. */
export interface TimerHost {
  /**
   * The collector records of timers go to; its timestamp is set to the timer's before each call.
   * hasCredit: whether every output channel has room for one more record (TaskOutput.hasCredit).
   */
  readonly output: Collector<unknown> & { timestamp: number | undefined; hasCredit(): boolean };
  /**
   * Called by the clock (outside the task's loop) when processing-time timers of `service` are
   * due: the task's loop fires them later, in steps (fireProcessingTimers).
   */
  processingTimersDue(service: InternalTimerServiceImpl<unknown, unknown>): void;
}

/**
 * How many more timers the current firing step may fire. Firing stops at the end of a step (and
 * when the output runs out of credit) so that the task's loop can run mail and barriers between
 * steps (Flink's interruptible timers, FLIP-443); the step shares one budget across services.
 */
export interface FiringBudget {
  left: number;
}

/**
 * Flink's InternalTimerServiceImpl: event-time and processing-time timers of one name, each a
 * keyed priority queue of the operator's backend (`_timer_state/event_<name>`,
 * `_timer_state/processing_<name>`), so they are snapshotted, restored and rescaled with the key
 * groups, and after a restore each timer lives (and fires) only on the subtask owning its key.
 */
export class InternalTimerServiceImpl<K, N> implements InternalTimerService<N> {
  private readonly eventQueue: KeyGroupedInternalPriorityQueue<InternalTimer<K, N>>;
  private readonly processingQueue: KeyGroupedInternalPriorityQueue<InternalTimer<K, N>>;
  /** The processing time the clock will wake this service at, and how to cancel that wake-up. */
  private wakeupAt: number | undefined;
  private cancelWakeup: (() => void) | undefined;
  private watermark = MIN_WATERMARK;
  private disposed = false;

  constructor(
    readonly name: string,
    readonly namespaceSerializer: TypeSerializer<N>,
    private triggerable: Triggerable<K, N>,
    private readonly backend: KeyedStateBackend<K>,
    private readonly clock: ProcessingTimeClock,
    private readonly host: TimerHost,
  ) {
    this.eventQueue = createTimerQueue(backend, `_timer_state/event_${name}`, namespaceSerializer);
    this.processingQueue = createTimerQueue(backend, `_timer_state/processing_${name}`, namespaceSerializer);
    // Restored processing-time timers need a wake-up as much as new ones.
    this.scheduleProcessingWakeup();
  }

  /** A second getInternalTimerService with the same name: same queues, new callbacks (as Flink). */
  rebind(namespaceSerializer: TypeSerializer<N>, triggerable: Triggerable<K, N>): void {
    assert(namespaceSerializer === this.namespaceSerializer || namespaceSerializer.constructor === this.namespaceSerializer.constructor, `timer service '${this.name}': another namespace serializer`);
    this.triggerable = triggerable;
  }

  currentProcessingTime(): number {
    return this.clock.now();
  }

  currentWatermark(): number {
    return this.watermark;
  }

  registerEventTimeTimer(namespace: N, time: number): void {
    this.eventQueue.add({ timestamp: time, key: this.backend.getCurrentKey(), namespace });
  }

  deleteEventTimeTimer(namespace: N, time: number): void {
    this.eventQueue.remove({ timestamp: time, key: this.backend.getCurrentKey(), namespace });
  }

  registerProcessingTimeTimer(namespace: N, time: number): void {
    const headChanged = this.processingQueue.add({ timestamp: time, key: this.backend.getCurrentKey(), namespace });
    if (headChanged) this.scheduleProcessingWakeup();
  }

  deleteProcessingTimeTimer(namespace: N, time: number): void {
    // A wake-up for a deleted head only finds nothing due and reschedules: no need to cancel it.
    this.processingQueue.remove({ timestamp: time, key: this.backend.getCurrentKey(), namespace });
  }

  /**
   * Fires the event-time timers at or before `watermark`, in timestamp order, one at a time:
   * onEventTime may register (even already due) or delete timers, which this loop then sees. A
   * timer fires only while every output channel has room for one more record (as a record is
   * read, Task.processBatch) and the step's budget lasts. Returns false when due timers are left
   * for a later step; the watermark is this service's from the call on, fired or not.
   */
  advanceWatermark(watermark: number, budget: FiringBudget): boolean {
    this.watermark = watermark;
    return this.fireDue(this.eventQueue, watermark, budget, true);
  }

  /**
   * Fires the timers of `q` due at `upTo`, in timestamp order, one at a time, while the output has
   * credit and `budget` lasts; false when due timers are left. Event-time output carries the
   * timer's timestamp, processing-time output none (as in Flink).
   */
  private fireDue(q: KeyGroupedInternalPriorityQueue<InternalTimer<K, N>>, upTo: number, budget: FiringBudget, eventTime: boolean): boolean {
    const out = this.host.output;
    for (let t = q.peek(); t !== undefined && t.timestamp <= upTo; t = q.peek()) {
      if (budget.left <= 0 || !out.hasCredit()) return false;
      budget.left--;
      q.poll();
      this.backend.setCurrentKey(t.key);
      out.timestamp = eventTime ? t.timestamp : undefined;
      if (eventTime) this.triggerable.onEventTime(t, out);
      else this.triggerable.onProcessingTime(t, out);
    }
    return true;
  }

  /**
   * Fires the processing-time timers due at the clock's time, within credit and `budget` as
   * advanceWatermark. Returns false when due timers are left: the caller resumes them in a later
   * step (no wake-up is scheduled meanwhile; the next complete call schedules it).
   */
  fireProcessingTimers(budget: FiringBudget): boolean {
    this.wakeupAt = undefined;
    this.cancelWakeup?.();
    this.cancelWakeup = undefined;
    if (this.disposed) return true;
    if (!this.fireDue(this.processingQueue, this.clock.now(), budget, false)) return false;
    this.scheduleProcessingWakeup();
    return true;
  }

  private onProcessingWakeup(): void {
    this.wakeupAt = undefined;
    this.cancelWakeup = undefined;
    this.host.processingTimersDue(this as InternalTimerServiceImpl<unknown, unknown>);
  }

  /** Stops waking up (the task ends); timers stay in the backend's state. */
  dispose(): void {
    this.disposed = true;
    this.cancelWakeup?.();
    this.cancelWakeup = undefined;
  }

  private scheduleProcessingWakeup(): void {
    if (this.disposed) return;
    const head = this.processingQueue.peek();
    if (head === undefined || (this.wakeupAt !== undefined && this.wakeupAt <= head.timestamp)) return;
    this.cancelWakeup?.();
    this.wakeupAt = head.timestamp;
    this.cancelWakeup = this.clock.schedule(head.timestamp, () => this.onProcessingWakeup());
  }
}
