import { assert } from '../assert.js';
import { IllegalStateUsageError, StorageError } from '../errors.js';
import type { StreamStateHandle } from '../storage/handles.js';
import type { CheckpointStorage } from '../storage/spi.js';
import type { CheckpointMetadata } from './metadata.js';
import { collectSharedFileReferences, collectStreamHandles } from './referenced-files.js';
import { SharedStateRegistry } from './shared-state-registry.js';

export interface CompletedCheckpoint {
  readonly checkpointId: number;
  readonly pointer: string;
  readonly metadata: CheckpointMetadata;
}

/**
 * Keeps the last `maxRetained` completed checkpoints (Flink's CompletedCheckpointStore). Adding a
 * checkpoint confirms its shared files in the registry and subsumes older checkpoints: their
 * exclusive files are deleted, and shared files that no checkpoint on storage uses any more are
 * deleted asynchronously by the registry. A coordinator that runs checkpoints concurrently also
 * reports triggers, registrations (before `_metadata` is written) and aborts, so that the registry
 * never deletes a file a pending checkpoint may reference.
 */
export class CompletedCheckpointStore {
  private readonly checkpoints: CompletedCheckpoint[] = [];
  /**
   * Checkpoints on storage that are not retained and wait to be discarded: subsumed ones whose
   * deletion failed, and unusable ones (see recover(), drop(), adopt()). Their shared files stay
   * registered until they are gone: while its `_metadata` exists a checkpoint looks complete.
   */
  private readonly undiscarded: CompletedCheckpoint[] = [];
  private readonly discarding = new Set<CompletedCheckpoint>();
  /** Registered before their `_metadata` was written, neither completed nor aborted: they hold their files. */
  private readonly registeredPending = new Set<number>();
  readonly registry: SharedStateRegistry;

  constructor(
    readonly storage: CheckpointStorage,
    readonly maxRetained = 1,
    registry?: SharedStateRegistry,
  ) {
    if (!Number.isInteger(maxRetained) || maxRetained < 1) throw new IllegalStateUsageError(undefined, `retained checkpoints must be >= 1, got ${maxRetained}`);
    this.registry = registry ?? new SharedStateRegistry((h) => storage.discardStateHandle(h));
  }

  /**
   * Rebuilds the store (and the shared-state registry) from the checkpoints in storage: the
   * complete ones are retained, the incomplete ones whose metadata is readable are discarded with
   * the next add() (see recover()).
   */
  static async recover(storage: CheckpointStorage, maxRetained = 1): Promise<CompletedCheckpointStore> {
    const store = new CompletedCheckpointStore(storage, maxRetained);
    const scan = await storage.scanCheckpoints();
    store.recover(scan.complete, scan.incomplete.flatMap((c) => (c.metadata ? [{ checkpointId: c.checkpointId, pointer: c.pointer, metadata: c.metadata }] : [])));
    return store;
  }

  /**
   * Takes over the checkpoints an earlier run left in the same storage (Flink's
   * CompletedCheckpointStore recovery), oldest first, before any new one is added. Nothing is
   * subsumed yet: until a new checkpoint completes, a restore may have to fall back to any of them.
   * The next add() applies retention to them like to any other. `unusable` ones (incomplete, or
   * known to be corrupt) are not retained: the next add() discards them; their shared files are
   * registered, so that exactly the ones no checkpoint on storage uses are deleted.
   */
  recover(checkpoints: readonly CompletedCheckpoint[], unusable: readonly CompletedCheckpoint[] = []): void {
    assert(this.checkpoints.length === 0 && this.registry.size === 0, 'recover() runs on an empty store');
    const retained = new Set(checkpoints);
    for (const c of [...checkpoints, ...unusable].sort((a, b) => a.checkpointId - b.checkpointId)) {
      this.registry.registerCheckpoint(c.checkpointId, collectSharedFileReferences(c.metadata, true));
      this.registry.checkpointCompleted(c.checkpointId);
      if (retained.has(c)) this.checkpoints.push(c);
      else this.undiscarded.push(c);
    }
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
    this.registeredPending.add(checkpointId);
  }

  /**
   * The checkpoint was aborted before its `_metadata` was written. Returns its own shared files,
   * which the registry forgot: the caller deletes them with the rest of the checkpoint (after its
   * metadata). A checkpoint whose `_metadata` may exist is adopt()ed instead.
   */
  checkpointAborted(checkpointId: number): StreamStateHandle[] {
    this.registeredPending.delete(checkpointId);
    return this.registry.checkpointAborted(checkpointId);
  }

  /**
   * A checkpoint that is on storage but never completed for this store: an aborted one whose
   * `_metadata` was written (the response was lost, or it was aborted meanwhile) and may not be
   * deleted yet. Its shared files stay registered (never confirmed: nothing may reuse them), so
   * that none is deleted while its metadata exists; it is discarded with the next add() or
   * retryDiscards().
   */
  adopt(checkpoint: CompletedCheckpoint): void {
    if (this.undiscarded.some((c) => c.checkpointId === checkpoint.checkpointId)) return;
    if (!this.registry.isRegistered(checkpoint.checkpointId)) {
      try {
        this.registry.registerCheckpoint(checkpoint.checkpointId, collectSharedFileReferences(checkpoint.metadata));
      } catch {
        // It reuses a file already discarded: it can never be restored; nothing left to protect.
      }
    }
    this.registeredPending.delete(checkpoint.checkpointId);
    this.undiscarded.push(checkpoint);
  }

  /**
   * A retained checkpoint that cannot be restored (a file is missing or corrupt): no longer
   * retained, discarded with the next add(). Returns false if the store does not retain it.
   */
  drop(checkpointId: number): boolean {
    const i = this.checkpoints.findIndex((c) => c.checkpointId === checkpointId);
    if (i < 0) return false;
    this.undiscarded.push(...this.checkpoints.splice(i, 1));
    return true;
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
    this.registeredPending.delete(checkpoint.checkpointId);
    this.checkpoints.push(checkpoint);
    const subsumed: CompletedCheckpoint[] = [];
    while (this.checkpoints.length > this.maxRetained) subsumed.push(this.checkpoints.shift()!);
    const failed = await this.discard(subsumed);
    if (failed.length > 0) {
      throw new StorageError(this.storage.description, `could not discard ${failed.length} subsumed checkpoint(s); will retry`, { cause: failed[0], transient: true });
    }
    return subsumed;
  }

  /** Discards what still waits to be discarded (see adopt()); failures are retried later. */
  async retryDiscards(): Promise<void> {
    const failed = await this.discard([]);
    if (failed.length > 0) throw new StorageError(this.storage.description, `could not discard ${failed.length} checkpoint(s); will retry`, { cause: failed[0], transient: true });
  }

  private async discard(subsumed: readonly CompletedCheckpoint[]): Promise<unknown[]> {
    this.undiscarded.push(...subsumed);
    const failed: unknown[] = [];
    const gone: CompletedCheckpoint[] = [];
    // A checkpoint stays in `undiscarded` until it is gone, also while another call deletes it.
    for (const old of this.undiscarded.filter((c) => !this.discarding.has(c))) {
      this.discarding.add(old);
      try {
        await this.storage.discardCheckpoint(old.checkpointId);
        this.undiscarded.splice(this.undiscarded.indexOf(old), 1);
        gone.push(old);
      } catch (e) {
        // Retried on the next add; collectGarbage also reclaims it.
        failed.push(e);
      } finally {
        this.discarding.delete(old);
      }
    }
    this.releaseSharedFiles(gone);
    return failed;
  }

  /**
   * Shared files are released only by checkpoints that are gone: one whose metadata could not be
   * deleted still looks complete and keeps every file it references, as does one registered and
   * still pending. The registry's lower bound only grows, so it never passes a holder.
   */
  private releaseSharedFiles(gone: readonly CompletedCheckpoint[]): void {
    const remaining = [...this.checkpoints, ...this.undiscarded];
    const holders = [...remaining.map((c) => c.checkpointId), ...this.registeredPending];
    if (holders.length === 0 && gone.length === 0) return;
    // Nothing holds files any more (an adopted checkpoint before any completed one): release up to it.
    const lowest = holders.length > 0 ? Math.min(...holders) : Math.max(...gone.map((c) => c.checkpointId)) + 1;
    this.registry.unregisterUnusedState(lowest);
    // Discarded out of order (unusable or adopted ones newer than a retained one): their own files now.
    const outOfOrder = gone.filter((c) => c.checkpointId >= lowest);
    if (outOfOrder.length === 0) return;
    const keep = new Set(remaining.flatMap((c) => collectStreamHandles(c.metadata).flatMap((h) => (h.type === 'file' ? [h.path] : []))));
    for (const c of outOfOrder) this.registry.unregisterCheckpoint(c.checkpointId, keep);
  }

  latest(): CompletedCheckpoint | undefined {
    return this.checkpoints[this.checkpoints.length - 1];
  }

  all(): readonly CompletedCheckpoint[] {
    return this.checkpoints;
  }
}
