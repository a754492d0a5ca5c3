import { DataOutputSerializer } from '../io/data-output.js';
import { IdlePool } from './idle-pool.js';

/** First capacity of a new key-group block buffer (it doubles as a block needs). */
export const BLOCK_BUFFER_INITIAL_BYTES = 64 * 1024;
/** How long a block buffer given back by a finished encoder waits for the next encoder before it is dropped. */
export const IDLE_BLOCK_BUFFERS_MS = 1000;

/**
 * Block buffers of finished KeyedStateStreamEncoders, for the next encoders of this process. A new
 * encoder's buffer grew from 64 KiB by doubling to its largest block, each step fresh memory (a
 * page fault per 4 KiB, in a VM often one on the host too) and a copy: a savepoint of 512 KiB
 * blocks paid about 2 MiB of it per subtask stream, for every savepoint written one after the other.
 * Up to 4 are kept (a savepoint writes several subtasks' streams at once), each up to 8 MiB, each
 * dropped IDLE_BLOCK_BUFFERS_MS after its own give-back.
 */
const idleBlockBuffers = new IdlePool<DataOutputSerializer>({ maxKept: 4, maxBytes: 8 << 20, idleMs: IDLE_BLOCK_BUFFERS_MS, sizeOf: (b) => b.capacity });

/** An idle block buffer, cleared, or a new one; the caller owns it until it gives it back. */
export function takeBlockBuffer(): DataOutputSerializer {
  const buffer = idleBlockBuffers.take();
  if (buffer === undefined) return new DataOutputSerializer(BLOCK_BUFFER_INITIAL_BYTES);
  buffer.clear();
  return buffer;
}

/**
 * Gives back a buffer no view of which is used any more (every block written from it was written:
 * streams keep no reference to a chunk once its write resolved).
 */
export function giveBackBlockBuffer(buffer: DataOutputSerializer): void {
  idleBlockBuffers.giveBack(buffer);
}

/** Drops the idle block buffers (tests start from an empty pool). */
export function dropIdleBlockBuffers(): void {
  idleBlockBuffers.clear();
}
