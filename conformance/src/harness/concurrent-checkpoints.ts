import assert from 'node:assert/strict';
import {
  CHECKPOINT,
  collectStreamHandles,
  CompletedCheckpointStore,
  FsCheckpointStorage,
  serializeCheckpointMetadata,
  SharedStateDiscardedError,
  StorageNotFoundError,
  type CheckpointMetadata,
  type CheckpointStorage,
  type CheckpointStorageLocation,
  type KeyedStateBackend,
  type KeyedStateHandle,
  type SnapshotFuture,
  type StreamStateHandle,
} from '@flowstate/core';
import { OPERATOR_ID } from './fixture.js';

/**
 * What the coordinator reports to the CompletedCheckpointStore: 'coordinator' reports triggers,
 * registrations before `_metadata` and aborts, as flowstate's runtime does; 'store-only' just adds
 * completed checkpoints, as simple callers of the store do.
 */
export type StoreProtocol = 'coordinator' | 'store-only';

interface Pending {
  readonly id: number;
  readonly location: CheckpointStorageLocation;
  readonly futures: ReadonlyArray<SnapshotFuture<KeyedStateHandle>>;
  metadata: CheckpointMetadata | undefined;
}

export type CompletionOutcome = 'completed' | 'declined' | 'subsumed';

/**
 * A checkpoint coordinator in miniature for keyed backends, with every step in the caller's hands:
 * trigger, complete, notify and abort any checkpoint, in any order, with several in flight. It
 * keeps a CompletedCheckpointStore (retention, SharedStateRegistry) as the runtime does, and can
 * check that every file a retained checkpoint references is in storage.
 */
export class ConcurrentCheckpointDriver<K> {
  readonly store: CompletedCheckpointStore;
  private readonly pending = new Map<number, Pending>();
  private latestCompleted = 0;

  constructor(
    readonly storage: CheckpointStorage,
    private readonly subtasks: ReadonlyArray<KeyedStateBackend<K>>,
    retainedCheckpoints: number,
    private readonly protocol: StoreProtocol,
    private readonly maxParallelism: number,
  ) {
    this.store = new CompletedCheckpointStore(storage, retainedCheckpoints);
  }

  get pendingIds(): number[] {
    return [...this.pending.keys()];
  }

  /** The barrier reaches every subtask: their synchronous parts run. */
  async trigger(id: number): Promise<void> {
    assert.ok(!this.pending.has(id) && id > this.latestCompleted, `checkpoint ${id} is new`);
    const location = await this.storage.initializeLocationForCheckpoint(id);
    if (this.protocol === 'coordinator') this.store.checkpointTriggered(id);
    const futures = this.subtasks.map((s) => s.snapshot(id, id, location.streamFactory, CHECKPOINT));
    this.pending.set(id, { id, location, futures, metadata: undefined });
  }

  /**
   * Every subtask acknowledged: register (or decline), write `_metadata`, add to the store, and
   * subsume older pending checkpoints. Completion notifications are the caller's to send.
   */
  async complete(id: number): Promise<CompletionOutcome> {
    const p = this.pending.get(id);
    assert.ok(p !== undefined, `checkpoint ${id} is pending`);
    const results = await Promise.all(p.futures.map((f) => f.result));
    if (!this.pending.has(id)) return 'subsumed';
    const metadata = this.metadataOf(id, results.map((r) => r.jobManagerOwnedSnapshot));
    p.metadata = metadata;
    if (this.protocol === 'coordinator') {
      try {
        this.store.registerPending(id, metadata);
      } catch (e) {
        if (!(e instanceof SharedStateDiscardedError)) throw e;
        await this.abort(id);
        return 'declined';
      }
    }
    await p.location.finalizeCheckpoint(serializeCheckpointMetadata(metadata));
    this.pending.delete(id);
    this.latestCompleted = id;
    for (const older of this.pendingIds) if (older < id) await this.abort(older);
    await this.store.add({ checkpointId: id, pointer: p.location.pointer, metadata });
    await this.store.registry.drain();
    return 'completed';
  }

  private metadataOf(id: number, handles: ReadonlyArray<KeyedStateHandle | null>): CheckpointMetadata {
    const subtasks = handles.map((h, subtaskIndex) => ({ subtaskIndex, keyed: h === null ? [] : [h], operator: [] }));
    return { checkpointId: id, kind: 'CHECKPOINT', timestamp: id, operators: [{ uid: OPERATOR_ID, parallelism: subtasks.length, maxParallelism: this.maxParallelism, subtasks }] };
  }

  notifyComplete(id: number, subtask?: number): void {
    for (const [i, s] of this.subtasks.entries()) if (subtask === undefined || subtask === i) s.notifyCheckpointComplete(id);
  }

  notifyAborted(id: number, subtask?: number): void {
    for (const [i, s] of this.subtasks.entries()) if (subtask === undefined || subtask === i) s.notifyCheckpointAborted(id);
  }

  /**
   * Aborts a pending checkpoint as the runtime's coordinator does: cancels what still runs, drops
   * its location, and deletes the shared files it wrote that the registry does not know.
   * Abort notifications are the caller's to send.
   */
  async abort(id: number): Promise<void> {
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.pending.delete(id);
    for (const f of p.futures) f.cancel();
    const settled = await Promise.allSettled(p.futures.map((f) => f.result));
    await p.location.disposeOnFailure();
    if (this.protocol === 'coordinator') this.store.checkpointAborted(id);
    for (const r of settled) {
      if (r.status !== 'fulfilled') continue;
      for (const h of collectStreamHandles(r.value)) {
        if (h.type === 'file' && this.store.registry.entry(h.path) === undefined) await this.storage.discardStateHandle(h);
      }
    }
    await this.store.registry.drain();
  }

  /** Every file each retained checkpoint references is in storage. */
  async assertRetainedFilesExist(label: string): Promise<void> {
    await this.store.registry.drain();
    const exists = await existenceCheck(this.storage);
    for (const c of this.store.all()) {
      for (const h of collectStreamHandles(c.metadata)) {
        assert.ok(await exists(h), `${label}: checkpoint ${c.checkpointId} references ${describe(h)}, which is not in storage`);
      }
    }
  }
}

function describe(h: StreamStateHandle): string {
  return h.type === 'file' ? h.path : `inline:${h.name}`;
}

/** Listing once is cheap for file system storage; other storage is asked per handle. */
async function existenceCheck(storage: CheckpointStorage): Promise<(h: StreamStateHandle) => Promise<boolean>> {
  if (storage instanceof FsCheckpointStorage) {
    const present = new Set((await storage.fs.list('')).map((f) => f.path));
    return async (h) => h.type !== 'file' || present.has(h.path);
  }
  return async (h) => {
    try {
      await storage.readFully(h);
      return true;
    } catch (e) {
      if (e instanceof StorageNotFoundError) return false;
      throw e;
    }
  };
}
