import type { CheckpointScan } from '../checkpoint/completeness.js';
import type { StreamStateHandle } from './handles.js';

/** Flink's CheckpointedStateScope: exclusive files belong to one checkpoint, shared ones to several. */
export type CheckpointedStateScope = 'EXCLUSIVE' | 'SHARED';

/** Writes one state file; the handle it returns carries the file's size and CRC32C. */
export interface CheckpointStateOutputStream {
  /** Bytes written so far: the offset the next write lands at. */
  readonly position: number;
  /**
   * `checksum`: the CRC32C of `bytes` when the caller already computed it (e.g. per key-group
   * block), so that the stream need not read the bytes again for its own; a stream may ignore it.
   */
  write(bytes: Uint8Array, checksum?: number): Promise<void>;
  /** Makes the bytes durable and returns their handle. */
  closeAndGetHandle(): Promise<StreamStateHandle>;
  /**
   * Optional, instead of writes and closeAndGetHandle: this stream's file becomes the immutable
   * local file at `localPath` without copying it (a hard link on local storage); the returned
   * handle carries the size and CRC32C of the bytes behind the new name. null when the storage
   * cannot (the stream stays open and unused: write the bytes instead).
   */
  adoptLocalFile?(localPath: string, options?: AdoptLocalFileOptions): Promise<StreamStateHandle | null>;
  /** Discards everything written; idempotent. */
  abort(): Promise<void>;
}

/** Size and CRC32C of a file's bytes, as a stream handle carries them. */
export interface FileChecksum {
  readonly size: number;
  readonly checksum: number;
}

export interface AdoptLocalFileOptions {
  /**
   * Reads the adopted bytes through `linkedPath` (the new name, an absolute local path) and
   * returns their size and CRC32C, instead of the stream reading them back itself: for a caller
   * that reads the file anyway (RocksDB verifies an SST's block checksums) or knows them (RocksDB
   * computed an SST's CRC32C while writing it). Called once the link
   * exists, while it is made durable (FileSystem.linkFrom's `whileSyncing`); a rejection fails
   * the adoption with that error, and nothing stays behind.
   */
  readonly checksum?: (linkedPath: string) => Promise<FileChecksum>;
  /** The local file's bytes are durable already (FileSystem.linkFrom's `sourceSynced`). */
  readonly sourceSynced?: boolean;
  /**
   * A data sync of the local file the caller started: its bytes are durable once it resolves. The
   * link is made while it runs (and while the link is made durable, with `checksum`): the
   * adoption resolves only after all of them, and a rejection fails it, nothing staying behind.
   * Ignored when the stream copies instead (the copy is synced as any stream's bytes are).
   */
  readonly sourceSyncing?: Promise<void>;
}

/** Creates state output streams for one checkpoint (Flink's CheckpointStreamFactory). */
export interface CheckpointStreamFactory {
  readonly checkpointId: number;
  createCheckpointStateOutputStream(scope: CheckpointedStateScope): CheckpointStateOutputStream;
  /**
   * Deletes a file this factory's streams produced, when the snapshot that wrote it fails or is
   * cancelled (Flink's discardState on the task side); idempotent. Never used for files that a
   * completed checkpoint may reference.
   */
  discardStateHandle(handle: StreamStateHandle): Promise<void>;
}

/** Reads the bytes behind stream handles; verifies sizes and checksums before returning bytes. */
export interface StateHandleReader {
  /** The whole stream, after checking its size and CRC32C against the handle. */
  readFully(handle: StreamStateHandle, checkpointId?: number): Promise<Uint8Array>;
  /**
   * A byte range. The caller verifies the range against a checksum it holds (e.g. per key group);
   * the reader still checks that the stream has the size the handle says. The bytes returned are
   * the caller's: a reader never reuses or changes them later (restores keep views into them).
   * `into`: a buffer of the caller's that the reader may fill and return a view of (see
   * ReadRange.into); a caller lending one must not keep views past its next use of that buffer.
   */
  readRange(handle: StreamStateHandle, offset: number, length: number, checkpointId?: number, into?: Uint8Array): Promise<Uint8Array>;
  /**
   * Where a handle's bytes live, for messages: the full path or URI of a file (handles hold paths
   * relative to the storage root). Optional: decoders fall back to the relative path.
   */
  describeHandle?(handle: StreamStateHandle): string;
  /**
   * Optional: makes the file behind `handle` appear at the local path `localPath` (which must not
   * exist) without a copy (a hard link, FileSystem.linkTo), after checking the size and CRC32C of
   * the bytes behind the link against the handle. The caller must never write to `localPath`: it
   * shares the stored file's bytes. Resolves false, having created nothing, when the storage
   * cannot (inline bytes, another device, not the local disk): read the bytes instead. A mismatch
   * is a CorruptCheckpointError, and the link is removed.
   */
  linkFile?(handle: StreamStateHandle, localPath: string, checkpointId?: number): Promise<boolean>;
}

/** Where one pending checkpoint writes (Flink's CheckpointStorageLocation). */
export interface CheckpointStorageLocation {
  readonly checkpointId: number;
  /** An external pointer (path or URI) that resolveCheckpoint accepts once the checkpoint completed. */
  readonly pointer: string;
  readonly streamFactory: CheckpointStreamFactory;
  /** Writes the metadata, last and atomically: from then on the checkpoint is complete. */
  finalizeCheckpoint(metadata: Uint8Array): Promise<CompletedCheckpointStorageLocation>;
  /** Deletes what this checkpoint wrote to its exclusive location (aborted or failed checkpoints). */
  disposeOnFailure(): Promise<void>;
}

export interface CompletedCheckpointStorageLocation {
  readonly checkpointId: number;
  readonly pointer: string;
  /** The metadata bytes, verified against their checksum. */
  readonly metadata: Uint8Array;
  /** Reads the state handles referenced by this checkpoint (paths relative to its root). */
  readonly reader: StateHandleReader;
}

/**
 * Checkpoint storage (Flink's CheckpointStorage plus CheckpointStorageAccess). A storage is bound
 * to one root: a job's checkpoint directory, or one savepoint directory.
 */
export interface CheckpointStorage extends StateHandleReader {
  readonly description: string;
  initializeLocationForCheckpoint(checkpointId: number): Promise<CheckpointStorageLocation>;
  /**
   * Resolves a completed checkpoint; fails if its metadata is missing (StorageNotFoundError) or
   * corrupt, or if a file it references is missing or has another size (CorruptCheckpointError).
   */
  resolveCheckpoint(pointer: string): Promise<CompletedCheckpointStorageLocation>;
  /** Pointers of the complete checkpoints under this root (scanCheckpoints), oldest first. */
  listCompletedCheckpoints(): Promise<string[]>;
  /**
   * Every checkpoint under this root that has metadata, oldest first, each checked with
   * verifyCheckpointComplete: the complete ones with their decoded metadata, the others with why.
   */
  scanCheckpoints(): Promise<CheckpointScan>;
  /** Deletes the bytes behind a handle; idempotent. */
  discardStateHandle(handle: StreamStateHandle): Promise<void>;
  /** Deletes a completed (subsumed) checkpoint's exclusive files and metadata. */
  discardCheckpoint(checkpointId: number): Promise<void>;
}
