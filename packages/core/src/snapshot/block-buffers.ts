import { DataOutputSerializer } from '../io/data-output.js';

/** First capacity of a new key-group block buffer (it doubles as a block needs). */
export const BLOCK_BUFFER_INITIAL_BYTES = 64 * 1024;
/** How long the block buffers of finished encoders wait for the next encoder before they are dropped. */
export const IDLE_BLOCK_BUFFERS_MS = 1000;
/** Most idle buffers kept (a savepoint writes several subtasks' streams at once), and the largest one kept. */
const MAX_IDLE_BUFFERS = 4;
const MAX_IDLE_CAPACITY = 8 << 20;

/**
 * Block buffers of finished KeyedStateStreamEncoders, for the next encoders of this process. A new
 * encoder's buffer grew from 64 KiB by doubling to its largest block, each step fresh memory (a
 * page fault per 4 KiB, in a VM often one on the host too) and a copy: a savepoint of 512 KiB
 * blocks paid about 2 MiB of it per subtask stream, for every savepoint written one after the other.
 * Idle buffers are dropped IDLE_BLOCK_BUFFERS_MS after the last one was given back.
 */
const idle: DataOutputSerializer[] = [];
let release: ReturnType<typeof setTimeout> | undefined;

/** An idle block buffer, cleared, or a new one; the caller owns it until it gives it back. */
export function takeBlockBuffer(): DataOutputSerializer {
  const buffer = idle.pop();
  if (buffer === undefined) return new DataOutputSerializer(BLOCK_BUFFER_INITIAL_BYTES);
  buffer.clear();
  return buffer;
}

/**
 * Gives back a buffer no view of which is used any more (every block written from it was written:
 * streams keep no reference to a chunk once its write resolved). Kept only while fewer than
 * MAX_IDLE_BUFFERS are idle and if not larger than MAX_IDLE_CAPACITY.
 */
export function giveBackBlockBuffer(buffer: DataOutputSerializer): void {
  if (idle.length >= MAX_IDLE_BUFFERS || buffer.capacity > MAX_IDLE_CAPACITY || idle.includes(buffer)) return;
  idle.push(buffer);
  if (release !== undefined) clearTimeout(release);
  release = setTimeout(() => {
    idle.length = 0;
    release = undefined;
  }, IDLE_BLOCK_BUFFERS_MS);
  // The timer never keeps the process alive.
  release.unref?.();
}
