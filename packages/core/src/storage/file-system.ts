import { crc32c } from '../checksum.js';
import { IdlePool } from '../snapshot/idle-pool.js';
import { uninitialized } from '../snapshot/uninitialized.js';

/**
 * The minimal file system abstraction each storage implements (local disk, memory, S3, WebHDFS).
 * All paths are relative to the file system's root, '/'-separated, and confined to it; an
 * implementation must run every path through `confinePath` (or stricter checks of its own).
 */
export interface FileStatus {
  readonly path: string;
  readonly size: number;
}

export interface FileWriter {
  /** Once the returned promise resolves the writer holds no reference to `chunk`: callers reuse buffers. */
  write(chunk: Uint8Array): Promise<void>;
  /** Makes the file durable and visible under its final name, atomically. */
  commit(): Promise<void>;
  /** Discards the file; nothing becomes visible. Idempotent. */
  abort(): Promise<void>;
}

export interface ReadRange {
  readonly offset: number;
  readonly length: number;
  /**
   * A buffer of at least `length` bytes the caller lends for the read: a file system may read
   * into it and return a view of it (sparing a fresh allocation, whose pages the kernel must
   * zero), or ignore it and return a new buffer. Callers use the returned buffer either way.
   */
  readonly into?: Uint8Array;
}

export interface FileSystem {
  /** 'file', 'memory', 's3', 'hdfs', ... */
  readonly scheme: string;
  /** Human-readable root for messages; never contains credentials. */
  readonly displayRoot: string;
  create(path: string): Promise<FileWriter>;
  /** The whole file or a range of it, in a buffer the caller owns. A range past the end of the file is an error. */
  read(path: string, range?: ReadRange): Promise<Uint8Array>;
  stat(path: string): Promise<FileStatus | null>;
  /** All files below a directory, recursively ('' is the root). Order unspecified. */
  list(dir: string): Promise<FileStatus[]>;
  /** Idempotent. */
  delete(path: string): Promise<void>;
  deleteMany(paths: readonly string[]): Promise<void>;
  /** Recursive and idempotent. */
  deleteDirectory(dir: string): Promise<void>;
  /**
   * Optional, for storage with real directories (local disk, HDFS): removes the directory `dir`
   * only if it is empty, never recursively. Listings show files only, so an empty directory (or
   * one holding only empty directories) looks like nothing at all: a caller that must not remove
   * what it cannot see (someone else's empty directory inside its own) removes its directories
   * with this, deepest first, instead of `deleteDirectory`. Resolves true when the directory is
   * gone or was absent, false (having removed nothing) when it is not empty or is not a directory
   * (a file, a symbolic link). The root ('') is refused: a file system keeps its root (remove it
   * through its parent's file system). Failures are StorageErrors naming the path; a path outside
   * the root is a PathEscapeError, as everywhere. Storage without directories (object stores such
   * as S3, the in-memory file system) leaves it out: there a directory is nothing but the files
   * listed below it.
   */
  deleteEmptyDirectory?(dir: string): Promise<boolean>;
  /**
   * Optional: makes the local file at the absolute `localPath` appear at `path` without copying
   * its bytes (a hard link), as durably and atomically as a committed `create`. Only for files
   * nobody modifies any more (RocksDB's SSTs): both names share the bytes. Resolves false when
   * this file system cannot (another device, no hard links): the caller copies instead.
   */
  linkFrom?(localPath: string, path: string, options?: LinkFromOptions): Promise<boolean>;
  /**
   * Optional, the other way: makes the committed file at `path` appear at the absolute local path
   * `localPath` (which must not exist) without copying its bytes (a hard link). Only for readers
   * that never modify the file (a scratch RocksDB database's SSTs): both names share the bytes.
   * Resolves false, having created nothing, when this file system cannot: the caller copies.
   */
  linkTo?(path: string, localPath: string): Promise<boolean>;
  /**
   * Optional: files that were started but never committed (temporary files of crashed writers),
   * which `list` hides. Garbage collection deletes them with `deleteMany`.
   */
  listIncomplete?(dir: string): Promise<FileStatus[]>;
}

export interface LinkFromOptions {
  /**
   * The caller knows the local file's bytes are durable already (RocksDB fsyncs every SST it
   * writes before the SST becomes part of the database): the file system skips its own data sync
   * before the link. The link itself is made durable as always.
   */
  readonly sourceSynced?: boolean;
  /**
   * Runs once the link exists, with the new name's absolute local path, at the same time as the
   * link is made durable (e.g. to checksum the bytes the new name holds): linkFrom resolves when
   * both are done; if either fails it removes the link and rejects, with this function's error
   * as it was thrown.
   */
  readonly whileSyncing?: (linkedPath: string) => Promise<void>;
}

/**
 * The listing of a file system whose writers write under a temporary name and rename it on
 * commit: one walk of the tree keeps either the committed files (`list`) or the temporary files
 * of writers that never committed (`listIncomplete`).
 */
export abstract class TemporaryNameListing {
  /** The files below `dir`: the temporary ones when `incomplete`, else the committed ones. */
  protected abstract walk(dir: string, incomplete: boolean): Promise<FileStatus[]>;

  list(dir: string): Promise<FileStatus[]> {
    return this.walk(dir, false);
  }

  /** Temporary files of writers that never committed (e.g. a crashed process), for garbage collection. */
  listIncomplete(dir: string): Promise<FileStatus[]> {
    return this.walk(dir, true);
  }
}

/**
 * Creates `path`, lets `fill` write it and commits it. On any failure the writer is aborted, so
 * nothing becomes visible, and the failure itself (not an abort's) is rethrown.
 */
export async function writeCommitted(fs: FileSystem, path: string, fill: (w: FileWriter) => Promise<void>): Promise<void> {
  const w = await fs.create(path);
  try {
    await fill(w);
    await w.commit();
  } catch (e) {
    await w.abort().catch(() => {});
    throw e;
  }
}

/** Chunk in which a linked file is read back for its checksum (one open and read call per chunk). */
export const READ_BACK_BYTES = 4 << 20;

/**
 * Chunk buffers of finished read-backs, for the next ones of this process: a new 4 MiB buffer per
 * file cost a page fault per 4 KiB it was filled to (issue 16: a native savepoint conversion reads
 * back every SST it links, about its whole size in fresh memory). Up to 4 are kept (uploads and
 * restores read several files back at once), each dropped 1 s after its own give-back.
 */
const idleReadBackBuffers = new IdlePool<Uint8Array>({ maxKept: 4, maxBytes: READ_BACK_BYTES, idleMs: 1000, sizeOf: (b) => b.length });

/** Drops the idle read-back buffers (tests start from an empty pool). */
export function dropIdleReadBackBuffers(): void {
  idleReadBackBuffers.clear();
}

/**
 * The CRC32C of the `size` bytes stored at `path`, read back in chunks through one lent buffer
 * (ReadRange.into; each chunk's CRC is taken before the next read): for files that were linked
 * rather than written through a stream, whose handle still records what the name holds. The
 * buffer comes from (and goes back to) the idle pool: nothing keeps a view of it once a chunk's
 * CRC is taken, and no read into it is in flight once a read settled.
 */
export async function readBackChecksum(fs: FileSystem, path: string, size: number): Promise<number> {
  if (size === 0) return 0;
  const into = idleReadBackBuffers.take() ?? uninitialized(READ_BACK_BYTES);
  try {
    let crc = 0;
    for (let off = 0; off < size; off += READ_BACK_BYTES) crc = crc32c(await fs.read(path, { offset: off, length: Math.min(READ_BACK_BYTES, size - off), into }), crc);
    return crc;
  } finally {
    idleReadBackBuffers.giveBack(into);
  }
}
