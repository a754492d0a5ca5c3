import type { KeyedStateBackend, OperatorStateBackend, TypeSerializer } from '@flowstate/core';
import type { RuntimeContext } from './functions.js';
import type { OutputTag } from './side-output.js';
import type { ProcessingTimeClock } from './time/clock.js';
import type { OperatorTime } from './time/operator-time.js';
import type { InternalTimerService, Triggerable } from './time/timer-service.js';

/**
 * Everything a task gives an operator (internal; what user functions see is RuntimeContext).
 * Operators built on time (KeyedProcessOperator, window operators) use:
 * - `getInternalTimerService(name, namespaceSerializer, triggerable)`: Flink's timer service of
 *   that name; its timers are keyed priority-queue state (`_timer_state/event_<name>`,
 *   `_timer_state/processing_<name>`) of the keyed backend, restored by name and rescaled by key
 *   group. Ask for it in `open`, so that restored processing-time timers get their wake-up.
 *   `triggerable` is called with the timer's key set as current key, and a collector whose
 *   records carry the timer's timestamp.
 * - `currentTimestamp()`: the event time of the record in processElement.
 * - `output(tag, value)`: a side output (e.g. late data).
 */
export interface OperatorEnvironment {
  readonly ctx: RuntimeContext;
  readonly keyed: KeyedStateBackend<unknown> | undefined;
  readonly operator: OperatorStateBackend;
  getInternalTimerService<N>(name: string, namespaceSerializer: TypeSerializer<N>, triggerable: Triggerable<unknown, N>): InternalTimerService<N>;
  /** The record's timestamp in processElement (the timer's in a timer callback); undefined when none. */
  currentTimestamp(): number | undefined;
  currentWatermark(): number;
  currentProcessingTime(): number;
  output<T>(tag: OutputTag<T>, value: T): void;
}

/** What the environment needs of the task's output (TaskOutput). */
export interface TimestampedOutput {
  readonly timestamp: number | undefined;
  output<T>(tag: OutputTag<T>, value: T): void;
}

/** The environment of one operator subtask, over its task's output and event time. */
export function createOperatorEnvironment(
  ctx: RuntimeContext,
  keyed: KeyedStateBackend<unknown> | undefined,
  operator: OperatorStateBackend,
  output: TimestampedOutput,
  time: OperatorTime,
  clock: ProcessingTimeClock,
): OperatorEnvironment {
  return {
    ctx,
    keyed,
    operator,
    getInternalTimerService: (name, namespaceSerializer, triggerable) => time.getInternalTimerService(name, namespaceSerializer, triggerable),
    currentTimestamp: () => output.timestamp,
    currentWatermark: () => time.currentWatermark,
    currentProcessingTime: () => clock.now(),
    output: (tag, value) => output.output(tag, value),
  };
}
