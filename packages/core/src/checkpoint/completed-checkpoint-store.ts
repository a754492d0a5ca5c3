import { assert } from '../assert.js';
import { IllegalStateUsageError, StorageError } from '../errors.js';
import type { StreamStateHandle } from '../storage/handles.js';
import type { CheckpointStorage } from '../storage/spi.js';
import { deserializeCheckpointMetadata, type CheckpointMetadata } from './metadata.js';
import { collectSharedFileReferences } from './referenced-files.js';
import { SharedStateRegistry } from './shared-state-registry.js';

export interface CompletedCheckpoint {
  readonly checkpointId: number;
  readonly pointer: string;
  readonly metadata: CheckpointMetadata;
}

/**
 * Keeps the last `maxRetained` completed checkpoints (Flink's CompletedCheckpointStore). Adding a
 * checkpoint confirms its shared files in the registry and subsumes older checkpoints: their
 * exclusive files are deleted, and shared files that no retained checkpoint uses any more are
 * deleted asynchronously by the registry. A coordinator that runs checkpoints concurrently also
 * reports triggers, registrations (before `_metadata` is written) and aborts, so that the registry
 * never deletes a file a pending checkpoint may reference.
 */
export class CompletedCheckpointStore {
  private readonly checkpoints: CompletedCheckpoint[] = [];
  /** Subsumed checkpoints whose deletion failed. */
  private readonly undiscarded: CompletedCheckpoint[] = [];
  readonly registry: SharedStateRegistry;

  constructor(
    readonly storage: CheckpointStorage,
    readonly maxRetained = 1,
    registry?: SharedStateRegistry,
  ) {
    if (!Number.isInteger(maxRetained) || maxRetained < 1) throw new IllegalStateUsageError(undefined, `retained checkpoints must be >= 1, got ${maxRetained}`);
    this.registry = registry ?? new SharedStateRegistry((h) => storage.discardStateHandle(h));
  }

  /** Rebuilds the store (and the shared-state registry) from the completed checkpoints in storage. */
  static async recover(storage: CheckpointStorage, maxRetained = 1): Promise<CompletedCheckpointStore> {
    const store = new CompletedCheckpointStore(storage, maxRetained);
    for (const pointer of await storage.listCompletedCheckpoints()) {
      const loc = await storage.resolveCheckpoint(pointer);
      const metadata = deserializeCheckpointMetadata(loc.metadata, `${storage.description}: ${pointer}/_metadata`);
      store.registry.registerCheckpoint(metadata.checkpointId, collectSharedFileReferences(metadata, true));
      await store.add({ checkpointId: metadata.checkpointId, pointer, metadata });
    }
    return store;
  }

  /** A checkpoint was triggered: until it registers or aborts, no file it may reuse is deleted. */
  checkpointTriggered(checkpointId: number): void {
    this.registry.checkpointTriggered(checkpointId);
  }

  /**
   * Registers the shared files a pending checkpoint references, before its `_metadata` is written
   * (`state` is its metadata or its acknowledgements). Throws SharedStateDiscardedError when it
   * reuses a file that was already discarded: the checkpoint must then be declined.
   */
  registerPending(checkpointId: number, state: object): void {
    this.registry.registerCheckpoint(checkpointId, collectSharedFileReferences(state));
  }

  /**
   * The checkpoint was aborted. Returns its own shared files, which the registry forgot: the
   * caller deletes them with the rest of the checkpoint (after its metadata).
   */
  checkpointAborted(checkpointId: number): StreamStateHandle[] {
    return this.registry.checkpointAborted(checkpointId);
  }

  /**
   * Adds a completed checkpoint (registering its shared files first if the coordinator did not),
   * confirms its files and subsumes what falls out of retention.
   */
  async add(checkpoint: CompletedCheckpoint): Promise<CompletedCheckpoint[]> {
    const last = this.checkpoints[this.checkpoints.length - 1];
    assert(last === undefined || last.checkpointId < checkpoint.checkpointId, `checkpoint ${checkpoint.checkpointId} is newer than ${last?.checkpointId}`);
    if (!this.registry.isRegistered(checkpoint.checkpointId)) this.registerPending(checkpoint.checkpointId, checkpoint.metadata);
    this.registry.checkpointCompleted(checkpoint.checkpointId);
    this.checkpoints.push(checkpoint);
    const subsumed: CompletedCheckpoint[] = [];
    while (this.checkpoints.length > this.maxRetained) subsumed.push(this.checkpoints.shift()!);
    // Shared files are released whatever happens to the deletions below.
    this.registry.unregisterUnusedState(this.checkpoints[0]!.checkpointId);
    const failed: unknown[] = [];
    for (const old of [...this.undiscarded.splice(0), ...subsumed]) {
      try {
        await this.storage.discardCheckpoint(old.checkpointId);
      } catch (e) {
        // Retried on the next add; collectGarbage also reclaims it.
        this.undiscarded.push(old);
        failed.push(e);
      }
    }
    if (failed.length > 0) {
      throw new StorageError(this.storage.description, `could not discard ${failed.length} subsumed checkpoint(s); will retry`, { cause: failed[0], transient: true });
    }
    return subsumed;
  }

  latest(): CompletedCheckpoint | undefined {
    return this.checkpoints[this.checkpoints.length - 1];
  }

  all(): readonly CompletedCheckpoint[] {
    return this.checkpoints;
  }
}
