import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { lookupInListing, verifyCheckpointComplete, type CheckpointScan, type CompleteCheckpointEntry, type IncompleteCheckpointEntry } from '../checkpoint/completeness.js';
import { deserializeCheckpointMetadata, MAX_METADATA_BYTES, type CheckpointMetadata } from '../checkpoint/metadata.js';
import { CorruptCheckpointError, IllegalStateUsageError, StorageNotFoundError, UnknownFormatVersionError } from '../errors.js';
import { DEFAULT_WRITE_BUFFER_BYTES, FsCheckpointStateOutputStream } from './checkpoint-output-stream.js';
import { readBackChecksum, writeCommitted, type FileStatus, type FileSystem, type ReadRange } from './file-system.js';
import type { StreamStateHandle } from './handles.js';
import { confinePath, joinPath, SHARED_STATE_DIR } from './paths.js';
import type {
  CheckpointedStateScope,
  CheckpointStorage,
  CheckpointStorageLocation,
  CheckpointStreamFactory,
  CompletedCheckpointStorageLocation,
} from './spi.js';
import { inlineRange, verifyStreamBytes, verifyStreamChecksum, verifyStreamSize } from './verify.js';

export const METADATA_FILE_NAME = '_metadata';
// Re-exported: the checkpoint directory layout (_metadata, shared/) is read from this file.
export { SHARED_STATE_DIR } from './paths.js';
export const TASK_OWNED_STATE_DIR = 'taskowned';

export interface FsCheckpointStorageOptions {
  /**
   * 'checkpoints': the root is a job's checkpoint directory (chk-<id>/, shared/, taskowned/).
   * 'savepoint': the root is one self-contained savepoint directory (files and _metadata in it).
   */
  readonly layout?: 'checkpoints' | 'savepoint';
  /** Bytes buffered before a write goes to the file system. */
  readonly writeBufferSize?: number;
}

/** Every file under a checkpoint root: committed ones, and those of writers that never committed. */
export interface CheckpointRootListing {
  readonly committed: readonly FileStatus[];
  readonly incomplete: readonly FileStatus[];
}

/** One listing of a checkpoint root (scanCheckpoints takes its committed part). */
export async function listCheckpointRoot(fs: FileSystem): Promise<CheckpointRootListing> {
  return { committed: await fs.list(''), incomplete: (await fs.listIncomplete?.('')) ?? [] };
}

export const allListed = (listing: CheckpointRootListing): FileStatus[] => [...listing.committed, ...listing.incomplete];

/**
 * Checkpoint storage over any FileSystem (Flink's FsCheckpointStorageAccess). Every file gets a
 * random name, so a retried or concurrent checkpoint never overwrites another's bytes, and each
 * handle records the file's size and CRC32C. A checkpoint is complete once `_metadata` exists;
 * it is written last, atomically.
 */
export class FsCheckpointStorage implements CheckpointStorage {
  readonly layout: 'checkpoints' | 'savepoint';
  private readonly writeBufferSize: number;
  private readonly sizeChecked = new WeakSet<StreamStateHandle>();

  constructor(
    readonly fs: FileSystem,
    options: FsCheckpointStorageOptions = {},
  ) {
    this.layout = options.layout ?? 'checkpoints';
    this.writeBufferSize = options.writeBufferSize ?? DEFAULT_WRITE_BUFFER_BYTES;
  }

  get description(): string {
    return `${this.layout === 'savepoint' ? 'savepoint' : 'checkpoint'} storage at ${this.fs.displayRoot}`;
  }

  exclusiveDir(checkpointId: number): string {
    return this.layout === 'savepoint' ? '' : `chk-${checkpointId}`;
  }

  async initializeLocationForCheckpoint(checkpointId: number): Promise<CheckpointStorageLocation> {
    if (!Number.isSafeInteger(checkpointId) || checkpointId < 0) {
      throw new IllegalStateUsageError(undefined, `checkpoint id must be a non-negative integer, got ${checkpointId}`);
    }
    const dir = this.exclusiveDir(checkpointId);
    // A savepoint shares its directory with nothing to delete wholesale: remember its files.
    const savepointFiles: string[] = [];
    const streamFactory: CheckpointStreamFactory = {
      checkpointId,
      createCheckpointStateOutputStream: (scope: CheckpointedStateScope) => {
        const path = joinPath(scope === 'SHARED' && this.layout === 'checkpoints' ? SHARED_STATE_DIR : dir, randomUUID());
        if (dir === '') savepointFiles.push(path);
        return new FsCheckpointStateOutputStream(this.fs, path, this.writeBufferSize);
      },
      discardStateHandle: (handle: StreamStateHandle) => this.discardStateHandle(handle),
    };
    return {
      checkpointId,
      pointer: dir,
      streamFactory,
      finalizeCheckpoint: async (metadata: Uint8Array) => {
        await writeCommitted(this.fs, joinPath(dir, METADATA_FILE_NAME), (w) => w.write(metadata));
        return { checkpointId, pointer: dir, metadata, reader: this };
      },
      disposeOnFailure: async () => {
        if (dir !== '') {
          // Metadata first: a half-deleted checkpoint must never look complete.
          await this.fs.delete(joinPath(dir, METADATA_FILE_NAME));
          await this.fs.deleteDirectory(dir);
          return;
        }
        // Savepoint layout: the metadata first (it must never outlive its files), then the files.
        await this.fs.delete(METADATA_FILE_NAME);
        await this.fs.deleteMany(savepointFiles);
      },
    };
  }

  /**
   * Resolves a completed checkpoint: its metadata must decode and every file it references must
   * exist with the size its handle records (verifyCheckpointComplete).
   * @throws StorageNotFoundError without `_metadata`; CorruptCheckpointError when incomplete.
   */
  async resolveCheckpoint(pointer: string): Promise<CompletedCheckpointStorageLocation> {
    const dir = confinePath(pointer);
    const metaPath = joinPath(dir, METADATA_FILE_NAME);
    const notFound = () => new StorageNotFoundError(`${this.fs.displayRoot}/${metaPath}`, `checkpoint '${pointer}' is not complete or does not exist`);
    let metadata: Uint8Array;
    try {
      metadata = await this.fs.read(metaPath);
    } catch (e) {
      if (e instanceof StorageNotFoundError) throw notFound();
      throw e;
    }
    const checkpointId = checkpointIdOf(dir);
    const decoded = deserializeCheckpointMetadata(metadata, `${this.fs.displayRoot}/${metaPath}`);
    try {
      await verifyCheckpointComplete(decoded, (p) => this.fs.stat(p), { root: this.fs.displayRoot, pointer: dir, checkpointId: checkpointId >= 0 ? checkpointId : decoded.checkpointId });
    } catch (e) {
      // Discarded while we looked (metadata goes first): gone, not corrupt.
      if (e instanceof CorruptCheckpointError && (await this.fs.stat(metaPath)) === null) throw notFound();
      throw e;
    }
    return { checkpointId, pointer: dir, metadata, reader: this };
  }

  /** Pointers of the complete checkpoints (see scanCheckpoints), oldest first. */
  async listCompletedCheckpoints(): Promise<string[]> {
    return (await this.scanCheckpoints()).complete.map((c) => c.pointer);
  }

  /**
   * Every checkpoint with `_metadata`, oldest first, checked for completeness against one listing
   * of the root. Storage failures other than a missing or corrupt file propagate: a checkpoint is
   * never declared incomplete because storage was briefly unavailable. `listing`: the root's
   * listing when the caller just took it (`fs.list('')`), so that the root is not listed twice.
   */
  async scanCheckpoints(listing?: readonly FileStatus[]): Promise<CheckpointScan> {
    const files = listing ?? (await this.fs.list(''));
    const lookup = lookupInListing(files);
    const candidates: Array<{ pointer: string; checkpointId: number; size: number }> = [];
    for (const f of files) {
      if (this.layout === 'savepoint') {
        if (f.path === METADATA_FILE_NAME) candidates.push({ pointer: '', checkpointId: -1, size: f.size });
        continue;
      }
      const m = /^chk-(\d+)\/_metadata$/.exec(f.path);
      if (m) candidates.push({ pointer: `chk-${m[1]}`, checkpointId: Number(m[1]), size: f.size });
    }
    candidates.sort((a, b) => a.checkpointId - b.checkpointId);
    const complete: CompleteCheckpointEntry[] = [];
    const incomplete: IncompleteCheckpointEntry[] = [];
    for (const c of candidates) {
      const metaPath = joinPath(c.pointer, METADATA_FILE_NAME);
      const name = `${this.fs.displayRoot}/${metaPath}`;
      let metadata: CheckpointMetadata;
      try {
        if (c.size > MAX_METADATA_BYTES) throw new CorruptCheckpointError(name, `metadata of ${c.size} bytes exceeds the limit of ${MAX_METADATA_BYTES}`);
        metadata = deserializeCheckpointMetadata(await this.fs.read(metaPath), name);
      } catch (e) {
        if (e instanceof StorageNotFoundError) continue; // discarded since the listing
        if (!(e instanceof CorruptCheckpointError || e instanceof UnknownFormatVersionError)) throw e;
        incomplete.push({ pointer: c.pointer, checkpointId: c.checkpointId, reason: 'UNREADABLE_METADATA', error: e });
        continue;
      }
      const checkpointId = c.checkpointId >= 0 ? c.checkpointId : metadata.checkpointId;
      try {
        await verifyCheckpointComplete(metadata, lookup, { root: this.fs.displayRoot, pointer: c.pointer, checkpointId });
        complete.push({ pointer: c.pointer, checkpointId, metadata });
      } catch (e) {
        if (!(e instanceof CorruptCheckpointError)) throw e;
        incomplete.push({ pointer: c.pointer, checkpointId, reason: 'MISSING_FILES', error: e, metadata });
      }
    }
    return { complete, incomplete };
  }

  async discardStateHandle(handle: StreamStateHandle): Promise<void> {
    if (handle.type === 'file') await this.fs.delete(handle.path);
  }

  async discardCheckpoint(checkpointId: number): Promise<void> {
    const dir = this.exclusiveDir(checkpointId);
    if (dir === '') throw new IllegalStateUsageError(undefined, 'a savepoint directory is discarded by deleting it');
    // Metadata first: a half-deleted checkpoint must never look complete.
    await this.fs.delete(joinPath(dir, METADATA_FILE_NAME));
    await this.fs.deleteDirectory(dir);
  }

  describeHandle(handle: StreamStateHandle): string {
    return handle.type === 'file' ? `${this.fs.displayRoot}/${handle.path}` : `inline:${handle.name}`;
  }

  async readFully(handle: StreamStateHandle, checkpointId?: number): Promise<Uint8Array> {
    if (handle.type === 'bytes') return verifyStreamBytes(handle, handle.data, checkpointId);
    const data = await this.readFile(handle.path, undefined, checkpointId);
    return verifyStreamBytes(handle, data, checkpointId, this.fs.displayRoot);
  }

  async readRange(handle: StreamStateHandle, offset: number, length: number, checkpointId?: number, into?: Uint8Array): Promise<Uint8Array> {
    const name = handle.type === 'file' ? `${this.fs.displayRoot}/${handle.path}` : `inline:${handle.name}`;
    if (offset < 0 || length < 0 || offset + length > handle.size) {
      throw new CorruptCheckpointError(name, `range [${offset}, +${length}) is outside the ${handle.size} bytes the handle declares`, checkpointId, offset);
    }
    if (handle.type === 'bytes') return inlineRange(handle, offset, length, checkpointId);
    // One size check per handle object (a restore reads many ranges of the same file).
    if (!this.sizeChecked.has(handle)) {
      const st = await this.fs.stat(handle.path);
      if (st === null) throw new CorruptCheckpointError(name, 'file is missing', checkpointId);
      if (st.size !== handle.size) {
        throw new CorruptCheckpointError(name, `file has ${st.size} bytes, its handle says ${handle.size} (truncated or replaced)`, checkpointId);
      }
      this.sizeChecked.add(handle);
    }
    const bytes = await this.readFile(handle.path, into === undefined ? { offset, length } : { offset, length, into }, checkpointId);
    if (bytes.length !== length) throw new CorruptCheckpointError(name, `short read: ${bytes.length} of ${length} bytes`, checkpointId, offset);
    return bytes;
  }

  /**
   * Links a stored file to a local path (FileSystem.linkTo) and checks what the link holds: the
   * size first, then the CRC32C of the bytes read back through the stored name (the same file).
   */
  async linkFile(handle: StreamStateHandle, localPath: string, checkpointId?: number): Promise<boolean> {
    if (handle.type !== 'file' || this.fs.linkTo === undefined) return false;
    const linked = await this.missingIsCorrupt(handle.path, checkpointId, () => this.fs.linkTo!(handle.path, localPath));
    if (!linked) return false;
    try {
      const st = await this.fs.stat(handle.path);
      if (st === null) throw new CorruptCheckpointError(`${this.fs.displayRoot}/${handle.path}`, 'file is missing', checkpointId);
      verifyStreamSize(handle, st.size, checkpointId, this.fs.displayRoot);
      const crc = await this.missingIsCorrupt(handle.path, checkpointId, () => readBackChecksum(this.fs, handle.path, handle.size));
      verifyStreamChecksum(handle, crc, checkpointId, this.fs.displayRoot);
    } catch (e) {
      // Nobody may open a link whose bytes failed the check; a failed removal must not hide why.
      await rm(localPath, { force: true }).catch(() => {});
      throw e;
    }
    return true;
  }

  private readFile(path: string, range: ReadRange | undefined, checkpointId?: number): Promise<Uint8Array> {
    return this.missingIsCorrupt(path, checkpointId, () => this.fs.read(path, range));
  }

  /** A file a handle references that is missing: a corrupt checkpoint, not a storage failure. */
  private async missingIsCorrupt<T>(path: string, checkpointId: number | undefined, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (e) {
      if (e instanceof StorageNotFoundError) {
        throw new CorruptCheckpointError(`${this.fs.displayRoot}/${path}`, 'file is missing', checkpointId, undefined, { cause: e });
      }
      throw e;
    }
  }
}

/** chk-<id> -> id; -1 for a savepoint directory (its id is in the metadata). */
function checkpointIdOf(dir: string): number {
  const m = /^chk-(\d+)$/.exec(dir);
  return m ? Number(m[1]) : -1;
}
