import { randomUUID } from 'node:crypto';
import { closeSync, constants as fsc, fstat, linkSync, openSync, promises as fsp, read as readFd } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import {
  BackgroundDataSync,
  checkBackgroundSyncBytes,
  confinePath,
  fileDataSyncable,
  PathEscapeError,
  settleAll,
  StorageError,
  isNotFoundErrno,
  storageErrorFromErrno,
  syncAndClose,
  syncDescriptor,
  TemporaryNameListing,
  threadPoolReads,
  type FileStatus,
  type FileSystem,
  type FileWriter,
  type LinkFromOptions,
  type ReadRange,
} from '@flowstate/core/storage';

/** Suffix of files being written; never a valid final name, so listings can tell orphans apart. */
export const IN_PROGRESS_SUFFIX = '.inprogress';

export interface LocalFileSystemOptions {
  /**
   * How a directory is fsynced after a commit renamed a file into it (default: open, fsync,
   * close). For tests that inject faults or observe the order of renames and fsyncs.
   */
  readonly fsyncDirectory?: (dir: string) => Promise<void>;
  /**
   * How linkFrom makes a local file's data durable before it links it (default: open, fdatasync,
   * close). For tests that observe which files are synced, and when.
   */
  readonly datasyncFile?: (path: string) => Promise<void>;
  /**
   * Bytes written to a created file since its last background data sync started that start the
   * next (BackgroundDataSync; default BACKGROUND_SYNC_BYTES on Linux, else 0; 0 turns them off).
   */
  readonly backgroundSyncBytes?: number;
  /**
   * How a background data sync of an open file starts (default: core's optionalSync on its
   * descriptor; undefined when none can start now). For tests that count or fail them.
   */
  readonly backgroundDatasync?: (file: FileHandle) => Promise<void> | undefined;
  /**
   * How a commit fsyncs its file before the rename (default: core's syncDescriptor on its
   * descriptor). For tests that hold or fail it.
   */
  readonly commitSync?: (file: FileHandle) => Promise<void>;
}

/**
 * Local disk. Writes go to a temporary file next to the target, which is fsynced, renamed into
 * place and whose directory is fsynced: a file is either absent or complete, even across crashes.
 * Paths are confined to the root, including through symlinks.
 */
export class LocalFileSystem extends TemporaryNameListing implements FileSystem {
  readonly scheme = 'file';
  readonly root: string;

  constructor(root: string, options: LocalFileSystemOptions = {}) {
    super();
    this.root = resolve(root);
    this.directorySyncs = new DirectorySyncs(options.fsyncDirectory);
    this.datasyncFile = options.datasyncFile ?? datasyncFile;
    if (options.backgroundSyncBytes !== undefined) checkBackgroundSyncBytes(options.backgroundSyncBytes);
    this.backgroundSyncBytes = options.backgroundSyncBytes;
    // Undefined: core's fileDataSyncable (optionalSync: never a pool thread beyond its share, an idle sync thread, else none this time).
    this.backgroundDatasync = options.backgroundDatasync;
    // Not FileHandle.sync: that holds a pool thread for the whole device write whatever else waits for one (syncDescriptor).
    this.commitSync = options.commitSync ?? ((file) => syncDescriptor(file.fd, false));
  }

  get displayRoot(): string {
    return this.root;
  }

  /** Directories this file system created or found existing (see openTemp). */
  private readonly createdDirs = new Set<string>();
  /** Directories created here whose entries in their parents are being made durable (syncNewEntries). */
  private readonly newEntries = new Map<string, Promise<void>>();
  /** Directories created here whose entries failed to sync -> the top directory that mkdir created with them. */
  private readonly unsyncedEntries = new Map<string, string>();
  private readonly directorySyncs: DirectorySyncs;
  private readonly datasyncFile: (path: string) => Promise<void>;
  private readonly backgroundSyncBytes: number | undefined;
  private readonly backgroundDatasync: ((file: FileHandle) => Promise<void> | undefined) | undefined;
  private readonly commitSync: (file: FileHandle) => Promise<void>;
  private realRootPromise: Promise<string> | undefined;

  /**
   * Absolute paths whose real path was checked to lie inside the root (files and directories).
   * A checkpoint writes a handful of files per directory and a restore reads many ranges of one
   * file: each used to pay a realpath (a readlink per path component, and a thread-pool job that
   * queued behind fsyncs) per call. Entries go when this file system deletes them or finds them
   * missing. Like the realpath check itself (a symlink swapped in between the check and the open
   * is not seen either), this guards against symlinks in the tree, not against a concurrent
   * writer of the storage directory.
   */
  private readonly confined = new Set<string>();

  /** The root with symlinks resolved, computed once (every path check needs it). */
  private realRoot(): Promise<string> {
    this.realRootPromise ??= fsp.realpath(this.root).catch(() => {
      // Not created yet: try again next time.
      this.realRootPromise = undefined;
      return this.root;
    });
    return this.realRootPromise;
  }

  /**
   * Absolute path for a confined relative path; rejects symlinked parents that leave the root.
   * `fromParent`: the path itself is never followed (a writer renames onto it, which replaces a
   * symlink instead of following it), so the check starts at its directory.
   */
  private async resolvePath(path: string, fromParent = false): Promise<string> {
    const p = confinePath(path);
    const abs = p === '' ? this.root : join(this.root, ...p.split('/'));
    // Walk up to the deepest existing ancestor and check where it really points.
    let probe = fromParent && abs !== this.root ? dirname(abs) : abs;
    for (;;) {
      if (this.confined.has(probe)) return abs;
      try {
        const real = await fsp.realpath(probe);
        const rel = relative(await this.realRoot(), real);
        // '..foo' is a valid name inside the root; only '..' itself or '../...' leaves it.
        if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
          throw new PathEscapeError(path, 'resolves outside the storage root through a symbolic link');
        }
        this.remember(probe);
        return abs;
      } catch (e) {
        // Any other failure (ENAMETOOLONG, EACCES, ELOOP...) is a typed storage error.
        if (!isNotFoundErrno(e)) this.wrap(path, 'resolve', e);
        const parent = dirname(probe);
        if (parent === probe || !parent.startsWith(this.root)) return abs;
        probe = parent;
      }
    }
  }

  private remember(abs: string): void {
    addBounded(this.confined, abs);
  }

  /** Forgets `abs` and everything below it (deleted, or found missing): checked paths and created directories. */
  private forget(abs: string): void {
    const prefix = abs.endsWith(sep) ? abs : abs + sep;
    for (const known of [this.confined, this.createdDirs]) {
      known.delete(abs);
      for (const p of known) if (p.startsWith(prefix)) known.delete(p);
    }
  }

  private wrap(path: string, what: string, e: unknown): never {
    if (e instanceof StorageError || e instanceof PathEscapeError) throw e;
    throw storageErrorFromErrno(`${this.root}/${path}`, what, e);
  }

  async create(path: string): Promise<FileWriter> {
    if (confinePath(path) === '') throw new StorageError(path, 'cannot create a file at the root');
    const target = await this.resolvePath(path, true);
    const dir = dirname(target);
    const temp = `${target}.${randomUUID().slice(0, 8)}${IN_PROGRESS_SUFFIX}`;
    let fh: FileHandle;
    try {
      fh = await this.openTemp(path, dir, temp);
    } catch (e) {
      this.wrap(path, 'create', e);
    }
    let state: 'open' | 'committed' | 'aborted' = 'open';
    let renamed = false;
    const hook = this.backgroundDatasync;
    const background = new BackgroundDataSync(hook === undefined ? fileDataSyncable(fh) : { ...fileDataSyncable(fh), startDataSync: () => hook(fh) }, this.backgroundSyncBytes);
    // The commit's sync, of the raw descriptor (syncDescriptor): FileHandle.close does not wait for it.
    let finalSync: Promise<void> | undefined;
    const abort = async () => {
      if (state !== 'open') return;
      state = 'aborted';
      // FileHandle.close waits for its own operations in flight, not for syncs of the raw
      // descriptor (a sync hook's, the commit's): those are awaited first, so that the descriptor
      // is not closed (and its number reused) under them. Their failure no longer matters.
      await background.finish().catch(() => {});
      await finalSync?.catch(() => {});
      await fh.close().catch(() => {});
      await fsp.rm(temp, { force: true });
    };
    return {
      write: async (chunk) => {
        if (state !== 'open') throw new StorageError(path, `write after ${state}`);
        try {
          await background.write(chunk);
        } catch (e) {
          await abort();
          this.wrap(path, 'write', e);
        }
      },
      commit: async () => {
        // An abort may run while the commit awaits: each step checks that none did.
        const checkOpen = () => {
          if (state !== 'open') throw new StorageError(path, `commit after ${state}`);
        };
        checkOpen();
        try {
          await background.finish();
          checkOpen();
          finalSync = this.commitSync(fh);
          await finalSync;
          checkOpen();
          await fh.close();
          checkOpen();
          state = 'committed';
          await fsp.rename(temp, target);
          renamed = true;
          await this.durableDirectory(dir);
        } catch (e) {
          if (state === 'open') await abort();
          else await fsp.rm(renamed ? target : temp, { force: true }).catch(() => {});
          // A commit that failed after its rename (the directory fsync) removes the file it put
          // there: the caller sees a failure and never references it, so nothing else would.
          this.wrap(path, 'commit', e);
        }
      },
      abort,
    };
  }

  /**
   * A hard link to a local file, committed like a created file: the file's data is made durable
   * first (fdatasync, unless the caller says it is already: `sourceSynced`), then the link
   * appears atomically under its final name (complete bytes, never a partial file), then its
   * directory is fsynced (group commit): once this resolves the file survives a crash.
   * `whileSyncing` (see LinkFromOptions) runs alongside that directory fsync. The link itself is
   * made on the calling thread: a metadata update of a few microseconds (RocksDB's own checkpoint
   * makes its links on the caller's thread too), where a thread-pool job cost a round trip that
   * queued behind other jobs and was most of an incremental checkpoint's upload on a busy machine.
   * False, and nothing changed, when the file is on another device or the file system has no
   * hard links: the caller copies.
   */
  async linkFrom(localPath: string, path: string, options: LinkFromOptions = {}): Promise<boolean> {
    if (confinePath(path) === '') throw new StorageError(path, 'cannot create a file at the root');
    const target = await this.resolvePath(path, true);
    const dir = dirname(target);
    try {
      if (options.sourceSynced !== true) await this.datasyncFile(localPath);
      await this.inDirectory(path, dir, async () => linkSync(localPath, target));
    } catch (e) {
      if (LINK_UNSUPPORTED.has((e as NodeJS.ErrnoException)?.code ?? '')) return false;
      this.wrap(path, 'link', e);
    }
    // Called from a promise: a callback that throws synchronously still gets its link removed.
    const [synced, checked] = await Promise.allSettled([this.durableDirectory(dir), Promise.resolve().then(() => options.whileSyncing?.(target))]);
    if (synced.status === 'rejected' || checked.status === 'rejected') {
      await fsp.rm(target, { force: true }).catch(() => {});
      // The caller's failure as it was thrown (e.g. a damaged file named by the caller); else the fsync's.
      if (checked.status === 'rejected') throw checked.reason;
      this.wrap(path, 'link', (synced as PromiseRejectedResult).reason);
    }
    // A regular file this file system just put there, inside a checked directory.
    this.remember(target);
    return true;
  }

  /**
   * A hard link from a committed file to a local path outside the storage (a scratch database's
   * SST): nothing is written, so nothing needs a sync. False, and nothing created, when the path
   * is on another device or the file system has no hard links: the caller copies.
   */
  async linkTo(path: string, localPath: string): Promise<boolean> {
    const abs = await this.resolvePath(path);
    try {
      await fsp.link(abs, localPath);
      return true;
    } catch (e) {
      if (LINK_UNSUPPORTED.has((e as NodeJS.ErrnoException)?.code ?? '')) return false;
      // ENOENT names no side: a missing stored file is StorageNotFoundError, a missing local directory is not.
      if (isNotFoundErrno(e) && (await fsp.stat(abs).then(() => true, () => false))) throw new StorageError(localPath, `link from ${this.root}/${path} failed: the local directory does not exist`, { cause: e });
      if (isNotFoundErrno(e)) this.confined.delete(abs);
      this.wrap(path, 'link', e);
    }
  }

  async read(path: string, range?: ReadRange): Promise<Uint8Array> {
    const abs = await this.resolvePath(path);
    try {
      // Non-blocking for the reason given below: a FIFO would hold a thread-pool thread forever.
      if (range === undefined) return await fsp.readFile(abs, { flag: fsc.O_RDONLY | fsc.O_NONBLOCK });
      // A plain descriptor, opened and closed on the calling thread like syncPath's: a FileHandle
      // cost two more thread-pool round trips and a promise-based read per part, about a quarter
      // of a 64 MiB savepoint read handing out views (issue 16, session 13). Non-blocking, so that
      // a FIFO planted under a state file's name cannot stall the event loop in open (its
      // positional read then fails with ESPIPE); it changes nothing for a regular file.
      const fd = openSync(abs, fsc.O_RDONLY | fsc.O_NONBLOCK);
      try {
        // Only a read that comes up short (or reads nothing) needs the file's size, and a large
        // one without a lent buffer: its length may come from a damaged handle, so it is checked
        // against the file before that much memory is allocated.
        if (range.offset < 0 || range.length <= 0 || (range.length > UNCHECKED_READ_BYTES && lentBuffer(range) === undefined)) {
          const size = await fileSize(fd);
          if (range.offset < 0 || range.length < 0 || range.offset + range.length > size) throw this.outsideRange(path, range, size);
          if (range.length === 0) return new Uint8Array(0);
        }
        return await readRange(fd, range, async () => {
          const size = await fileSize(fd);
          return range.offset + range.length <= size ? new StorageError(`${this.root}/${path}`, 'file shrank while reading') : this.outsideRange(path, range, size);
        });
      } finally {
        // readRange settled every part: no read of this descriptor is still running.
        closeSync(fd);
      }
    } catch (e) {
      if (isNotFoundErrno(e)) this.confined.delete(abs);
      this.wrap(path, 'read', e);
    }
  }

  private outsideRange(path: string, range: ReadRange, size: number): StorageError {
    return new StorageError(`${this.root}/${path}`, `range [${range.offset}, +${range.length}) is outside the file of ${size} bytes`);
  }

  /** Opens a writer's temporary file (see inDirectory). */
  private openTemp(path: string, dir: string, temp: string): Promise<FileHandle> {
    return this.inDirectory(path, dir, () => fsp.open(temp, fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY, 0o644));
  }

  /**
   * Runs `create` (which makes an entry in `dir`) once `dir` exists. The directory is created once
   * per file system and then known (no mkdir per file); if it vanished since (a deleted checkpoint
   * directory, possibly by another process), it is created and checked again and `create` runs
   * once more: every call retries on its own, whether or not a concurrent one already forgot `dir`.
   */
  private async inDirectory<T>(path: string, dir: string, create: () => Promise<T>): Promise<T> {
    await this.ensureDirectory(path, dir);
    try {
      return await create();
    } catch (e) {
      if (!isNotFoundErrno(e)) throw e;
      this.forget(dir);
      await this.ensureDirectory(path, dir);
      return await create();
    }
  }

  /** Creates `path`'s directory `dir` unless this file system knows it exists (see openTemp). */
  private async ensureDirectory(path: string, dir: string): Promise<void> {
    if (this.createdDirs.has(dir)) return;
    const first = await fsp.mkdir(dir, { recursive: true });
    if (first !== undefined) this.syncNewEntries(first, dir);
    // mkdir follows a symlink that appeared at `dir`: check again now that it exists.
    await this.resolvePath(path, true);
    addBounded(this.createdDirs, dir);
  }

  /**
   * Starts the fsyncs that make the directories mkdir just created (`first` down to `dir`) durable
   * in their parents: POSIX makes a new directory's entry durable only with an fsync of its parent
   * (ext4 happens to commit it with the child's own fsync). Started at once, beside the writes
   * into `dir`; a commit in `dir` waits for them (durableDirectory). They include the entry of
   * `first`'s parent when that is not durable yet either: created by an earlier mkdir whose syncs
   * still run, or whose sync failed (started again here).
   */
  private syncNewEntries(first: string, dir: string): void {
    const created: string[] = [];
    for (let d = dir; ; d = dirname(d)) {
      created.push(d);
      if (d === first || dirname(d) === d) break;
    }
    for (const d of created) this.unsyncedEntries.delete(d);
    const parent = dirname(first);
    const above = parent === first ? undefined : this.entrySync(parent);
    const synced = Promise.all([...created.map((d) => this.directorySyncs.sync(dirname(d))), above]).then(noop);
    // Under every directory created: a write into an intermediate one (which its own mkdir finds
    // existing) must wait for the entries above it too.
    for (const d of created) this.newEntries.set(d, synced);
    const settle = (failed: boolean) => {
      for (const d of created) {
        if (this.newEntries.get(d) !== synced) continue;
        this.newEntries.delete(d);
        // The commits waiting fail; the next commit into `d` or below it starts the syncs again (entrySync).
        if (failed) this.unsyncedEntries.set(d, first);
      }
    };
    // Waited for by commits; a failure fails them, not the process (no unhandled rejection).
    synced.then(() => settle(false), () => settle(true));
  }

  /** Once this resolves, every entry in `dir` renamed or linked before the call survives a crash, and so does `dir` itself. */
  private async durableDirectory(dir: string): Promise<void> {
    await Promise.all([this.directorySyncs.sync(dir), this.entrySync(dir)]);
  }

  /**
   * The syncs still making `dir`'s own entry (and those above it) durable, or undefined when they
   * are. Its sync failed, perhaps before the caller began: started again rather than passed.
   */
  private entrySync(dir: string): Promise<void> | undefined {
    const unsynced = this.unsyncedEntries.get(dir);
    if (unsynced !== undefined && !this.newEntries.has(dir)) this.syncNewEntries(unsynced, dir);
    return this.newEntries.get(dir);
  }

  async stat(path: string): Promise<FileStatus | null> {
    const abs = await this.resolvePath(path);
    try {
      const st = await fsp.stat(abs);
      return st.isFile() ? { path: confinePath(path), size: st.size } : null;
    } catch (e) {
      if (isNotFoundErrno(e)) return null;
      this.wrap(path, 'stat', e);
    }
  }

  protected async walk(dir: string, incomplete: boolean): Promise<FileStatus[]> {
    const base = confinePath(dir);
    const abs = await this.resolvePath(base);
    const out: FileStatus[] = [];
    const walk = async (absDir: string, relDir: string): Promise<void> => {
      let entries;
      try {
        entries = await fsp.readdir(absDir, { withFileTypes: true });
      } catch (e) {
        if (isNotFoundErrno(e) || (e as NodeJS.ErrnoException)?.code === 'ENOTDIR') return;
        this.wrap(relDir, 'list', e);
      }
      for (const ent of entries) {
        const rel = relDir === '' ? ent.name : `${relDir}/${ent.name}`;
        const p = join(absDir, ent.name);
        // Symlinks are not followed: they could lead outside the root.
        if (ent.isDirectory()) await walk(p, rel);
        // Files still being written are not visible until commit renames them.
        else if (ent.isFile() && ent.name.endsWith(IN_PROGRESS_SUFFIX) === incomplete) {
          // A file may vanish between readdir and stat (a concurrent abort or delete): skip it.
          const st = await fsp.stat(p).catch((e: unknown) => (isNotFoundErrno(e) ? null : this.wrap(rel, 'stat', e)));
          if (st !== null) out.push({ path: rel, size: st.size });
        }
      }
    };
    await walk(abs, base);
    return out;
  }

  async delete(path: string): Promise<void> {
    const abs = await this.resolvePath(path);
    if (abs === this.root) throw new StorageError(path, 'refusing to delete the root');
    // A file (rm without recursive removes no directory): nothing below it to forget.
    this.confined.delete(abs);
    try {
      await fsp.rm(abs, { force: true });
    } catch (e) {
      this.wrap(path, 'delete', e);
    }
  }

  async deleteMany(paths: readonly string[]): Promise<void> {
    for (const p of paths) await this.delete(p);
  }

  /**
   * Removes the directory `dir` only if it is empty (FileSystem.deleteEmptyDirectory), with one
   * rmdir: the kernel decides emptiness atomically and never removes anything recursively. True
   * when it is gone or was absent, false when it is not empty or not a directory. Its parents
   * are confined like every path (PathEscapeError through a link that leaves the root); the path
   * itself is not followed: rmdir of a symbolic link fails (ENOTDIR) instead of removing its target.
   */
  async deleteEmptyDirectory(dir: string): Promise<boolean> {
    if (confinePath(dir) === '') throw new StorageError(dir, 'refusing to delete the root');
    const abs = await this.resolvePath(dir, true);
    try {
      await fsp.rmdir(abs);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException | undefined)?.code;
      // Not empty (Linux says ENOTEMPTY, POSIX allows EEXIST): not removed.
      if (code === 'ENOTEMPTY' || code === 'EEXIST') return false;
      // A file or a link (not removed), or a parent is a file (nothing there): lstat tells which.
      if (code === 'ENOTDIR' && (await this.existsNoFollow(dir, abs))) return false;
      if (!isNotFoundErrno(e)) this.wrap(dir, 'delete empty directory', e);
    }
    // Gone, or found missing: the checked paths and known directories at and below it go too.
    this.forget(abs);
    return true;
  }

  /** Whether something (a link itself, not its target) is at `abs`; false when a component is missing or a file. */
  private async existsNoFollow(path: string, abs: string): Promise<boolean> {
    try {
      await fsp.lstat(abs);
      return true;
    } catch (e) {
      if (isNotFoundErrno(e)) return false;
      this.wrap(path, 'lstat', e);
    }
  }

  async deleteDirectory(dir: string): Promise<void> {
    const abs = await this.resolvePath(dir);
    this.forget(abs);
    try {
      await fsp.rm(abs, { recursive: true, force: true });
      if (abs === this.root) await fsp.mkdir(abs, { recursive: true });
    } catch (e) {
      this.wrap(dir, 'delete directory', e);
    }
  }
}

/** link() failures that mean "cannot link here" (copy instead), not a storage failure. */
const LINK_UNSUPPORTED = new Set(['EXDEV', 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EMLINK']);

/** Bound of the path caches: a clear costs one realpath per path afterwards, nothing else. */
const MAX_CONFINED_PATHS = 4096;

/** Adds to a cache of paths, bounded: a long-running job touches ever new checkpoint directories and files. */
function addBounded(known: Set<string>, abs: string): void {
  if (known.size >= MAX_CONFINED_PATHS) known.clear();
  known.add(abs);
}

/** Largest range read without checking the file's size first (see read). */
const UNCHECKED_READ_BYTES = 8 << 20;

/** Most parts one range read is split into: as many as libuv's thread pool runs at once. */
const PARALLEL_READS = threadPoolReads();
/** A range is split only into parts of at least this many bytes: a part's own cost stays small beside its copy. */
const PARALLEL_READ_PART_BYTES = 1 << 20;

/** The caller's lent buffer (ReadRange.into, reused across reads) cut to the range; one too small is ignored. */
function lentBuffer(range: ReadRange): Uint8Array | undefined {
  return range.into !== undefined && range.into.length >= range.length ? range.into.subarray(0, range.length) : undefined;
}

/**
 * Reads exactly `range` or rejects with `short()` (the range ends past the file, or it shrank):
 * a restore's many range reads pay no fstat each. A range of at least two parts is read in up to
 * PARALLEL_READS parts at once: the kernel's copies out of the page cache then run on as many of
 * libuv's threads instead of one after the other (a restore's coalesced reads are 8 MiB).
 */
async function readRange(fd: number, range: ReadRange, short: () => Promise<StorageError>): Promise<Uint8Array> {
  const buf = lentBuffer(range) ?? Buffer.allocUnsafe(range.length);
  const parts = Math.min(PARALLEL_READS, Math.floor(range.length / PARALLEL_READ_PART_BYTES));
  let complete: boolean;
  if (parts <= 1) {
    complete = await readFully(fd, buf, range.offset);
  } else {
    const step = Math.ceil(range.length / parts);
    const reads: Promise<boolean>[] = [];
    for (let at = 0; at < range.length; at += step) reads.push(readFully(fd, buf.subarray(at, Math.min(range.length, at + step)), range.offset + at));
    // Every part settled before the descriptor closes and the buffer goes back to its lender (which
    // reuses it): a part still reading would write into it later.
    complete = (await settleAll(reads)).every((done) => done);
  }
  if (!complete) throw await short();
  return buf;
}

/** Fills `buf` from `position`; false when the file ended first. */
async function readFully(fd: number, buf: Uint8Array, position: number): Promise<boolean> {
  let got = 0;
  while (got < buf.length) {
    const bytesRead = await readAt(fd, buf, got, position + got);
    if (bytesRead === 0) return false;
    got += bytesRead;
  }
  return true;
}

/** One positional read into buf[offset..] on libuv's thread pool: the number of bytes read (0 at the end of the file). */
function readAt(fd: number, buf: Uint8Array, offset: number, position: number): Promise<number> {
  return new Promise((done, fail) => readFd(fd, buf, offset, buf.length - offset, position, (e, n) => (e === null ? done(n) : fail(e))));
}

function fileSize(fd: number): Promise<number> {
  return new Promise((done, fail) => fstat(fd, (e, st) => (e === null ? done(st.size) : fail(e))));
}

/**
 * Opens `path` read-only and fsyncs it (`dataOnly`: fdatasync). Only the sync runs on the thread
 * pool: the open (a path lookup) and the close take microseconds on the calling thread, where each
 * was a thread-pool round trip of its own, in sequence with the sync, on every commit and link.
 * This assumes a local disk: on a network mount the open and close would be round trips on the
 * event loop (documented in docs/STATUS.md, session 9 decisions).
 */
async function syncPath(path: string, dataOnly: boolean): Promise<void> {
  await syncAndClose(openSync(path, 'r'), dataOnly);
}

const datasyncFile = (path: string): Promise<void> => syncPath(path, true);
const fsyncDirectory = (dir: string): Promise<void> => syncPath(dir, false);

/**
 * Directory fsyncs shared by concurrent commits (group commit). A commit's rename is durable once
 * an fsync of its directory that *started after the rename* has completed. The files of one
 * checkpoint commit at about the same time into the same directory; instead of one fsync each
 * (which the journal serializes), a commit joins the next fsync of its directory: if none is
 * running it starts one; if one is running (it may have started before this rename) it waits for
 * the single fsync that starts when the running one ends, shared by every commit that arrives
 * meanwhile. No commit resolves before a directory fsync that began after its rename succeeded,
 * so "committed" still means "survives a crash"; a failed fsync fails every commit that waited on it.
 */
export class DirectorySyncs {
  private readonly byDir = new Map<string, { running: Promise<void>; next?: Promise<void> }>();

  private readonly fsync: (dir: string) => Promise<void>;

  constructor(fsync?: (dir: string) => Promise<void>) {
    this.fsync = fsync ?? fsyncDirectory;
  }

  sync(dir: string): Promise<void> {
    const entry = this.byDir.get(dir);
    if (entry === undefined) return this.start(dir);
    entry.next ??= entry.running.then(noop, noop).then(() => this.start(dir));
    return entry.next;
  }

  private start(dir: string): Promise<void> {
    const entry: { running: Promise<void>; next?: Promise<void> } = { running: RESOLVED };
    entry.running = this.fsync(dir).finally(() => {
      if (this.byDir.get(dir) === entry && entry.next === undefined) this.byDir.delete(dir);
    });
    this.byDir.set(dir, entry);
    return entry.running;
  }
}

const noop = (): void => {};
const RESOLVED = Promise.resolve();
