import { closeSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { StorageError, StorageNotFoundError } from '../errors.js';
import { StorageConfigError } from './storage-errors.js';
import { optionalSync, syncDescriptor } from './sync-threads.js';

/**
 * What local-file writers and readers share: how a failed `node:fs` call becomes a typed storage
 * error (the local storage and the Flink reader both open files; one mapping keeps "not found" and
 * "worth retrying" the same for both), syncs, and background data syncs.
 */

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
 * fsyncs an open descriptor (`dataOnly`: fdatasync) off the event loop (syncDescriptor), then
 * closes it on the calling thread whatever the sync did: only the sync is worth a round trip (the
 * local storage's links and directory syncs, and the RocksDB backend's early SST syncs). Rejects
 * with the raw `node:fs` error; callers name the file (storageErrorFromErrno).
 */
export async function syncAndClose(fd: number, dataOnly: boolean): Promise<void> {
  try {
    await syncDescriptor(fd, dataOnly);
  } finally {
    closeSync(fd);
  }
}

/**
 * Bytes written to a file since its last background data sync started that start the next one
 * (BackgroundDataSync): a checkpoint's small files never start one. 2 MiB, not 4: with the syncs
 * beyond the pool's share on idle sync threads (optionalSync) instead of skipped, a conversion to
 * canonical took 0.92-0.96x the time and a 64 MiB savepoint write 0.93-0.98x; either change alone
 * gained nothing (issue 16, session 32).
 */
export const BACKGROUND_SYNC_BYTES = 2 << 20;

/** A configured BackgroundDataSync threshold: a non-negative integer, else a StorageConfigError. */
export function checkBackgroundSyncBytes(everyBytes: number): void {
  if (!Number.isSafeInteger(everyBytes) || everyBytes < 0) throw new StorageConfigError(`background sync bytes must be a non-negative integer, got ${String(everyBytes)}`);
}

/** The open file BackgroundDataSync writes, and starts the data syncs of (fileDataSyncable for a FileHandle). */
export interface DataSyncable {
  write(buffer: Uint8Array, offset: number, length: number): Promise<{ bytesWritten: number }>;
  /** Starts a data sync of what was written so far, or returns undefined when none can start now (it is optional). */
  startDataSync(): Promise<void> | undefined;
}

/** `file`'s writes, and its data syncs through optionalSync: on the pool within its share, else on an idle sync thread, else none. */
export function fileDataSyncable(file: FileHandle): DataSyncable {
  return { write: (b, o, l) => file.write(b, o, l), startDataSync: () => optionalSync(file.fd, true) };
}

/**
 * Data syncs started while a file is still being written (on Linux), so that the commit's fsync
 * waits for little more than the bytes written since the last one started. For a file far below
 * the kernel's background-writeback threshold, Linux otherwise writes none of its dirty pages
 * until they are ~30 s old, so the commit's fsync started the whole file's device write after its
 * last byte (issue 16: the 16 MiB streams of a conversion to canonical, the full snapshots). Like
 * RocksDB's `bytes_per_sync`, which uses `sync_file_range`; Node offers only fdatasync, which
 * also waits for the write and commits the file's size.
 *
 * The writer's writes go through `write`. One sync runs at a time per file, started before a
 * write for the bytes written so far, so it overlaps that write; the last chunk never starts one.
 * A file whose startDataSync starts none (optionalSync: the pool's share is taken and no sync
 * thread is up and idle) tries again before its next write. The commit's durability is its own
 * fsync's, as before; but a failed writeback is reported to one sync of an open file description
 * only, so a background sync's failure is kept, and `finish` rethrows it.
 */
export class BackgroundDataSync {
  private unsynced = 0;
  private running: Promise<void> | undefined;
  private failure: { readonly error: unknown } | undefined;
  private finished = false;
  private count = 0;

  /** `everyBytes` 0 never starts one. */
  constructor(
    private readonly file: DataSyncable,
    private readonly everyBytes = process.platform === 'linux' ? BACKGROUND_SYNC_BYTES : 0,
  ) {
    checkBackgroundSyncBytes(everyBytes);
  }

  /** Syncs started so far. */
  get started(): number {
    return this.count;
  }

  /** Writes all of `chunk` at the file's position (short writes continue); a sync may start first. */
  async write(chunk: Uint8Array): Promise<void> {
    this.beforeWrite();
    for (let off = 0; off < chunk.length; ) off += (await this.file.write(chunk, off, chunk.length - off)).bytesWritten;
    this.unsynced += chunk.length;
  }

  /** Starts a sync of what was written so far once it reached `everyBytes` since the last start, unless one runs here or none can start now. */
  private beforeWrite(): void {
    if (this.finished || this.everyBytes === 0 || this.unsynced < this.everyBytes || this.running !== undefined) return;
    let started: Promise<void> | undefined;
    try {
      started = this.file.startDataSync();
    } catch (error) {
      // One that throws instead of rejecting fails the file like a rejection.
      started = Promise.reject(error);
    }
    if (started === undefined) return;
    this.unsynced = 0;
    this.count++;
    this.running = started.then(
      () => this.ended(undefined),
      (error: unknown) => this.ended({ error }),
    );
  }

  /**
   * Starts no more syncs, waits for the running one, then rethrows the first failure of any (the
   * commit's own fsync would not report it again). Call before the file's final sync and before
   * closing it; every later call rethrows the same.
   */
  async finish(): Promise<void> {
    this.finished = true;
    await this.running;
    if (this.failure !== undefined) throw this.failure.error;
  }

  private ended(failure: { readonly error: unknown } | undefined): void {
    this.running = undefined;
    this.failure ??= failure;
  }
}
