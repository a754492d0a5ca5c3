import { assert } from '../assert.js';
import { IllegalStateUsageError } from '../errors.js';
import type { StreamStateHandle } from '../storage/handles.js';

/** One shared file, as Flink's SharedStateRegistryImpl tracks it. */
export interface SharedStateEntry {
  /** Identity of the physical file (its path, or the inline handle's name). */
  readonly physicalKey: string;
  /** What the file contains, e.g. an SST's unique id; backends look reusable files up by it. */
  readonly logicalKey: string;
  readonly handle: StreamStateHandle;
  readonly createdByCheckpointId: number;
  lastUsedCheckpointId: number;
  /** True once a checkpoint that uses the file has completed: only then may it be reused. */
  confirmed: boolean;
}

function physicalKeyOf(h: StreamStateHandle): string {
  return h.type === 'file' ? h.path : `inline:${h.name}`;
}

/**
 * The registry of files shared by incremental checkpoints. Unlike plain reference counting it
 * records, per file, the checkpoint that created it, the last checkpoint that used it and whether
 * that use was confirmed (a checkpoint using it completed). Rules:
 * - a backend may reuse (not re-upload) a file only if it is confirmed (FLINK-25395: an
 *   unconfirmed upload may belong to a checkpoint that is about to be aborted and discarded);
 * - a file is deleted, asynchronously, once no retained checkpoint uses it, i.e. when its last
 *   use is older than the oldest retained checkpoint.
 * The registry is in memory; after a restart it is rebuilt from the retained checkpoints'
 * metadata (CompletedCheckpointStore.recover), and files it no longer knows are reclaimed by
 * collectGarbage.
 */
export class SharedStateRegistry {
  private readonly entries = new Map<string, SharedStateEntry>();
  private readonly byLogicalKey = new Map<string, Set<string>>();
  private readonly usedBy = new Map<number, Set<string>>();
  private pendingDiscards: Promise<void> = Promise.resolve();

  constructor(private readonly discard: (handle: StreamStateHandle) => Promise<void>) {}

  get size(): number {
    return this.entries.size;
  }

  /** Records that `checkpointId` references `handle` (a new upload or a reused file). */
  registerReference(logicalKey: string, handle: StreamStateHandle, checkpointId: number): StreamStateHandle {
    const pk = physicalKeyOf(handle);
    let e = this.entries.get(pk);
    if (e === undefined) {
      e = { physicalKey: pk, logicalKey, handle, createdByCheckpointId: checkpointId, lastUsedCheckpointId: checkpointId, confirmed: false };
      this.entries.set(pk, e);
      let set = this.byLogicalKey.get(logicalKey);
      if (set === undefined) this.byLogicalKey.set(logicalKey, (set = new Set()));
      set.add(pk);
    } else {
      if (e.logicalKey !== logicalKey) {
        throw new IllegalStateUsageError(undefined, `shared file '${pk}' registered as '${logicalKey}', already known as '${e.logicalKey}'`);
      }
      if (e.createdByCheckpointId !== checkpointId && !e.confirmed) {
        throw new IllegalStateUsageError(undefined, `checkpoint ${checkpointId} reuses shared file '${pk}' of checkpoint ${e.createdByCheckpointId}, which was never confirmed`);
      }
      e.lastUsedCheckpointId = Math.max(e.lastUsedCheckpointId, checkpointId);
    }
    let used = this.usedBy.get(checkpointId);
    if (used === undefined) this.usedBy.set(checkpointId, (used = new Set()));
    used.add(pk);
    return e.handle;
  }

  /** A confirmed file with this content, which a new checkpoint may reference instead of uploading. */
  findReusable(logicalKey: string): StreamStateHandle | undefined {
    for (const pk of this.byLogicalKey.get(logicalKey) ?? []) {
      const e = this.entries.get(pk)!;
      if (e.confirmed) return e.handle;
    }
    return undefined;
  }

  /** Marks the files used by a completed checkpoint as confirmed. */
  checkpointCompleted(checkpointId: number): void {
    for (const pk of this.usedBy.get(checkpointId) ?? []) {
      const e = this.entries.get(pk);
      if (e !== undefined) e.confirmed = true;
    }
  }

  /**
   * Forgets and deletes (asynchronously) every file whose last use is older than
   * `lowestRetainedCheckpointId`. Returns the deleted handles; `drain()` awaits the deletions.
   */
  unregisterUnusedState(lowestRetainedCheckpointId: number): StreamStateHandle[] {
    const removed: StreamStateHandle[] = [];
    for (const [pk, e] of this.entries) {
      if (e.lastUsedCheckpointId < lowestRetainedCheckpointId) {
        this.entries.delete(pk);
        const set = this.byLogicalKey.get(e.logicalKey);
        set?.delete(pk);
        if (set?.size === 0) this.byLogicalKey.delete(e.logicalKey);
        removed.push(e.handle);
      }
    }
    for (const id of [...this.usedBy.keys()]) if (id < lowestRetainedCheckpointId) this.usedBy.delete(id);
    if (removed.length > 0) {
      const prev = this.pendingDiscards;
      // Deletion failures are not fatal: collectGarbage reclaims whatever is left behind.
      this.pendingDiscards = prev.then(() => Promise.all(removed.map((h) => this.discard(h).catch(() => {}))).then(() => {}));
    }
    return removed;
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
