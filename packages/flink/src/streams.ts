import { constants, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, normalize, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConcurrencyLimiter, CorruptCheckpointError, FlowstateError, IllegalStateUsageError, PathEscapeError, StorageError, storageErrorFromErrno, threadPoolReads } from '@flowstate/core';
import { corrupt, FlinkUnsupportedError } from './errors.js';
import { giveBackStreamBuffer, takeStreamBuffer } from './io/stream-buffers.js';
import type { StreamStateHandle } from './metadata/types.js';

/** Bytes of one state stream, with the file name and offset that errors should name. */
export interface ResolvedStream {
  readonly bytes: Uint8Array;
  readonly file: string;
  /** Offset of bytes[0] within `file`. */
  readonly baseOffset: number;
}

/** A state file larger than this is refused before it is read (Flink fixtures are far smaller). */
export const MAX_STATE_FILE_BYTES = 1 << 30;

/** Bytes a stream handle says it holds: its inline data, or its file's declared size (0 for none). */
export function handleSize(h: StreamStateHandle | null): number {
  if (h === null) return 0;
  switch (h.type) {
    case 'byte-stream': return h.data.length;
    case 'file': case 'relative-file': case 'segment-file': return h.size;
    default: return 0;
  }
}

/** `rel` under `directory`; a path that is empty, absolute, or climbs out ('..') is refused. */
export function confinedPath(directory: string, rel: string, detail = 'relative state file path leaves the savepoint directory'): string {
  if (rel === '' || isAbsolute(rel) || rel.includes('\\') || normalize(rel).split(sep).includes('..')) {
    throw new PathEscapeError(rel, detail);
  }
  return join(directory, rel);
}

/** The local path of a file handle's path as Flink wrote it (a path or a `file:` URI); a URI that is no local path is corrupt metadata. */
export function localHandlePath(path: string, metadataFile: string): string {
  if (!path.startsWith('file:')) return path;
  try {
    return fileURLToPath(path.replace(/^file:\/+/, 'file:///'));
  } catch (e) {
    throw new CorruptCheckpointError(metadataFile, `state file URI '${path.slice(0, 200)}' is not a local path: ${(e as Error).message}`, undefined, undefined, { cause: e });
  }
}

/**
 * Where a file handle's state is read: always inside `directory`, as Flink's own savepoints keep
 * it (docs/flink-compatibility.md). An absolute path inside it is read as written. Any other
 * absolute path or URI names the file's original location (Flink 1.8-1.10 wrote the absolute paths
 * of the savepoint's own directory, which may have moved since): the file of that name next to
 * `_metadata` is read instead (`moved`), except in a retained checkpoint's own `shared/` and
 * `taskowned/` (`shared`, see checkpointSharedDirectories). A relative path is confined like a relative handle's. A
 * path leaving the directory is refused (PathEscapeError naming the handle's path): a crafted
 * `_metadata` must not read, copy or size files elsewhere on the host.
 */
export function resolveHandlePath(directory: string, metadataFile: string, path: string): ResolvedHandlePath {
  const local = localHandlePath(path, metadataFile);
  const leaves = `the state file of a handle in '${metadataFile}' leaves the savepoint directory`;
  if (!isAbsolute(local) && !URI_SCHEME.test(local)) return { path: confined(directory, local, path, leaves), moved: false, shared: false };
  if (isAbsolute(local) && within(directory, local)) return { path: normalize(local), moved: false, shared: false };
  if (isAbsolute(local) && checkpointSharedDirectories(directory).some((d) => within(d, local))) return { path: normalize(local), moved: false, shared: true };
  return { path: confined(directory, basename(local), path, leaves), moved: true, shared: false };
}

export interface ResolvedHandlePath {
  readonly path: string;
  /** Read by its name next to `_metadata`: the handle names another location. */
  readonly moved: boolean;
  /** In the retained checkpoint's job directory's shared/ or taskowned/ (checkpointSharedDirectories): not the checkpoint's own file. */
  readonly shared: boolean;
}

/**
 * The directories besides its own a retained checkpoint `chk-<n>` keeps state in: its job
 * directory's `shared/` and `taskowned/` (Flink's checkpoint layout; an incremental RocksDB
 * checkpoint's SSTs are in `shared/`, named by absolute path). None for any other directory.
 */
function checkpointSharedDirectories(directory: string): string[] {
  const dir = resolve(directory);
  if (!/^chk-\d+$/.test(basename(dir))) return [];
  return [join(dirname(dir), 'shared'), join(dirname(dir), 'taskowned')];
}

/** A location on another file system (hdfs://, s3://...): found, like a moved local path, by its name. */
const URI_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/** True when the absolute path `p` is below `directory` (not the directory itself). */
export function within(directory: string, p: string): boolean {
  const rel = relative(resolve(directory), normalize(p));
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/** confinedPath, refusing with an error that names the handle's path as written (`handlePath`). */
function confined(directory: string, rel: string, handlePath: string, detail: string): string {
  try {
    return confinedPath(directory, rel);
  } catch (e) {
    if (e instanceof PathEscapeError) throw new PathEscapeError(handlePath, detail);
    throw e;
  }
}

export interface StreamResolverOptions {
  /** Files read at once (default: threadPoolReads(), what libuv's thread pool runs at once). */
  readonly concurrentReads?: number;
  /**
   * Reads a whole file its handle says holds `size` bytes (default: readWholeFile into a pooled
   * buffer, which release() gives back); tests observe opens with it. Its bytes are never pooled.
   */
  readonly readFile?: (path: string, size: number) => Promise<Uint8Array>;
}

/**
 * Resolves stream handles of a savepoint in `directory` (the directory of `_metadata`): inline
 * bytes, paths relative to it (never escaping it), and absolute paths, which a moved savepoint
 * still finds by file name in its own directory. Every file read goes through one limiter: callers
 * resolve many handles at once (every subtask's keyed stream, every shared file of a copy), and
 * each read holds its file open and its bytes in memory.
 */
export class StreamResolver {
  private readonly cache = new Map<string, Promise<Uint8Array>>();
  private readonly reads: ConcurrencyLimiter;
  private readonly readFile: (path: string, size: number) => Promise<Uint8Array>;
  /** Pooled buffers of files this resolver read (default reader only), given back by release(). */
  private owned: Uint8Array[] = [];

  constructor(
    readonly directory: string,
    readonly metadataFile: string,
    options: StreamResolverOptions = {},
  ) {
    this.reads = new ConcurrencyLimiter(options.concurrentReads ?? threadPoolReads());
    this.readFile = options.readFile ?? ((path, size) => this.readPooled(path, size));
  }

  /**
   * Gives the buffers of every file read so far back to the process's pool (io/stream-buffers.ts)
   * and forgets them: a later resolve reads the file again. Every ResolvedStream of such a file
   * handed out before, and every view into one (raw records' keys and values, KeyedStreamInfo's
   * stream), is detached (empty) from now on; decoded values and headers are copies and stay.
   * A read still in flight is not given back now (its buffer goes with the next release).
   */
  release(): void {
    const owned = this.owned;
    this.owned = [];
    this.cache.clear();
    for (const bytes of owned) giveBackStreamBuffer(bytes);
  }

  private async readPooled(path: string, size: number): Promise<Uint8Array> {
    // A failed read's buffer is left to the GC: it may be lent again only when nothing reads into it.
    const bytes = await readWholeFile(path, size, takeStreamBuffer);
    this.owned.push(bytes);
    return bytes;
  }

  async resolve(h: StreamStateHandle): Promise<ResolvedStream> {
    switch (h.type) {
      case 'byte-stream':
        return { bytes: h.data, file: `${this.metadataFile} (inline '${h.name}')`, baseOffset: h.metadataOffset };
      case 'relative-file':
        return this.readChecked(confinedPath(this.directory, h.relativePath), h.size);
      case 'file':
        return this.readChecked(resolveHandlePath(this.directory, this.metadataFile, h.path).path, h.size);
      case 'segment-file':
      case 'empty-segment-file':
      case 'key-groups-stream':
        throw new FlinkUnsupportedError(this.metadataFile, `${h.type} stream handles (file merging / legacy nesting) cannot be read`);
    }
  }

  private async readChecked(path: string, size: number): Promise<ResolvedStream> {
    let read = this.cache.get(path);
    if (read === undefined) {
      // The read itself is cached: handles of one file resolved concurrently read it once.
      read = this.reads.run(() => this.readFile(path, size));
      this.cache.set(path, read);
      const mine = read;
      // Only this read's entry: a release() meanwhile may have cached a newer read of the file.
      read.catch(() => {
        if (this.cache.get(path) === mine) this.cache.delete(path);
      });
    }
    const bytes = await read;
    // Released while this resolve was pending (the memory moved away): a usage error, not a short file.
    if (bytes.buffer.byteLength === 0 && size > 0) throw new IllegalStateUsageError(path, 'stream resolved after releaseStreams(): resolve again after the release');
    // Also after reading: the file was read before under a handle of another size.
    if (bytes.length !== size) throw wrongSize(path, bytes.length, size);
    return { bytes, file: path, baseOffset: 0 };
  }
}

/**
 * The whole file, which its handle says holds `size` bytes, checked before reading (callers may
 * budget by the handle's size, rocksdb-native.ts) and while reading (it shrank or grew since).
 * Only a regular file is read. One positioned read into a buffer of that size (from `alloc`, once
 * the size is checked): readFile reads in 512 KiB chunks, one thread-pool round trip each. A plain
 * Uint8Array (not a Buffer): records are views into it, and Buffer's subarray costs more per record.
 */
export async function readWholeFile(path: string, size: number, alloc = freshBuffer): Promise<Uint8Array> {
  return readOpenFile(path, alloc, (st) => {
    checkStateFile(path, st);
    if (st.size !== size) throw wrongSize(path, st.size, size);
    return size;
  });
}

/**
 * The whole file where no handle declares its size (`_metadata`, an operator snapshot file): the
 * size is its open descriptor's, so no stat of the path is needed before, and the size checked is
 * the size read. Above `max` bytes it is refused with `tooLarge(size)` before its kind is checked
 * or anything is read; then as readWholeFile.
 */
export async function readWholeFileUpTo(path: string, max: number, tooLarge: (size: number) => FlowstateError): Promise<Uint8Array> {
  return readOpenFile(path, freshBuffer, (st) => {
    if (st.size > max) throw tooLarge(st.size);
    checkStateFile(path, st);
    return st.size;
  });
}

/** Only a regular file of at most MAX_STATE_FILE_BYTES is read. */
function checkStateFile(path: string, st: Stats): void {
  if (!st.isFile()) throw notRegular(path, st);
  if (st.size > MAX_STATE_FILE_BYTES) throw new FlinkUnsupportedError(path, `state file of ${st.size} bytes exceeds ${MAX_STATE_FILE_BYTES}`);
}

/**
 * Opens `path`, stats the descriptor, reads the `sizeOf(stat)` bytes it allows (throwing for what
 * it refuses) into `alloc`'s buffer, and checks that the file ends there.
 */
async function readOpenFile(path: string, alloc: (size: number) => Uint8Array, sizeOf: (st: Stats) => number): Promise<Uint8Array> {
  let fh: FileHandle;
  try {
    // Non-blocking: opening a FIFO for reading would otherwise wait for a writer forever. Regular
    // files read the same either way; anything else is refused by sizeOf, from the open descriptor.
    fh = await open(path, constants.O_RDONLY | NONBLOCK);
  } catch (cause) {
    throw storageErrorFromErrno(path, 'open', cause);
  }
  try {
    const size = sizeOf(await fh.stat());
    // Uninitialized: every byte is read into below, or the file is refused.
    const bytes = alloc(size);
    let at = 0;
    while (at < size) {
      const { bytesRead } = await fh.read(bytes, at, size - at, at);
      if (bytesRead === 0) throw wrongSize(path, at, size);
      at += bytesRead;
    }
    // One byte past the end: a file that grew since its stat is not the file its handle describes.
    if ((await fh.read(new Uint8Array(1), 0, 1, size)).bytesRead !== 0) throw corrupt(path, size, `file grew past the ${size} bytes its handle says while it was read`);
    return bytes;
  } catch (e) {
    // stat / read failures (EIO) are typed like open's.
    throw e instanceof FlowstateError ? e : storageErrorFromErrno(path, 'read', e);
  } finally {
    await fh.close();
  }
}

/** O_NONBLOCK where the platform has it (not Windows, which has no FIFOs to block on either). */
const NONBLOCK = constants.O_NONBLOCK ?? 0;

/** A handle naming a FIFO, socket, device or directory: no state file (a FIFO or device might never end). */
function notRegular(path: string, st: Stats): StorageError {
  const kind = st.isDirectory() ? 'a directory (EISDIR)' : st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : 'a device';
  return new StorageError(path, `read failed: ${kind}, not a regular file`);
}

function freshBuffer(size: number): Uint8Array {
  return new Uint8Array(Buffer.allocUnsafeSlow(size).buffer, 0, size);
}

function wrongSize(path: string, actual: number, declared: number): CorruptCheckpointError {
  return corrupt(path, 0, `file has ${actual} bytes, its handle says ${declared}`);
}
