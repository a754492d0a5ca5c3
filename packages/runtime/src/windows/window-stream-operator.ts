import { assert, type KeyedStateBackend, type Window } from '@flowstate/core';
import type { OperatorEnvironment } from '../environment.js';
import type { Collector } from '../functions.js';
import type { StreamOperator } from '../graph.js';
import type { OutputTag } from '../side-output.js';
import type { InternalTimer, Triggerable } from '../time/timer-service.js';
import { WindowOperator, type WindowOperatorSpec } from './window-operator.js';

/** Flink's name for the window operator's timer service: savepoints carry `_timer_state/event_window-timers`. */
export const WINDOW_TIMERS = 'window-timers';

/** The task's output: records collected carry its `timestamp` (Flink's TimestampedCollector). */
type TimestampedCollector = Collector<unknown> & { timestamp: number | undefined };

/**
 * Runs a WindowOperator in a task: its timers are the operator's `window-timers` service, its
 * state the subtask's keyed backend. Results carry the window's max timestamp, as in Flink,
 * whether a timer or an element fired the window; late elements keep their own.
 */
export class WindowStreamOperator<K, IN, C, OUT, W extends Window> implements StreamOperator, Triggerable<K, W> {
  private readonly window: WindowOperator<K, IN, C, OUT, W>;
  private env: OperatorEnvironment | undefined;
  /** The collector of the record or timer being processed. */
  private out: TimestampedCollector | undefined;

  constructor(spec: WindowOperatorSpec<K, IN, C, OUT, W>) {
    this.window = new WindowOperator(spec);
  }

  get numLateRecordsDropped(): number {
    return this.window.numLateRecordsDropped;
  }

  async open(env: OperatorEnvironment): Promise<void> {
    assert(env.keyed !== undefined, `window operator '${this.window.spec.uid}' follows a keyBy`);
    this.env = env;
    // Asked for in open, so that restored processing-time timers are scheduled (see OperatorEnvironment).
    const timers = env.getInternalTimerService(WINDOW_TIMERS, this.window.spec.assigner.windowSerializer, this as Triggerable<unknown, W>);
    this.window.open(env.keyed as KeyedStateBackend<K>, timers, {
      collect: (value, timestamp) => this.withTimestamp(timestamp, () => this.out!.collect(value)),
      sideOutput: <X>(tag: OutputTag<X>, value: X, timestamp: number | undefined) => this.withTimestamp(timestamp, () => this.env!.output(tag, value)),
    });
  }

  processElement(_input: number, value: unknown, out: Collector<unknown>): void {
    this.out = timestamped(out);
    this.window.processElement(value as IN, this.env!.currentTimestamp());
  }

  onEventTime(timer: InternalTimer<K, W>, out: Collector<unknown>): void {
    this.out = timestamped(out);
    this.window.onEventTime(timer);
  }

  onProcessingTime(timer: InternalTimer<K, W>, out: Collector<unknown>): void {
    this.out = timestamped(out);
    this.window.onProcessingTime(timer);
  }

  private withTimestamp(timestamp: number | undefined, emit: () => void): void {
    const out = this.out!;
    const previous = out.timestamp;
    out.timestamp = timestamp;
    try {
      emit();
    } finally {
      out.timestamp = previous;
    }
  }

  // Everything lives in keyed state and timers: nothing to do at the other lifecycle points.
  async endInput(): Promise<void> {}
  async snapshotState(): Promise<void> {}
  async notifyCheckpointComplete(): Promise<void> {}
  async notifyCheckpointAborted(): Promise<void> {}
  async finish(): Promise<void> {}
  async close(): Promise<void> {}
}

function timestamped(out: Collector<unknown>): TimestampedCollector {
  assert('timestamp' in out, 'the task hands operators a timestamped collector');
  return out as TimestampedCollector;
}
