import { assert } from '../assert.js';

export interface IdlePoolOptions<T> {
  /** Most items kept idle; a give-back beyond it drops the item. */
  readonly maxKept: number;
  /** Largest item kept (by `sizeOf`): a larger one is dropped on give-back, not held by the process. */
  readonly maxBytes: number;
  /** An item idle this long (since its own give-back) is dropped. */
  readonly idleMs: number;
  readonly sizeOf: (item: T) => number;
}

/**
 * Buffers of finished work kept for the next work of this process: a fresh multi-MiB buffer costs
 * a page fault per 4 KiB (in a VM often one on the host too), about as much as filling it.
 * take() lends the most recently given-back item; each item is dropped once it was idle for
 * `idleMs` since its own give-back (checked on every take and give-back, and by an unref'd timer,
 * so a process that stopped working holds nothing beyond that and steady traffic never pins the
 * oldest items forever).
 */
export class IdlePool<T> {
  /** Oldest give-back first (so stale items are at the front). */
  private readonly idle: Array<{ readonly item: T; readonly since: number }> = [];
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly options: IdlePoolOptions<T>) {
    assert(options.maxKept >= 1 && options.idleMs > 0, 'an idle pool keeps at least one item for some time');
  }

  /**
   * The most recently given-back item still fresh (and, with `fits`, one it accepts), or
   * undefined; the caller owns it until it gives it back.
   */
  take(fits?: (item: T) => boolean): T | undefined {
    this.dropStale();
    if (fits === undefined) return this.idle.pop()?.item;
    for (let i = this.idle.length - 1; i >= 0; i--) {
      if (fits(this.idle[i]!.item)) return this.idle.splice(i, 1)[0]!.item;
    }
    return undefined;
  }

  /** Gives back an item nothing uses any more; kept if there is room and it is not too large. */
  giveBack(item: T): void {
    this.dropStale();
    if (this.idle.length >= this.options.maxKept || this.options.sizeOf(item) > this.options.maxBytes) return;
    // A second give-back is a caller's bug (the item may be lent again meanwhile): not tolerated.
    assert(!this.idle.some((e) => e.item === item), 'an idle item was given back twice');
    this.idle.push({ item, since: Date.now() });
    this.arm();
  }

  /** Drops every idle item and the timer (tests start from an empty pool with it). */
  clear(): void {
    this.idle.length = 0;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  get size(): number {
    return this.idle.length;
  }

  private dropStale(): void {
    const now = Date.now();
    let stale = 0;
    while (stale < this.idle.length && now - this.idle[stale]!.since >= this.options.idleMs) stale++;
    if (stale > 0) this.idle.splice(0, stale);
    if (this.idle.length === 0) this.clear();
  }

  /** One timer, due when the oldest item goes stale; it re-arms for the next one. */
  private arm(): void {
    if (this.timer !== undefined || this.idle.length === 0) return;
    const due = this.idle[0]!.since + this.options.idleMs - Date.now();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.dropStale();
      this.arm();
    }, Math.max(0, due));
    // The timer never keeps the process alive.
    this.timer.unref?.();
  }
}
