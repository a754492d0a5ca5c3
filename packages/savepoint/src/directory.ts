import {
  childStorageUri,
  collectStreamHandles,
  crc32c,
  displayStorageUri,
  formatChecksum,
  CorruptCheckpointError,
  FsCheckpointStorage,
  joinPath,
  MAX_METADATA_BYTES,
  METADATA_FILE_NAME,
  parentStorageUri,
  SHARED_STATE_DIR,
  StorageNotFoundError,
  storageUri,
  storageUriBaseName,
  TASK_OWNED_STATE_DIR,
  type CheckpointMetadata,
  type FileSystem,
  type FileSystemRegistry,
  type StateHandleReader,
  type StreamStateHandle,
} from '@flowstate/core';
import { isFileAt, registryOf, type SavepointStorageOptions } from './location.js';

/** Chunk size for streaming whole files (checksums, copies): bounds memory per file. */
export const STREAM_CHUNK_BYTES = 4 << 20;

/**
 * A savepoint (or retained checkpoint) directory on any storage, read side. State file paths in
 * `_metadata` are relative to the storage root: for a savepoint that is its own directory; for a
 * checkpoint `<root>/chk-<id>` it is `<root>`, where the checkpoint's own files (`chk-<id>/...`)
 * and the files it shares with other checkpoints (`shared/...`) live, as Flink's `run -s` reads
 * a retained checkpoint. See `open`.
 */
export class SavepointDirectory {
  /** The directory that holds `_metadata` (what the user named): a local path or a URI. */
  readonly path: string;
  readonly uri: URL;
  /** The directory state file paths are relative to (a local path or a URI). */
  readonly root: string;
  /** The checkpoint's own directory relative to `root` ('' for a savepoint). */
  readonly exclusiveDir: string;
  /** The storage, rooted at `root`. */
  readonly fs: FileSystem;
  /** Verifies sizes (and, for readFully, CRC32C) against handles; names files in errors. */
  readonly reader: StateHandleReader;
  private readonly fileSystems: FileSystemRegistry;

  /** `location`: a local path or a URI (`s3://bucket/sp-1`, `webhdfs://nn:9870/sp-1`). */
  constructor(location: string | URL, layout: { root: URL; exclusiveDir: string } | undefined = undefined, options: SavepointStorageOptions = {}) {
    this.uri = typeof location === 'string' ? storageUri(location) : location;
    this.path = displayStorageUri(this.uri);
    const rootUri = layout?.root ?? this.uri;
    this.root = displayStorageUri(rootUri);
    this.exclusiveDir = layout?.exclusiveDir ?? '';
    this.fileSystems = registryOf(options);
    this.fs = this.fileSystems.resolve(rootUri);
    this.reader = new FsCheckpointStorage(this.fs, { layout: this.exclusiveDir === '' ? 'savepoint' : 'checkpoints' });
  }

  /**
   * Opens what the user named: a savepoint directory, a retained checkpoint directory
   * (`<root>/chk-<id>`), or the `_metadata` file in either (as Flink accepts). Returns the
   * directory and the bytes of its `_metadata`. A job's checkpoint root is refused with the
   * names of the completed checkpoints in it.
   */
  static async open(location: string, options: SavepointStorageOptions = {}): Promise<{ dir: SavepointDirectory; bytes: Uint8Array }> {
    const fileSystems = registryOf(options);
    let uri = storageUri(location);
    if (storageUriBaseName(uri) === METADATA_FILE_NAME && (await isFileAt(uri, fileSystems))) uri = parentStorageUri(uri)!;
    const plain = new SavepointDirectory(uri, undefined, options);
    try {
      return { dir: plain, bytes: await plain.readMetadataBytes() };
    } catch (e) {
      if (!(e instanceof StorageNotFoundError)) throw e;
      if (await isFileAt(uri, fileSystems)) {
        throw new StorageNotFoundError(plain.metadataFile, `'${plain.path}' is a file: name a savepoint or checkpoint directory, or its _metadata file`);
      }
      const completed = await new FsCheckpointStorage(plain.fs).listCompletedCheckpoints().catch(() => [] as string[]);
      if (completed.length === 0) throw e;
      const example = displayStorageUri(childStorageUri(uri, completed[completed.length - 1]!));
      throw new StorageNotFoundError(
        plain.metadataFile,
        `'${plain.path}' is a checkpoint directory of a job, not one checkpoint: name one of its completed checkpoints, e.g. '${example}' (${completed.length} found: ${completed.slice(-5).join(', ')})`,
      );
    }
  }

  /**
   * The same directory with the root its metadata's paths are relative to: the parent of a
   * checkpoint directory `chk-<id>` whose files are referenced as `chk-<id>/...` or `shared/...`
   * (a savepoint references plain file names, even in a directory called chk-<id>).
   */
  withRootFor(metadata: CheckpointMetadata): SavepointDirectory {
    const name = storageUriBaseName(this.uri);
    const parent = parentStorageUri(this.uri);
    if (this.exclusiveDir !== '' || !/^chk-\d+$/.test(name) || parent === undefined) return this;
    const prefixes = [`${name}/`, `${SHARED_STATE_DIR}/`, `${TASK_OWNED_STATE_DIR}/`];
    const files = collectStreamHandles(metadata).flatMap((h) => (h.type === 'file' ? [h.path] : []));
    if (!files.some((f) => prefixes.some((p) => f.startsWith(p)))) return this;
    return new SavepointDirectory(this.uri, { root: parent, exclusiveDir: name }, { fileSystems: this.fileSystems });
  }

  get metadataFile(): string {
    return `${this.path}/${METADATA_FILE_NAME}`;
  }

  fileName(relative: string): string {
    return `${this.root}/${relative}`;
  }

  /** `_metadata`, after checking its size against the limit (never read an unbounded file). */
  async readMetadataBytes(): Promise<Uint8Array> {
    const rel = joinPath(this.exclusiveDir, METADATA_FILE_NAME);
    const st = await this.fs.stat(rel);
    if (st === null) throw new StorageNotFoundError(this.metadataFile, 'not a savepoint or checkpoint directory, or it is incomplete');
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
    const read = (off: number) => this.fs.read(handle.path, { offset: off, length: Math.min(STREAM_CHUNK_BYTES, handle.size - off) });
    // The next chunk is read while this one is checked and written (memory: two chunks).
    let pending = handle.size > 0 ? read(0) : undefined;
    for (let off = 0; off < handle.size; off += STREAM_CHUNK_BYTES) {
      const len = Math.min(STREAM_CHUNK_BYTES, handle.size - off);
      const chunk = await pending!;
      pending = off + len < handle.size ? read(off + len) : undefined;
      pending?.catch(() => {});
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
