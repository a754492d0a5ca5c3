import { MAX_WATERMARK, MIN_WATERMARK } from './timer-service.js';

/** What the valve decided after an input event: a new combined watermark and/or a status change. */
export interface ValveOutput {
  watermark: number | undefined;
  /** true: every input channel went idle; false: the first one became active again; undefined: no change. */
  idle: boolean | undefined;
}

/**
 * Flink's StatusWatermarkValve over all input channels of a task (both inputs of a two-input
 * operator: Flink combines the per-input minima, which is the same minimum). The combined
 * watermark is the minimum over active, aligned channels and never goes back. A channel that
 * becomes active again below the combined watermark is unaligned and left out until it catches
 * up, so a source that wakes up cannot hold back (or move back) event time. End of data counts
 * as MAX_WATERMARK on that channel (sources send MAX_WATERMARK before it anyway).
 */
export class WatermarkValve {
  private readonly watermarks: number[];
  private readonly idle: boolean[];
  private readonly aligned: boolean[];
  private idleCount = 0;
  private lastOutput = MIN_WATERMARK;
  private allIdle = false;
  private readonly out: ValveOutput = { watermark: undefined, idle: undefined };

  constructor(channels: number) {
    this.watermarks = new Array<number>(channels).fill(MIN_WATERMARK);
    this.idle = new Array<boolean>(channels).fill(false);
    this.aligned = new Array<boolean>(channels).fill(true);
  }

  get currentWatermark(): number {
    return this.lastOutput;
  }

  onWatermark(channel: number, timestamp: number): ValveOutput {
    this.reset();
    if (this.idle[channel]) this.setIdle(channel, false);
    if (timestamp > this.watermarks[channel]!) {
      this.watermarks[channel] = timestamp;
      if (!this.aligned[channel] && timestamp >= this.lastOutput) this.aligned[channel] = true;
      this.advance();
    }
    return this.out;
  }

  onStatus(channel: number, idle: boolean): ValveOutput {
    this.reset();
    if (this.idle[channel] === idle) return this.out;
    this.setIdle(channel, idle);
    if (idle) {
      this.aligned[channel] = false;
      // The channel that held the minimum back went idle: the others may advance it.
      this.advance();
    } else if (this.watermarks[channel]! >= this.lastOutput) {
      this.aligned[channel] = true;
    }
    return this.out;
  }

  onEndOfData(channel: number): ValveOutput {
    return this.onWatermark(channel, MAX_WATERMARK);
  }

  private reset(): void {
    this.out.watermark = undefined;
    this.out.idle = undefined;
  }

  private setIdle(channel: number, idle: boolean): void {
    this.idle[channel] = idle;
    this.idleCount += idle ? 1 : -1;
    const all = this.idleCount === this.idle.length;
    if (all !== this.allIdle) {
      this.allIdle = all;
      this.out.idle = all;
    }
  }

  private advance(): void {
    let min = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.watermarks.length; i++) if (!this.idle[i] && this.aligned[i] && this.watermarks[i]! < min) min = this.watermarks[i]!;
    if (min !== Number.POSITIVE_INFINITY && min > this.lastOutput) {
      this.lastOutput = min;
      this.out.watermark = min;
    }
  }
}
