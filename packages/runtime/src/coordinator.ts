import {
  assert,
  CompletedCheckpointStore,
  CHECKPOINT,
  SAVEPOINT,
  serializeCheckpointMetadata,
  type CheckpointMetadata,
  type CheckpointOptions,
  type CompletedCheckpoint as StoredCheckpoint,
  type FlowstateError,
  type CheckpointStorage,
  type CheckpointStorageLocation,
  type CheckpointStreamFactory,
  type ResolvedCheckpointingOptions,
  type StateHandleReader,
  type SubtaskStateMetadata,
} from '@flowstate/core';
import {
  CheckpointFailedError,
  CheckpointHistoryRecorder,
  type CheckpointEventListener,
  checkNoClaimReferences,
  discardExclusiveFiles,
  discardUnregisteredShared,
  fallbackRestorePoint,
  filesOf,
  historyFileSystemOf,
  storeFor,
  type RestoreMode,
  type RestorePoint,
  type SkippedCheckpoint,
} from '@flowstate/coordinator';
import { describe, TooManyFailedCheckpointsError } from './errors.js';
import type { JobGraph } from './graph.js';
import type { CheckpointStats } from './stats.js';
import type { CheckpointingMode, Task, TaskAck } from './task.js';

export interface CheckpointConfig {
  /** EXACTLY_ONCE (aligned barriers, the default), AT_LEAST_ONCE (no alignment) or UNALIGNED. */
  readonly mode?: CheckpointingMode;
  /** Periodic trigger; without it checkpoints are only triggered by hand (and the final one). */
  readonly intervalMs?: number;
  /** A checkpoint not complete after this long is expired (aborted). */
  readonly timeoutMs?: number;
  readonly maxConcurrentCheckpoints?: number;
  /** Minimum time from the completion of one checkpoint to the trigger of the next. */
  readonly minPauseBetweenCheckpointsMs?: number;
  /** Consecutive failed checkpoints tolerated before the job fails over. */
  readonly tolerableFailedCheckpoints?: number;
  /** Completed checkpoints kept; older ones are discarded as they are subsumed. */
  readonly retainedCheckpoints?: number;
  /** EXACTLY_ONCE only: an alignment that takes longer than this (since the trigger) switches to unaligned. */
  readonly alignedCheckpointTimeoutMs?: number;
}

export type ResolvedCheckpointConfig = ResolvedCheckpointingOptions;

export function resolveCheckpointConfig(c: CheckpointConfig): ResolvedCheckpointConfig {
  const mode = c.mode ?? 'EXACTLY_ONCE';
  const r: ResolvedCheckpointConfig = {
    mode,
    intervalMs: c.intervalMs,
    timeoutMs: c.timeoutMs ?? 60_000,
    // Unaligned checkpoints persist in-flight data per checkpoint; Flink runs them one at a time.
    maxConcurrentCheckpoints: mode === 'UNALIGNED' ? 1 : (c.maxConcurrentCheckpoints ?? 1),
    minPauseBetweenCheckpointsMs: c.minPauseBetweenCheckpointsMs ?? 0,
    tolerableFailedCheckpoints: c.tolerableFailedCheckpoints ?? 0,
    retainedCheckpoints: c.retainedCheckpoints ?? 1,
    alignedCheckpointTimeoutMs: mode === 'EXACTLY_ONCE' ? c.alignedCheckpointTimeoutMs : undefined,
  };
  assert(r.timeoutMs > 0 && r.maxConcurrentCheckpoints >= 1 && r.retainedCheckpoints >= 1 && r.tolerableFailedCheckpoints >= 0, 'checkpoint configuration is in range');
  return r;
}

export type { RestorePoint, SkippedCheckpoint } from '@flowstate/coordinator';

export interface CompletedCheckpoint extends RestorePoint {
  readonly stats: CheckpointStats;
}


/** Checkpoints an earlier run left in the job's checkpoint storage (see CompletedCheckpointStore.recover). */
export interface RecoveredCheckpoints {
  readonly complete: readonly StoredCheckpoint[];
  /** Incomplete ones with readable metadata: discarded once a new checkpoint completed. */
  readonly unusable: readonly StoredCheckpoint[];
}

/** What an aborted checkpoint left: its location and the acknowledgements (their shared files). */
interface AbortedDisposal {
  readonly checkpointId: number;
  readonly storage: CheckpointStorage;
  readonly location: CheckpointStorageLocation;
  readonly acks: readonly object[];
}

/** What the coordinator needs of a running execution attempt. */
export interface AttemptView {
  readonly attempt: number;
  readonly tasks: readonly Task[];
  readonly sources: readonly Task[];
  fail(cause: unknown): void;
}

interface Pending {
  readonly id: number;
  readonly kind: 'CHECKPOINT' | 'SAVEPOINT';
  readonly timestamp: number;
  readonly location: CheckpointStorageLocation;
  readonly storage: CheckpointStorage;
  readonly options: CheckpointOptions;
  readonly attempt: AttemptView;
  readonly acks: Map<string, TaskAck>;
  readonly stats: CheckpointStats;
  readonly final: boolean;
  readonly stop: boolean;
  readonly waiters: Array<{ resolve: (c: CompletedCheckpoint) => void; reject: (e: unknown) => void }>;
  timer: NodeJS.Timeout | undefined;
  finalizing: boolean;
  /** While `_metadata` is being written: an abort leaves the cleanup to complete(). */
  finalizeInFlight: boolean;
  /** Set once `_metadata` was (possibly) written: from then on the checkpoint may look complete. */
  metadata: CheckpointMetadata | undefined;
}

/**
 * Flink's CheckpointCoordinator: triggers barriers at the sources, collects acknowledgements,
 * writes `_metadata` through the storage (which makes the checkpoint complete), notifies the
 * tasks, retains and discards completed checkpoints, and fails the job over when too many
 * checkpoints fail in a row.
 */
export class CheckpointCoordinator {
  /** Checkpoint statistics kept (newest). */
  static readonly STATS_HISTORY = 1000;
  private nextId: number;
  /** The first checkpoint id of this run. */
  private readonly firstId: number;
  private readonly initial: RestorePoint | undefined;
  /**
   * Retained checkpoints of earlier runs up to this id are ancestors of this run's state (it
   * restored one of them); -1 when it started empty or from elsewhere (a savepoint).
   */
  private readonly ancestorsUpTo: number;
  private readonly pending = new Map<number, Pending>();
  private readonly completed: CompletedCheckpoint[] = [];
  private readonly allStats: CheckpointStats[] = [];
  private latest: RestorePoint | undefined;
  private attempt: AttemptView | undefined;
  private periodic: NodeJS.Timeout | undefined;
  private lastCompletionAt = 0;
  private consecutiveFailures = 0;
  private finishedTasks = new Set<Task>();
  private finalTriggered = false;
  private readonly slotWaiters: Array<() => void> = [];
  private reserved = 0;
  /** Storage of recently aborted checkpoints, to clean up after late acknowledgements. */
  private readonly aborted = new Map<number, { storage: CheckpointStorage; location: CheckpointStorageLocation }>();
  private readonly background = new Set<Promise<void>>();
  /** Aborted checkpoints (or savepoints) whose disposal failed: retried after the next completion. */
  private readonly failedDisposals: AbortedDisposal[] = [];
  private readonly skipped: SkippedCheckpoint[] = [];
  /** Set when a stop-with-savepoint completed: the job ends as STOPPED. */
  private stoppedAt: CompletedCheckpoint | undefined;

  /** The savepoint a stop-with-savepoint completed: where the job ends as STOPPED. */
  get stopSavepoint(): CompletedCheckpoint | undefined {
    return this.stoppedAt;
  }

  /** The attempt failed after its stop's savepoint completed: the job did not stop there, and runs on. */
  forgetStopSavepoint(): void {
    this.stoppedAt = undefined;
  }

  /**
   * Retains completed checkpoints and tracks the files incremental checkpoints share: subsumed
   * checkpoints are discarded, and a shared file is deleted once no retained checkpoint uses it.
   */
  private readonly store: CompletedCheckpointStore | undefined;
  /** Checkpoints of earlier runs a restore may fall back to although this run does not own them (NO_CLAIM, LEGACY). */
  private readonly unownedFallbacks: readonly StoredCheckpoint[];
  /** Files of a restored checkpoint this run does not own: never deleted by it. */
  private readonly unowned: ReadonlySet<string>;
  /** NO_CLAIM: the same files, which no checkpoint of this run may reference. */
  private readonly protectedFiles: ReadonlySet<string>;
  private readonly history: CheckpointHistoryRecorder;

  constructor(
    private readonly graph: JobGraph,
    readonly config: ResolvedCheckpointConfig | undefined,
    private readonly storage: CheckpointStorage | undefined,
    firstCheckpointId: number,
    initial: RestorePoint | undefined,
    private readonly log: (line: string) => void,
    recovered?: RecoveredCheckpoints,
    readonly restoreMode: RestoreMode = 'CLAIM',
    listener: CheckpointEventListener = {},
  ) {
    assert(config === undefined || storage !== undefined, 'checkpointing needs a checkpoint storage');
    this.nextId = firstCheckpointId;
    this.firstId = firstCheckpointId;
    this.latest = initial;
    this.initial = initial;
    this.store = storage === undefined ? undefined : storeFor(storage, config?.retainedCheckpoints ?? 1, restoreMode, initial);
    const claim = restoreMode === 'CLAIM';
    if (recovered !== undefined && claim) this.store?.recover(recovered.complete, recovered.unusable);
    this.unownedFallbacks = claim ? [] : (recovered?.complete ?? []);
    this.unowned = claim || initial?.reader !== storage ? new Set() : filesOf(initial);
    this.protectedFiles = restoreMode === 'NO_CLAIM' ? this.unowned : new Set();
    this.history = new CheckpointHistoryRecorder(historyFileSystemOf(storage), log, listener);
    if (initial !== undefined) this.history.restored(Date.now());
    const own = initial?.kind === 'CHECKPOINT' && recovered?.complete.some((c) => c.checkpointId === initial.checkpointId && c.pointer === initial.pointer);
    this.ancestorsUpTo = own ? initial.checkpointId : -1;
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
   * this run's lineage becomes the restore point: one this run completed, one of the earlier runs'
   * it descends from, or what it started from. A savepoint, or a checkpoint without an older one in
   * the lineage, has no fallback: returns undefined and changes nothing.
   */
  fallBack(point: RestorePoint, error: FlowstateError): RestorePoint | undefined {
    if (this.store === undefined) return undefined;
    const retained = [...this.unownedFallbacks, ...this.store.all()].sort((a, b) => a.checkpointId - b.checkpointId);
    const next = fallbackRestorePoint(point, { retained, reader: this.store.storage, firstId: this.firstId, ancestorsUpTo: this.ancestorsUpTo, initial: this.initial });
    if (next === undefined) return undefined;
    this.store.drop(point.checkpointId);
    const i = this.completed.findIndex((c) => c.checkpointId === point.checkpointId);
    if (i >= 0) this.completed.splice(i, 1);
    this.recordSkipped({ checkpointId: point.checkpointId, pointer: point.pointer, reason: 'RESTORE_FAILED', error });
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

  get completedCheckpoints(): readonly CompletedCheckpoint[] {
    return this.completed;
  }

  get stats(): readonly CheckpointStats[] {
    return this.allStats;
  }

  // ---------------------------------------------------------------- attempt lifecycle

  /** True once `attempt` is running and can take checkpoint triggers. */
  enabledFor(attempt: AttemptView): boolean {
    return this.attempt === attempt;
  }

  startAttempt(attempt: AttemptView): void {
    this.attempt = attempt;
    this.finishedTasks = new Set();
    this.finalTriggered = false;
    this.schedulePeriodic();
  }

  /** The attempt ended (failed or finished): its pending checkpoints can never complete. */
  stopAttempt(attempt: AttemptView): void {
    if (this.attempt === attempt) this.attempt = undefined;
    if (this.periodic) clearTimeout(this.periodic);
    this.periodic = undefined;
    for (const p of [...this.pending.values()]) if (p.attempt === attempt) this.abort(p, new CheckpointFailedError(p.id, 'JOB_FAILOVER', 'the execution attempt ended'), false);
  }

  private schedulePeriodic(): void {
    const interval = this.config?.intervalMs;
    if (interval === undefined) return;
    this.periodic = setTimeout(() => {
      this.periodic = undefined;
      const a = this.attempt;
      if (a === undefined) return;
      const sinceLast = Date.now() - this.lastCompletionAt;
      if (!this.finalTriggered && this.pending.size < this.config!.maxConcurrentCheckpoints && sinceLast >= this.config!.minPauseBetweenCheckpointsMs) {
        this.trigger('CHECKPOINT', undefined, { final: false, stop: false }).catch(() => {
          // Counted and logged by abort(); the periodic trigger just carries on.
        });
      }
      this.schedulePeriodic();
    }, interval);
    this.periodic.unref?.();
  }

  // ---------------------------------------------------------------- triggering

  /**
   * Triggers a checkpoint (or a savepoint into `savepointStorage`) and resolves when it completed.
   * Waits for a free slot: savepoints and unaligned checkpoints never run concurrently with others.
   */
  async trigger(kind: 'CHECKPOINT' | 'SAVEPOINT', savepointStorage: CheckpointStorage | undefined, flags: { final: boolean; stop: boolean }): Promise<CompletedCheckpoint> {
    const attempt = this.attempt;
    if (attempt === undefined) throw new CheckpointFailedError(this.nextId, 'TRIGGER_FAILED', 'the job is not running');
    const exclusive = kind === 'SAVEPOINT' || this.config?.mode === 'UNALIGNED';
    const max = exclusive ? 1 : (this.config?.maxConcurrentCheckpoints ?? 1);
    // `reserved` counts triggers between the slot check and pending.set (they await the storage):
    // without it two triggers could both see a free slot and run concurrently.
    while (this.pending.size + this.reserved >= max || (exclusive && this.pending.size + this.reserved > 0)) {
      await new Promise<void>((r) => this.slotWaiters.push(r));
      if (this.attempt !== attempt) throw new CheckpointFailedError(this.nextId, 'TRIGGER_FAILED', 'the execution attempt ended');
    }
    const storage = kind === 'SAVEPOINT' ? savepointStorage! : this.storage;
    if (storage === undefined) throw new CheckpointFailedError(this.nextId, 'TRIGGER_FAILED', 'checkpointing is not configured');
    this.reserved++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.reserved--;
      this.wakeSlotWaiters();
    };
    try {
      return await this.triggerReserved(kind, storage, attempt, flags, release);
    } finally {
      release();
    }
  }

  /** `release` gives the reserved slot back once the checkpoint counts as pending (or failed to start). */
  private async triggerReserved(
    kind: 'CHECKPOINT' | 'SAVEPOINT',
    storage: CheckpointStorage,
    attempt: AttemptView,
    flags: { final: boolean; stop: boolean },
    release: () => void,
  ): Promise<CompletedCheckpoint> {
    const id = this.nextId++;
    const timestamp = Date.now();
    const stats: CheckpointStats = { checkpointId: id, kind, status: 'IN_PROGRESS', triggerTimestamp: timestamp, durationMs: 0, failureReason: undefined, pointer: undefined, tasks: [] };
    this.allStats.push(stats);
    // A bounded history, as in Flink: a long-running job must not grow without limit.
    if (this.allStats.length > CheckpointCoordinator.STATS_HISTORY) this.allStats.splice(0, this.allStats.length - CheckpointCoordinator.STATS_HISTORY);
    let location: CheckpointStorageLocation;
    try {
      location = await storage.initializeLocationForCheckpoint(id);
    } catch (e) {
      stats.status = 'FAILED';
      stats.failureReason = `TRIGGER_FAILED: ${describe(e)}`;
      this.recordHistory(stats, []);
      this.countFailure(new CheckpointFailedError(id, 'TRIGGER_FAILED', describe(e), { cause: e }));
      throw e;
    }
    if (this.attempt !== attempt) {
      await location.disposeOnFailure().catch(() => {});
      throw new CheckpointFailedError(id, 'TRIGGER_FAILED', 'the execution attempt ended');
    }
    const options = kind === 'SAVEPOINT' ? SAVEPOINT : CHECKPOINT;
    const done = new Promise<CompletedCheckpoint>((resolve, reject) => {
      const p: Pending = { id, kind, timestamp, location, storage, options, attempt, acks: new Map(), stats, final: flags.final, stop: flags.stop, waiters: [{ resolve, reject }], timer: undefined, finalizing: false, finalizeInFlight: false, metadata: undefined };
      this.pending.set(id, p);
      p.timer = setTimeout(() => this.abort(p, new CheckpointFailedError(id, 'EXPIRED', `not complete after ${this.config?.timeoutMs ?? 60_000} ms`)), this.config?.timeoutMs ?? 60_000);
      p.timer.unref?.();
    });
    if (flags.final) this.finalTriggered = true;
    // Before any backend sees the barrier: no file it may reuse is deleted until the checkpoint registers or aborts.
    if (kind === 'CHECKPOINT') this.store?.checkpointTriggered(id);
    this.history.triggered(id);
    const barrier = { kind: 'barrier' as const, checkpointId: id, timestamp, savepoint: kind === 'SAVEPOINT', unaligned: this.config?.mode === 'UNALIGNED' && kind !== 'SAVEPOINT' };
    release();
    for (const s of attempt.sources) s.triggerCheckpoint(barrier, flags);
    return done;
  }

  // ---------------------------------------------------------------- task RPCs

  checkpointTarget(checkpointId: number): { streamFactory: CheckpointStreamFactory; options: CheckpointOptions } | undefined {
    const p = this.pending.get(checkpointId);
    return p === undefined ? undefined : { streamFactory: p.location.streamFactory, options: p.options };
  }

  acknowledge(task: Task, checkpointId: number, ack: TaskAck): void {
    const p = this.pending.get(checkpointId);
    if (p === undefined || p.attempt.tasks.indexOf(task) < 0) {
      // Late (the checkpoint was aborted): its directory may already be disposed, so the files
      // this task wrote since would be left behind.
      const aborted = this.aborted.get(checkpointId);
      if (aborted !== undefined) this.housekeep(this.discardLate(aborted, ack));
      return;
    }
    assert(!p.acks.has(task.name), `task ${task.name} acknowledged checkpoint ${checkpointId} twice`);
    p.acks.set(task.name, ack);
    p.stats.tasks.push(ack.stats);
    if (p.acks.size === p.attempt.tasks.length) {
      this.housekeep(
        this.complete(p).catch((e: unknown) => {
          // complete() handles storage failures itself; anything else is a broken invariant.
          if (this.attempt === p.attempt) p.attempt.fail(e);
        }),
      );
    }
  }

  discardUnused(checkpointId: number, handles: Pick<TaskAck, 'keyed' | 'operator' | 'channelState'>): void {
    const p = this.pending.get(checkpointId);
    if (p !== undefined) {
      this.housekeep(this.discardAck(p.storage, handles));
      return;
    }
    const aborted = this.aborted.get(checkpointId);
    if (aborted !== undefined) this.housekeep(this.discardLate(aborted, handles));
  }

  /** Files written after an abort disposed the location: the directory again, then the files. */
  private async discardLate(aborted: { storage: CheckpointStorage; location: CheckpointStorageLocation }, handles: Pick<TaskAck, 'keyed' | 'operator' | 'channelState'>): Promise<void> {
    await this.disposeAborted({ checkpointId: aborted.location.checkpointId, storage: aborted.storage, location: aborted.location, acks: [handles] });
    await discardExclusiveFiles(aborted.storage, handles);
  }

  private disposalOf(p: Pending): AbortedDisposal {
    return { checkpointId: p.id, storage: p.storage, location: p.location, acks: [...p.acks.values()] };
  }

  /**
   * Deletes what an aborted checkpoint wrote, in an order that never leaves a complete-looking
   * checkpoint behind: its location (`_metadata` first, then the exclusive files) and, only once
   * that succeeded, the shared files it uploaded that no completed checkpoint uses. A failure is
   * retried after the next completed checkpoint and at the end of the attempt.
   */
  private async disposeAborted(d: AbortedDisposal): Promise<void> {
    try {
      await d.location.disposeOnFailure();
    } catch (e) {
      this.failedDisposals.push(d);
      throw e;
    }
    for (const ack of d.acks) await this.discardUnregisteredShared(d.storage, ack);
  }

  /**
   * An aborted checkpoint whose `_metadata` may exist (finalizing failed, or succeeded too late).
   * If deleting that metadata fails, the checkpoint is complete on storage and must keep every
   * file it references, its own uploads and files it reuses from older checkpoints alike. So the
   * store adopts it: the registry holds its shared files until the store has discarded it
   * (metadata first), retried with every later completion.
   */
  private async disposeFinalized(p: Pending): Promise<void> {
    if (p.kind !== 'CHECKPOINT' || this.store === undefined || p.metadata === undefined) return this.disposeAborted(this.disposalOf(p));
    this.store.adopt({ checkpointId: p.id, pointer: p.location.pointer, metadata: p.metadata });
    await this.store.retryDiscards();
  }

  private async retryFailedDisposals(): Promise<void> {
    for (const d of this.failedDisposals.splice(0)) {
      await this.disposeAborted(d).catch((e: unknown) => this.log(`could not delete aborted checkpoint ${d.checkpointId} (will retry): ${describe(e)}`));
    }
  }

  decline(task: Task, checkpointId: number, cause: unknown): void {
    const p = this.pending.get(checkpointId);
    if (p === undefined || p.attempt.tasks.indexOf(task) < 0) return;
    this.abort(p, new CheckpointFailedError(checkpointId, 'DECLINED', `task ${task.name}: ${describe(cause)}`, { cause }));
  }

  /**
   * Flink's final checkpoint (FLIP-147): once every task finished its input (every channel is
   * drained), one last checkpoint records what the sinks' finish() pre-committed and commits it;
   * its completion ends the job. It holds no in-flight records, so restoring it replays nothing.
   */
  taskFinished(task: Task): void {
    const a = this.attempt;
    if (a === undefined || a.tasks.indexOf(task) < 0) return;
    this.finishedTasks.add(task);
    if (this.finishedTasks.size < a.tasks.length) return;
    if (!this.enabled) {
      for (const t of a.tasks) t.terminate();
      return;
    }
    this.triggerFinal(a);
  }

  private triggerFinal(a: AttemptView): void {
    if (this.attempt !== a || this.finalTriggered) return;
    this.finalTriggered = true;
    this.trigger('CHECKPOINT', undefined, { final: true, stop: false }).catch(() => {
      if (this.attempt !== a) return;
      this.finalTriggered = false;
      setTimeout(() => this.triggerFinal(a), this.config?.minPauseBetweenCheckpointsMs ?? 0);
    });
  }

  // ---------------------------------------------------------------- completion

  private async complete(p: Pending): Promise<void> {
    if (p.finalizing) return;
    p.finalizing = true;
    const byUid = new Map<string, SubtaskStateMetadata[]>();
    for (const ack of p.acks.values()) {
      const list = byUid.get(ack.uid) ?? [];
      list.push({
        subtaskIndex: ack.subtaskIndex,
        keyed: ack.keyed ? [ack.keyed] : [],
        operator: ack.operator ? [ack.operator] : [],
        ...(ack.channelState ? { channelState: [ack.channelState] } : {}),
        ...(ack.finished ? { finished: true } : {}),
      });
      byUid.set(ack.uid, list);
    }
    const metadata: CheckpointMetadata = {
      checkpointId: p.id,
      kind: p.kind,
      timestamp: p.timestamp,
      operators: this.graph.nodes.map((n) => ({
        uid: n.uid,
        parallelism: n.parallelism,
        maxParallelism: this.graph.maxParallelism,
        subtasks: (byUid.get(n.uid) ?? []).sort((a, b) => a.subtaskIndex - b.subtaskIndex),
      })),
      properties: { job: this.graph.name, mode: this.config?.mode ?? 'EXACTLY_ONCE' },
    };
    for (const op of metadata.operators) {
      const n = this.graph.nodes.find((x) => x.uid === op.uid)!;
      assert(op.subtasks.length === n.parallelism, `checkpoint ${p.id}: ${op.subtasks.length} acks for '${op.uid}' of parallelism ${n.parallelism}`);
    }
    if (p.kind === 'CHECKPOINT' && this.store !== undefined) {
      try {
        checkNoClaimReferences(p.id, metadata, this.protectedFiles, this.initial?.checkpointId);
        // As Flink does on acknowledgement: from now on the registry keeps what this checkpoint uses;
        // a reused file that was already discarded declines it (FLINK-29913) instead of completing it.
        this.store.registerPending(p.id, metadata);
      } catch (e) {
        this.abort(p, new CheckpointFailedError(p.id, 'DECLINED', describe(e), { cause: e }));
        return;
      }
    }
    let completedPointer: string;
    p.metadata = metadata;
    p.finalizeInFlight = true;
    try {
      const done = await p.location.finalizeCheckpoint(serializeCheckpointMetadata(metadata));
      completedPointer = done.pointer;
    } catch (e) {
      p.finalizeInFlight = false;
      // `_metadata` may have reached storage although the call failed (its response was lost).
      if (this.pending.get(p.id) === p) this.abort(p, new CheckpointFailedError(p.id, 'FINALIZE_FAILED', describe(e), { cause: e }));
      else await this.disposeFinalized(p).catch((e2: unknown) => this.log(`could not delete aborted checkpoint ${p.id}: ${describe(e2)}`));
      return;
    }
    p.finalizeInFlight = false;
    if (this.pending.get(p.id) !== p) {
      // Aborted (expired, failover) while `_metadata` was written: the files are complete on storage,
      // but nobody was told; treat it as failed and delete it so it cannot be mistaken for a restore point.
      await this.disposeFinalized(p).catch((e: unknown) => this.log(`could not delete aborted checkpoint ${p.id}: ${describe(e)}`));
      return;
    }
    this.pending.delete(p.id);
    if (p.timer) clearTimeout(p.timer);
    this.wakeSlotWaiters();
    p.stats.status = 'COMPLETED';
    p.stats.durationMs = Date.now() - p.timestamp;
    p.stats.pointer = completedPointer;
    this.recordHistory(p.stats, [...p.acks.values()]);
    this.lastCompletionAt = Date.now();
    this.consecutiveFailures = 0;
    const completed: CompletedCheckpoint = { checkpointId: p.id, kind: p.kind, pointer: completedPointer, metadata, reader: p.storage, stats: p.stats };
    if (p.kind === 'CHECKPOINT') {
      this.latest = completed;
      this.completed.push(completed);
      // Older pending checkpoints are subsumed: a newer complete one makes them useless.
      for (const q of [...this.pending.values()]) if (q.id < p.id && q.kind === 'CHECKPOINT') this.abort(q, new CheckpointFailedError(q.id, 'SUBSUMED', `checkpoint ${p.id} completed first`), false);
    } else if (p.stop) {
      // A stop-with-savepoint is where the job ends: the next run starts from it.
      this.latest = completed;
      this.stoppedAt = completed;
    }
    // Savepoints have no side effects (as in Flink 1.15+), except the one that stops the job.
    if (p.kind === 'CHECKPOINT' || p.stop) for (const t of p.attempt.tasks) t.notifyCheckpointComplete(p.id, p.final || p.stop);
    for (const w of p.waiters) w.resolve(completed);
    // Discarding subsumed checkpoints is housekeeping: it must not delay the sinks' commits.
    if (p.kind === 'CHECKPOINT') await this.retain(completed);
  }

  private async retain(completed: CompletedCheckpoint): Promise<void> {
    const keep = this.config?.retainedCheckpoints ?? 1;
    while (this.completed.length > keep) this.completed.shift();
    try {
      await this.store!.add({ checkpointId: completed.checkpointId, pointer: completed.pointer, metadata: completed.metadata });
    } catch (e) {
      this.log(`could not discard subsumed checkpoints: ${describe(e)}`);
    }
    await this.retryFailedDisposals();
  }

  /**
   * Deletes the exclusive files an acknowledgement references, and the shared files it uploaded
   * that no completed checkpoint uses (files of incremental checkpoints it merely reused stay).
   */
  private async discardAck(storage: CheckpointStorage, ack: Pick<TaskAck, 'keyed' | 'operator' | 'channelState'>): Promise<void> {
    await discardExclusiveFiles(storage, ack);
    await this.discardUnregisteredShared(storage, ack);
  }

  private async discardUnregisteredShared(storage: CheckpointStorage, ack: object): Promise<void> {
    await discardUnregisteredShared(storage, ack, this.store?.registry, this.unowned);
  }

  /** The persisted history (docs/formats.md): written in the background, never delays a checkpoint. */
  private recordHistory(stats: CheckpointStats, acks: readonly TaskAck[]): void {
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

  private abort(p: Pending, error: CheckpointFailedError, counts = true): void {
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
        this.housekeep(this.disposeAborted(this.disposalOf(p)));
      }
    }
    this.aborted.set(p.id, { storage: p.storage, location: p.location });
    if (this.aborted.size > 64) this.aborted.delete(this.aborted.keys().next().value!);
    if (p.kind === 'SAVEPOINT' && p.stop) for (const s of p.attempt.sources) s.resumeAfterFailedStop(p.id);
    for (const t of p.attempt.tasks) t.notifyCheckpointAborted(p.id);
    for (const w of p.waiters) w.reject(error);
    this.wakeSlotWaiters();
    if (counts) this.countFailure(error);
    if (p.final && this.attempt === p.attempt) {
      this.finalTriggered = false;
      const a = p.attempt;
      setTimeout(() => this.triggerFinal(a), this.config?.minPauseBetweenCheckpointsMs ?? 0);
    }
  }

  private countFailure(error: CheckpointFailedError): void {
    this.consecutiveFailures++;
    this.log(`checkpoint ${error.checkpointId} failed: ${error.message}`);
    const tolerable = this.config?.tolerableFailedCheckpoints ?? 0;
    if (this.consecutiveFailures > tolerable && this.attempt !== undefined) {
      const n = this.consecutiveFailures;
      this.consecutiveFailures = 0;
      this.attempt.fail(new TooManyFailedCheckpointsError(n, tolerable, { cause: error }));
    }
  }

  private wakeSlotWaiters(): void {
    for (const w of this.slotWaiters.splice(0)) w();
  }

  /** Tracks background storage work (finalizing, disposal, deletion) so that a job ends only after it. */
  private housekeep(work: Promise<unknown>): void {
    const w = work.then(
      () => {},
      (e: unknown) => this.log(`checkpoint housekeeping failed: ${describe(e)}`),
    );
    this.background.add(w);
    void w.finally(() => this.background.delete(w));
  }

  /** Settles when no finalization, disposal or deletion runs any more. */
  async drainBackground(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
    // Once more at the end of an attempt: after the last checkpoint there is no next completion.
    await this.retryFailedDisposals();
    await this.store?.retryDiscards().catch((e: unknown) => this.log(`could not discard checkpoints (will retry): ${describe(e)}`));
  }

  /** Wakes triggers that wait for a slot, so they notice that their attempt ended. */
  releaseWaiters(): void {
    this.wakeSlotWaiters();
  }
}
