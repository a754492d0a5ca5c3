import { IdlePool } from './idle-pool.js';

/** Default byte limit of one coalesced key-group read: bounds memory to two such reads. */
export const COALESCED_READ_BYTES = 8 << 20;

/** Two read buffers lent in turn to consecutive requests (see KeyGroupBlockOptions.readBuffers). */
export class AlternatingReadBuffers {
  private readonly buffers = [new Uint8Array(0), new Uint8Array(0)];
  private next = 0;

  /** A buffer of at least `length` bytes, never the one the previous call returned. */
  take(length: number): Uint8Array {
    const i = this.next;
    this.next ^= 1;
    // Uninitialized (only bytes read into it are ever handed out): zeroing would touch every page first.
    if (this.buffers[i]!.length < length) this.buffers[i] = new Uint8Array(Buffer.allocUnsafeSlow(length).buffer, 0, length);
    return this.buffers[i]!;
  }

  /** Bytes of the larger of the two buffers (a single block larger than a coalesced read grows one to its size). */
  get capacity(): number {
    return Math.max(this.buffers[0]!.length, this.buffers[1]!.length);
  }
}

/** How long the read buffers of a finished keyed read wait for the next read before they are dropped. */
export const IDLE_READ_BUFFERS_MS = 1000;

/**
 * The read buffers of the last finished keyed read of any reader of this process. A keyed read
 * that found none allocated up to 16 MiB of fresh memory: a program that reads savepoints one
 * after the other (a CLI, a test suite, validation after a write) paid that for every reader.
 * One pair is kept, only if neither buffer is larger than COALESCED_READ_BYTES (a single larger
 * block grew one), and only for IDLE_READ_BUFFERS_MS after its read finished.
 */
const idleReadBuffers = new IdlePool<AlternatingReadBuffers>({ maxKept: 1, maxBytes: COALESCED_READ_BYTES, idleMs: IDLE_READ_BUFFERS_MS, sizeOf: (b) => b.capacity });

/** The idle buffers of a finished read, or new ones; the caller owns them until it gives them back. */
export function takeReadBuffers(): AlternatingReadBuffers {
  return idleReadBuffers.take() ?? new AlternatingReadBuffers();
}

/** Gives back the buffers of a read that is done with them (nothing reads into them any more). */
export function giveBackReadBuffers(buffers: AlternatingReadBuffers): void {
  idleReadBuffers.giveBack(buffers);
}

/** Drops the idle read buffers (tests start from an empty pool). */
export function dropIdleReadBuffers(): void {
  idleReadBuffers.clear();
}
