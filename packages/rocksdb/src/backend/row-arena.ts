import { IdlePool } from '@flowstate/core';

/** Bytes of one arena chunk: rows are copied into chunks of this size (a larger row gets a buffer of its own). */
export const ROW_ARENA_CHUNK_BYTES = 4 << 20;

/** How long a chunk given back by a finished SST write waits for the next bulk load before it is dropped. */
export const IDLE_ROW_CHUNKS_MS = 1000;

/**
 * Chunks of finished bulk loads, for the next bulk loads of this process. A chunk is fresh memory
 * otherwise: a page fault per 4 KiB (in a VM often one on the host too), which made a canonical
 * restore's reads and copies several times slower than the same work in warm memory (issue 16).
 * Up to 16 are kept (two restores at once, each with two SSTs in flight), each dropped
 * IDLE_ROW_CHUNKS_MS after its own give-back.
 */
const idleChunks = new IdlePool<Uint8Array>({ maxKept: 16, maxBytes: ROW_ARENA_CHUNK_BYTES, idleMs: IDLE_ROW_CHUNKS_MS, sizeOf: (c) => c.length });

/** Drops the idle chunks (tests start from an empty pool). */
export function dropIdleRowChunks(): void {
  idleChunks.clear();
}

/** Idle chunks held by this process now (tests). */
export function idleRowChunks(): number {
  return idleChunks.size;
}

/**
 * Copies of a bulk load's row bytes, packed into chunks outside the JS heap. The bulk load owns
 * them: `seal()` hands it the chunks of the rows copied so far, which it gives back with
 * `releaseRowChunks()` once nothing reads them any more (their SST files are written), never earlier.
 *
 * The copies also spare the binding a backing store per row: row keys are small typed arrays V8
 * keeps inside its heap, and asking for their bytes moved each into a backing store of its own.
 */
export class RowArena {
  private chunks: Uint8Array[] = [];
  private current: Uint8Array | undefined;
  private used = 0;

  /** A copy of `bytes`, valid until the chunk holding it is released. */
  copy(bytes: Uint8Array): Uint8Array {
    const n = bytes.length;
    // An empty value takes no chunk (a first row with one would otherwise take a whole chunk).
    if (n === 0) return new Uint8Array(0);
    // A row larger than a chunk gets a buffer of its own, left to the GC (not a chunk: never pooled).
    if (n > ROW_ARENA_CHUNK_BYTES) return new Uint8Array(bytes);
    if (this.current === undefined || this.used + n > this.current.length) this.nextChunk();
    const at = this.used;
    this.current!.set(bytes, at);
    this.used = at + n;
    return this.current!.subarray(at, at + n);
  }

  /** The chunks of every row copied so far (not rows' own buffers); the arena starts a new chunk for the next row. */
  seal(): Uint8Array[] {
    const sealed = this.chunks;
    this.chunks = [];
    this.current = undefined;
    this.used = 0;
    return sealed;
  }

  private nextChunk(): void {
    // Uninitialized: only bytes copied into it are ever read.
    this.current = idleChunks.take() ?? new Uint8Array(Buffer.allocUnsafeSlow(ROW_ARENA_CHUNK_BYTES).buffer, 0, ROW_ARENA_CHUNK_BYTES);
    this.used = 0;
    this.chunks.push(this.current);
  }
}

/** Gives back sealed chunks that nothing reads any more. */
export function releaseRowChunks(chunks: readonly Uint8Array[]): void {
  for (const c of chunks) idleChunks.giveBack(c);
}
