import { Serializers, VoidNamespace } from '@flowstate/core';
import type { OperatorEnvironment } from '../environment.js';
import type { Collector, OnTimerContext, RichFunction, TimeDomain, TimerService } from '../functions.js';
import { FunctionOperator, type SubtaskContext } from '../operators.js';
import type { InternalTimer, InternalTimerService, Triggerable } from './timer-service.js';

/** Flink names the timer service of its KeyedProcessOperator so; savepoints carry `_timer_state/event_user-timers`. */
export const USER_TIMERS = 'user-timers';

/** The user-facing TimerService over the operator's internal one (timers in the void namespace). */
function userTimerService(s: InternalTimerService<VoidNamespace>): TimerService {
  return {
    currentProcessingTime: () => s.currentProcessingTime(),
    currentWatermark: () => s.currentWatermark(),
    registerEventTimeTimer: (t) => s.registerEventTimeTimer(VoidNamespace, t),
    deleteEventTimeTimer: (t) => s.deleteEventTimeTimer(VoidNamespace, t),
    registerProcessingTimeTimer: (t) => s.registerProcessingTimeTimer(VoidNamespace, t),
    deleteProcessingTimeTimer: (t) => s.deleteProcessingTimeTimer(VoidNamespace, t),
  };
}

/**
 * Flink's KeyedProcessOperator: a KeyedProcessFunction with the `user-timers` timer service. For a
 * function with onTimer the service is created in open, before its initializeState, so restored
 * processing-time timers are scheduled even when the function never touches its timers again.
 * Without onTimer it is created on the first ctx.timerService() (unlike Flink, which always
 * creates it): jobs that use no timers keep no timer state.
 */
/** A keyed function with timers: keyed process, keyed co-process and keyed broadcast process functions. */
export interface TimedFunction extends RichFunction {
  onTimer?(timestamp: number, ctx: OnTimerContext<never>, out: Collector<never>): void;
}

export class KeyedProcessOperator extends FunctionOperator implements Triggerable<unknown, VoidNamespace> {
  private subtask: SubtaskContext | undefined;

  constructor(
    private readonly user: TimedFunction,
    process: ConstructorParameters<typeof FunctionOperator>[1],
  ) {
    super(user, process);
  }

  override async open(env: OperatorEnvironment): Promise<void> {
    this.subtask = env.ctx as SubtaskContext;
    const create = () => userTimerService(env.getInternalTimerService(USER_TIMERS, Serializers.voidNamespace, this));
    this.subtask.bindTimerService(this.user.onTimer !== undefined ? create() : create);
    await super.open(env);
  }

  onEventTime(timer: InternalTimer<unknown, VoidNamespace>, out: Collector<unknown>): void {
    this.fire(timer.timestamp, 'EVENT_TIME', out);
  }

  onProcessingTime(timer: InternalTimer<unknown, VoidNamespace>, out: Collector<unknown>): void {
    this.fire(timer.timestamp, 'PROCESSING_TIME', out);
  }

  private fire(timestamp: number, domain: TimeDomain, out: Collector<unknown>): void {
    const onTimer = this.user.onTimer;
    if (onTimer === undefined) return;
    const ctx = this.subtask!;
    ctx.firingDomain = domain;
    try {
      const r: unknown = onTimer.call(this.user, timestamp, ctx as never, out as Collector<never>);
      if (r instanceof Promise) throw new TypeError(`onTimer of operator '${ctx.operatorUid}' returned a promise; timers fire synchronously`);
    } finally {
      ctx.firingDomain = undefined;
    }
  }
}
