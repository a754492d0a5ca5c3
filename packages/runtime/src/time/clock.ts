/**
 * Processing time (Flink's ProcessingTimeService). A task asks its clock to call back at a time;
 * the callback only posts mail to the task, so processing-time timers fire on the task's loop,
 * between records, as in Flink's mailbox model. Tests pass a ManualClock (JobOptions.clock) and
 * move time themselves: nothing then depends on the wall clock.
 */
export interface ProcessingTimeClock {
  now(): number;
  /** Calls `callback` once `now() >= time`; the returned function cancels it. */
  schedule(time: number, callback: () => void): () => void;
}

/** Wall-clock time (Date.now) and setTimeout. */
export const SYSTEM_CLOCK: ProcessingTimeClock = {
  now: () => Date.now(),
  schedule(time, callback) {
    const t = setTimeout(callback, Math.max(0, time - Date.now()));
    t.unref?.();
    return () => clearTimeout(t);
  },
};

interface Scheduled {
  readonly time: number;
  readonly seq: number;
  readonly callback: () => void;
}

/** A clock that only moves when told to: deterministic processing time for tests and simulations. */
export class ManualClock implements ProcessingTimeClock {
  private current: number;
  private seq = 0;
  private readonly scheduled = new Set<Scheduled>();

  constructor(start = 0) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  schedule(time: number, callback: () => void): () => void {
    const s: Scheduled = { time, seq: this.seq++, callback };
    if (time <= this.current) {
      // Already due: still asynchronous, as a timer would be.
      queueMicrotask(() => this.scheduled.delete(s) && callback());
    }
    this.scheduled.add(s);
    return () => {
      this.scheduled.delete(s);
    };
  }

  /** Moves time forward to `time` and runs, in time order, every callback that became due. */
  advanceTo(time: number): void {
    if (time < this.current) return;
    this.current = time;
    const due = [...this.scheduled].filter((s) => s.time <= time).sort((a, b) => a.time - b.time || a.seq - b.seq);
    for (const s of due) {
      this.scheduled.delete(s);
      s.callback();
    }
  }

  advance(ms: number): void {
    this.advanceTo(this.current + ms);
  }

  /** Callbacks still waiting (cancelled ones are gone). */
  get pendingCallbacks(): number {
    return this.scheduled.size;
  }
}
