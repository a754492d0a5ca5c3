import { crc32c, writeCommitted, type FileSystem } from '@flowstate/core';

/**
 * Deterministic, position-addressable test bytes: the byte at offset `p` of pattern `seed` is a
 * function of (seed, p) alone. That lets a test regenerate any range of a huge file to compare a
 * range read against, and verify a whole file by CRC32C, without ever holding the written bytes.
 */
export function patternBytes(seed: number, offset: number, length: number): Buffer {
  if (length === 0) return Buffer.alloc(0);
  const firstWord = Math.floor(offset / 4);
  const lastWord = Math.ceil((offset + length) / 4);
  const words = new Uint32Array(lastWord - firstWord);
  const s = Math.imul(seed | 0, 0x9e3779b1) ^ 0x85ebca6b;
  for (let i = 0; i < words.length; i++) {
    // murmur3 fmix32 over (word index ^ seed): cheap, and no two nearby words look alike.
    let h = ((firstWord + i) ^ s) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    words[i] = (h ^ (h >>> 16)) >>> 0;
  }
  const start = offset - firstWord * 4;
  return Buffer.from(words.buffer, words.byteOffset + start, length);
}

/** Chunk sizes cycled through while writing: tiny, odd and large writes in one file. */
const CHUNK_CYCLE = [1, 7, 4096, 65_537, 1 << 20, (3 << 20) + 11];

export interface WrittenFile {
  readonly path: string;
  readonly size: number;
  readonly crc: number;
}

/**
 * Writes `size` pattern bytes to `path` in chunks of varying size and commits. Returns the size and
 * CRC32C of what was written; the bytes themselves are not kept.
 */
export async function writePattern(
  fs: FileSystem,
  path: string,
  size: number,
  seed: number,
  options: { maxChunk?: number; commit?: boolean } = {},
): Promise<WrittenFile> {
  const maxChunk = options.maxChunk ?? 4 << 20;
  const w = await fs.create(path);
  let crc = 0;
  let pos = 0;
  let i = 0;
  try {
    while (pos < size) {
      const n = Math.min(size - pos, maxChunk, CHUNK_CYCLE[i++ % CHUNK_CYCLE.length]!);
      const chunk = patternBytes(seed, pos, n);
      crc = crc32c(chunk, crc);
      await w.write(chunk);
      pos += n;
    }
    if (options.commit !== false) await w.commit();
  } catch (e) {
    await w.abort().catch(() => {});
    throw e;
  }
  return { path, size, crc };
}

/** Writes small bytes and commits. */
export async function writeBytes(fs: FileSystem, path: string, data: Uint8Array): Promise<void> {
  await writeCommitted(fs, path, (w) => w.write(data));
}
