import { randomUUID, createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import {
  assert,
  collectStreamHandles,
  crc32c,
  formatChecksum,
  CorruptCheckpointError,
  FsCheckpointStorage,
  IllegalStateUsageError,
  joinPath,
  MAX_METADATA_BYTES,
  METADATA_FILE_NAME,
  SHARED_STATE_DIR,
  StorageError,
  StorageNotFoundError,
  TASK_OWNED_STATE_DIR,
  type CheckpointMetadata,
  type CheckpointStateOutputStream,
  type CheckpointStreamFactory,
  type FileWriter,
  type StateHandleReader,
  type StreamStateHandle,
} from '@flowstate/core';
import { LocalFileSystem } from '@flowstate/storage-local';
import { SavepointOutputError } from './errors.js';

/** Chunk size for streaming whole files (checksums, copies): bounds memory per file. */
export const STREAM_CHUNK_BYTES = 4 << 20;

/** Whether `abs` is a file; file-system errors (ENAMETOOLONG, EACCES...) are typed StorageErrors. */
async function isFile(abs: string): Promise<boolean> {
  try {
    return (await fsp.stat(abs)).isFile();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw new StorageError(abs, `stat failed: ${code ?? (e as Error).message}`, { cause: e });
  }
}

/** The `chk-<id>` subdirectories of `abs` that hold a `_metadata` file, by id (none when unreadable). */
async function completedCheckpointsIn(abs: string): Promise<string[]> {
  const entries = await fsp.readdir(abs).catch(() => [] as string[]);
  const ids: number[] = [];
  for (const name of entries) {
    const m = /^chk-(\d+)$/.exec(name);
    if (m !== null && (await isFile(join(abs, name, METADATA_FILE_NAME)).catch(() => false))) ids.push(Number(m[1]));
  }
  return ids.sort((a, b) => a - b).map((id) => `chk-${id}`);
}

/**
 * A savepoint (or retained checkpoint) directory on local disk, read side. State file paths in
 * `_metadata` are relative to the storage root: for a savepoint that is its own directory; for a
 * checkpoint `<root>/chk-<id>` it is `<root>`, where the checkpoint's own files (`chk-<id>/...`)
 * and the files it shares with other checkpoints (`shared/...`) live, as Flink's `run -s` reads
 * a retained checkpoint. See `open`.
 */
export class SavepointDirectory {
  /** The directory that holds `_metadata` (what the user named). */
  readonly path: string;
  /** The directory state file paths are relative to. */
  readonly root: string;
  /** The checkpoint's own directory relative to `root` ('' for a savepoint). */
  readonly exclusiveDir: string;
  readonly fs: LocalFileSystem;
  /** Verifies sizes (and, for readFully, CRC32C) against handles; names files in errors. */
  readonly reader: StateHandleReader;

  constructor(path: string, layout: { root: string; exclusiveDir: string } | undefined = undefined) {
    this.path = resolve(path);
    this.root = layout?.root ?? this.path;
    this.exclusiveDir = layout?.exclusiveDir ?? '';
    this.fs = new LocalFileSystem(this.root);
    this.reader = new FsCheckpointStorage(this.fs, { layout: this.exclusiveDir === '' ? 'savepoint' : 'checkpoints' });
  }

  /**
   * Opens what the user named: a savepoint directory, a retained checkpoint directory
   * (`<root>/chk-<id>`), or the `_metadata` file in either (as Flink accepts). Returns the
   * directory and the bytes of its `_metadata`. A job's checkpoint root is refused with the
   * names of the completed checkpoints in it.
   */
  static async open(path: string): Promise<{ dir: SavepointDirectory; bytes: Uint8Array }> {
    let abs = resolve(path);
    if (await isFile(abs)) {
      if (basename(abs) !== METADATA_FILE_NAME) {
        throw new StorageNotFoundError(`${join(abs, METADATA_FILE_NAME)} ('${abs}' is a file: name a savepoint or checkpoint directory, or its _metadata file)`);
      }
      abs = dirname(abs);
    }
    const plain = new SavepointDirectory(abs);
    try {
      return { dir: plain, bytes: await plain.readMetadataBytes() };
    } catch (e) {
      if (!(e instanceof StorageNotFoundError)) throw e;
      const completed = await completedCheckpointsIn(abs);
      if (completed.length === 0) throw e;
      throw new StorageNotFoundError(
        `${plain.metadataFile} ('${abs}' is a checkpoint directory of a job, not one checkpoint: name one of its completed checkpoints, e.g. '${join(abs, completed[completed.length - 1]!)}' (${completed.length} found: ${completed.slice(-5).join(', ')}))`,
      );
    }
  }

  /**
   * The same directory with the root its metadata's paths are relative to: the parent of a
   * checkpoint directory `chk-<id>` whose files are referenced as `chk-<id>/...` or `shared/...`
   * (a savepoint references plain file names, even in a directory called chk-<id>).
   */
  withRootFor(metadata: CheckpointMetadata): SavepointDirectory {
    const name = basename(this.path);
    if (this.exclusiveDir !== '' || !/^chk-\d+$/.test(name)) return this;
    const prefixes = [`${name}/`, `${SHARED_STATE_DIR}/`, `${TASK_OWNED_STATE_DIR}/`];
    const files = collectStreamHandles(metadata).flatMap((h) => (h.type === 'file' ? [h.path] : []));
    if (!files.some((f) => prefixes.some((p) => f.startsWith(p)))) return this;
    return new SavepointDirectory(this.path, { root: dirname(this.path), exclusiveDir: name });
  }

  get metadataFile(): string {
    return join(this.path, METADATA_FILE_NAME);
  }

  fileName(relative: string): string {
    return `${this.root}/${relative}`;
  }

  /** `_metadata`, after checking its size against the limit (never read an unbounded file). */
  async readMetadataBytes(): Promise<Uint8Array> {
    const rel = joinPath(this.exclusiveDir, METADATA_FILE_NAME);
    const st = await this.fs.stat(rel);
    if (st === null) throw new StorageNotFoundError(`${this.metadataFile} (not a savepoint or checkpoint directory, or it is incomplete)`);
    if (st.size > MAX_METADATA_BYTES) throw new CorruptCheckpointError(this.metadataFile, `metadata of ${st.size} bytes exceeds the limit of ${MAX_METADATA_BYTES}`);
    return this.fs.read(rel);
  }

  /**
   * Checks that a state file exists with the size its handle records, before ranges of it are
   * read; a truncated file is reported at the byte where it ends.
   */
  async checkSize(handle: StreamStateHandle): Promise<void> {
    if (handle.type === 'bytes') return;
    const name = this.fileName(handle.path);
    const st = await this.fs.stat(handle.path);
    if (st === null) throw new CorruptCheckpointError(name, 'file is missing');
    if (st.size !== handle.size) {
      throw new CorruptCheckpointError(
        name,
        st.size < handle.size ? `file ends after ${st.size} bytes, its handle says ${handle.size} (truncated)` : `file has ${st.size} bytes, its handle says ${handle.size} (appended to or replaced)`,
        undefined,
        Math.min(st.size, handle.size),
      );
    }
  }

  /**
   * Streams a file in chunks, checking its size and CRC32C against the handle, and hands each
   * chunk to `sink` (copy) if given. Memory: one chunk.
   */
  async streamFile(handle: StreamStateHandle, sink?: (chunk: Uint8Array) => Promise<void>, onBytes?: (n: number) => void): Promise<void> {
    if (handle.type === 'bytes') {
      await this.reader.readFully(handle);
      if (sink !== undefined) await sink(handle.data);
      onBytes?.(handle.size);
      return;
    }
    const name = this.fileName(handle.path);
    await this.checkSize(handle);
    let crc = 0;
    for (let off = 0; off < handle.size; off += STREAM_CHUNK_BYTES) {
      const len = Math.min(STREAM_CHUNK_BYTES, handle.size - off);
      const chunk = await this.fs.read(handle.path, { offset: off, length: len });
      if (chunk.length !== len) throw new CorruptCheckpointError(name, `short read: ${chunk.length} of ${len} bytes`, undefined, off);
      crc = crc32c(chunk, crc);
      if (sink !== undefined) await sink(chunk);
      onBytes?.(len);
    }
    if (crc !== handle.checksum) {
      throw new CorruptCheckpointError(name, `CRC32C is ${formatChecksum(crc)}, its handle says ${formatChecksum(handle.checksum)}`);
    }
  }
}

/** Produces state file names: random UUIDs, or UUID-shaped names derived from a seed (fixtures). */
export type FileNameSource = () => string;

export function randomFileNames(): FileNameSource {
  return () => randomUUID();
}

/** Deterministic names, so that regenerating a fixture from the same seed yields the same files. */
export function seededFileNames(seed: string): FileNameSource {
  let n = 0;
  return () => {
    const h = createHash('sha256').update(`${seed}:${n++}`).digest('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
  };
}

/** A new savepoint directory being written. `_metadata` is written last, atomically. */
export class SavepointOutput {
  readonly fs: LocalFileSystem;
  readonly streamFactory: CheckpointStreamFactory;
  /** Names of files this output created with newStream(). */
  private readonly created = new Set<string>();
  /** Names of input files copied here (kept under their names), or still to be copied. */
  private readonly copied = new Set<string>();
  private readonly reserved: ReadonlySet<string>;

  private constructor(
    readonly path: string,
    readonly checkpointId: number,
    private readonly names: FileNameSource,
    reserved: Iterable<string>,
  ) {
    this.reserved = new Set(reserved);
    this.fs = new LocalFileSystem(path);
    this.streamFactory = {
      checkpointId,
      createCheckpointStateOutputStream: () => this.newStream(),
      discardStateHandle: async (h) => {
        if (h.type === 'file') await this.fs.delete(h.path);
      },
    };
  }

  /**
   * The directory must not exist or be empty: a savepoint never overwrites another's files.
   * `reserved` are the names of input files that may be copied here under their own names: new
   * files never take them (a seeded name source could otherwise reproduce an input's name).
   */
  static async create(path: string, checkpointId: number, names: FileNameSource, inputs: readonly string[] = [], reserved: Iterable<string> = []): Promise<SavepointOutput> {
    const abs = resolve(path);
    for (const i of inputs) if (resolve(i) === abs) throw new SavepointOutputError(abs, 'it is the input savepoint');
    const entries = await fsp.readdir(abs).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return [] as string[];
      throw new SavepointOutputError(abs, `cannot list it (${e.code ?? e.message})`);
    });
    if (entries.length > 0) throw new SavepointOutputError(abs, 'the directory exists and is not empty');
    await fsp.mkdir(abs, { recursive: true }).catch((e: NodeJS.ErrnoException) => {
      throw new SavepointOutputError(abs, `cannot create it (${e.code ?? e.message})`);
    });
    return new SavepointOutput(abs, checkpointId, names, reserved);
  }

  newFileName(): string {
    for (;;) {
      const n = this.names();
      if (!this.created.has(n) && !this.copied.has(n) && !this.reserved.has(n)) {
        this.created.add(n);
        return n;
      }
    }
  }

  newStream(): CheckpointStateOutputStream {
    return new LocalStateOutputStream(this.fs, this.newFileName());
  }

  /** Copies a state file verbatim under the same relative name, verifying it while copying. */
  async copy(from: SavepointDirectory, handle: StreamStateHandle, onBytes?: (n: number) => void): Promise<void> {
    if (handle.type === 'bytes') {
      await from.streamFile(handle, undefined, onBytes);
      return;
    }
    if (this.copied.has(handle.path)) return;
    if (this.created.has(handle.path)) {
      throw new SavepointOutputError(this.path, `copying '${handle.path}' would overwrite a file this savepoint already wrote`);
    }
    this.copied.add(handle.path);
    const w = await this.fs.create(handle.path);
    try {
      await from.streamFile(handle, (c) => w.write(c), onBytes);
      await w.commit();
    } catch (e) {
      await w.abort().catch(() => {});
      throw e;
    }
  }

  async writeMetadata(bytes: Uint8Array): Promise<void> {
    const w = await this.fs.create(METADATA_FILE_NAME);
    try {
      await w.write(bytes);
      await w.commit();
    } catch (e) {
      await w.abort().catch(() => {});
      throw e;
    }
  }
}

/**
 * Buffers small writes in one fixed buffer and passes large ones straight through (after the
 * buffered bytes), computes the CRC32C on the fly, and commits atomically (temp file + rename).
 * Large chunks are not copied: the file writer is done with them when write() resolves, which is
 * all the CheckpointStateOutputStream contract promises the caller.
 */
class LocalStateOutputStream implements CheckpointStateOutputStream {
  private writer: Promise<FileWriter> | undefined;
  private buf: Buffer | undefined;
  private buffered = 0;
  private pos = 0;
  private crc = 0;
  private closed = false;

  constructor(
    private readonly fs: LocalFileSystem,
    private readonly path: string,
  ) {}

  get position(): number {
    return this.pos;
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.closed) throw new IllegalStateUsageError(undefined, `write to closed savepoint stream '${this.path}'`);
    if (bytes.length === 0) return;
    this.crc = crc32c(bytes, this.crc);
    this.pos += bytes.length;
    if (bytes.length >= STREAM_CHUNK_BYTES / 4) {
      await this.flush();
      await (await this.open()).write(bytes);
      return;
    }
    this.buf ??= Buffer.allocUnsafe(STREAM_CHUNK_BYTES);
    if (this.buffered + bytes.length > this.buf.length) await this.flush();
    this.buf.set(bytes, this.buffered);
    this.buffered += bytes.length;
  }

  private open(): Promise<FileWriter> {
    this.writer ??= this.fs.create(this.path);
    return this.writer;
  }

  private async flush(): Promise<void> {
    const w = await this.open();
    if (this.buffered === 0) return;
    const n = this.buffered;
    this.buffered = 0;
    await w.write(this.buf!.subarray(0, n));
  }

  async closeAndGetHandle(): Promise<StreamStateHandle> {
    if (this.closed) throw new IllegalStateUsageError(undefined, `savepoint stream '${this.path}' closed twice`);
    try {
      await this.flush();
      await (await this.open()).commit();
      this.closed = true;
    } catch (e) {
      await this.abort();
      throw e;
    }
    assert(this.buffered === 0, 'every buffered byte was written');
    this.buf = undefined;
    return { type: 'file', path: this.path, size: this.pos, checksum: this.crc };
  }

  async abort(): Promise<void> {
    this.closed = true;
    this.buf = undefined;
    this.buffered = 0;
    if (this.writer !== undefined) {
      const w = await this.writer.catch(() => undefined);
      await w?.abort().catch(() => {});
    }
  }
}
