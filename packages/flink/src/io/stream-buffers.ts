import { IdlePool } from '@flowstate/core';

/** How long the stream buffers of a released read wait for the next read before they are dropped. */
export const IDLE_STREAM_BUFFERS_MS = 1000;

/** Most stream buffers kept idle (a savepoint's subtasks' streams are read at once, one buffer each). */
export const MAX_IDLE_STREAM_BUFFERS = 8;

/** Largest stream buffer kept idle (8 of them: 256 MiB at most, for 1 s): a larger one is dropped on release. */
export const MAX_IDLE_STREAM_BUFFER_BYTES = 32 << 20;

/**
 * Buffers of state files read whole (streams.ts) whose savepoint released them. A Flink read put
 * every stream into fresh memory: on this project's VM a fresh 64 MiB cost ~16k page faults, and
 * loading plus decoding took 143 + 188 ms fresh against 18 + 35 ms in reused memory (session 10).
 */
const idleStreamBuffers = new IdlePool<ArrayBuffer>({
  maxKept: MAX_IDLE_STREAM_BUFFERS,
  maxBytes: MAX_IDLE_STREAM_BUFFER_BYTES,
  idleMs: IDLE_STREAM_BUFFERS_MS,
  sizeOf: (b) => b.byteLength,
});

/**
 * Capacity a buffer for `size` bytes is made with: rounded up to an eighth of its power of two, so
 * files of about the same size (a savepoint's subtasks, the next savepoint's) fit each other's.
 */
export function streamBufferCapacity(size: number): number {
  if (size <= 4096) return 4096;
  const step = 2 ** (Math.floor(Math.log2(size)) - 3);
  return Math.ceil(size / step) * step;
}

/**
 * `size` bytes of a buffer that is idle or new, uninitialized (the caller reads every byte into it
 * or gives it back). An idle buffer of the capacity a new one would get comes first (so that a
 * smaller file does not take the buffer a larger one of the same savepoint fits), then any that
 * is at most twice that capacity.
 */
export function takeStreamBuffer(size: number): Uint8Array {
  const capacity = streamBufferCapacity(size);
  const idle = idleStreamBuffers.take((b) => b.byteLength === capacity)
    ?? idleStreamBuffers.take((b) => b.byteLength >= size && b.byteLength <= 2 * capacity);
  const buffer = idle ?? (Buffer.allocUnsafeSlow(capacity).buffer as ArrayBuffer);
  return new Uint8Array(buffer, 0, size);
}

/**
 * Gives a buffer of takeStreamBuffer back. Its memory moves to a new ArrayBuffer and `bytes.buffer`
 * is detached: every view anyone still holds into it (records' raw keys and values, a stream's
 * bytes) reads as empty from now on, and never shows the next read's data.
 */
export function giveBackStreamBuffer(bytes: Uint8Array): void {
  // Given back already (detached): nothing left to give.
  if (bytes.buffer.byteLength === 0) return;
  const buffer = bytes.buffer as ArrayBuffer;
  const moved = structuredClone(buffer, { transfer: [buffer] });
  idleStreamBuffers.giveBack(moved);
}

/** Drops the idle stream buffers (tests start from an empty pool). */
export function dropIdleStreamBuffers(): void {
  idleStreamBuffers.clear();
}

/** Stream buffers kept idle now (tests). */
export function idleStreamBufferCount(): number {
  return idleStreamBuffers.size;
}
