import {
  CHECKPOINT,
  highestScannedCheckpointId,
  IllegalStateUsageError,
  SAVEPOINT,
  serializeCheckpointMetadata,
  type CheckpointHistorySubtask,
  type CheckpointMetadata,
  type CheckpointStorage,
  type CheckpointStorageLocation,
  type CompletedCheckpointStore,
  type FileSystem,
  type KeyedStateBackend,
  type KeyedStateHandle,
  type OperatorStateBackend,
  type OperatorStateHandle,
  type SnapshotFuture,
  type SnapshotResult,
  type SubtaskStateMetadata,
} from '@flowstate/core';
import { checkNoClaimReferences, filesOf, ownedCheckpoints, storeFor, type RestoreMode } from './claim.js';
import { discardExclusiveFiles, discardUnregisteredShared, type AcknowledgedHandles } from './discard.js';
import { CheckpointFailedError, describe } from './errors.js';
import { diagnosticsLog } from './log.js';
import { CheckpointHistoryRecorder, historyFileSystemOf, type CheckpointEventListener } from './history.js';
import { corruptionIn, fallbackRestorePoint, type RestoreLineage, type RestorePoint, type SkippedCheckpoint } from './restore.js';

export interface EmbeddedCoordinatorOptions {
  /** The job's checkpoint storage; checkpoints of earlier runs in it are restore candidates. */
  readonly storage: CheckpointStorage;
  /** Completed checkpoints kept (default 1). */
  readonly retainedCheckpoints?: number;
  /** Who owns the restored checkpoint (default NO_CLAIM, as in Flink). */
  readonly restoreMode?: RestoreMode;
  /** A checkpoint not complete after this long is cancelled (default 10 minutes, as Flink). */
  readonly timeoutMs?: number;
  /** Where the history goes: default the storage's file system (FsCheckpointStorage), `false` for none. */
  readonly history?: FileSystem | false;
  /** Told about every checkpoint and restore (e.g. @flowstate/metrics' CheckpointMetrics). */
  readonly listener?: CheckpointEventListener;
  readonly log?: (line: string) => void;
}

/** One subtask's state backends, registered with the coordinator. */
export interface SubtaskBackends {
  readonly uid: string;
  readonly subtaskIndex: number;
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly keyed?: KeyedStateBackend<unknown>;
  readonly operator?: OperatorStateBackend;
}

export interface CompletedCheckpointInfo {
  readonly checkpointId: number;
  readonly kind: 'CHECKPOINT' | 'SAVEPOINT';
  readonly pointer: string;
  readonly metadata: CheckpointMetadata;
}

export interface TriggerOptions {
  readonly signal?: AbortSignal;
  /** A canonical savepoint into this storage instead of a checkpoint (no side effects, not retained). */
  readonly savepointStorage?: CheckpointStorage;
}

interface Ack extends AcknowledgedHandles {
  readonly stats: CheckpointHistorySubtask;
}

/**
 * The checkpoint coordinator an engine embeds (no runtime, no barriers): it snapshots every
 * registered keyed and operator backend of every subtask at once, writes `_metadata`, retains the
 * newest checkpoints (deleting subsumed ones and the shared files nothing references any more),
 * notifies the backends, persists the history, and restores the latest checkpoint, falling back
 * to older ones when a file of it is missing or corrupt. The engine calls triggerCheckpoint at a
 * point where its state is consistent (between two records of its event loop).
 */
export class EmbeddedCheckpointCoordinator {
  private readonly subtasks = new Map<string, SubtaskBackends>();
  private readonly store: CompletedCheckpointStore;
  private readonly history: CheckpointHistoryRecorder;
  private readonly log: (line: string) => void;
  /** NO_CLAIM: files of the restored checkpoint, which no checkpoint of this run may reference. */
  private readonly protectedFiles: ReadonlySet<string>;
  /** Files of a restored checkpoint this run does not own: never deleted, whatever references them. */
  private readonly unowned: ReadonlySet<string>;
  private readonly skipped: SkippedCheckpoint[] = [];
  private nextId: number;
  private queue: Promise<unknown> = Promise.resolve();
  private point: RestorePoint | undefined;

  private constructor(
    readonly options: EmbeddedCoordinatorOptions,
    private readonly lineage: RestoreLineage,
    skipped: readonly SkippedCheckpoint[],
  ) {
    this.log = options.log ?? diagnosticsLog('embedded-coordinator');
    this.point = lineage.initial;
    this.nextId = lineage.firstId;
    this.store = storeFor(options.storage, options.retainedCheckpoints ?? 1, this.restoreMode, lineage.initial);
    this.unowned = this.restoreMode !== 'CLAIM' ? filesOf(lineage.initial) : new Set();
    this.protectedFiles = this.restoreMode === 'NO_CLAIM' ? this.unowned : new Set();
    this.history = new CheckpointHistoryRecorder(historyFileSystemOf(options.storage, options.history), this.log, options.listener);
    for (const s of skipped) this.recordSkipped(s);
  }

  /** Scans the storage: the newest complete checkpoint becomes the restore point, ownership as `restoreMode` says. */
  static async open(options: EmbeddedCoordinatorOptions): Promise<EmbeddedCheckpointCoordinator> {
    const storage = options.storage;
    const scan = await storage.scanCheckpoints();
    const latest = scan.complete.at(-1);
    const initial: RestorePoint | undefined = latest && { checkpointId: latest.checkpointId, kind: latest.metadata.kind, pointer: latest.pointer, metadata: latest.metadata, reader: storage };
    const lineage: RestoreLineage = { retained: scan.complete, reader: storage, firstId: (highestScannedCheckpointId(scan) ?? 0) + 1, ancestorsUpTo: initial?.checkpointId ?? -1, initial };
    const skipped = scan.incomplete.map((c) => ({ checkpointId: c.checkpointId, pointer: c.pointer, reason: c.reason === 'MISSING_FILES' ? ('INCOMPLETE' as const) : ('UNREADABLE_METADATA' as const), error: c.error }));
    const coordinator = new EmbeddedCheckpointCoordinator(options, lineage, skipped);
    const owned = ownedCheckpoints(coordinator.restoreMode, scan);
    if (coordinator.restoreMode === 'CLAIM') coordinator.store.recover(owned.complete, owned.unusable);
    return coordinator;
  }

  get restoreMode(): RestoreMode {
    return this.options.restoreMode ?? 'NO_CLAIM';
  }

  /** The checkpoint the next restore() starts from (undefined: none, start empty). */
  get restorePoint(): RestorePoint | undefined {
    return this.point;
  }

  get skippedCheckpoints(): readonly SkippedCheckpoint[] {
    return this.skipped;
  }

  /** Checkpoints retained (owned) by this coordinator, oldest first. */
  get retainedCheckpoints(): readonly CompletedCheckpointInfo[] {
    return this.store.all().map((c) => ({ checkpointId: c.checkpointId, kind: c.metadata.kind, pointer: c.pointer, metadata: c.metadata }));
  }

  private recordSkipped(s: SkippedCheckpoint): void {
    this.skipped.push(s);
    this.log(`skipped checkpoint ${s.checkpointId} (${s.pointer}): ${s.reason}: ${s.error.message}`);
  }

  /**
   * Builds the engine's state from the restore point (`build` creates and registers the backends,
   * see subtaskRestoreState). When it fails because a file is missing or corrupt, the checkpoint is
   * skipped and `build` runs again from the next older one; without one the error propagates.
   * `build` must release what it created before it throws.
   */
  async restore<T>(build: (point: RestorePoint | undefined, signal: AbortSignal) => Promise<T>, options: { signal?: AbortSignal } = {}): Promise<T> {
    const signal = options.signal ?? new AbortController().signal;
    for (;;) {
      signal.throwIfAborted();
      const point = this.point;
      try {
        const built = await build(point, signal);
        if (point !== undefined) this.history.restored(Date.now());
        return built;
      } catch (e) {
        const corruption = point === undefined ? undefined : corruptionIn(e);
        const next = corruption && fallbackRestorePoint(point!, this.lineage);
        if (!next) throw e;
        if (this.store.drop(point!.checkpointId)) this.log(`checkpoint ${point!.checkpointId} is no longer retained`);
        this.recordSkipped({ checkpointId: point!.checkpointId, pointer: point!.pointer, reason: 'RESTORE_FAILED', error: corruption! });
        this.subtasks.clear();
        this.point = next;
      }
    }
  }

  /** Registers a subtask's backends; returns the function that unregisters them. */
  register(backends: SubtaskBackends): () => void {
    const key = `${backends.uid}#${backends.subtaskIndex}`;
    if (this.subtasks.has(key)) throw new IllegalStateUsageError(undefined, `subtask ${key} is already registered`);
    this.subtasks.set(key, backends);
    return () => {
      if (this.subtasks.get(key) === backends) this.subtasks.delete(key);
    };
  }

  /** Checkpoints (or, with `savepointStorage`, savepoints) every registered backend; one at a time. */
  triggerCheckpoint(options: TriggerOptions = {}): Promise<CompletedCheckpointInfo> {
    const run = this.queue.then(() => this.runCheckpoint(options));
    this.queue = run.catch(() => {});
    return run;
  }

  private async runCheckpoint(options: TriggerOptions): Promise<CompletedCheckpointInfo> {
    const savepoint = options.savepointStorage !== undefined;
    const storage = options.savepointStorage ?? this.options.storage;
    const id = this.nextId++;
    const timestamp = Date.now();
    const signal = AbortSignal.any([options.signal ?? new AbortController().signal, AbortSignal.timeout(this.options.timeoutMs ?? 600_000)]);
    const subtasks = [...this.subtasks.values()];
    const acks: Ack[] = [];
    let location: CheckpointStorageLocation | undefined;
    this.history.triggered(id);
    try {
      signal.throwIfAborted();
      location = await storage.initializeLocationForCheckpoint(id);
      if (!savepoint) this.store.checkpointTriggered(id);
      await this.snapshotAll(subtasks, id, timestamp, location, savepoint, signal, acks);
      const metadata = this.metadataOf(id, savepoint, timestamp, subtasks, acks);
      if (!savepoint) this.registerShared(id, metadata);
      signal.throwIfAborted();
      const done = await location.finalizeCheckpoint(serializeCheckpointMetadata(metadata));
      const completed: CompletedCheckpointInfo = { checkpointId: id, kind: metadata.kind, pointer: done.pointer, metadata };
      if (!savepoint) await this.completed(completed, subtasks);
      await this.writeHistory(completed.kind, 'COMPLETED', id, timestamp, acks, done.pointer, undefined);
      return completed;
    } catch (e) {
      const error = e instanceof CheckpointFailedError ? e : new CheckpointFailedError(id, signal.aborted ? 'CANCELLED' : 'DECLINED', describe(signal.aborted ? signal.reason : e), { cause: e });
      await this.failed(id, savepoint, storage, location, acks, subtasks);
      await this.writeHistory(savepoint ? 'SAVEPOINT' : 'CHECKPOINT', 'FAILED', id, timestamp, acks, undefined, error.message);
      this.log(error.message);
      throw error;
    }
  }

  /** Starts every snapshot (synchronous parts first, so that they see the same state), then awaits the uploads. */
  /** Fills `acks` in the order of `subtasks`; when one fails, the others' acknowledgements are still there to be discarded. */
  private async snapshotAll(subtasks: readonly SubtaskBackends[], id: number, timestamp: number, location: CheckpointStorageLocation, savepoint: boolean, signal: AbortSignal, acks: Ack[]): Promise<void> {
    const options = savepoint ? SAVEPOINT : CHECKPOINT;
    const started = subtasks.map((s) => ({
      s,
      keyed: s.keyed?.snapshot(id, timestamp, location.streamFactory, options),
      operator: s.operator?.snapshot(id, timestamp, location.streamFactory, options),
      t0: performance.now(),
    }));
    const futures: Array<SnapshotFuture<unknown>> = started.flatMap((x) => [x.keyed, x.operator].filter((f) => f !== undefined));
    const cancel = () => futures.forEach((f) => f.cancel());
    signal.addEventListener('abort', cancel, { once: true });
    try {
      const settled = await Promise.allSettled(started.map(async (x) => this.ackOf(x.s, x.t0, await x.keyed?.result, await x.operator?.result, (x.keyed?.syncDurationMs ?? 0) + (x.operator?.syncDurationMs ?? 0))));
      acks.push(...settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])));
      // A failed snapshot deletes its own files; the caller deletes the others'.
      const failure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failure !== undefined) throw failure.reason;
    } finally {
      signal.removeEventListener('abort', cancel);
    }
  }

  private ackOf(s: SubtaskBackends, t0: number, keyed: SnapshotResult<KeyedStateHandle> | undefined, operator: SnapshotResult<OperatorStateHandle> | undefined, syncMs: number): Ack {
    const k = keyed?.jobManagerOwnedSnapshot ?? null;
    const o = operator?.jobManagerOwnedSnapshot ?? null;
    const checkpointedSize = (keyed?.checkpointedSize ?? 0) + (operator?.checkpointedSize ?? 0);
    const fullSize = (keyed?.fullSize ?? 0) + (operator?.fullSize ?? 0);
    const stats = { operatorUid: s.uid, subtaskIndex: s.subtaskIndex, syncDurationMs: syncMs, asyncDurationMs: performance.now() - t0, alignmentDurationMs: 0, checkpointedSize, fullSize };
    return { keyed: k, operator: o, channelState: null, stats };
  }

  private metadataOf(id: number, savepoint: boolean, timestamp: number, subtasks: readonly SubtaskBackends[], acks: readonly Ack[]): CheckpointMetadata {
    const byUid = new Map<string, { parallelism: number; maxParallelism: number; subtasks: SubtaskStateMetadata[] }>();
    subtasks.forEach((s, i) => {
      const op = byUid.get(s.uid) ?? { parallelism: s.parallelism, maxParallelism: s.maxParallelism, subtasks: [] };
      if (op.parallelism !== s.parallelism || op.maxParallelism !== s.maxParallelism) throw new IllegalStateUsageError(undefined, `operator '${s.uid}': subtasks registered with different parallelism`);
      const a = acks[i]!;
      op.subtasks.push({ subtaskIndex: s.subtaskIndex, keyed: a.keyed ? [a.keyed] : [], operator: a.operator ? [a.operator] : [] });
      byUid.set(s.uid, op);
    });
    for (const [uid, op] of byUid) {
      if (op.subtasks.length !== op.parallelism) throw new IllegalStateUsageError(undefined, `operator '${uid}' has ${op.subtasks.length} registered subtasks, its parallelism is ${op.parallelism}`);
    }
    const operators = [...byUid].map(([uid, op]) => ({ uid, parallelism: op.parallelism, maxParallelism: op.maxParallelism, subtasks: op.subtasks.sort((a, b) => a.subtaskIndex - b.subtaskIndex) }));
    return { checkpointId: id, kind: savepoint ? 'SAVEPOINT' : 'CHECKPOINT', timestamp, operators, properties: { coordinator: 'embedded', restoreMode: this.restoreMode } };
  }

  /** Registers the checkpoint's shared files; in NO_CLAIM mode it must not reference the restored checkpoint's. */
  private registerShared(id: number, metadata: CheckpointMetadata): void {
    checkNoClaimReferences(id, metadata, this.protectedFiles, this.lineage.initial?.checkpointId);
    this.store.registerPending(id, metadata);
  }

  private async completed(c: CompletedCheckpointInfo, subtasks: readonly SubtaskBackends[]): Promise<void> {
    this.point = { ...c, reader: this.options.storage };
    for (const s of subtasks) {
      s.keyed?.notifyCheckpointComplete(c.checkpointId);
      s.operator?.notifyCheckpointComplete(c.checkpointId);
    }
    try {
      await this.store.add({ checkpointId: c.checkpointId, pointer: c.pointer, metadata: c.metadata });
      // Shared files are deleted asynchronously: once the trigger resolved, storage holds what retention says.
      await this.store.registry.drain();
    } catch (e) {
      // Subsumed checkpoints are deleted again with the next completion; this one is complete.
      this.log(`could not discard subsumed checkpoints: ${describe(e)}`);
    }
  }

  private async failed(id: number, savepoint: boolean, storage: CheckpointStorage, location: CheckpointStorageLocation | undefined, acks: readonly Ack[], subtasks: readonly SubtaskBackends[]): Promise<void> {
    if (!savepoint) this.store.checkpointAborted(id);
    for (const s of subtasks) {
      s.keyed?.notifyCheckpointAborted(id);
      s.operator?.notifyCheckpointAborted(id);
    }
    try {
      // `_metadata` first (it may exist when finalizing failed late), then the files.
      await location?.disposeOnFailure();
      for (const a of acks) {
        await discardExclusiveFiles(storage, a);
        await discardUnregisteredShared(storage, a, savepoint ? undefined : this.store.registry, this.unowned);
      }
    } catch (e) {
      this.log(`could not delete failed checkpoint ${id} (collectGarbage reclaims it): ${describe(e)}`);
    }
  }

  private async writeHistory(kind: 'CHECKPOINT' | 'SAVEPOINT', status: 'COMPLETED' | 'FAILED', id: number, timestamp: number, acks: readonly Ack[], pointer: string | undefined, failureCause: string | undefined): Promise<void> {
    await this.history.record({ checkpointId: id, kind, status, triggerTimestamp: timestamp, durationMs: Date.now() - timestamp, pointer, failureCause }, acks.map((a) => a.stats));
  }

  /** Waits for the queued checkpoints and for deletions of subsumed files. */
  async close(): Promise<void> {
    await this.queue;
    await this.store.retryDiscards().catch((e: unknown) => this.log(`could not discard checkpoints: ${describe(e)}`));
  }
}
