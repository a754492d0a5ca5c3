import { assert } from '../assert.js';
import { IllegalStateUsageError, SharedStateDiscardedError } from '../errors.js';
import { streamHandleName, type StreamStateHandle } from '../storage/handles.js';

/**
 * How a checkpoint references a shared file:
 * - 'new': the checkpoint wrote it;
 * - 'reused': an earlier checkpoint wrote it and this one references it instead of uploading the
 *   content again (Flink's PlaceholderStreamStateHandle);
 * - 'restored': read back from the metadata of a completed checkpoint (recovery after a restart).
 */
export type SharedFileUse = 'new' | 'reused' | 'restored';

export interface SharedFileReference {
  readonly handle: StreamStateHandle;
  readonly use: SharedFileUse;
}

/** One shared file, as Flink's SharedStateRegistryImpl tracks it. */
export interface SharedStateEntry {
  /** Identity of the physical file (its path, or the inline handle's name). */
  readonly physicalKey: string;
  readonly handle: StreamStateHandle;
  readonly createdByCheckpointId: number;
  lastUsedCheckpointId: number;
  /** True once a checkpoint that uses the file has completed: only then may it be reused. */
  confirmed: boolean;
  /**
   * Set when the file was first found unused: the highest checkpoint id triggered at that moment.
   * Checkpoints up to this id that are still pending may have reused the file in their backends
   * without the registry knowing yet, so the deletion waits for them.
   */
  unusedSinceTrigger: number | undefined;
}

/**
 * The registry of files shared by incremental checkpoints. Unlike plain reference counting it
 * records, per file, the checkpoint that created it, the last checkpoint that used it and whether
 * that use was confirmed (a checkpoint using it completed). Rules:
 * - a checkpoint registers its references before its `_metadata` is written (Flink registers on
 *   acknowledgement); registration fails with SharedStateDiscardedError when a reused file is no
 *   longer known (already discarded, FLINK-29913) or was never confirmed (FLINK-25395), and the
 *   coordinator declines that checkpoint instead of completing it;
 * - a file is deleted, asynchronously, once no retained checkpoint uses it (its last use is older
 *   than the oldest retained checkpoint) and no checkpoint that was already triggered when it
 *   became unused is still pending: such a checkpoint may reference it without the registry
 *   knowing yet, because backends choose what to reuse before they acknowledge;
 * - an aborted checkpoint's own, never confirmed files are forgotten, so that the coordinator
 *   deletes them with the rest of that checkpoint.
 * The registry is in memory; after a restart it is rebuilt from the retained checkpoints'
 * metadata (CompletedCheckpointStore.recover), and files it no longer knows are reclaimed by
 * collectGarbage.
 */
export class SharedStateRegistry {
  private readonly entries = new Map<string, SharedStateEntry>();
  /** Files each registered checkpoint references; also marks the checkpoint as registered. */
  private readonly usedBy = new Map<number, Set<string>>();
  /** Checkpoints triggered and neither registered nor aborted. */
  private readonly pending = new Set<number>();
  private highestTriggered = Number.NEGATIVE_INFINITY;
  private lowestRetained = Number.NEGATIVE_INFINITY;
  private pendingDiscards: Promise<void> = Promise.resolve();

  constructor(private readonly discard: (handle: StreamStateHandle) => Promise<void>) {}

  get size(): number {
    return this.entries.size;
  }

  /** A checkpoint was triggered: its backends may reuse any confirmed file until it registers. */
  checkpointTriggered(checkpointId: number): void {
    this.pending.add(checkpointId);
    this.highestTriggered = Math.max(this.highestTriggered, checkpointId);
  }

  isRegistered(checkpointId: number): boolean {
    return this.usedBy.has(checkpointId);
  }

  /**
   * Registers every shared file `checkpointId` references, all or nothing: a reference the
   * registry cannot vouch for throws before anything changed. Files this checkpoint no longer
   * holds back (see unregisterUnusedState) are deleted.
   */
  registerCheckpoint(checkpointId: number, references: readonly SharedFileReference[]): void {
    assert(!this.usedBy.has(checkpointId), `checkpoint ${checkpointId} registers its shared files once`);
    for (const r of references) this.checkReference(checkpointId, r);
    const used = new Set<string>();
    this.usedBy.set(checkpointId, used);
    for (const r of references) used.add(this.apply(checkpointId, r));
    this.pending.delete(checkpointId);
    this.discardAll(this.release());
  }

  private checkReference(checkpointId: number, r: SharedFileReference): void {
    const pk = streamHandleName(r.handle);
    const e = this.entries.get(pk);
    if (r.use === 'new' && e !== undefined && e.createdByCheckpointId !== checkpointId && !e.confirmed) {
      throw new IllegalStateUsageError(undefined, `checkpoint ${checkpointId} claims shared file '${pk}' of checkpoint ${e.createdByCheckpointId}, which never completed`);
    }
    if (r.use !== 'reused') return;
    if (e === undefined) throw new SharedStateDiscardedError(checkpointId, pk, 'the registry no longer knows it (it was discarded, or never registered)');
    if (!e.confirmed && e.createdByCheckpointId !== checkpointId) {
      throw new SharedStateDiscardedError(checkpointId, pk, `checkpoint ${e.createdByCheckpointId}, which wrote it, never completed`);
    }
  }

  private apply(checkpointId: number, r: SharedFileReference): string {
    const pk = streamHandleName(r.handle);
    const e = this.entries.get(pk);
    if (e === undefined) {
      const confirmed = r.use === 'restored';
      this.entries.set(pk, { physicalKey: pk, handle: r.handle, createdByCheckpointId: checkpointId, lastUsedCheckpointId: checkpointId, confirmed, unusedSinceTrigger: undefined });
    } else {
      e.lastUsedCheckpointId = Math.max(e.lastUsedCheckpointId, checkpointId);
      if (r.use === 'restored') e.confirmed = true;
    }
    return pk;
  }

  /** Marks the files used by a completed checkpoint as confirmed: from now on they may be reused. */
  checkpointCompleted(checkpointId: number): void {
    assert(this.usedBy.has(checkpointId), `checkpoint ${checkpointId} registered its shared files before it completed`);
    for (const pk of this.usedBy.get(checkpointId)!) {
      const e = this.entries.get(pk);
      if (e !== undefined) e.confirmed = true;
    }
  }

  /**
   * The checkpoint will never complete. Its own files (created by it, never confirmed, used by
   * no other checkpoint) are forgotten and returned: the caller deletes them with the rest of the
   * checkpoint, after its metadata. Files it reused keep their last use until it is subsumed.
   */
  checkpointAborted(checkpointId: number): StreamStateHandle[] {
    this.pending.delete(checkpointId);
    const forgotten: StreamStateHandle[] = [];
    for (const pk of this.usedBy.get(checkpointId) ?? []) {
      const e = this.entries.get(pk);
      if (e !== undefined && e.createdByCheckpointId === checkpointId && e.lastUsedCheckpointId === checkpointId && !e.confirmed) {
        this.entries.delete(pk);
        forgotten.push(e.handle);
      }
    }
    this.usedBy.delete(checkpointId);
    this.discardAll(this.release());
    return forgotten;
  }

  /**
   * For a checkpoint discarded out of order (an unusable or adopted one, newer than a retained
   * one): forgets and deletes the files it created that no later checkpoint used and that `keep`
   * (the files of the checkpoints still on storage) does not name. Files it only reused keep their
   * last use until retention passes it. Returns the deleted handles.
   */
  unregisterCheckpoint(checkpointId: number, keep: ReadonlySet<string>): StreamStateHandle[] {
    const removed: StreamStateHandle[] = [];
    for (const pk of this.usedBy.get(checkpointId) ?? []) {
      const e = this.entries.get(pk);
      if (e === undefined || e.createdByCheckpointId !== checkpointId || e.lastUsedCheckpointId > checkpointId || keep.has(pk)) continue;
      this.entries.delete(pk);
      removed.push(e.handle);
    }
    this.usedBy.delete(checkpointId);
    this.discardAll(removed);
    return removed;
  }

  /**
   * Every file whose last use is older than `lowestRetainedCheckpointId` becomes deletable; it is
   * forgotten and deleted (asynchronously) once no pending checkpoint may still reference it.
   * Returns the handles scheduled for deletion now; `drain()` awaits the deletions.
   */
  unregisterUnusedState(lowestRetainedCheckpointId: number): StreamStateHandle[] {
    this.lowestRetained = Math.max(this.lowestRetained, lowestRetainedCheckpointId);
    for (const id of [...this.usedBy.keys()]) if (id < this.lowestRetained) this.usedBy.delete(id);
    const removed = this.release();
    this.discardAll(removed);
    return removed;
  }

  /** Forgets the unused files no pending checkpoint holds back, and returns them. */
  private release(): StreamStateHandle[] {
    let oldestPending = Number.POSITIVE_INFINITY;
    for (const id of this.pending) oldestPending = Math.min(oldestPending, id);
    const removed: StreamStateHandle[] = [];
    for (const [pk, e] of this.entries) {
      if (e.lastUsedCheckpointId >= this.lowestRetained) {
        e.unusedSinceTrigger = undefined;
        continue;
      }
      e.unusedSinceTrigger ??= this.highestTriggered;
      if (oldestPending <= e.unusedSinceTrigger) continue;
      this.entries.delete(pk);
      removed.push(e.handle);
    }
    return removed;
  }

  private discardAll(removed: readonly StreamStateHandle[]): void {
    if (removed.length === 0) return;
    // Deletion failures are not fatal: collectGarbage reclaims whatever is left behind.
    const started = Promise.all(removed.map((h) => this.discard(h).catch(() => {})));
    const prev = this.pendingDiscards;
    this.pendingDiscards = Promise.all([prev, started]).then(() => {});
  }

  /** Waits for scheduled deletions. */
  drain(): Promise<void> {
    return this.pendingDiscards;
  }

  entry(physicalKey: string): SharedStateEntry | undefined {
    const e = this.entries.get(physicalKey);
    assert(e === undefined || e.lastUsedCheckpointId >= e.createdByCheckpointId, 'last use is not before creation');
    return e;
  }
}
