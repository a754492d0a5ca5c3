import { assert, type KeyedStateBackend, type TypeSerializer } from '@flowstate/core';
import type { ChannelMessage } from '../channel.js';
import type { ProcessingTimeClock } from './clock.js';
import { InternalTimerServiceImpl, type FiringBudget, type TimerHost } from './timer-service-impl.js';
import type { InternalTimerService, Triggerable } from './timer-service.js';
import { WatermarkValve, type ValveOutput } from './watermark-valve.js';

/** What an operator task's event time needs from the task. */
export interface OperatorTimeHost {
  /** The collector records of timers go to (TimerHost.output). */
  readonly output: TimerHost['output'];
  /** Runs `fn` on the task's loop, between records (Flink's mailbox). */
  post(fn: () => void): void;
  /** Sends an event to every output channel. */
  broadcast(message: ChannelMessage): void;
}

/** A watermark whose due timers are not all fired yet. */
interface Advancing {
  /** The index (in creation order) of the service it stopped in. */
  service: number;
  /** Whether it goes downstream once fired (not for a service created after it went, see getInternalTimerService). */
  readonly forward: boolean;
  /** Whether all inputs went idle with it: the idle status follows it. */
  readonly idleAfter: boolean;
}

/**
 * Event time and timers of one operator subtask (Flink's InternalTimeServiceManager plus the
 * input's StatusWatermarkValve): the combined input watermark advances the timer services, which
 * fire their due timers, and only then goes downstream, so records of fired timers precede it.
 *
 * Timers fire in steps (fireStep) that the task's loop interleaves with mail and barriers, each
 * within the output's credit, as Flink 1.20's interruptible timers (FLIP-443): a checkpoint taken
 * between two steps snapshots the timers not fired yet, which fire after a restore. While timers
 * are due (`firing`), the task reads no record, watermark or other input event: input that came
 * after the watermark still sees all of its timers fired, in the same order as without steps.
 */
export class OperatorTime {
  private readonly valve: WatermarkValve;
  private readonly services = new Map<string, InternalTimerServiceImpl<unknown, unknown>>();
  /** The services in creation order (the order a watermark fires them in). */
  private readonly order: InternalTimerServiceImpl<unknown, unknown>[] = [];
  private advancing: Advancing | undefined;
  /** Services whose due processing-time timers wait for the next steps (their wake-up mail ran). */
  private readonly processingDue = new Set<InternalTimerServiceImpl<unknown, unknown>>();
  private readonly budget: FiringBudget = { left: 0 };
  private readonly timerHost: TimerHost;
  private quiesced = false;
  /** End of data went downstream (or did before the restored snapshot): no timer may fire any more. */
  private ended = false;

  constructor(
    inputChannels: number,
    private readonly keyed: KeyedStateBackend<unknown> | undefined,
    readonly clock: ProcessingTimeClock,
    private readonly host: OperatorTimeHost,
  ) {
    this.valve = new WatermarkValve(inputChannels);
    this.timerHost = {
      output: host.output,
      processingTimersDue: (s) => host.post(() => void this.processingDue.add(s)),
    };
  }

  get currentWatermark(): number {
    return this.valve.currentWatermark;
  }

  /**
   * The timer service `name` (created on first use, with its two priority queues in the keyed
   * backend; restored timers come back when the same name is asked for again after a restore).
   */
  getInternalTimerService<N>(name: string, namespaceSerializer: TypeSerializer<N>, triggerable: Triggerable<unknown, N>): InternalTimerService<N> {
    assert(this.keyed !== undefined, `timer service '${name}' asked for by an operator without keyed state`);
    const existing = this.services.get(name) as InternalTimerServiceImpl<unknown, N> | undefined;
    if (existing !== undefined) {
      existing.rebind(namespaceSerializer, triggerable);
      return existing;
    }
    const s = new InternalTimerServiceImpl<unknown, N>(name, namespaceSerializer, triggerable, this.keyed, this.clock, this.timerHost);
    this.services.set(name, s as InternalTimerServiceImpl<unknown, unknown>);
    this.order.push(s as InternalTimerServiceImpl<unknown, unknown>);
    if (this.quiesced) s.dispose();
    // Created after watermarks already arrived (lazily): it starts where event time is (a budget
    // of 0 fires nothing). Its due (restored) timers fire in the next steps, after the record or
    // timer that asked for it and before any other input, within credit; the watermark already
    // went downstream. A watermark still advancing reaches it anyway (it is the last service).
    // After end of data (a service first asked for in snapshotState or notifyCheckpointComplete
    // of a finished task) nothing fires: a record would follow end of data.
    const w = this.valve.currentWatermark;
    if (w !== s.currentWatermark()) {
      const due = !s.advanceWatermark(w, { left: 0 });
      if (due && this.advancing === undefined && !this.ended) this.advancing = { service: this.order.length - 1, forward: false, idleAfter: false };
    }
    return s;
  }

  /**
   * Timers are due: a watermark has timers left to fire, or processing-time timers whose wake-up
   * ran. The task runs fireStep (and mail, and barriers) until it is false, and reads no input.
   */
  get firing(): boolean {
    return this.advancing !== undefined || this.processingDue.size > 0;
  }

  onWatermark(channel: number, timestamp: number): void {
    this.apply(this.valve.onWatermark(channel, timestamp));
  }

  onStatus(channel: number, idle: boolean): void {
    this.apply(this.valve.onStatus(channel, idle));
  }

  onEndOfData(channel: number): void {
    this.apply(this.valve.onEndOfData(channel));
  }

  /**
   * Fires at most `max` due timers while every output channel has credit: processing-time ones
   * first, then those of the watermark advancing, which goes downstream (with an idle status that
   * came with it) once none is left. Returns how many fired; 0 while `firing` means no credit.
   */
  fireStep(max: number): number {
    const b = this.budget;
    b.left = max;
    for (const s of this.processingDue) {
      if (!s.fireProcessingTimers(b)) return max - b.left;
      this.processingDue.delete(s);
    }
    const a = this.advancing;
    if (a === undefined) return max - b.left;
    const w = this.valve.currentWatermark;
    for (; a.service < this.order.length; a.service++) if (!this.order[a.service]!.advanceWatermark(w, b)) return max - b.left;
    this.advancing = undefined;
    if (a.forward) this.host.broadcast({ kind: 'watermark', timestamp: w });
    if (a.idleAfter) this.host.broadcast({ kind: 'watermark-status', idle: true });
    return max - b.left;
  }

  /**
   * No processing-time timer fires any more (Flink's quiesceProcessingTimeService): the operator
   * finished its input and its end of data is about to go downstream, or it finished before the
   * snapshot it was restored from. Its timers stay in state, due ones too.
   */
  quiesce(): void {
    this.quiesced = true;
    this.processingDue.clear();
    this.dispose();
  }

  /**
   * End of data is about to go downstream (the task called finish and fired what was due), or
   * went before the restored snapshot: a service created from now on fires nothing.
   */
  endOfData(): void {
    assert(!this.firing, 'end of data while timers are due');
    this.ended = true;
  }

  dispose(): void {
    for (const s of this.services.values()) s.dispose();
  }

  private apply(o: ValveOutput): void {
    assert(this.advancing === undefined, 'an input event while a watermark is firing');
    const { watermark, idle } = o;
    // Active before the watermark it enables; idle after the last watermark.
    if (idle === false) this.host.broadcast({ kind: 'watermark-status', idle: false });
    // Its timers fire in the task's next steps (the first one right away), then it goes downstream.
    if (watermark !== undefined) this.advancing = { service: 0, forward: true, idleAfter: idle === true };
    else if (idle === true) this.host.broadcast({ kind: 'watermark-status', idle: true });
  }
}
