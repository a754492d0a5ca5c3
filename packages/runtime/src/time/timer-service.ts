import type { InternalTimer } from '@flowstate/core';
import type { Collector } from '../functions.js';

/**
 * Event time and timers (Flink's InternalTimerService). Timers are keyed priority-queue state of
 * the operator's keyed backend, so they are checkpointed, restored and rescaled with its key groups.
 */

/** The watermark before any was received, and the one that ends event time (end of input). */
export const MIN_WATERMARK = Number.MIN_SAFE_INTEGER;
export const MAX_WATERMARK = Number.MAX_SAFE_INTEGER;

/** A registered timer (one definition, in core: it is the element type of the backends' priority queues). */
export type { InternalTimer } from '@flowstate/core';

/** The timers of one operator for one namespace type; the key is the backend's current key. */
export interface InternalTimerService<N> {
  currentProcessingTime(): number;
  currentWatermark(): number;
  /** Registering the same (key, namespace, time) twice keeps one timer. */
  registerEventTimeTimer(namespace: N, time: number): void;
  deleteEventTimeTimer(namespace: N, time: number): void;
  registerProcessingTimeTimer(namespace: N, time: number): void;
  deleteProcessingTimeTimer(namespace: N, time: number): void;
}

/**
 * What fires timers calls back; the current key is set to the timer's key before each call, and
 * records collected there carry the timer's timestamp (Flink's TimestampedCollector).
 */
export interface Triggerable<K, N> {
  onEventTime(timer: InternalTimer<K, N>, out: Collector<unknown>): void;
  onProcessingTime(timer: InternalTimer<K, N>, out: Collector<unknown>): void;
}
