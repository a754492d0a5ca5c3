import { closeSync, fdatasync, fsync } from 'node:fs';
import { StorageError, StorageNotFoundError } from '../errors.js';

/**
 * What local-file readers share: how many reads the libuv thread pool runs at once, and how a
 * failed `node:fs` call becomes a typed storage error (the local storage and the Flink reader both
 * open files; one mapping keeps "not found" and "worth retrying" the same for both).
 */

/** libuv's own default when UV_THREADPOOL_SIZE is unset. */
const DEFAULT_THREAD_POOL_SIZE = 4;
/**
 * Upper bound of the derived limit: libuv accepts up to 1024 threads, but each read in flight holds
 * a descriptor, and a common descriptor limit is 1024 for the whole process.
 */
const MAX_THREAD_POOL_READS = 128;

/**
 * File reads worth running at once: libuv's thread-pool size (UV_THREADPOOL_SIZE, default 4), since
 * more reads than threads only queue inside libuv while holding their files open. A value that is
 * not a positive integer gives the default; larger values are capped at MAX_THREAD_POOL_READS.
 */
export function threadPoolReads(env: Readonly<Record<string, string | undefined>> = process.env): number {
  const n = Number(env['UV_THREADPOOL_SIZE']?.trim() || NaN);
  if (!Number.isSafeInteger(n) || n < 1) return DEFAULT_THREAD_POOL_SIZE;
  return Math.min(n, MAX_THREAD_POOL_READS);
}

/** The errno code of a failed `node:fs` call, if it has one. */
function errnoCode(e: unknown): string | undefined {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** A missing file or a path through a non-directory: the only failures that mean "not found". */
export function isNotFoundErrno(e: unknown): boolean {
  const code = errnoCode(e);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * Failures that may pass if retried: a busy or interrupted call (EAGAIN, EBUSY, EINTR), and running
 * out of descriptors (EMFILE for the process, ENFILE for the system), which other readers closing
 * their files frees. Permissions, bad paths and I/O errors stay failures.
 */
const TRANSIENT_ERRNO = new Set(['EAGAIN', 'EBUSY', 'EINTR', 'EMFILE', 'ENFILE']);

/** Why a call failed, in words, for the codes input paths provoke. */
function describeErrno(code: string | undefined, fallback: string): string {
  if (code === 'ENAMETOOLONG') return 'ENAMETOOLONG (a path segment or the whole path is longer than the file system allows)';
  if (code === 'EISDIR') return 'EISDIR (it is a directory, not a file)';
  if (code === 'EACCES' || code === 'EPERM') return `${code} (permission denied)`;
  return code ?? fallback;
}

/**
 * The typed error for a failed `node:fs` call on `path` doing `what` (e.g. 'open', 'read'):
 * StorageNotFoundError for a missing file, else a StorageError naming the errno, transient for the
 * codes above.
 */
export function storageErrorFromErrno(path: string, what: string, cause: unknown): StorageError {
  if (isNotFoundErrno(cause)) return new StorageNotFoundError(path);
  const code = errnoCode(cause);
  const detail = describeErrno(code, cause instanceof Error ? cause.message : String(cause));
  return new StorageError(path, `${what} failed: ${detail}`, { cause, transient: code !== undefined && TRANSIENT_ERRNO.has(code) });
}

/**
 * fsyncs an open descriptor (`dataOnly`: fdatasync) on the thread pool, then closes it on the
 * calling thread whatever the sync did: only the sync is worth a thread-pool round trip (the local
 * storage's commits and links, and the RocksDB backend's early SST syncs). Rejects with the raw
 * `node:fs` error; callers name the file (storageErrorFromErrno).
 */
export async function syncAndClose(fd: number, dataOnly: boolean): Promise<void> {
  try {
    await new Promise<void>((done, fail) => (dataOnly ? fdatasync : fsync)(fd, (e) => (e === null ? done() : fail(e))));
  } finally {
    closeSync(fd);
  }
}

/**
 * Bytes a file may be written ahead of its last background data sync (BackgroundDataSync). 4 MiB:
 * a checkpoint's small files never start one, and a 16 MiB stream starts three.
 */
export const BACKGROUND_SYNC_BYTES = 4 << 20;

/** What BackgroundDataSync syncs: an open file (a `node:fs/promises` FileHandle). */
export interface DataSyncable {
  datasync(): Promise<void>;
}

/**
 * Data syncs started while a file is still being written, so that the fsync that commits it only
 * waits for the bytes written since the last one. Until that fsync the kernel holds every written
 * byte as a dirty page and starts writing none of them (its flusher waits up to 30 s), so a file's
 * whole device write used to start at its commit, after the last byte (issue 16: a conversion to
 * canonical spent 90–100 ms of its ~200 ms in the commits of its 16 MiB streams; with these
 * syncs, 22 ms). At most one runs at a time per file, on the thread pool. They change nothing
 * about durability: the commit still syncs and renames as before.
 */
export class BackgroundDataSync {
  private unsynced = 0;
  private running: Promise<void> | undefined;
  private failure: { readonly error: unknown } | undefined;
  /** Syncs started so far (tests). */
  started = 0;

  /** `everyBytes` 0 never starts one. */
  constructor(
    private readonly file: DataSyncable,
    private readonly everyBytes = BACKGROUND_SYNC_BYTES,
  ) {}

  /** `n` more bytes were written: starts a sync once `everyBytes` were written since the last start and none is running. */
  wrote(n: number): void {
    this.unsynced += n;
    if (this.everyBytes <= 0 || this.unsynced < this.everyBytes || this.running !== undefined) return;
    this.unsynced = 0;
    this.started++;
    this.running = this.file.datasync().then(
      () => {
        this.running = undefined;
      },
      (error: unknown) => {
        this.running = undefined;
        this.failure ??= { error };
      },
    );
  }

  /**
   * Waits for the running sync, then rethrows the first failure of any: the commit's own fsync
   * would not report it again (Linux reports a failed writeback once per open file description).
   * Call before the file's final sync and before closing it.
   */
  async settle(): Promise<void> {
    await this.running;
    if (this.failure !== undefined) throw this.failure.error;
  }
}
