import {
  assert,
  CHECKPOINT,
  SAVEPOINT,
  serializeCheckpointMetadata,
  type CheckpointMetadata,
  type CheckpointOptions,
  type CheckpointStorage,
  type CheckpointStorageLocation,
  type CheckpointStreamFactory,
  type CompletedCheckpoint as StoredCheckpoint,
  type CompletedCheckpointStore,
  type FileSystem,
  type FlowstateError,
  type ResolvedCheckpointingOptions,
  type SubtaskStateMetadata,
} from '@flowstate/core';
import { checkNoClaimReferences, storeFor, unownedFilesOf, type RestoreMode } from '../claim.js';
import type { AcknowledgedHandles } from '../discard.js';
import { CheckpointFailedError, describe, TooManyFailedCheckpointsError } from '../errors.js';
import { CheckpointHistoryRecorder, historyFileSystemOf, type CheckpointEventListener } from '../history.js';
import { fallbackRestorePoint, type RestorePoint, type SkippedCheckpoint } from '../restore.js';
import { CheckpointDisposal } from './disposal.js';
import type {
  CheckpointAcknowledgement,
  CheckpointAttempt,
  CheckpointParticipant,
  CheckpointStats,
  CompletedCheckpoint,
  MetadataLayout,
  PendingCheckpoint,
  TriggerFlags,
} from './types.js';

/** Checkpoints an earlier run left in the job's checkpoint storage (see CompletedCheckpointStore.recover). */
export interface RecoveredCheckpoints {
  readonly complete: readonly StoredCheckpoint[];
  /** Incomplete ones with readable metadata: discarded once a new checkpoint completed. */
  readonly unusable: readonly StoredCheckpoint[];
}

export interface CheckpointCoordinatorParameters {
  readonly firstCheckpointId: number;
  /** What this run started from. */
  readonly initial: RestorePoint | undefined;
  readonly log: (line: string) => void;
  readonly recovered?: RecoveredCheckpoints;
  readonly restoreMode: RestoreMode;
  readonly listener?: CheckpointEventListener;
  /** Where the history goes: default the storage's file system, `false` for none. */
  readonly history?: FileSystem | false;
}

/**
 * Flink's CheckpointCoordinator, minus how snapshots are started: it holds the pending
 * checkpoints, collects acknowledgements, writes `_metadata` through the storage (which makes a
 * checkpoint complete), notifies the participants, retains and discards completed checkpoints
 * (claim modes included), deletes what failed checkpoints wrote, keeps the history, and fails the
 * attempt over when too many checkpoints fail in a row. The runtime starts snapshots with
 * barriers at its sources; the embedded coordinator snapshots registered backends itself.
 */
export abstract class CheckpointCoordinator<T extends CheckpointParticipant, A extends CheckpointAcknowledgement, V extends CheckpointAttempt<T> = CheckpointAttempt<T>> {
  /** Checkpoint statistics kept (newest). */
  static readonly STATS_HISTORY = 1000;
  protected readonly log: (line: string) => void;
  protected readonly store: CompletedCheckpointStore | undefined;
  private nextId: number;
  private readonly firstId: number;
  private readonly initial: RestorePoint | undefined;
  /** Retained checkpoints of earlier runs up to this id are ancestors of this run's state (see RestoreLineage). */
  private readonly ancestorsUpTo: number;
  private readonly pending = new Map<number, PendingCheckpoint<T, A, V>>();
  private readonly completed: Array<CompletedCheckpoint<A['stats']>> = [];
  private readonly allStats: Array<CheckpointStats<A['stats']>> = [];
  private latest: RestorePoint | undefined;
  private current: V | undefined;
  private periodic: NodeJS.Timeout | undefined;
  private lastCompletionAt = 0;
  private consecutiveFailures = 0;
  private readonly slotWaiters: Array<() => void> = [];
  private reserved = 0;
  private readonly background = new Set<Promise<void>>();
  private readonly skipped: SkippedCheckpoint[] = [];
  private stoppedAt: CompletedCheckpoint<A['stats']> | undefined;
  /** NO_CLAIM: checkpoints of this run that are complete but not owned, fallbacks of a failed restore. */
  private readonly unownedFallbacks: readonly StoredCheckpoint[];
  /** NO_CLAIM: files of the restored checkpoint, which no checkpoint of this run may reference. */
  private readonly protectedFiles: ReadonlySet<string>;
  /** Unless CLAIM: files of the restored checkpoint (and of those a restore fell back to), never deleted by this run. */
  private readonly unowned: Set<string>;
  private readonly claimMode: RestoreMode;
  /** The checkpoint this run restored (the initial one, or the one a failed restore fell back to). */
  private restoredId: number | undefined;
  private readonly disposal: CheckpointDisposal;
  private readonly history: CheckpointHistoryRecorder;

  protected constructor(
    /** undefined: checkpointing is off (only savepoints can be triggered). */
    readonly config: ResolvedCheckpointingOptions | undefined,
    private readonly storage: CheckpointStorage | undefined,
    params: CheckpointCoordinatorParameters,
  ) {
    const { initial, recovered, restoreMode } = params;
    assert(config === undefined || storage !== undefined, 'checkpointing needs a checkpoint storage');
    this.log = params.log;
    this.nextId = params.firstCheckpointId;
    this.firstId = params.firstCheckpointId;
    this.latest = initial;
    this.initial = initial;
    const claim = restoreMode === 'CLAIM';
    const unowned = new Set(unownedFilesOf(restoreMode, initial, storage));
    this.unowned = unowned;
    this.claimMode = restoreMode;
    this.restoredId = initial?.checkpointId;
    this.store = storage === undefined ? undefined : storeFor(storage, config?.retainedCheckpoints ?? 1, restoreMode, initial, unowned);
    if (recovered !== undefined && claim) this.store?.recover(recovered.complete, recovered.unusable);
    this.unownedFallbacks = claim ? [] : (recovered?.complete ?? []);
    this.protectedFiles = restoreMode === 'NO_CLAIM' ? unowned : new Set();
    this.disposal = new CheckpointDisposal(this.store, unowned, this.log);
    this.history = new CheckpointHistoryRecorder(historyFileSystemOf(storage, params.history), this.log, params.listener);
    const own = initial?.kind === 'CHECKPOINT' && recovered?.complete.some((c) => c.checkpointId === initial.checkpointId && c.pointer === initial.pointer);
    this.ancestorsUpTo = own ? initial.checkpointId : -1;
  }

  // ---- hooks ------------------------------------------------------------------------------------

  /** Starts the snapshots of a registered pending checkpoint; they end in acknowledge() or decline(). */
  protected abstract startSnapshots(p: PendingCheckpoint<T, A, V>): void;
  /** A pending checkpoint was aborted (before its participants and waiters are told). */
  protected onAborted(_p: PendingCheckpoint<T, A, V>): void {}
  /** Whether the periodic trigger may fire now (besides the concurrency and pause limits). */
  protected periodicTriggerAllowed(): boolean {
    return true;
  }

  // ---- restore side -------------------------------------------------------------------------------

  /** The state was restored from a checkpoint or savepoint (for the listener's restore timestamp). */
  restored(): void {
    this.history.restored(Date.now());
  }

  /** Checkpoints a restore skipped (incomplete, unreadable, or failed to restore), in order. */
  get skippedCheckpoints(): readonly SkippedCheckpoint[] {
    return this.skipped;
  }

  recordSkipped(s: SkippedCheckpoint): void {
    this.skipped.push(s);
    this.log(`skipped checkpoint ${s.checkpointId} (${s.pointer}): ${s.reason}: ${s.error.message}`);
  }

  /**
   * Restoring `point` failed because a file of it is missing or corrupt. A checkpoint this job
   * retains is dropped (discarded once a new checkpoint completed) and the next older checkpoint of
   * this run's lineage becomes the restore point (see fallbackRestorePoint). Without one, returns
   * undefined and changes nothing.
   */
  fallBack(point: RestorePoint, error: FlowstateError): RestorePoint | undefined {
    if (this.store === undefined) return undefined;
    const retained = [...this.unownedFallbacks, ...this.store.all()].sort((a, b) => a.checkpointId - b.checkpointId);
    const next = fallbackRestorePoint(point, { retained, reader: this.store.storage, firstId: this.firstId, ancestorsUpTo: this.ancestorsUpTo, initial: this.initial });
    if (next === undefined) return undefined;
    if (this.store.drop(point.checkpointId)) this.log(`checkpoint ${point.checkpointId} is no longer retained`);
    const i = this.completed.findIndex((c) => c.checkpointId === point.checkpointId);
    if (i >= 0) this.completed.splice(i, 1);
    this.recordSkipped({ checkpointId: point.checkpointId, pointer: point.pointer, reason: 'RESTORE_FAILED', error });
    // A checkpoint of an earlier run is not owned either (NO_CLAIM, LEGACY): from now on its files
    // are the restored ones, never deleted. One of this run's own stays owned (retention deletes it).
    const owned = this.store.all().some((c) => c.checkpointId === next.checkpointId);
    if (!owned) {
      for (const f of unownedFilesOf(this.claimMode, next, this.store.storage)) this.unowned.add(f);
      this.restoredId = next.checkpointId;
    }
    this.latest = next;
    return next;
  }

  get enabled(): boolean {
    return this.config !== undefined;
  }

  /** The restore point for a failover: the latest completed checkpoint, or what the job started from. */
  get latestRestorePoint(): RestorePoint | undefined {
    return this.latest;
  }

  /** Completed checkpoints of this run that are still retained, oldest first. */
  get completedCheckpoints(): ReadonlyArray<CompletedCheckpoint<A['stats']>> {
    return this.completed;
  }

  get stats(): ReadonlyArray<CheckpointStats<A['stats']>> {
    return this.allStats;
  }

  /** The completed stop-with-savepoint where the job ended, if any. */
  get stopSavepoint(): CompletedCheckpoint<A['stats']> | undefined {
    return this.stoppedAt;
  }

  /** The job did not end at the stop-with-savepoint after all (it failed while stopping). */
  forgetStopSavepoint(): void {
    this.stoppedAt = undefined;
  }

  // ---- attempts -----------------------------------------------------------------------------------

  /** The running attempt, if any. */
  protected get attempt(): V | undefined {
    return this.current;
  }

  /** True once `attempt` is running and can take checkpoint triggers. */
  enabledFor(attempt: V): boolean {
    return this.current === attempt;
  }

  startAttempt(attempt: V): void {
    this.current = attempt;
    this.schedulePeriodic();
  }

  /** The attempt ended (failed or finished): its pending checkpoints can never complete. */
  stopAttempt(attempt: V): void {
    if (this.current === attempt) this.current = undefined;
    if (this.periodic) clearTimeout(this.periodic);
    this.periodic = undefined;
    for (const p of [...this.pending.values()]) if (p.attempt === attempt) this.abort(p, new CheckpointFailedError(p.id, 'JOB_FAILOVER', 'the execution attempt ended'), false);
  }

  private schedulePeriodic(): void {
    const interval = this.config?.intervalMs;
    if (interval === undefined) return;
    this.periodic = setTimeout(() => {
      this.periodic = undefined;
      if (this.current === undefined) return;
      const sinceLast = Date.now() - this.lastCompletionAt;
      if (this.periodicTriggerAllowed() && this.pending.size < this.config!.maxConcurrentCheckpoints && sinceLast >= this.config!.minPauseBetweenCheckpointsMs) {
        this.trigger('CHECKPOINT', undefined, { final: false, stop: false }, this.layoutOf()).catch(() => {
          // Counted and logged by abort(); the periodic trigger just carries on.
        });
      }
      this.schedulePeriodic();
    }, interval);
    this.periodic.unref?.();
  }

  /** The `_metadata` layout of a checkpoint triggered now (periodic triggers ask for it). */
  protected abstract layoutOf(): MetadataLayout;

  // ---- triggering ---------------------------------------------------------------------------------

  /**
   * Triggers a checkpoint (or a savepoint into `savepointStorage`) and resolves when it completed.
   * Waits for a free slot: savepoints and unaligned checkpoints never run concurrently with others.
   */
  async trigger(kind: 'CHECKPOINT' | 'SAVEPOINT', savepointStorage: CheckpointStorage | undefined, flags: TriggerFlags, layout: MetadataLayout = this.layoutOf()): Promise<CompletedCheckpoint<A['stats']>> {
    const attempt = this.current;
    if (attempt === undefined) throw new CheckpointFailedError(this.nextId, 'TRIGGER_FAILED', 'the job is not running');
    const exclusive = kind === 'SAVEPOINT' || this.config?.mode === 'UNALIGNED';
    const max = exclusive ? 1 : (this.config?.maxConcurrentCheckpoints ?? 1);
    // `reserved` counts triggers between the slot check and pending.set (they await the storage):
    // without it two triggers could both see a free slot and run concurrently.
    while (this.pending.size + this.reserved >= max || (exclusive && this.pending.size + this.reserved > 0)) {
      await new Promise<void>((r) => this.slotWaiters.push(r));
      if (this.current !== attempt) throw new CheckpointFailedError(this.nextId, 'TRIGGER_FAILED', 'the execution attempt ended');
    }
    const storage = kind === 'SAVEPOINT' ? savepointStorage! : this.storage;
    if (storage === undefined) throw new CheckpointFailedError(this.nextId, 'TRIGGER_FAILED', 'checkpointing is not configured');
    this.reserved++;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.reserved--;
      this.wakeSlotWaiters();
    };
    try {
      return await this.triggerReserved({ kind, storage, attempt, flags, layout }, release);
    } finally {
      release();
    }
  }

  /** `release` gives the reserved slot back once the checkpoint counts as pending (or failed to start). */
  private async triggerReserved(
    t: { kind: 'CHECKPOINT' | 'SAVEPOINT'; storage: CheckpointStorage; attempt: V; flags: TriggerFlags; layout: MetadataLayout },
    release: () => void,
  ): Promise<CompletedCheckpoint<A['stats']>> {
    const id = this.nextId++;
    const timestamp = Date.now();
    const stats: CheckpointStats<A['stats']> = { checkpointId: id, kind: t.kind, status: 'IN_PROGRESS', triggerTimestamp: timestamp, durationMs: 0, failureReason: undefined, pointer: undefined, tasks: [] };
    this.allStats.push(stats);
    // A bounded history, as in Flink: a long-running job must not grow without limit.
    if (this.allStats.length > CheckpointCoordinator.STATS_HISTORY) this.allStats.splice(0, this.allStats.length - CheckpointCoordinator.STATS_HISTORY);
    let location: CheckpointStorageLocation;
    try {
      location = await t.storage.initializeLocationForCheckpoint(id);
    } catch (e) {
      stats.status = 'FAILED';
      stats.failureReason = `TRIGGER_FAILED: ${describe(e)}`;
      this.recordHistory(stats, []);
      // The trigger rejects with the failure it counts (typed, the storage error as its cause).
      const failure = new CheckpointFailedError(id, 'TRIGGER_FAILED', describe(e), { cause: e });
      this.countFailure(failure);
      throw failure;
    }
    if (this.current !== t.attempt) {
      await location.disposeOnFailure().catch(() => {});
      throw new CheckpointFailedError(id, 'TRIGGER_FAILED', 'the execution attempt ended');
    }
    const options: CheckpointOptions = t.kind === 'SAVEPOINT' ? SAVEPOINT : CHECKPOINT;
    let p!: PendingCheckpoint<T, A, V>;
    const done = new Promise<CompletedCheckpoint<A['stats']>>((resolve, reject) => {
      p = { id, kind: t.kind, timestamp, location, storage: t.storage, options, attempt: t.attempt, layout: t.layout, acks: new Map(), stats, flags: t.flags, waiters: [{ resolve, reject }], timer: undefined, finalizing: false, finalizeInFlight: false, metadata: undefined };
    });
    this.pending.set(id, p);
    const timeoutMs = this.config?.timeoutMs ?? 60_000;
    p.timer = setTimeout(() => this.abort(p, new CheckpointFailedError(id, 'EXPIRED', `not complete after ${timeoutMs} ms`)), timeoutMs);
    p.timer.unref?.();
    // Before any backend snapshots: no file it may reuse is deleted until the checkpoint registers or aborts.
    if (t.kind === 'CHECKPOINT') this.store?.checkpointTriggered(id);
    this.history.triggered(id);
    release();
    this.startSnapshots(p);
    // Nothing would acknowledge it: it fails at once instead of at its timeout. Not completed empty:
    // that would subsume (and under CLAIM delete) the restored checkpoint, whose state no subtask
    // has taken yet (Flink declines a trigger while not all its tasks run: NOT_ALL_REQUIRED_TASKS_RUNNING).
    if (p.attempt.tasks.length === 0 && this.pending.get(id) === p) this.abort(p, new CheckpointFailedError(id, 'TRIGGER_FAILED', 'no subtask is registered to take part in it'));
    return done;
  }

  // ---- acknowledgements ---------------------------------------------------------------------------

  /** Where a participant writes its snapshot of a pending checkpoint (undefined: not pending). */
  checkpointTarget(checkpointId: number): { streamFactory: CheckpointStreamFactory; options: CheckpointOptions } | undefined {
    const p = this.pending.get(checkpointId);
    return p === undefined ? undefined : { streamFactory: p.location.streamFactory, options: p.options };
  }

  acknowledge(task: T, checkpointId: number, ack: A): void {
    const p = this.pending.get(checkpointId);
    if (p === undefined || p.attempt.tasks.indexOf(task) < 0) {
      // Late (the checkpoint was aborted): its directory may already be disposed, so the files
      // this task wrote since would be left behind.
      if (this.disposal.wasAborted(checkpointId)) this.housekeep(this.disposal.discardLate(checkpointId, ack));
      return;
    }
    assert(!p.acks.has(task.name), `task ${task.name} acknowledged checkpoint ${checkpointId} twice`);
    p.acks.set(task.name, ack);
    p.stats.tasks.push(ack.stats);
    if (p.acks.size === p.attempt.tasks.length) {
      this.housekeep(
        this.complete(p).catch((e: unknown) => {
          // complete() handles storage failures itself; anything else is a broken invariant.
          if (this.current === p.attempt) p.attempt.fail(e);
        }),
      );
    }
  }

  /** Handles a participant wrote but will not acknowledge (e.g. a snapshot it superseded). */
  discardUnused(checkpointId: number, handles: AcknowledgedHandles): void {
    const p = this.pending.get(checkpointId);
    if (p !== undefined) this.housekeep(this.disposal.discardAck(p.storage, handles));
    else if (this.disposal.wasAborted(checkpointId)) this.housekeep(this.disposal.discardLate(checkpointId, handles));
  }

  decline(task: T, checkpointId: number, cause: unknown): void {
    const p = this.pending.get(checkpointId);
    if (p === undefined || p.attempt.tasks.indexOf(task) < 0) return;
    this.abort(p, new CheckpointFailedError(checkpointId, 'DECLINED', `task ${task.name}: ${describe(cause)}`, { cause }));
  }

  /** Cancels a pending checkpoint (e.g. its trigger's AbortSignal fired). */
  cancel(checkpointId: number, reason: string): void {
    const p = this.pending.get(checkpointId);
    if (p !== undefined) this.abort(p, new CheckpointFailedError(checkpointId, 'CANCELLED', reason));
  }

  // ---- completion ---------------------------------------------------------------------------------

  private metadataOf(p: PendingCheckpoint<T, A, V>): CheckpointMetadata {
    const byUid = new Map<string, SubtaskStateMetadata[]>();
    for (const ack of p.acks.values()) {
      const list = byUid.get(ack.uid) ?? [];
      list.push({
        subtaskIndex: ack.subtaskIndex,
        keyed: ack.keyed ? [ack.keyed] : [],
        operator: ack.operator ? [ack.operator] : [],
        ...(ack.channelState ? { channelState: [ack.channelState] } : {}),
        ...(ack.finished === true ? { finished: true } : {}),
      });
      byUid.set(ack.uid, list);
    }
    const operators = p.layout.operators.map((o) => ({ ...o, subtasks: (byUid.get(o.uid) ?? []).sort((a, b) => a.subtaskIndex - b.subtaskIndex) }));
    for (const op of operators) assert(op.subtasks.length === op.parallelism, `checkpoint ${p.id}: ${op.subtasks.length} acks for '${op.uid}' of parallelism ${op.parallelism}`);
    return { checkpointId: p.id, kind: p.kind, timestamp: p.timestamp, operators, properties: { ...p.layout.properties } };
  }

  private async complete(p: PendingCheckpoint<T, A, V>): Promise<void> {
    if (p.finalizing) return;
    p.finalizing = true;
    const metadata = this.metadataOf(p);
    if (p.kind === 'CHECKPOINT' && !this.registerShared(p, metadata)) return;
    const pointer = await this.finalize(p, metadata);
    if (pointer === undefined) return;
    this.pending.delete(p.id);
    if (p.timer) clearTimeout(p.timer);
    this.wakeSlotWaiters();
    p.stats.status = 'COMPLETED';
    p.stats.durationMs = Date.now() - p.timestamp;
    p.stats.pointer = pointer;
    this.recordHistory(p.stats, [...p.acks.values()]);
    this.lastCompletionAt = Date.now();
    this.consecutiveFailures = 0;
    const completed: CompletedCheckpoint<A['stats']> = { checkpointId: p.id, kind: p.kind, pointer, metadata, reader: p.storage, stats: p.stats };
    if (p.kind === 'CHECKPOINT') {
      this.latest = completed;
      this.completed.push(completed);
      // Older pending checkpoints are subsumed: a newer complete one makes them useless.
      for (const q of [...this.pending.values()]) if (q.id < p.id && q.kind === 'CHECKPOINT') this.abort(q, new CheckpointFailedError(q.id, 'SUBSUMED', `checkpoint ${p.id} completed first`), false);
    } else if (p.flags.stop) {
      // A stop-with-savepoint is where the job ends: the next run starts from it.
      this.latest = completed;
      this.stoppedAt = completed;
    }
    // Savepoints have no side effects (as in Flink 1.15+), except the one that stops the job.
    let notifyFailure: { error: unknown } | undefined;
    if (p.kind === 'CHECKPOINT' || p.flags.stop) {
      for (const t of p.attempt.tasks) {
        // Every participant is told, also after one failed (the first failure is the one rethrown).
        const failure = this.notify(t, 'completed', p.id, () => t.notifyCheckpointComplete(p.id, p.flags.final || p.flags.stop));
        notifyFailure ??= failure;
      }
    }
    for (const w of p.waiters) w.resolve(completed);
    // Discarding subsumed checkpoints is housekeeping: it must not delay the sinks' commits.
    if (p.kind === 'CHECKPOINT') await this.retain(completed);
    // The checkpoint is complete and retained all the same; the participant's failure fails the attempt.
    if (notifyFailure !== undefined) throw notifyFailure.error;
  }

  /** Tells a participant about a checkpoint; a participant that throws is logged, and its error returned. */
  private notify(t: T, what: string, checkpointId: number, call: () => void): { error: unknown } | undefined {
    try {
      call();
      return undefined;
    } catch (error) {
      this.log(`${t.name} failed when told that checkpoint ${checkpointId} ${what}: ${describe(error)}`);
      return { error };
    }
  }

  /**
   * As Flink does on acknowledgement: from now on the registry keeps what this checkpoint uses; a
   * reused file that was already discarded declines it (FLINK-29913) instead of completing it.
   * NO_CLAIM: a checkpoint must not reference the restored checkpoint's files.
   */
  private registerShared(p: PendingCheckpoint<T, A, V>, metadata: CheckpointMetadata): boolean {
    if (this.store === undefined) return true;
    try {
      checkNoClaimReferences(p.id, metadata, this.protectedFiles, this.restoredId);
      this.store.registerPending(p.id, metadata);
      return true;
    } catch (e) {
      this.abort(p, new CheckpointFailedError(p.id, 'DECLINED', describe(e), { cause: e }));
      return false;
    }
  }

  /** Writes `_metadata`; the pointer, or undefined when the checkpoint was aborted meanwhile (cleaned up here). */
  private async finalize(p: PendingCheckpoint<T, A, V>, metadata: CheckpointMetadata): Promise<string | undefined> {
    p.metadata = metadata;
    p.finalizeInFlight = true;
    let pointer: string;
    try {
      pointer = (await p.location.finalizeCheckpoint(serializeCheckpointMetadata(metadata))).pointer;
    } catch (e) {
      p.finalizeInFlight = false;
      // `_metadata` may have reached storage although the call failed (its response was lost).
      if (this.pending.get(p.id) === p) this.abort(p, new CheckpointFailedError(p.id, 'FINALIZE_FAILED', describe(e), { cause: e }));
      else await this.disposeFinalized(p).catch((e2: unknown) => this.log(`could not delete aborted checkpoint ${p.id}: ${describe(e2)}`));
      return undefined;
    }
    p.finalizeInFlight = false;
    if (this.pending.get(p.id) !== p) {
      // Aborted (expired, failover) while `_metadata` was written: the files are complete on storage,
      // but nobody was told; treat it as failed and delete it so it cannot be mistaken for a restore point.
      await this.disposeFinalized(p).catch((e: unknown) => this.log(`could not delete aborted checkpoint ${p.id}: ${describe(e)}`));
      return undefined;
    }
    return pointer;
  }

  private async retain(completed: CompletedCheckpoint<A['stats']>): Promise<void> {
    const keep = this.config?.retainedCheckpoints ?? 1;
    while (this.completed.length > keep) this.completed.shift();
    try {
      await this.store!.add({ checkpointId: completed.checkpointId, pointer: completed.pointer, metadata: completed.metadata });
    } catch (e) {
      this.log(`could not discard subsumed checkpoints: ${describe(e)}`);
    }
    await this.disposal.retryFailed();
  }

  // ---- failure ------------------------------------------------------------------------------------

  private abort(p: PendingCheckpoint<T, A, V>, error: CheckpointFailedError, counts = true): void {
    if (this.pending.get(p.id) !== p) return;
    this.pending.delete(p.id);
    if (p.timer) clearTimeout(p.timer);
    p.stats.status = 'FAILED';
    p.stats.durationMs = Date.now() - p.timestamp;
    p.stats.failureReason = error.message;
    this.recordHistory(p.stats, [...p.acks.values()]);
    // While `_metadata` is being written, complete() cleans up once the write settled. Once it may
    // exist, the store adopts the checkpoint (see disposeFinalized); before, the registry forgets the
    // checkpoint's own shared files, so that they count as unregistered and are deleted after its location.
    if (!p.finalizeInFlight) {
      if (p.metadata !== undefined) this.housekeep(this.disposeFinalized(p));
      else {
        if (p.kind === 'CHECKPOINT') this.store?.checkpointAborted(p.id);
        this.housekeep(this.disposal.disposeAborted({ checkpointId: p.id, storage: p.storage, location: p.location, acks: [...p.acks.values()] }));
      }
    }
    this.disposal.rememberAborted(p.id, p.storage, p.location);
    this.onAborted(p);
    for (const t of p.attempt.tasks) this.notify(t, 'was aborted', p.id, () => t.notifyCheckpointAborted(p.id));
    for (const w of p.waiters) w.reject(error);
    this.wakeSlotWaiters();
    if (counts) this.countFailure(error);
  }

  /**
   * An aborted checkpoint whose `_metadata` may exist (finalizing failed, or succeeded too late).
   * If deleting that metadata fails, the checkpoint is complete on storage and must keep every
   * file it references. So the store adopts it: the registry holds its shared files until the
   * store has discarded it (metadata first), retried with every later completion.
   */
  private async disposeFinalized(p: PendingCheckpoint<T, A, V>): Promise<void> {
    if (p.kind !== 'CHECKPOINT' || this.store === undefined || p.metadata === undefined) {
      return this.disposal.disposeAborted({ checkpointId: p.id, storage: p.storage, location: p.location, acks: [...p.acks.values()] });
    }
    this.store.adopt({ checkpointId: p.id, pointer: p.location.pointer, metadata: p.metadata });
    await this.store.retryDiscards();
  }

  private countFailure(error: CheckpointFailedError): void {
    this.consecutiveFailures++;
    this.log(`checkpoint ${error.checkpointId} failed: ${error.message}`);
    const tolerable = this.config?.tolerableFailedCheckpoints ?? 0;
    if (this.consecutiveFailures > tolerable && this.current !== undefined) {
      const n = this.consecutiveFailures;
      this.consecutiveFailures = 0;
      this.current.fail(new TooManyFailedCheckpointsError(n, tolerable, { cause: error }));
    }
  }

  // ---- housekeeping -------------------------------------------------------------------------------

  /** The persisted history (docs/formats.md): written in the background, never delays a checkpoint. */
  private recordHistory(stats: CheckpointStats<A['stats']>, acks: readonly A[]): void {
    const subtasks = acks.map((a) => ({
      operatorUid: a.uid,
      subtaskIndex: a.subtaskIndex,
      syncDurationMs: a.stats.syncDurationMs,
      asyncDurationMs: a.stats.asyncDurationMs,
      alignmentDurationMs: a.stats.alignmentDurationMs,
      checkpointedSize: a.stats.checkpointedSize,
      fullSize: a.stats.fullSize,
    }));
    const status = stats.status === 'COMPLETED' ? 'COMPLETED' : 'FAILED';
    const base = { checkpointId: stats.checkpointId, kind: stats.kind, status, triggerTimestamp: stats.triggerTimestamp, durationMs: stats.durationMs, pointer: stats.pointer, failureCause: stats.failureReason } as const;
    this.housekeep(this.history.record(base, subtasks));
  }

  private wakeSlotWaiters(): void {
    for (const w of this.slotWaiters.splice(0)) w();
  }

  /** Tracks background storage work (finalizing, disposal, deletion) so that a job ends only after it. */
  protected housekeep(work: Promise<unknown>): void {
    const w = work.then(
      () => {},
      (e: unknown) => this.log(`checkpoint housekeeping failed: ${describe(e)}`),
    );
    this.background.add(w);
    void w.finally(() => this.background.delete(w));
  }

  /** Settles when no finalization, disposal, deletion or history write runs any more. */
  async drainBackground(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
    // Once more at the end of an attempt: after the last checkpoint there is no next completion.
    await this.disposal.retryFailed();
    await this.store?.retryDiscards().catch((e: unknown) => this.log(`could not discard checkpoints (will retry): ${describe(e)}`));
    await this.store?.registry.drain();
  }

  /** Wakes triggers that wait for a slot, so they notice that their attempt ended. */
  releaseWaiters(): void {
    this.wakeSlotWaiters();
  }
}
