import { randomUUID } from 'node:crypto';
import { confinePath, forEachLimit, joinPath, StorageError, StorageNotFoundError, TemporaryNameListing } from '@flowstate/core';
import type { FileStatus, FileSystem, FileWriter, ReadRange } from '@flowstate/core';
import { WebHdfsConfigError, WebHdfsError } from './errors.js';
import type { HdfsFileStatus } from './file-status.js';
import { positiveInteger } from './options.js';
import { WebHdfsClient, type WebHdfsClientOptions } from './webhdfs-client.js';
import { WebHdfsFileWriter } from './webhdfs-file-writer.js';

export interface WebHdfsFileSystemOptions {
  /** A client to share, or the options to build one. */
  readonly client: WebHdfsClient | WebHdfsClientOptions;
  /** Absolute HDFS directory every path lives under, e.g. '/flowstate/checkpoints/job-42'. */
  readonly basePath: string;
  /**
   * Bytes a writer buffers before sending them (one CREATE or APPEND each). Larger chunks mean
   * fewer round trips and block-pipeline setups; smaller ones less memory per open writer.
   * Default 8 MiB.
   */
  readonly writeChunkSize?: number;
  /** Parallel requests for list, deleteMany and deleteDirectory(''). Default 8. */
  readonly concurrency?: number;
  /** Passed to CREATE for new files; the cluster's defaults otherwise. */
  readonly blockSize?: number;
  readonly replication?: number;
  readonly permission?: string;
}

const DEFAULT_CHUNK = 8 << 20;
const TEMP_MARKER = '._COPYING_';
const TEMP_RE = /\._COPYING_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Room left for the temp suffix under HDFS's 255-byte component limit. */
const TEMP_PREFIX_MAX_BYTES = 200;

/**
 * "Nothing there": FileNotFoundException, or ParentNotDirectoryException, which some namenode
 * versions raise instead when a parent component of the path is a file.
 */
function isAbsent(e: unknown): boolean {
  return e instanceof StorageNotFoundError || (e instanceof WebHdfsError && e.remote?.exception === 'ParentNotDirectoryException');
}

/**
 * A non-recursive DELETE refused because the directory has children: HDFS's
 * PathIsNotEmptyDirectoryException ("<path> is non empty"), or a plain IOException with that
 * message from namenodes older than that class.
 */
function isNotEmptyDirectory(e: unknown): boolean {
  if (!(e instanceof WebHdfsError) || e.remote === undefined) return false;
  return e.remote.exception === 'PathIsNotEmptyDirectoryException' || (e.remote.exception === 'IOException' && e.remote.message.includes('is non empty'));
}

/**
 * Checkpoint storage on HDFS through WebHDFS.
 *
 * A file is written to a temporary sibling `<name>._COPYING_<uuid>` (CREATE with the first chunk,
 * APPEND for the rest), checked to hold exactly the bytes written, and published by RENAME with
 * OVERWRITE, which HDFS performs atomically: readers see the old file or the complete new one,
 * never a partial one. Temporary files are skipped by list(); one left behind by a crashed writer
 * is invisible garbage until its directory is deleted. Through HttpFS, which ignores RENAME's
 * options, replacing an existing file fails (WebHdfsRenameRefusedError) rather than being done
 * without atomicity; see WebHdfsClient.rename2.
 */
export class WebHdfsFileSystem extends TemporaryNameListing implements FileSystem {
  readonly scheme = 'hdfs';
  /**
   * `webhdfs://host:port/base`: the URI Hadoop's own webhdfs FileSystem would use for this
   * directory (the port is the namenode's HTTP port, not its RPC port). Never carries credentials.
   */
  readonly displayRoot: string;
  readonly client: WebHdfsClient;
  readonly basePath: string;
  private readonly chunkSize: number;
  private readonly concurrency: number;
  private readonly createOptions: { blockSize?: number; replication?: number; permission?: string };

  constructor(options: WebHdfsFileSystemOptions) {
    super();
    this.client = options.client instanceof WebHdfsClient ? options.client : new WebHdfsClient(options.client);
    const base = options.basePath;
    if (typeof base !== 'string' || !base.startsWith('/')) throw new WebHdfsConfigError(`basePath must be an absolute HDFS path, got '${String(base)}'`);
    const parts = base.split('/').filter((p) => p !== '');
    if (parts.some((p) => p === '.' || p === '..')) throw new WebHdfsConfigError(`basePath '${base}' contains '.' or '..'`);
    this.basePath = `/${parts.join('/')}`;
    this.displayRoot = this.client.uri(this.basePath);
    this.chunkSize = positiveInteger('writeChunkSize', options.writeChunkSize ?? DEFAULT_CHUNK);
    this.concurrency = positiveInteger('concurrency', options.concurrency ?? 8);
    this.createOptions = {
      ...(options.blockSize === undefined ? {} : { blockSize: options.blockSize }),
      ...(options.replication === undefined ? {} : { replication: options.replication }),
      ...(options.permission === undefined ? {} : { permission: options.permission }),
    };
  }

  /** Absolute HDFS path of a confined relative path. */
  private abs(rel: string): string {
    if (rel === '') return this.basePath;
    return this.basePath === '/' ? `/${rel}` : `${this.basePath}/${rel}`;
  }

  async create(path: string): Promise<FileWriter> {
    const p = confinePath(path);
    if (p === '') throw new StorageError(path, 'cannot create a file at the root');
    const slash = p.lastIndexOf('/');
    const name = p.slice(slash + 1);
    if (TEMP_RE.test(name)) throw new StorageError(p, `names ending in '${TEMP_MARKER}<uuid>' are reserved for files being written`);
    const cps = Array.from(name);
    while (Buffer.byteLength(cps.join(''), 'utf8') > TEMP_PREFIX_MAX_BYTES) cps.pop();
    const temp = joinPath(p.slice(0, Math.max(0, slash)), `${cps.join('')}${TEMP_MARKER}${randomUUID()}`);
    return new WebHdfsFileWriter(this.client, p, this.abs(p), this.abs(temp), this.chunkSize, this.createOptions);
  }

  async read(path: string, range?: ReadRange): Promise<Uint8Array> {
    const p = confinePath(path);
    const abs = this.abs(p);
    if (range === undefined) return this.notFoundIfAbsent(abs, () => this.client.open(abs));
    const { offset, length } = range;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new StorageError(p, `invalid range [${offset}, +${length})`);
    }
    if (length === 0) {
      // WebHDFS rejects an OPEN at offset == length of a non-empty file, so an empty range is
      // checked against the file's size instead of read.
      const st = await this.stat(p);
      if (st === null) throw new StorageNotFoundError(this.client.uri(abs));
      if (offset > st.size) throw new StorageError(p, `range [${offset}, +0) is outside the file of ${st.size} bytes`);
      return new Uint8Array(0);
    }
    let data: Uint8Array;
    try {
      data = await this.notFoundIfAbsent(abs, () => this.client.open(abs, { offset, length }));
    } catch (e) {
      // Offset past the end: the namenode's "Offset=... out of the range" or the datanode's EOF.
      if (e instanceof WebHdfsError && (e.remote?.exception === 'EOFException' || (e.remote?.exception === 'IOException' && e.remote.message.includes('Offset=')))) {
        throw new StorageError(p, `range [${offset}, +${length}) is outside the file`, { cause: e });
      }
      throw e;
    }
    if (data.length !== length) {
      throw new StorageError(p, `range [${offset}, +${length}) is outside the file of ${offset + data.length} bytes`);
    }
    return data;
  }

  async stat(path: string): Promise<FileStatus | null> {
    const p = confinePath(path);
    const st = await this.statAbs(this.abs(p));
    return st?.type === 'FILE' ? { path: p, size: st.length } : null;
  }

  private async statAbs(abs: string): Promise<HdfsFileStatus | null> {
    try {
      return await this.client.getFileStatus(abs);
    } catch (e) {
      if (isAbsent(e)) return null;
      throw e;
    }
  }

  private async notFoundIfAbsent<T>(abs: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (isAbsent(e) && !(e instanceof StorageNotFoundError)) throw new StorageNotFoundError(this.client.uri(abs));
      throw e;
    }
  }

  /** DELETE that treats "a parent is a file" like "nothing there": both mean there is nothing to delete. */
  private async deleteAbs(abs: string, recursive: boolean): Promise<void> {
    try {
      await this.client.delete(abs, { recursive });
    } catch (e) {
      if (!isAbsent(e)) throw e;
    }
  }

  protected async walk(dir: string, incomplete: boolean): Promise<FileStatus[]> {
    const d = confinePath(dir);
    const out: FileStatus[] = [];
    // Breadth-first, one level at a time, each directory paged with LISTSTATUS_BATCH.
    let level = [d];
    while (level.length > 0) {
      const next: string[] = [];
      await forEachLimit(level, this.concurrency, async (rel) => {
        try {
          for await (const st of this.client.listStatusIterator(this.abs(rel))) {
            // '' is the listed path itself, i.e. `dir` is a file: it has no files below it.
            if (st.pathSuffix === '') continue;
            const child = joinPath(rel, st.pathSuffix);
            if (st.type === 'DIRECTORY') next.push(child);
            else if (st.type === 'FILE' && TEMP_RE.test(st.pathSuffix) === incomplete) out.push({ path: child, size: st.length });
          }
        } catch (e) {
          // A directory that is missing (or vanished mid-walk) has no files.
          if (!isAbsent(e)) throw e;
        }
      });
      level = next;
    }
    return out;
  }

  async delete(path: string): Promise<void> {
    const p = confinePath(path);
    if (p === '') throw new StorageError(path, 'cannot delete the root as a file; use deleteDirectory');
    await this.deleteAbs(this.abs(p), false);
  }

  async deleteMany(paths: readonly string[]): Promise<void> {
    const confined = paths.map((p) => {
      const c = confinePath(p);
      if (c === '') throw new StorageError(p, 'cannot delete the root as a file; use deleteDirectory');
      return c;
    });
    await forEachLimit(confined, this.concurrency, async (p) => {
      await this.deleteAbs(this.abs(p), false);
    });
  }

  /**
   * Removes the directory `dir` only if it is empty (FileSystem.deleteEmptyDirectory): true when
   * it is gone or was absent, false when it has children or is not a directory. WebHDFS has no
   * rmdir, and a DELETE without `recursive` deletes a file as readily as an empty directory, so
   * GETFILESTATUS first makes sure a directory is there; the namenode itself refuses to remove a
   * directory with children (PathIsNotEmptyDirectoryException), which decides the rest
   * atomically. (A file put in the directory's place between the two requests would be deleted:
   * WebHDFS offers no way to rule that out, and nothing of ours renames files onto directories.)
   */
  async deleteEmptyDirectory(dir: string): Promise<boolean> {
    const d = confinePath(dir);
    // The base directory may have been provisioned with ownership and permissions this job could not recreate.
    if (d === '') throw new StorageError(dir, 'cannot delete the root directory; remove it through its parent');
    const abs = this.abs(d);
    const st = await this.statAbs(abs);
    if (st === null) return true;
    if (st.type !== 'DIRECTORY') return false;
    try {
      // `{"boolean": false}`: it went in the meantime, which is what was asked.
      await this.client.delete(abs, { recursive: false });
      return true;
    } catch (e) {
      if (isAbsent(e)) return true;
      if (isNotEmptyDirectory(e)) return false;
      throw e;
    }
  }

  async deleteDirectory(dir: string): Promise<void> {
    const d = confinePath(dir);
    if (d !== '') {
      await this.deleteAbs(this.abs(d), true);
      return;
    }
    // The root's contents go, the base directory stays: it may have been provisioned with
    // ownership and permissions this job could not recreate.
    const children: string[] = [];
    try {
      for await (const st of this.client.listStatusIterator(this.basePath)) if (st.pathSuffix !== '') children.push(st.pathSuffix);
    } catch (e) {
      if (isAbsent(e)) return;
      throw e;
    }
    await forEachLimit(children, this.concurrency, async (name) => {
      await this.deleteAbs(this.abs(name), true);
    });
  }
}
