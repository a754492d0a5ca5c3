import {
  highestScannedCheckpointId,
  IllegalStateUsageError,
  type CheckpointStorage,
  type CheckpointMetadata,
  type FileSystem,
  type KeyedStateBackend,
  type KeyedStateHandle,
  type OperatorStateBackend,
  type OperatorStateHandle,
  type ResolvedCheckpointingOptions,
  type SnapshotFuture,
  type SnapshotResult,
} from '@flowstate/core';
import type { RestoreMode } from './claim.js';
import { describe } from './errors.js';
import type { CheckpointEventListener } from './history.js';
import { CheckpointCoordinator, type RecoveredCheckpoints } from './lifecycle/checkpoint-coordinator.js';
import type { CheckpointAcknowledgement, CheckpointAttempt, CheckpointParticipant, CompletedCheckpoint, MetadataLayout, PendingCheckpoint } from './lifecycle/types.js';
import { diagnosticsLog } from './log.js';
import { corruptionIn, type RestorePoint } from './restore.js';

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

/** A registered subtask as a checkpoint participant: completion and abort go to its backends. */
class EmbeddedSubtask implements CheckpointParticipant {
  readonly name: string;
  constructor(readonly backends: SubtaskBackends) {
    this.name = `${backends.uid}#${backends.subtaskIndex}`;
  }
  notifyCheckpointComplete(checkpointId: number): void {
    this.backends.keyed?.notifyCheckpointComplete(checkpointId);
    this.backends.operator?.notifyCheckpointComplete(checkpointId);
  }
  notifyCheckpointAborted(checkpointId: number): void {
    this.backends.keyed?.notifyCheckpointAborted(checkpointId);
    this.backends.operator?.notifyCheckpointAborted(checkpointId);
  }
}

type EmbeddedAck = CheckpointAcknowledgement;
type Pending = PendingCheckpoint<EmbeddedSubtask, EmbeddedAck>;

/** Checkpoints run one at a time and fail only the trigger that asked for them. */
function embeddedConfig(options: EmbeddedCoordinatorOptions): ResolvedCheckpointingOptions {
  return {
    mode: 'EXACTLY_ONCE',
    intervalMs: undefined,
    timeoutMs: options.timeoutMs ?? 600_000,
    maxConcurrentCheckpoints: 1,
    minPauseBetweenCheckpointsMs: 0,
    tolerableFailedCheckpoints: Number.MAX_SAFE_INTEGER,
    retainedCheckpoints: options.retainedCheckpoints ?? 1,
    alignedCheckpointTimeoutMs: undefined,
  };
}

/**
 * The checkpoint coordinator an engine embeds (no runtime, no barriers): the runtime's checkpoint
 * lifecycle (CheckpointCoordinator: `_metadata`, retention, claim modes, disposal of failed
 * checkpoints, history), started by snapshotting every registered keyed and operator backend of
 * every subtask at once. It restores the latest checkpoint, falling back to older ones when a
 * file of it is missing or corrupt. The engine calls triggerCheckpoint at a point where its state
 * is consistent (between two records of its event loop).
 */
export class EmbeddedCheckpointCoordinator extends CheckpointCoordinator<EmbeddedSubtask, EmbeddedAck> {
  private readonly subtasks = new Map<string, EmbeddedSubtask>();
  /** Snapshot futures of the running checkpoint: cancelled when it is aborted. */
  private readonly running = new Map<number, Array<SnapshotFuture<unknown>>>();
  private queue: Promise<unknown> = Promise.resolve();
  private attempts = 0;
  /** The attempt of the registered subtasks as they were at the last trigger. */
  private registeredAttempt: CheckpointAttempt<EmbeddedSubtask> | undefined;
  private signal: AbortSignal | undefined;
  private restoring = false;
  /**
   * A restore() returned and no subtask registered since: a second restore() now would build
   * another state of the job (called once per operator, a fallback would leave the operators
   * restored first on a newer checkpoint than the next).
   */
  private awaitingRegistration = false;

  private constructor(
    readonly options: EmbeddedCoordinatorOptions,
    initial: RestorePoint | undefined,
    firstCheckpointId: number,
    recovered: RecoveredCheckpoints,
  ) {
    const config = embeddedConfig(options);
    const log = options.log ?? diagnosticsLog('embedded-coordinator');
    const restoreMode = options.restoreMode ?? 'NO_CLAIM';
    super(config, options.storage, { firstCheckpointId, initial, log, recovered, restoreMode, ...(options.listener ? { listener: options.listener } : {}), ...(options.history !== undefined ? { history: options.history } : {}) });
  }

  /** Scans the storage: the newest complete checkpoint becomes the restore point, ownership as `restoreMode` says. */
  static async open(options: EmbeddedCoordinatorOptions): Promise<EmbeddedCheckpointCoordinator> {
    const storage = options.storage;
    const scan = await storage.scanCheckpoints();
    const latest = scan.complete.at(-1);
    const initial: RestorePoint | undefined = latest && { checkpointId: latest.checkpointId, kind: latest.metadata.kind, pointer: latest.pointer, metadata: latest.metadata, reader: storage };
    const recovered = {
      complete: [...scan.complete],
      unusable: scan.incomplete.flatMap((c) => (c.metadata ? [{ checkpointId: c.checkpointId, pointer: c.pointer, metadata: c.metadata }] : [])),
    };
    const coordinator = new EmbeddedCheckpointCoordinator(options, initial, (highestScannedCheckpointId(scan) ?? 0) + 1, recovered);
    for (const c of scan.incomplete) {
      coordinator.recordSkipped({ checkpointId: c.checkpointId, pointer: c.pointer, reason: c.reason === 'MISSING_FILES' ? 'INCOMPLETE' : 'UNREADABLE_METADATA', error: c.error });
    }
    return coordinator;
  }

  get restoreMode(): RestoreMode {
    return this.options.restoreMode ?? 'NO_CLAIM';
  }

  /** The checkpoint the next restore() starts from (undefined: none, start empty). */
  get restorePoint(): RestorePoint | undefined {
    return this.latestRestorePoint;
  }

  /** Checkpoints retained (owned) by this coordinator, oldest first. */
  get retainedCheckpoints(): readonly CompletedCheckpointInfo[] {
    return (this.store?.all() ?? []).map((c) => ({ checkpointId: c.checkpointId, kind: c.metadata.kind, pointer: c.pointer, metadata: c.metadata }));
  }

  /**
   * Builds the state of the whole job from the restore point (`build` creates the backends of every
   * subtask, see subtaskRestoreState; they are registered in `build` or once restore() returned).
   * When it fails because a file is missing or corrupt, the checkpoint is skipped and `build` runs
   * again from the next older one; without one the error propagates. `build` must release what it
   * created before it throws. A job's state comes from one checkpoint (as in Flink, restore is
   * global): restore() is not called once per operator. It refuses with IllegalStateUsageError
   * while any subtask is registered (unregister and dispose the old backends before restoring
   * again), and after a restore() whose subtasks have not registered yet.
   */
  async restore<T>(build: (point: RestorePoint | undefined, signal: AbortSignal) => Promise<T>, options: { signal?: AbortSignal } = {}): Promise<T> {
    // A fallback to an older checkpoint would leave the registered subtasks (or those of a concurrent restore) on the newer one.
    if (this.restoring) throw new IllegalStateUsageError(undefined, "restore() builds the whole job's state from one checkpoint, but another restore() is running");
    if (this.subtasks.size > 0) throw new IllegalStateUsageError(undefined, `restore() builds the whole job's state from one checkpoint, but subtasks are registered already: ${[...this.subtasks.keys()].join(', ')}`);
    if (this.awaitingRegistration) throw new IllegalStateUsageError(undefined, "restore() builds the whole job's state from one checkpoint, and the last restore() did: register its subtasks (and unregister them) before restoring again");
    this.restoring = true;
    try {
      const built = await this.restoreFrom(build, options.signal ?? new AbortController().signal);
      this.awaitingRegistration = this.subtasks.size === 0;
      return built;
    } finally {
      this.restoring = false;
    }
  }

  private async restoreFrom<T>(build: (point: RestorePoint | undefined, signal: AbortSignal) => Promise<T>, signal: AbortSignal): Promise<T> {
    for (;;) {
      signal.throwIfAborted();
      const point = this.latestRestorePoint;
      try {
        const built = await build(point, signal);
        if (point !== undefined) this.restored();
        return built;
      } catch (e) {
        const corruption = point === undefined ? undefined : corruptionIn(e);
        if (corruption === undefined || this.fallBack(point!, corruption) === undefined) throw e;
        // Only this build's registrations (none existed before it): they belong to the skipped checkpoint.
        this.subtasks.clear();
      }
    }
  }

  /** Registers a subtask's backends; returns the function that unregisters them. */
  register(backends: SubtaskBackends): () => void {
    const key = `${backends.uid}#${backends.subtaskIndex}`;
    if (this.subtasks.has(key)) throw new IllegalStateUsageError(undefined, `subtask ${key} is already registered`);
    const subtask = new EmbeddedSubtask(backends);
    this.subtasks.set(key, subtask);
    this.awaitingRegistration = false;
    return () => {
      if (this.subtasks.get(key) === subtask) this.subtasks.delete(key);
    };
  }

  /** Checkpoints (or, with `savepointStorage`, savepoints) every registered backend; one at a time. */
  triggerCheckpoint(options: TriggerOptions = {}): Promise<CompletedCheckpointInfo> {
    const run = this.queue.then(() => this.runCheckpoint(options));
    this.queue = run.catch(() => {});
    return run;
  }

  private async runCheckpoint(options: TriggerOptions): Promise<CompletedCheckpoint> {
    const layout = this.layoutOf();
    this.startRegisteredAttempt();
    this.signal = options.signal;
    try {
      const kind = options.savepointStorage === undefined ? 'CHECKPOINT' : 'SAVEPOINT';
      return await this.trigger(kind, options.savepointStorage, { final: false, stop: false }, layout);
    } finally {
      this.signal = undefined;
      // Once the trigger settled, storage holds what retention says and the history is written.
      await this.drainBackground();
    }
  }

  /** A new attempt when the registered subtasks changed since the last checkpoint. */
  private startRegisteredAttempt(): void {
    const tasks = [...this.subtasks.values()];
    const same = this.registeredAttempt !== undefined && this.registeredAttempt.tasks.length === tasks.length && tasks.every((t, i) => this.registeredAttempt!.tasks[i] === t);
    if (same) return;
    if (this.registeredAttempt !== undefined) this.stopAttempt(this.registeredAttempt);
    // Failures are reported to the trigger's caller; there is no failover to start.
    this.registeredAttempt = { attempt: this.attempts++, tasks, fail: () => {} };
    this.startAttempt(this.registeredAttempt);
  }

  protected layoutOf(): MetadataLayout {
    const byUid = new Map<string, { parallelism: number; maxParallelism: number; registered: number }>();
    for (const { backends: s } of this.subtasks.values()) {
      const op = byUid.get(s.uid) ?? { parallelism: s.parallelism, maxParallelism: s.maxParallelism, registered: 0 };
      if (op.parallelism !== s.parallelism || op.maxParallelism !== s.maxParallelism) throw new IllegalStateUsageError(undefined, `operator '${s.uid}': subtasks registered with different parallelism`);
      op.registered++;
      byUid.set(s.uid, op);
    }
    for (const [uid, op] of byUid) {
      if (op.registered !== op.parallelism) throw new IllegalStateUsageError(undefined, `operator '${uid}' has ${op.registered} registered subtasks, its parallelism is ${op.parallelism}`);
    }
    const operators = [...byUid].map(([uid, op]) => ({ uid, parallelism: op.parallelism, maxParallelism: op.maxParallelism }));
    return { operators, properties: { coordinator: 'embedded', restoreMode: this.restoreMode } };
  }

  /** Starts every snapshot (synchronous parts first, so that they see the same state); each ends in an acknowledgement or a decline. */
  protected startSnapshots(p: Pending): void {
    const signal = this.signal;
    if (signal?.aborted === true) return this.cancel(p.id, describe(signal.reason));
    // A synchronous part that throws fails like an asynchronous one: the checkpoint is declined (not left pending).
    const start = <H>(backend: { snapshot: (...a: Parameters<KeyedStateBackend<unknown>['snapshot']>) => SnapshotFuture<H> } | undefined): SnapshotFuture<H> | undefined => {
      try {
        return backend?.snapshot(p.id, p.timestamp, p.location.streamFactory, p.options);
      } catch (e) {
        return { checkpointId: p.id, syncDurationMs: 0, cancel: () => {}, result: Promise.reject(e) };
      }
    };
    const started = p.attempt.tasks.map((task) => ({
      task,
      keyed: start<KeyedStateHandle>(task.backends.keyed),
      operator: start<OperatorStateHandle>(task.backends.operator),
      t0: performance.now(),
    }));
    this.running.set(p.id, started.flatMap((x) => [x.keyed, x.operator].filter((f) => f !== undefined)));
    const onAbort = (): void => this.cancel(p.id, describe(signal!.reason));
    signal?.addEventListener('abort', onAbort, { once: true });
    const all = started.map(async (x) => {
      try {
        const [keyed, operator] = await Promise.all([x.keyed?.result, x.operator?.result]);
        this.acknowledge(x.task, p.id, ackOf(x.task.backends, x.t0, keyed, operator, (x.keyed?.syncDurationMs ?? 0) + (x.operator?.syncDurationMs ?? 0)));
      } catch (e) {
        // A failed snapshot deletes its own files; the lifecycle deletes the others'.
        this.decline(x.task, p.id, e);
        // The other half of this subtask's snapshot may have succeeded: nothing acknowledges its files.
        const [keyed, operator] = await Promise.allSettled([x.keyed?.result, x.operator?.result]);
        const handles = { keyed: keyed.status === 'fulfilled' ? (keyed.value?.jobManagerOwnedSnapshot ?? null) : null, operator: operator.status === 'fulfilled' ? (operator.value?.jobManagerOwnedSnapshot ?? null) : null, channelState: null };
        if (handles.keyed !== null || handles.operator !== null) this.discardUnused(p.id, handles);
      }
    });
    this.housekeep(Promise.allSettled(all).then(() => {
      signal?.removeEventListener('abort', onAbort);
      this.running.delete(p.id);
    }));
  }

  protected override onAborted(p: Pending): void {
    for (const f of this.running.get(p.id) ?? []) f.cancel();
  }

  /** Waits for the queued checkpoints and for deletions of subsumed files. */
  async close(): Promise<void> {
    await this.queue;
    await this.drainBackground();
  }
}

function ackOf(s: SubtaskBackends, t0: number, keyed: SnapshotResult<KeyedStateHandle> | undefined, operator: SnapshotResult<OperatorStateHandle> | undefined, syncMs: number): EmbeddedAck {
  const checkpointedSize = (keyed?.checkpointedSize ?? 0) + (operator?.checkpointedSize ?? 0);
  const fullSize = (keyed?.fullSize ?? 0) + (operator?.fullSize ?? 0);
  const stats = { syncDurationMs: syncMs, asyncDurationMs: performance.now() - t0, alignmentDurationMs: 0, checkpointedSize, fullSize };
  return { uid: s.uid, subtaskIndex: s.subtaskIndex, keyed: keyed?.jobManagerOwnedSnapshot ?? null, operator: operator?.jobManagerOwnedSnapshot ?? null, channelState: null, stats };
}
