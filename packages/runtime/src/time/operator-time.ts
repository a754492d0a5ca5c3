import { assert, type KeyedStateBackend, type TypeSerializer } from '@flowstate/core';
import type { ChannelMessage } from '../channel.js';
import type { ProcessingTimeClock } from './clock.js';
import { InternalTimerServiceImpl, type TimerHost } from './timer-service-impl.js';
import type { InternalTimerService, Triggerable } from './timer-service.js';
import { WatermarkValve, type ValveOutput } from './watermark-valve.js';

/** What an operator task's event time needs from the task. */
export interface OperatorTimeHost extends TimerHost {
  /** Sends an event to every output channel. */
  broadcast(message: ChannelMessage): void;
}

/**
 * Event time and timers of one operator subtask (Flink's InternalTimeServiceManager plus the
 * input's StatusWatermarkValve): the combined input watermark advances the timer services, which
 * fire their due timers, and only then goes downstream, so records of fired timers precede it.
 * Timers fire within the output's credit, so a watermark may take several task loop turns.
 */
export class OperatorTime {
  private readonly valve: WatermarkValve;
  private readonly services = new Map<string, InternalTimerServiceImpl<unknown, unknown>>();
  /** The services in creation order (the order a watermark fires them in). */
  private readonly order: InternalTimerServiceImpl<unknown, unknown>[] = [];
  /**
   * A watermark that still has due timers to fire (the output ran out of credit): the index of
   * the service it stopped in, and whether all inputs went idle with it (sent after it).
   */
  private inProgress: { service: number; idleAfter: boolean } | undefined;
  private quiesced = false;

  constructor(
    inputChannels: number,
    private readonly keyed: KeyedStateBackend<unknown> | undefined,
    readonly clock: ProcessingTimeClock,
    private readonly host: OperatorTimeHost,
  ) {
    this.valve = new WatermarkValve(inputChannels);
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
    const s = new InternalTimerServiceImpl<unknown, N>(name, namespaceSerializer, triggerable, this.keyed, this.clock, this.host);
    this.services.set(name, s as InternalTimerServiceImpl<unknown, unknown>);
    this.order.push(s as InternalTimerServiceImpl<unknown, unknown>);
    if (this.quiesced) s.dispose();
    // Created after watermarks already arrived (lazily): it starts where event time is. Its due
    // (restored) timers fire now, as part of the output of the record or timer that asked for it,
    // which is never split (Flink's overdraft, see Task.processBatch).
    if (this.valve.currentWatermark !== s.currentWatermark()) s.advanceWatermark(this.valve.currentWatermark, false);
    return s;
  }

  /**
   * A watermark is still firing its due timers: the task runs nothing else (no input, no mail)
   * until resumeFiring() finished it, as Flink's task thread blocks on a full output.
   */
  get firing(): boolean {
    return this.inProgress !== undefined;
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
   * Fires the due timers of the watermark in progress while every output channel has credit;
   * once none is left the watermark (and an idle status that came with it) goes downstream.
   * Returns whether it did.
   */
  resumeFiring(): boolean {
    const p = this.inProgress;
    assert(p !== undefined, 'no watermark is firing');
    const w = this.valve.currentWatermark;
    for (; p.service < this.order.length; p.service++) if (!this.order[p.service]!.advanceWatermark(w, true)) return false;
    this.inProgress = undefined;
    this.host.broadcast({ kind: 'watermark', timestamp: w });
    if (p.idleAfter) this.host.broadcast({ kind: 'watermark-status', idle: true });
    return true;
  }

  /**
   * No processing-time timer fires any more (Flink's quiesceProcessingTimeService): the operator
   * finished its input and its end of data is about to go downstream, or it finished before the
   * snapshot it was restored from. Its timers stay in state.
   */
  quiesce(): void {
    this.quiesced = true;
    this.dispose();
  }

  dispose(): void {
    for (const s of this.services.values()) s.dispose();
  }

  private apply(o: ValveOutput): void {
    assert(this.inProgress === undefined, 'an input event while a watermark is firing');
    const { watermark, idle } = o;
    // Active before the watermark it enables; idle after the last watermark.
    if (idle === false) this.host.broadcast({ kind: 'watermark-status', idle: false });
    if (watermark !== undefined) {
      this.inProgress = { service: 0, idleAfter: idle === true };
      this.resumeFiring();
    } else if (idle === true) this.host.broadcast({ kind: 'watermark-status', idle: true });
  }
}
