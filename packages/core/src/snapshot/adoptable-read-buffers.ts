import { assert } from '../assert.js';
import { IdlePool } from './idle-pool.js';
import { COALESCED_READ_BYTES, type ReadBufferLender } from './read-buffers.js';
import { uninitialized } from './uninitialized.js';

/** How long an adoptable read buffer nothing holds waits for the next read before it is dropped. */
export const IDLE_ADOPTABLE_BUFFERS_MS = 1000;

/**
 * Buffers of finished reads, for the next reads of this process: up to eight (two restores at
 * once, each with its reader's two and a few held by files being built), each dropped
 * IDLE_ADOPTABLE_BUFFERS_MS after its own give-back.
 */
const idleBuffers = new IdlePool<Uint8Array>({ maxKept: 8, maxBytes: COALESCED_READ_BYTES, idleMs: IDLE_ADOPTABLE_BUFFERS_MS, sizeOf: (b) => b.length });

/** Drops the idle adoptable buffers (tests start from an empty pool). */
export function dropIdleAdoptableBuffers(): void {
  idleBuffers.clear();
}

/** Idle adoptable buffers held by this process now (tests). */
export function idleAdoptableBuffers(): number {
  return idleBuffers.size;
}

/** A hold on a lent buffer (AdoptableReadBuffers.hold): the buffer's bytes, never read into again until the hold is given back. */
export interface LentReadBuffer {
  readonly bytes: Uint8Array;
}

/** A buffer lent to a read: free once the reader moved past it and nothing that adopted its bytes holds it. */
class Lent implements LentReadBuffer {
  /** Until the reader asks for the buffer after next (or release()): its blocks are being consumed. */
  readerHolds = true;
  /** Holds taken by consumers keeping views of its bytes (hold / unhold). */
  holds = 0;

  constructor(readonly bytes: Uint8Array) {}
}

/** A read of fewer bytes gets a buffer of the next power of two from this size on (up to COALESCED_READ_BYTES). */
const SMALLEST_LENT_BYTES = 64 << 10;

/**
 * The size of a new buffer for a read of `length` bytes: the next power of two (at least
 * SMALLEST_LENT_BYTES) up to COALESCED_READ_BYTES, else the length. A hold pins its whole
 * buffer, so a small handle's read does not pin 8 MiB (a rescaling restore reads many).
 */
export function lentBufferBytes(length: number): number {
  if (length >= COALESCED_READ_BYTES) return length;
  let n = SMALLEST_LENT_BYTES;
  while (n < length) n *= 2;
  return Math.min(n, COALESCED_READ_BYTES);
}

/**
 * Read buffers whose bytes a consumer may keep instead of copying (issue 16: a canonical restore
 * into RocksDB copied every value into a row arena, ~a quarter of a conversion's main-thread
 * time). The reader uses them as it uses AlternatingReadBuffers: a buffer stays in use until the
 * take() after next, or until release() once its reads settled. A consumer that keeps a view
 * takes a hold on its buffer (hold(view)) and gives it back (unhold) once nothing reads the view
 * any more; a buffer goes back to the process's pool only when both are done with it, so bytes
 * still held are never read into again.
 */
export class AdoptableReadBuffers implements ReadBufferLender {
  private readonly lent = new Map<ArrayBufferLike, Lent>();
  /** The reader's buffers, oldest first: at most the last two lent. */
  private readonly recent: Lent[] = [];

  /** A buffer of at least `length` bytes that nothing else uses. */
  take(length: number): Uint8Array {
    if (this.recent.length === 2) this.readerDone(this.recent.shift()!);
    const bytes = idleBuffers.take((b) => b.length >= length) ?? uninitialized(lentBufferBytes(length));
    const lent = new Lent(bytes);
    this.lent.set(bytes.buffer, lent);
    this.recent.push(lent);
    return bytes;
  }

  /** The reader is done with every buffer lent so far (its reads settled; it may read again later). */
  release(): void {
    for (const l of this.recent.splice(0)) this.readerDone(l);
  }

  /**
   * A hold on the buffer `view` lies in, if it is one of these and the reader still uses it (the
   * consumer was handed the view by the read); undefined for any other bytes (copy those).
   */
  hold(view: Uint8Array): LentReadBuffer | undefined {
    const lent = this.lent.get(view.buffer);
    if (lent === undefined) return undefined;
    assert(lent.readerHolds, 'a view is adopted only while its read is consumed');
    lent.holds++;
    return lent;
  }

  /** Gives back a hold: nothing reads views of its buffer through it any more. */
  unhold(hold: LentReadBuffer): void {
    const lent = this.lent.get(hold.bytes.buffer);
    assert(lent === hold && lent.holds > 0, 'a hold is given back once');
    lent.holds--;
    if (lent.holds === 0 && !lent.readerHolds) this.free(lent);
  }

  /** Buffers lent and not yet free (tests). */
  get inUse(): number {
    return this.lent.size;
  }

  private readerDone(lent: Lent): void {
    lent.readerHolds = false;
    if (lent.holds === 0) this.free(lent);
  }

  private free(lent: Lent): void {
    this.lent.delete(lent.bytes.buffer);
    idleBuffers.giveBack(lent.bytes);
  }
}
