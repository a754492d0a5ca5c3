import { randomUUID } from 'node:crypto';
import { crc32c } from '../checksum.js';
import { verifyCheckpointComplete, type CheckpointScan, type CompleteCheckpointEntry, type FileLookup, type IncompleteCheckpointEntry } from '../checkpoint/completeness.js';
import { deserializeCheckpointMetadata, type CheckpointMetadata } from '../checkpoint/metadata.js';
import { CorruptCheckpointError, IllegalStateUsageError, StateSizeExceededError, StorageNotFoundError, UnknownFormatVersionError } from '../errors.js';
import { byteStreamStateHandle, type StreamStateHandle } from './handles.js';
import type {
  CheckpointStateOutputStream,
  CheckpointStorage,
  CheckpointStorageLocation,
  CompletedCheckpointStorageLocation,
} from './spi.js';
import { inlineRange, verifyStreamBytes } from './verify.js';

/** In-memory storage holds no files: a file handle in its metadata points nowhere. */
const NO_FILES: FileLookup = async () => null;

export interface JobManagerCheckpointStorageOptions {
  /** Largest state one stream may hold (Flink's default is 5 MiB). */
  readonly maxStateSize?: number;
  /** Completed checkpoints kept in memory; older ones are dropped. */
  readonly maxRetainedCheckpoints?: number;
}

/**
 * In-memory checkpoint storage (Flink's JobManagerCheckpointStorage): state bytes travel inline in
 * their handles and the metadata of completed checkpoints stays in this object. Nothing survives
 * the process, so it is for tests and small jobs. Exceeding `maxStateSize` fails the snapshot with
 * a StateSizeExceededError instead of growing memory without bound.
 */
export class JobManagerCheckpointStorage implements CheckpointStorage {
  static readonly DEFAULT_MAX_STATE_SIZE = 5 * 1024 * 1024;
  readonly maxStateSize: number;
  private readonly maxRetained: number;
  private readonly completed = new Map<number, Uint8Array>();

  constructor(options: JobManagerCheckpointStorageOptions = {}) {
    this.maxStateSize = options.maxStateSize ?? JobManagerCheckpointStorage.DEFAULT_MAX_STATE_SIZE;
    this.maxRetained = options.maxRetainedCheckpoints ?? 16;
  }

  get description(): string {
    return `in-memory checkpoint storage (max state size ${this.maxStateSize} bytes)`;
  }

  async initializeLocationForCheckpoint(checkpointId: number): Promise<CheckpointStorageLocation> {
    const pointer = `jobmanager://chk-${checkpointId}`;
    return {
      checkpointId,
      pointer,
      streamFactory: {
        checkpointId,
        createCheckpointStateOutputStream: () => new MemoryCheckpointOutputStream(this.maxStateSize, checkpointId),
        // Inline bytes live in their handle: dropping the handle frees them.
        discardStateHandle: async () => {},
      },
      finalizeCheckpoint: async (metadata) => {
        this.completed.set(checkpointId, new Uint8Array(metadata));
        while (this.completed.size > this.maxRetained) {
          const oldest = Math.min(...this.completed.keys());
          this.completed.delete(oldest);
        }
        return { checkpointId, pointer, metadata, reader: this };
      },
      disposeOnFailure: async () => {},
    };
  }

  async resolveCheckpoint(pointer: string): Promise<CompletedCheckpointStorageLocation> {
    const m = /^jobmanager:\/\/chk-(\d+)$/.exec(pointer);
    if (!m) throw new IllegalStateUsageError(undefined, `'${pointer}' is not an in-memory checkpoint pointer (jobmanager://chk-<id>)`);
    const id = Number(m[1]);
    const metadata = this.completed.get(id);
    if (metadata === undefined) throw new StorageNotFoundError(pointer);
    await verifyCheckpointComplete(deserializeCheckpointMetadata(metadata, `${pointer}/_metadata`), NO_FILES, { root: 'jobmanager:/', pointer, checkpointId: id });
    return { checkpointId: id, pointer, metadata, reader: this };
  }

  async listCompletedCheckpoints(): Promise<string[]> {
    return (await this.scanCheckpoints()).complete.map((c) => c.pointer);
  }

  async scanCheckpoints(): Promise<CheckpointScan> {
    const complete: CompleteCheckpointEntry[] = [];
    const incomplete: IncompleteCheckpointEntry[] = [];
    for (const id of [...this.completed.keys()].sort((a, b) => a - b)) {
      const pointer = `jobmanager://chk-${id}`;
      let metadata: CheckpointMetadata;
      try {
        metadata = deserializeCheckpointMetadata(this.completed.get(id)!, `${pointer}/_metadata`);
      } catch (e) {
        if (!(e instanceof CorruptCheckpointError || e instanceof UnknownFormatVersionError)) throw e;
        incomplete.push({ pointer, checkpointId: id, reason: 'UNREADABLE_METADATA', error: e });
        continue;
      }
      try {
        await verifyCheckpointComplete(metadata, NO_FILES, { root: 'jobmanager:/', pointer, checkpointId: id });
        complete.push({ pointer, checkpointId: id, metadata });
      } catch (e) {
        if (!(e instanceof CorruptCheckpointError)) throw e;
        incomplete.push({ pointer, checkpointId: id, reason: 'MISSING_FILES', error: e, metadata });
      }
    }
    return { complete, incomplete };
  }

  async discardStateHandle(_handle: StreamStateHandle): Promise<void> {}

  async discardCheckpoint(checkpointId: number): Promise<void> {
    this.completed.delete(checkpointId);
  }

  async readFully(handle: StreamStateHandle, checkpointId?: number): Promise<Uint8Array> {
    if (handle.type !== 'bytes') {
      throw new CorruptCheckpointError(handle.path, 'in-memory storage cannot read file handles', checkpointId);
    }
    return verifyStreamBytes(handle, handle.data, checkpointId);
  }

  async readRange(handle: StreamStateHandle, offset: number, length: number, checkpointId?: number): Promise<Uint8Array> {
    if (handle.type !== 'bytes') {
      throw new CorruptCheckpointError(handle.path, 'in-memory storage cannot read file handles', checkpointId);
    }
    return inlineRange(handle, offset, length, checkpointId);
  }
}

class MemoryCheckpointOutputStream implements CheckpointStateOutputStream {
  private chunks: Uint8Array[] = [];
  private pos = 0;
  private crc = 0;
  private closed = false;

  constructor(
    private readonly maxSize: number,
    private readonly checkpointId: number,
  ) {}

  get position(): number {
    return this.pos;
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.closed) throw new IllegalStateUsageError(undefined, 'write to a closed in-memory checkpoint stream');
    if (this.pos + bytes.length > this.maxSize) {
      this.closed = true;
      this.chunks = [];
      throw new StateSizeExceededError(this.pos + bytes.length, this.maxSize, this.checkpointId);
    }
    this.chunks.push(new Uint8Array(bytes));
    this.pos += bytes.length;
    this.crc = crc32c(bytes, this.crc);
  }

  async closeAndGetHandle(): Promise<StreamStateHandle> {
    if (this.closed) throw new IllegalStateUsageError(undefined, 'in-memory checkpoint stream closed twice');
    this.closed = true;
    const data = new Uint8Array(Buffer.concat(this.chunks));
    this.chunks = [];
    return byteStreamStateHandle(randomUUID(), data, this.crc);
  }

  async abort(): Promise<void> {
    this.closed = true;
    this.chunks = [];
  }
}
