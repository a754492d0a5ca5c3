import { createHash, randomUUID } from 'node:crypto';
import {
  displayStorageUri,
  FsCheckpointStateOutputStream,
  FlowstateError,
  METADATA_FILE_NAME,
  storageUri,
  type CheckpointStateOutputStream,
  type CheckpointStreamFactory,
  type FileSystem,
  type FileSystemRegistry,
  type StreamStateHandle,
  writeCommitted,
} from '@flowstate/core';
import { STREAM_CHUNK_BYTES, type SavepointDirectory } from './directory.js';
import { SavepointOutputError } from './errors.js';
import { deleteLocation, isFileAt, registryOf, type SavepointStorageOptions } from './location.js';

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

/** Whether `uri` names a location below `dir` (same storage, path prefix at a segment boundary). */
function isInside(uri: URL, dir: URL): boolean {
  if (uri.protocol !== dir.protocol || uri.host !== dir.host) return false;
  return uri.pathname.startsWith(`${dir.pathname.replace(/\/+$/, '')}/`);
}

/** What a new savepoint directory is created from. */
export interface SavepointOutputSpec {
  readonly checkpointId: number;
  readonly names: FileNameSource;
  /** Locations of the savepoints read to write this one: the output must be none of them. */
  readonly inputs?: readonly string[];
  /**
   * Names of input files that may be copied here under their own names: new files never take
   * them (a seeded name source could otherwise reproduce an input's name).
   */
  readonly reserved?: Iterable<string>;
}

/** A new savepoint directory being written, on any storage. `_metadata` is written last, atomically. */
export class SavepointOutput {
  readonly streamFactory: CheckpointStreamFactory;
  /** Names of files this output created with newStream(). */
  private readonly created = new Set<string>();
  /** Names of input files copied here (kept under their names), or still to be copied. */
  private readonly copied = new Set<string>();
  private readonly reserved: ReadonlySet<string>;

  private constructor(
    readonly uri: URL,
    readonly fs: FileSystem,
    private readonly fileSystems: FileSystemRegistry,
    readonly checkpointId: number,
    private readonly names: FileNameSource,
    reserved: Iterable<string>,
  ) {
    this.reserved = new Set(reserved);
    this.streamFactory = {
      checkpointId,
      createCheckpointStateOutputStream: () => this.newStream(),
      discardStateHandle: async (h) => {
        if (h.type === 'file') await this.fs.delete(h.path);
      },
    };
  }

  /** The storage this output was created with (to read back what it wrote). */
  get storage(): Required<SavepointStorageOptions> {
    return { fileSystems: this.fileSystems };
  }

  /** The directory, as a local path or a URI. */
  get path(): string {
    return displayStorageUri(this.uri);
  }

  /** The directory must not exist or be empty: a savepoint never overwrites another's files. */
  static async create(location: string, spec: SavepointOutputSpec, options: SavepointStorageOptions = {}): Promise<SavepointOutput> {
    const uri = storageUri(location);
    const display = displayStorageUri(uri);
    for (const i of spec.inputs ?? []) {
      const input = storageUri(i);
      if (input.href === uri.href) throw new SavepointOutputError(display, 'it is the input savepoint');
      // Its files would land among the input's (unreferenced there, and deleted with it).
      if (isInside(uri, input)) throw new SavepointOutputError(display, `it is inside the input savepoint '${displayStorageUri(input)}'`);
    }
    const fileSystems = registryOf(options);
    const fs = fileSystems.resolve(uri);
    const unusable = (e: unknown): never => {
      if (!(e instanceof FlowstateError)) throw e;
      throw new SavepointOutputError(display, `cannot list it (${e.message})`);
    };
    if (await isFileAt(uri, fileSystems).catch(unusable)) throw new SavepointOutputError(display, 'it is a file');
    const entries = await fs.list('').catch(unusable);
    if (entries.length > 0) throw new SavepointOutputError(display, 'the directory exists and is not empty');
    return new SavepointOutput(uri, fs, fileSystems, spec.checkpointId, spec.names, spec.reserved ?? []);
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
    return new FsCheckpointStateOutputStream(this.fs, this.newFileName(), STREAM_CHUNK_BYTES);
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
    await this.writeFile(handle.path, (w) => from.streamFile(handle, (c) => w.write(c), onBytes));
  }

  async writeMetadata(bytes: Uint8Array): Promise<void> {
    await this.writeFile(METADATA_FILE_NAME, (w) => w.write(bytes));
  }

  private async writeFile(path: string, fill: (w: { write(c: Uint8Array): Promise<void> }) => Promise<void>): Promise<void> {
    await writeCommitted(this.fs, path, fill);
  }

  /** After a failed write: removes the directory and everything in it (it was empty or new). */
  async discard(): Promise<void> {
    await deleteLocation(this.uri, this.fs, this.fileSystems).catch(() => {});
  }
}
