import { closeSync, openSync, readdirSync, readSync } from 'node:fs';
import { rm, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { storageErrorFromErrno, syncAndClose } from '@flowstate/core';

/** What the synchronous part read of a local RocksDB checkpoint directory. */
export interface LocalCheckpointFiles {
  /** Every file of the directory, sorted. */
  readonly names: readonly string[];
  /** The bytes of each file other than an SST of at most `inlineMaxBytes` (CURRENT, MANIFEST, OPTIONS). */
  readonly small: ReadonlyMap<string, Uint8Array>;
}

/**
 * Lists a checkpoint directory RocksDB has just written, and reads its small non-SST files, on
 * the calling thread. Run in the synchronous part, right after createCheckpoint wrote these very
 * files on this thread (linked or copied; with syncLocalFiles 'ssts' or false the copies of
 * MANIFEST and CURRENT are not fsynced): a getdents and, per small file, an open, a read or two
 * from the page cache and a close, about 0.1 ms in all. In the asynchronous part the same
 * work was some twenty thread-pool round trips (readdir; stat, open, fstat, read, close per
 * file) that queued behind the SST's fsyncs, about a third of an incremental checkpoint's own
 * time (issue 16). A file larger than `inlineMaxBytes`, or one that keeps growing while it is
 * read, is left to the asynchronous part (uploaded, never inlined beyond the limit).
 */
export function readLocalCheckpointFiles(dir: string, inlineMaxBytes: number): LocalCheckpointFiles {
  const names = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name)
    .sort();
  const small = new Map<string, Uint8Array>();
  for (const name of names) {
    if (name.endsWith('.sst')) continue;
    const bytes = readAtMost(join(dir, name), inlineMaxBytes);
    if (bytes !== null) small.set(name, bytes);
  }
  return { names, small };
}

/** The whole file if it has at most `max` bytes, else null (it is read no further than `max` + 1 bytes). */
function readAtMost(path: string, max: number): Uint8Array | null {
  const buf = new Uint8Array(max + 1);
  const fd = openSync(path, 'r');
  try {
    let got = 0;
    for (;;) {
      const n = readSync(fd, buf, got, buf.length - got, null);
      if (n === 0) return buf.slice(0, got);
      got += n;
      if (got > max) return null;
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Starts an fdatasync of each of `names` in the checkpoint directory `dir`, on the thread pool,
 * and returns them by name. Started in the synchronous part, right after createCheckpoint
 * deferred these syncs: the disk works while the synchronous part goes on and the asynchronous
 * part starts, instead of from the upload's link on (issue 16: the sync was about a quarter of a
 * 10 MB incremental checkpoint, and started ~1 ms after the checkpoint directory existed). Only a
 * head start: a name it cannot open (not in the directory, e.g. a compaction's output whose sync
 * was deferred but which the checkpoint does not hold; or out of descriptors) is left out, and
 * the upload has the storage sync it as before. A failed sync rejects with a StorageError naming
 * the file, kept for whoever awaits it: none is reported as unhandled when the snapshot is
 * cancelled before it got there.
 */
export function startDataSyncs(dir: string, names: readonly string[]): Map<string, Promise<void>> {
  const started = new Map<string, Promise<void>>();
  for (const name of names) {
    const path = join(dir, name);
    const fd = openOrUndefined(path);
    if (fd === undefined) continue;
    const synced = dataSyncAndClose(fd, path);
    synced.catch(() => {});
    started.set(name, synced);
  }
  return started;
}

function openOrUndefined(path: string): number | undefined {
  try {
    return openSync(path, 'r');
  } catch {
    return undefined;
  }
}

/** fdatasync on the thread pool, then close; a failure names the file. */
async function dataSyncAndClose(fd: number, path: string): Promise<void> {
  try {
    await syncAndClose(fd, true);
  } catch (e) {
    throw storageErrorFromErrno(path, 'fdatasync', e);
  }
}

/**
 * Removes a local checkpoint directory: one unlink per known file and an rmdir (no lstat per
 * entry as a recursive rm does); a recursive rm when the files are unknown or something else is
 * there. On the thread pool: done synchronously, an rmdir waited up to milliseconds for the file
 * system's journal (behind the next checkpoint's fsync), blocking the event loop.
 */
export async function removeCheckpointDirectory(dir: string, files: readonly string[] | undefined): Promise<void> {
  if (files !== undefined) {
    try {
      await Promise.all(files.map((f) => unlink(join(dir, f))));
      await rmdir(dir);
      return;
    } catch {
      // fall through
    }
  }
  await rm(dir, { recursive: true, force: true });
}

/**
 * Which SSTs RocksDB itself made durable. RocksDB fsyncs every SST it writes before the SST
 * becomes part of the database: a flush's and a compaction's output (BuildTable,
 * FinishCompactionOutputFile: `Sync` before the version edit) and an ingested file (moved or
 * linked: SyncIngestedFile; copied: CopyFile with sync). Files that were already in the directory
 * when a database was first seen here are not known to be synced: a native restore writes the
 * downloaded SSTs without an fsync before RocksDB opens them. File numbers only grow within a
 * database, so a name first seen later is a file this database wrote, and synced (unless the
 * database skips its fsyncs, syncLocalFiles: false; the caller asks only when it does not), except
 * the SSTs whose syncs a checkpoint deferred (createCheckpoint's unsyncedSsts).
 */
export class RocksDbSyncedSsts {
  private db: object | undefined;
  /** SSTs not known to be synced -> whether one was live (or in a checkpoint) when last observed. */
  private readonly unknown = new Map<string, boolean>();

  /**
   * Takes the live SST names of `db` right after a checkpoint, the files of that checkpoint's
   * directory, and the SSTs whose syncs the checkpoint deferred. The first call per database
   * records the live and the checkpoint's SSTs as not known to be synced; every call adds the
   * deferred ones. The checkpoint's own SSTs count too: the live list is read after
   * createCheckpoint, and a compaction finishing in between drops a restored (never fsynced) SST
   * from it while the checkpoint directory still holds that SST. An SST seen and then no longer
   * seen is forgotten: RocksDB never reuses a file number, so it is never uploaded again. A
   * deferred one not seen yet (a compaction's output, synced meanwhile, not installed yet) stays.
   */
  observe(db: object, liveSsts: readonly string[], checkpointFiles: readonly string[], unsyncedSsts: readonly string[] = []): void {
    const current = new Set(liveSsts);
    for (const name of checkpointFiles) if (name.endsWith('.sst')) current.add(name);
    if (db !== this.db) {
      this.db = db;
      this.unknown.clear();
      for (const name of current) this.unknown.set(name, true);
    }
    for (const name of unsyncedSsts) this.unknown.set(name, this.unknown.get(name) ?? false);
    for (const [name, wasSeen] of this.unknown) {
      if (current.has(name)) this.unknown.set(name, true);
      else if (wasSeen) this.unknown.delete(name);
    }
  }

  /** Forgets the database: at the next observe every SST live or in the checkpoint is not known to be synced. */
  forget(): void {
    this.db = undefined;
    this.unknown.clear();
  }

  /** True when RocksDB fsynced the SST `name` before it went live. */
  isSynced(name: string): boolean {
    return this.db !== undefined && !this.unknown.has(name);
  }
}
