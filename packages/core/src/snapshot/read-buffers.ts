import { IdlePool } from './idle-pool.js';
import { uninitialized } from './uninitialized.js';

/** Default byte limit of one coalesced key-group read: bounds memory to two such reads. */
export const COALESCED_READ_BYTES = 8 << 20;

/**
 * Buffers a keyed read reads its requests into (KeyGroupBlockOptions.readBuffers): the read uses
 * the buffer take() returned until the take() after next, or until it ends.
 */
export interface ReadBufferLender {
  /** A buffer of at least `length` bytes, never the one the previous call returned (the read still uses that one). */
  take(length: number): Uint8Array;
}

/** Two read buffers lent in turn to consecutive requests (see KeyGroupBlockOptions.readBuffers). */
export class AlternatingReadBuffers implements ReadBufferLender {
  private readonly buffers = [new Uint8Array(0), new Uint8Array(0)];
  private next = 0;

  /** A buffer of at least `length` bytes, never the one the previous call returned. */
  take(length: number): Uint8Array {
    const i = this.next;
    this.next ^= 1;
    const have = this.buffers[i]!.length;
    if (have < length) this.buffers[i] = uninitialized(grownLength(have, length));
    return this.buffers[i]!;
  }

  /** Bytes of the larger of the two buffers (a single block larger than a coalesced read grows one to its size). */
  get capacity(): number {
    return Math.max(this.buffers[0]!.length, this.buffers[1]!.length);
  }
}

/**
 * The length a buffer of `have` bytes grows to for a request of `length`: at least twice `have`, up
 * to COALESCED_READ_BYTES. Coalesced reads differ by a few key groups' bytes: growing each
 * buffer to the exact length replaced it several times in a row, each time with fresh memory
 * (session 23: ten allocations of 7.5–8 MiB for the pairs of one conversion).
 */
export function grownLength(have: number, length: number): number {
  return Math.max(length, Math.min(2 * have, COALESCED_READ_BYTES));
}

/**
 * Read buffer pairs kept idle: one per keyed read a process runs at once in steady work. A
 * conversion to a native format restores two canonical subtasks at once (the savepoint
 * package's TO_NATIVE_CONCURRENCY.restores); with one pair kept, the second read of every round
 * allocated 16 MiB of fresh memory and its reads page-faulted into it (session 23: ~30 MiB per
 * 64 MiB conversion).
 */
export const IDLE_READ_BUFFER_PAIRS = 2;

/** How long the read buffers of a finished keyed read wait for the next read before they are dropped. */
export const IDLE_READ_BUFFERS_MS = 1000;

/**
 * The read buffers of the last finished keyed reads of any reader of this process. A keyed read
 * that found none allocated up to 16 MiB of fresh memory: a program that reads savepoints one
 * after the other (a CLI, a test suite, validation after a write) paid that for every reader.
 * Up to IDLE_READ_BUFFER_PAIRS pairs are kept, only if neither buffer is larger than
 * COALESCED_READ_BYTES (a single larger block grew one), and each only for IDLE_READ_BUFFERS_MS
 * after its read finished.
 */
const idleReadBuffers = new IdlePool<AlternatingReadBuffers>({ maxKept: IDLE_READ_BUFFER_PAIRS, maxBytes: COALESCED_READ_BYTES, idleMs: IDLE_READ_BUFFERS_MS, sizeOf: (b) => b.capacity });

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
