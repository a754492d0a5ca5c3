import { openSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { storageErrorFromErrno, syncAndClose } from '@flowstate/core';
import type { PinnedLiveFiles } from '../native.js';

/** The files of a local RocksDB checkpoint, as the synchronous part pinned them (RocksDB.pinLiveFiles). */
export interface LocalCheckpointFiles {
  /** Every file of the checkpoint, by RocksDB's name, sorted. */
  readonly names: readonly string[];
  /** The bytes of each file that was read instead of pinned (CURRENT, MANIFEST, OPTIONS up to the inline limit). */
  readonly small: ReadonlyMap<string, Uint8Array>;
  /** Where each other file's hard link (or copy) lies: the SSTs, and an OPTIONS, MANIFEST or WAL over the limit. */
  readonly paths: ReadonlyMap<string, string>;
}

/**
 * The directory of a RocksDB backend's working directory that holds the files its checkpoints
 * pinned, each named `chk-<id>-<random>-<RocksDB's name>`, until their upload is done. One
 * directory for all checkpoints, made once: a directory per checkpoint cost an inode allocation
 * (and a removal) each time (issue 16, see native/pin_files.cc).
 */
export const CHECKPOINT_LINKS_DIR = 'checkpoint-links';

/** What RocksDB.pinLiveFiles returned, by name. */
export function localCheckpointFiles(pinned: PinnedLiveFiles): LocalCheckpointFiles {
  const small = new Map<string, Uint8Array>();
  const paths = new Map<string, string>();
  for (const f of pinned.files) {
    if (f.path !== undefined) paths.set(f.name, f.path);
    else if (f.bytes !== undefined) small.set(f.name, f.bytes);
  }
  return { names: pinned.files.map((f) => f.name).sort(), small, paths };
}

/**
 * Starts an fdatasync of each of `names` (pinned at `paths`), off the event loop (core's
 * syncDescriptor: the thread pool, or a sync thread), and returns them by name. Started in the
 * synchronous part, right after the pinning deferred these syncs: the disk
 * works while the synchronous part goes on and the asynchronous part starts, instead of from the
 * upload's link on (issue 16: the sync was about a quarter of a 10 MB incremental checkpoint, and
 * started ~1 ms after the files were pinned). Only a head start: a name that was not pinned (e.g.
 * a compaction's output whose sync was deferred but which the checkpoint does not hold) or that
 * cannot be opened (out of descriptors) is left out, and the upload has the storage sync it as
 * before. A failed sync rejects with a StorageError naming the file, kept for whoever awaits it:
 * none is reported as unhandled when the snapshot is cancelled before it got there.
 */
export function startDataSyncs(paths: ReadonlyMap<string, string>, names: readonly string[]): Map<string, Promise<void>> {
  const started = new Map<string, Promise<void>>();
  for (const name of names) {
    const path = paths.get(name);
    if (path === undefined) continue;
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

/** fdatasync off the event loop (syncAndClose), then close; a failure names the file. */
async function dataSyncAndClose(fd: number, path: string): Promise<void> {
  try {
    await syncAndClose(fd, true);
  } catch (e) {
    throw storageErrorFromErrno(path, 'fdatasync', e);
  }
}

/**
 * Removes the files a checkpoint pinned: one unlink each, on the thread pool (an unlink can wait
 * for the file system behind the next checkpoint's fsync; done synchronously, it blocked the
 * event loop). Already gone counts as removed.
 */
export async function removePinnedFiles(paths: Iterable<string>): Promise<void> {
  await Promise.all([...paths].map((p) => unlink(p).catch((e: unknown) => {
    if ((e as NodeJS.ErrnoException)?.code !== 'ENOENT') throw e;
  })));
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
 * the SSTs whose syncs a checkpoint deferred (pinLiveFiles' unsyncedSsts).
 */
export class RocksDbSyncedSsts {
  private db: object | undefined;
  /** SSTs not known to be synced -> whether one was live (or in a checkpoint) when last observed. */
  private readonly unknown = new Map<string, boolean>();

  /**
   * Takes the live SST names of `db` right after a checkpoint, the files that checkpoint pinned,
   * and the SSTs whose syncs the checkpoint deferred. The first call per database records the
   * live and the checkpoint's SSTs as not known to be synced; every call adds the deferred ones.
   * The checkpoint's own SSTs count too: the live list is read after the pinning, and a
   * compaction finishing in between drops a restored (never fsynced) SST from it while the
   * checkpoint still holds a link to that SST. An SST seen and then no longer
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

  /**
   * Databases whose deferred-sync list was lost (a failed pinning): none of their SSTs is known to
   * be synced any more. Not only those live at the next observe: a compaction output whose sync
   * the failed pinning deferred may be installed any number of checkpoints later.
   */
  private readonly untrusted = new WeakSet<object>();

  /** Forgets what is known of `db` for good: every SST of it counts as not synced from now on. */
  forget(db: object): void {
    this.untrusted.add(db);
    this.db = undefined;
    this.unknown.clear();
  }

  /** True when RocksDB fsynced the SST `name` before it went live. */
  isSynced(name: string): boolean {
    return this.db !== undefined && !this.untrusted.has(this.db) && !this.unknown.has(name);
  }
}
