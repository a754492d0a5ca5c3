import { assignOperatorState, corruptionIn, diagnosticsLog, type CheckpointEventListener, type RestoreMode } from '@flowstate/coordinator';
import {
  highestScannedCheckpointId,
  type CheckpointScan,
  type CompleteCheckpointEntry,
  computeKeyGroupRangeForOperatorIndex,
  finishedOnRestore,
  deserializeCheckpointMetadata,
  type CheckpointStorage,
  type KeyedStateBackend,
  type KeyedStateHandle,
  type OperatorSnapshotMetadata,
  type OperatorStateBackend,
  type OperatorStateHandle,
  type StateBackend,
  type StateHandleReader,
  DataOutputSerializer,
  assignToKeyGroup,
  computeOperatorIndexForKeyGroup,
  streamHandleName,
} from '@flowstate/core';
import { Channel, Signal, type RecordMessage } from './channel.js';
import { CheckpointCoordinator, resolveCheckpointConfig, type AttemptView, type CheckpointConfig, type CompletedCheckpoint, type RestorePoint, type SkippedCheckpoint } from './coordinator.js';
import { describe, IllegalJobStateError, JobFailedError, RestoreMismatchError, StopWithSavepointFailedError, TaskCancelledError, TaskFailureError } from './errors.js';
import type { JobGraph, StreamNode, StreamOperator } from './graph.js';
import { SubtaskContext } from './operators.js';
import { formatCheckpointStatsTable, type CheckpointStats } from './stats.js';
import { decodeChannelState, Task, type InputChannelSpec, type OutputEdge, type RestoredInflight, type RuntimeHooks, type TaskHost } from './task.js';
import { createOperatorEnvironment } from './environment.js';
import type { SourceFunction } from './functions.js';
import { SYSTEM_CLOCK, type ProcessingTimeClock } from './time/clock.js';

export type RestartStrategy = { readonly kind: 'no-restart' } | { readonly kind: 'fixed-delay'; readonly maxAttempts: number; readonly delayMs: number };

export interface JobOptions {
  readonly stateBackend: StateBackend;
  /** Where checkpoints go; required when `checkpointing` is set. */
  readonly checkpointStorage?: CheckpointStorage;
  /** Omit to run without checkpoints (then a failure restarts from scratch). */
  readonly checkpointing?: CheckpointConfig;
  readonly restartStrategy?: RestartStrategy;
  /**
   * Start from a savepoint or a retained checkpoint: the storage it lives in and its pointer. A
   * checkpoint of this job's own `checkpointStorage` (the same object) falls back to the next older
   * complete checkpoint when it is incomplete or cannot be restored (see JobResult.skippedCheckpoints).
   */
  readonly restoreFrom?: { readonly storage: CheckpointStorage; readonly pointer: string };
  /**
   * Start from the newest complete checkpoint in `checkpointStorage` (an earlier run of this job),
   * falling back to older ones as for `restoreFrom`; without any checkpoint there, start empty.
   * Excludes `restoreFrom`.
   */
  readonly resumeFromLatestCheckpoint?: boolean;
  /**
   * Who owns the checkpoints of `checkpointStorage` this run found (see RestoreMode). Default
   * CLAIM: the storage is this job's own, so its retained checkpoints are this job's (as after a
   * Flink failover); NO_CLAIM and LEGACY leave them and their files to the user.
   */
  readonly restoreMode?: RestoreMode;
  /** Told about every checkpoint and restore (e.g. @flowstate/metrics' CheckpointMetrics). */
  readonly checkpointListener?: CheckpointEventListener;
  /** Allow state in the restore point that no operator of this job claims (Flink's --allowNonRestoredState). */
  readonly allowNonRestoredState?: boolean;
  readonly hooks?: RuntimeHooks;
  /**
   * Processing time (processing-time timers, source idleness); the wall clock by default. A
   * ManualClock makes processing time deterministic: it moves only when the test moves it.
   */
  readonly clock?: ProcessingTimeClock;
  /** Runtime messages (failovers, failed checkpoints); silent by default. */
  readonly log?: (line: string) => void;
}

export interface JobResult {
  readonly status: 'FINISHED' | 'STOPPED' | 'CANCELLED';
  /** Execution attempts, 1 when nothing failed. */
  readonly attempts: number;
  /** Root causes of the failovers, in order. */
  readonly failures: readonly Error[];
  /** The savepoint a stop-with-savepoint wrote. */
  readonly savepoint: CompletedCheckpoint | undefined;
  /** Checkpoints of the checkpoint storage that were not restored, and why (oldest report first). */
  readonly skippedCheckpoints: readonly SkippedCheckpoint[];
}

/** One run of every task of the job, from one restore point. */
class ExecutionAttempt implements AttemptView, TaskHost {
  readonly tasks: Task[] = [];
  readonly sources: Task[] = [];
  private readonly keyedBackends: KeyedStateBackend<unknown>[] = [];
  /** Aborted when the attempt fails (or the job is cancelled) while backends are still being restored. */
  private readonly restoring = new AbortController();
  private readonly operatorBackends: OperatorStateBackend[] = [];
  private readonly operators: StreamOperator[] = [];
  private readonly sourceFns: SourceFunction<unknown>[] = [];
  private failure: Error | undefined;
  private onFailure: ((e: Error) => void) | undefined;
  private readonly failed = new Promise<never>((_, reject) => {
    this.onFailure = reject;
  });

  constructor(
    readonly attempt: number,
    private readonly graph: JobGraph,
    private readonly options: JobOptions,
    private readonly coordinator: CheckpointCoordinator,
    private readonly restore: RestorePoint | undefined,
  ) {
    void this.failed.catch(() => {});
  }

  get mode() {
    return this.coordinator.config?.mode ?? 'EXACTLY_ONCE';
  }
  get alignedTimeoutMs() {
    return this.coordinator.config?.alignedCheckpointTimeoutMs;
  }
  get maxParallelism() {
    return this.graph.maxParallelism;
  }
  get hooks(): RuntimeHooks {
    return this.options.hooks ?? {};
  }
  get clock(): ProcessingTimeClock {
    return this.options.clock ?? SYSTEM_CLOCK;
  }
  checkpointTarget(id: number) {
    return this.coordinator.checkpointTarget(id);
  }
  acknowledge(task: Task, id: number, ack: Parameters<TaskHost['acknowledge']>[2]): void {
    this.coordinator.acknowledge(task, id, ack);
  }
  discardUnused(id: number, handles: Parameters<TaskHost['discardUnused']>[1]): void {
    this.coordinator.discardUnused(id, handles);
  }
  decline(task: Task, id: number, cause: unknown): void {
    this.coordinator.decline(task, id, cause);
  }
  taskFinished(task: Task): void {
    this.coordinator.taskFinished(task);
  }

  fail(cause: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = cause instanceof Error ? cause : new Error(String(cause));
    this.restoring.abort(this.failure);
    for (const t of this.tasks) t.cancel();
    this.onFailure!(this.failure);
  }

  /** Creates channels, restores state and opens every operator. */
  async deploy(): Promise<void> {
    const g = this.graph;
    const restore = this.restore;
    this.hooks.onAttemptStart?.(this.attempt);
    if (restore !== undefined) this.checkRestoreFits(restore);
    const signals = g.nodes.map((n) => Array.from({ length: n.parallelism }, () => new Signal()));
    const inputs = g.nodes.map((n) => Array.from({ length: n.parallelism }, () => [] as InputChannelSpec[]));
    const outputs = g.nodes.map((n) => Array.from({ length: n.parallelism }, () => [] as OutputEdge[]));
    for (const consumer of g.nodes) {
      for (const e of consumer.inputs) {
        const producer = e.source;
        const keySelector = e.partitioner.kind === 'hash' ? e.partitioner.keySelector : undefined;
        for (let i = 0; i < producer.parallelism; i++) {
          const channels: Channel[] = [];
          const targets = e.partitioner.kind === 'forward' ? [i] : Array.from({ length: consumer.parallelism }, (_, j) => j);
          for (const j of targets) {
            const c = new Channel(`${producer.uid}#${i}->${consumer.uid}#${j}`, g.bufferCapacity, signals[consumer.id]![j]!, signals[producer.id]![i]!);
            channels.push(c);
            inputs[consumer.id]![j]!.push({ channel: c, inputIndex: e.inputIndex, keySelector });
          }
          outputs[producer.id]![i]!.push({ partitioner: e.partitioner, channels, consumerParallelism: consumer.parallelism, sideOutput: e.sideOutput });
        }
      }
    }
    for (const node of g.nodes) {
      const opMeta = restore?.metadata.operators.find((o) => o.uid === node.uid);
      const operatorAssignment = opMeta ? assignOperatorState(opMeta, node.parallelism) : undefined;
      const inflight = opMeta && restore ? await assignChannelState(opMeta, node, g.maxParallelism, restore.reader) : undefined;
      // Core's rule, shared with the savepoint tools' rewrites: a rewritten savepoint restores alike.
      const finished = opMeta ? finishedOnRestore(opMeta, node.parallelism) : [];
      for (let i = 0; i < node.parallelism; i++) {
        const operatorIdentifier = `${node.uid}#${i}`;
        const reader: StateHandleReader | undefined = restore?.reader;
        let keyed: KeyedStateBackend<unknown> | undefined;
        if (node.keySerializer !== undefined) {
          keyed = await this.options.stateBackend.createKeyedStateBackend<unknown>({
            operatorIdentifier,
            keySerializer: node.keySerializer,
            maxParallelism: g.maxParallelism,
            keyGroupRange: computeKeyGroupRangeForOperatorIndex(g.maxParallelism, node.parallelism, i),
            // Every new subtask is offered every old handle; it reads only the key groups it owns.
            restoreState: opMeta ? opMeta.subtasks.flatMap((s) => s.keyed as KeyedStateHandle[]) : [],
            ...(reader ? { stateHandleReader: reader } : {}),
            signal: this.restoring.signal,
          });
          this.keyedBackends.push(keyed);
        }
        const operatorState = await this.options.stateBackend.createOperatorStateBackend({
          operatorIdentifier,
          restoreState: operatorAssignment?.[i] ?? [],
          ...(reader ? { stateHandleReader: reader } : {}),
          signal: this.restoring.signal,
        });
        this.operatorBackends.push(operatorState);
        const info = { operatorUid: node.uid, subtaskIndex: i, parallelism: node.parallelism, maxParallelism: g.maxParallelism, attempt: this.attempt, isRestored: opMeta !== undefined, isCheckpointingEnabled: this.coordinator.enabled };
        this.hooks.onRestore?.({ uid: node.uid, subtaskIndex: i, attempt: this.attempt, name: operatorIdentifier });
        const ctx = new SubtaskContext(info, keyed, operatorState);
        const operator = node.createOperator?.();
        const source = node.createSource?.();
        const task = new Task(node, i, this.attempt, this, signals[node.id]![i]!, inputs[node.id]![i]!, outputs[node.id]![i]!, keyed, operatorState, ctx, operator, source, inflight?.[i] ?? [], finished[i] ?? false);
        await this.open(task, ctx, operator, source);
        this.tasks.push(task);
        if (this.failure !== undefined) throw this.failure;
      }
    }
  }

  /** Opens a subtask's operator (in its environment) or source (its watermark restored first). */
  private async open(task: Task, ctx: SubtaskContext, operator: StreamOperator | undefined, source: SourceFunction<unknown> | undefined): Promise<void> {
    if (operator) {
      await operator.open(createOperatorEnvironment(ctx, task.keyed, task.operatorState, task.output, task.time!, this.clock));
      this.operators.push(operator);
    }
    if (source) {
      task.sourceTime!.initialize(task.operatorState, ctx.isRestored);
      await source.initializeState(ctx);
      if (source.open) await source.open(ctx);
      this.sourceFns.push(source);
      this.sources.push(task);
    }
  }

  private checkRestoreFits(r: RestorePoint): void {
    for (const op of r.metadata.operators) {
      const node = this.graph.nodes.find((n) => n.uid === op.uid);
      if (node === undefined) {
        if (!this.options.allowNonRestoredState && op.subtasks.some((s) => s.keyed.length + s.operator.length > 0)) {
          throw new RestoreMismatchError(r.pointer, `state of operator '${op.uid}' has no operator with that uid in job '${this.graph.name}' (allowNonRestoredState is off)`);
        }
        continue;
      }
      if (node.keySerializer !== undefined && op.subtasks.some((s) => s.keyed.length > 0) && op.maxParallelism !== this.graph.maxParallelism) {
        throw new RestoreMismatchError(r.pointer, `operator '${op.uid}' was checkpointed with maxParallelism ${op.maxParallelism}, the job has ${this.graph.maxParallelism}`);
      }
    }
  }

  /** Runs every task; resolves when all finished, rejects with the first failure. */
  async run(): Promise<void> {
    if (this.failure !== undefined) {
      // Failed (or cancelled) while deploying: tasks created after fail() were never cancelled.
      for (const t of this.tasks) t.cancel();
      throw this.failure;
    }
    const loops = this.tasks.map((t) =>
      t.run().catch((e: unknown) => {
        if (e instanceof TaskCancelledError && this.failure !== undefined) return;
        this.fail(new TaskFailureError(t.name, { cause: e }));
      }),
    );
    await Promise.race([Promise.all(loops), this.failed]);
    if (this.failure !== undefined) {
      await Promise.allSettled(loops);
      throw this.failure;
    }
  }

  /** Cancels every task and waits until no asynchronous snapshot part runs any more. */
  async cancelAndDrain(): Promise<void> {
    for (const t of this.tasks) t.cancel();
    await Promise.allSettled(this.tasks.map((t) => t.drainAsyncParts()));
  }

  /** Stops whatever still runs and releases every resource; safe after success or failure. */
  async cleanup(): Promise<void> {
    await this.cancelAndDrain();
    for (const op of this.operators) await op.close().catch(() => {});
    for (const s of this.sourceFns) if (s.close) await Promise.resolve(s.close()).catch(() => {});
    for (const k of this.keyedBackends) k.dispose();
    for (const o of this.operatorBackends) o.dispose();
  }
}

/**
 * Channel state per new subtask. At unchanged parallelism subtask i replays what old subtask i
 * persisted. Rescaled, records of a keyed input go to the subtask that owns their key group (in
 * their original order), broadcast records to every new subtask (one old copy each), records of
 * other inputs to subtask (old index mod new parallelism).
 */
async function assignChannelState(op: OperatorSnapshotMetadata, node: StreamNode, maxParallelism: number, reader: StateHandleReader): Promise<RestoredInflight[][] | undefined> {
  if (!op.subtasks.some((s) => (s.channelState?.length ?? 0) > 0)) return undefined;
  const result: RestoredInflight[][] = Array.from({ length: node.parallelism }, () => []);
  const keyBuffer = new DataOutputSerializer(64);
  for (const s of [...op.subtasks].sort((a, b) => a.subtaskIndex - b.subtaskIndex)) {
    for (const h of s.channelState ?? []) {
      const entries = decodeChannelState(await reader.readFully(h), streamHandleName(h));
      for (const e of entries) {
        const edge = node.inputs.find((x) => x.inputIndex === e.inputIndex);
        if (edge === undefined) throw new RestoreMismatchError(streamHandleName(h), `channel state for input ${e.inputIndex} of '${node.uid}', which has ${node.inputs.length} input(s)`);
        if (op.parallelism === node.parallelism) {
          result[s.subtaskIndex]!.push({ inputIndex: e.inputIndex, records: e.records });
        } else if (edge.partitioner.kind === 'hash') {
          const p = edge.partitioner;
          const per: RecordMessage[][] = Array.from({ length: node.parallelism }, () => []);
          for (const r of e.records) {
            keyBuffer.clear();
            p.keySerializer.serialize(p.keySelector(r.value), keyBuffer);
            per[computeOperatorIndexForKeyGroup(maxParallelism, node.parallelism, assignToKeyGroup(keyBuffer.bytesView(), maxParallelism))]!.push(r);
          }
          per.forEach((records, j) => records.length > 0 && result[j]!.push({ inputIndex: e.inputIndex, records }));
        } else if (edge.partitioner.kind === 'broadcast') {
          // Every old subtask held its own copy of the in-flight broadcast records: new subtask j
          // replays the copy of old subtask (j mod old parallelism), so every new subtask gets one.
          for (let j = 0; j < node.parallelism; j++) if (j % op.parallelism === s.subtaskIndex) result[j]!.push({ inputIndex: e.inputIndex, records: e.records });
        } else {
          result[s.subtaskIndex % node.parallelism]!.push({ inputIndex: e.inputIndex, records: e.records });
        }
      }
    }
  }
  return result;
}

function restorePointOf(storage: CheckpointStorage, c: CompleteCheckpointEntry): RestorePoint {
  return { checkpointId: c.checkpointId, kind: c.metadata.kind, pointer: c.pointer, metadata: c.metadata, reader: storage };
}

/**
 * The restore point a run starts from. A pointer into another storage (a savepoint) is resolved
 * as given. In the job's own checkpoint storage the scan decides: an incomplete checkpoint falls
 * back to the newest complete one older than it (the scan reported why it was skipped).
 */
async function chooseRestorePoint(options: JobOptions, scan: CheckpointScan | undefined): Promise<RestorePoint | undefined> {
  const own = options.checkpointStorage;
  if (options.resumeFromLatestCheckpoint && own !== undefined && scan !== undefined) {
    const newest = scan.complete.at(-1);
    const newestIncomplete = scan.incomplete.at(-1);
    // Checkpoints exist, none usable: starting empty would silently drop the job's state.
    if (newest === undefined && newestIncomplete !== undefined) throw newestIncomplete.error;
    return newest && restorePointOf(own, newest);
  }
  const from = options.restoreFrom;
  if (from === undefined) return undefined;
  if (from.storage === own && own !== undefined && scan !== undefined) {
    const complete = scan.complete.find((c) => c.pointer === from.pointer);
    if (complete !== undefined) return restorePointOf(own, complete);
    const incomplete = scan.incomplete.find((c) => c.pointer === from.pointer);
    if (incomplete !== undefined) {
      const older = scan.complete.filter((c) => c.checkpointId < incomplete.checkpointId).at(-1);
      if (older === undefined) throw incomplete.error;
      return restorePointOf(own, older);
    }
  }
  const loc = await from.storage.resolveCheckpoint(from.pointer);
  const metadata = deserializeCheckpointMetadata(loc.metadata, `${from.storage.description}/${from.pointer}/_metadata`);
  return { checkpointId: metadata.checkpointId, kind: metadata.kind, pointer: loc.pointer, metadata, reader: loc.reader };
}

/**
 * A running job (Flink's JobClient plus the JobMaster's failover): it deploys an execution
 * attempt, and when a task fails it cancels every task and deploys a new attempt from the latest
 * completed checkpoint, as the restart strategy allows.
 */
export class JobClient {
  readonly result: Promise<JobResult>;
  private current: ExecutionAttempt | undefined;
  private cancelled = false;
  private stopping: Promise<CompletedCheckpoint> | undefined;
  private readonly failures: Error[] = [];
  private attempts = 0;
  /** Attempts that failed restoring a corrupt checkpoint and fell back: not counted as restarts. */
  private fallbacks = 0;
  private readonly log: (line: string) => void;
  private attemptStarted: Array<() => void> = [];
  /** Told how the running attempt ended: undefined when it finished, else its failure. */
  private attemptEnded: Array<(failure: Error | undefined) => void> = [];
  private terminated = false;

  private constructor(
    readonly graph: JobGraph,
    private readonly options: JobOptions,
    private readonly coordinator: CheckpointCoordinator,
  ) {
    this.log = options.log ?? diagnosticsLog('runtime');
    this.result = this.runLoop().finally(() => {
      // Requests that wait for a running attempt must learn that there will be none.
      this.terminated = true;
      for (const w of this.attemptStarted.splice(0)) w();
    });
    void this.result.catch(() => {});
  }

  /** Starts the job; `result` settles when it finished, stopped, or failed for good. */
  static async execute(graph: JobGraph, options: JobOptions): Promise<JobClient> {
    const config = options.checkpointing ? resolveCheckpointConfig(options.checkpointing) : undefined;
    if (config !== undefined && options.checkpointStorage === undefined) throw new IllegalJobStateError('checkpointing needs a checkpointStorage');
    if (options.resumeFromLatestCheckpoint && (options.restoreFrom !== undefined || options.checkpointStorage === undefined)) {
      throw new IllegalJobStateError('resumeFromLatestCheckpoint needs a checkpointStorage and excludes restoreFrom');
    }
    // The job's checkpoint directory may hold checkpoints of earlier runs: they are recovered (and
    // later subsumed), and restore candidates when resuming.
    const scan = options.checkpointStorage ? await options.checkpointStorage.scanCheckpoints() : undefined;
    const skipped: SkippedCheckpoint[] = (scan?.incomplete ?? []).map((c) => ({
      checkpointId: c.checkpointId,
      pointer: c.pointer,
      reason: c.reason === 'MISSING_FILES' ? 'INCOMPLETE' : 'UNREADABLE_METADATA',
      error: c.error,
    }));
    const initial = await chooseRestorePoint(options, scan);
    // Checkpoint ids keep increasing across runs that share a directory, so no run reuses chk-<id>.
    const first = Math.max(initial?.checkpointId ?? 0, (scan && highestScannedCheckpointId(scan)) ?? 0) + 1;
    const recovered = scan && {
      complete: scan.complete,
      unusable: scan.incomplete.flatMap((c) => (c.metadata ? [{ checkpointId: c.checkpointId, pointer: c.pointer, metadata: c.metadata }] : [])),
    };
    const coordinator = new CheckpointCoordinator(graph, config, options.checkpointStorage, first, initial, options.log ?? diagnosticsLog('runtime'), recovered, options.restoreMode, options.checkpointListener);
    for (const s of skipped) coordinator.recordSkipped(s);
    return new JobClient(graph, options, coordinator);
  }

  private async runLoop(): Promise<JobResult> {
    const strategy = this.options.restartStrategy ?? { kind: 'no-restart' };
    const result = (status: JobResult['status'], savepoint?: CompletedCheckpoint): JobResult => ({
      status,
      attempts: this.attempts,
      failures: this.failures,
      savepoint,
      skippedCheckpoints: this.coordinator.skippedCheckpoints,
    });
    for (;;) {
      if (this.cancelled) return result('CANCELLED');
      const restorePoint = this.coordinator.latestRestorePoint;
      const attempt = new ExecutionAttempt(this.attempts++, this.graph, this.options, this.coordinator, restorePoint);
      this.current = attempt;
      let failure: Error | undefined;
      let restoring = true;
      try {
        await attempt.deploy();
        restoring = false;
        this.coordinator.startAttempt(attempt);
        for (const w of this.attemptStarted.splice(0)) w();
        await attempt.run();
      } catch (e) {
        failure = e instanceof Error ? e : new Error(String(e));
      }
      // Cancel the tasks and wait for their uploads first: disposing the aborted checkpoints'
      // directories while uploads still create files in them would leave files behind (and a
      // local directory that cannot be deleted because it is not empty).
      await attempt.cancelAndDrain();
      this.coordinator.stopAttempt(attempt);
      this.coordinator.releaseWaiters();
      await attempt.cleanup();
      await this.coordinator.drainBackground();
      this.current = undefined;
      for (const w of this.attemptEnded.splice(0)) w(failure);
      if (failure !== undefined && this.coordinator.stopSavepoint !== undefined) {
        // The stop's savepoint completed, but the job did not stop: it is no longer where the job
        // ended. The failover restarts from it (the latest restore point) and the job runs on.
        this.coordinator.forgetStopSavepoint();
      }
      if (failure === undefined) {
        const sp = this.coordinator.stopSavepoint;
        return result(sp ? 'STOPPED' : 'FINISHED', sp);
      }
      if (this.cancelled) return result('CANCELLED');
      this.failures.push(failure);
      // A restore point with a missing or corrupt file fails every attempt the same way: fall back
      // to an older retained checkpoint at once instead of spending the restart strategy on it.
      const corruption = restoring && restorePoint !== undefined ? corruptionIn(failure) : undefined;
      const fallback = corruption && this.coordinator.fallBack(restorePoint!, corruption);
      if (fallback) {
        this.fallbacks++;
        this.log(`restoring checkpoint ${restorePoint!.checkpointId} failed (${describe(failure)}); falling back to checkpoint ${fallback.checkpointId}`);
        continue;
      }
      const restarts = this.attempts - 1 - this.fallbacks;
      if (strategy.kind === 'no-restart' || restarts >= strategy.maxAttempts) throw new JobFailedError(this.graph.name, this.attempts, { cause: failure });
      const from = this.coordinator.latestRestorePoint;
      this.log(`attempt ${attempt.attempt} failed (${describe(failure)}); restarting from ${from ? `${from.kind.toLowerCase()} ${from.checkpointId}` : 'scratch'} in ${strategy.delayMs} ms`);
      await new Promise((r) => setTimeout(r, strategy.delayMs));
    }
  }

  private async running(): Promise<ExecutionAttempt> {
    while (this.current === undefined || !this.coordinator.enabledFor(this.current)) {
      if (this.terminated) throw new IllegalJobStateError(`job '${this.graph.name}' is no longer running`);
      await new Promise<void>((r) => this.attemptStarted.push(r));
    }
    return this.current;
  }

  /** Triggers a checkpoint now; resolves with it once complete. */
  async triggerCheckpoint(): Promise<CompletedCheckpoint> {
    await this.running();
    return this.coordinator.trigger('CHECKPOINT', undefined, { final: false, stop: false });
  }

  /** A canonical savepoint into `storage` (e.g. localSavepointStorage(dir)); the job keeps running. */
  async triggerSavepoint(storage: CheckpointStorage): Promise<CompletedCheckpoint> {
    await this.running();
    return this.coordinator.trigger('SAVEPOINT', storage, { final: false, stop: false });
  }

  /**
   * Stops the sources, lets everything in flight reach the sinks (the savepoint barrier is
   * aligned), takes the savepoint, commits the sinks' transactions, and ends the job.
   */
  async stopWithSavepoint(storage: CheckpointStorage): Promise<CompletedCheckpoint> {
    if (this.stopping) throw new IllegalJobStateError('stop-with-savepoint is already in progress');
    await this.running();
    // Registered before the trigger: the attempt may end as soon as the savepoint completes.
    const ended = new Promise<Error | undefined>((resolve) => this.attemptEnded.push(resolve));
    this.stopping = this.coordinator.trigger('SAVEPOINT', storage, { final: false, stop: true });
    let savepoint: CompletedCheckpoint;
    try {
      savepoint = await this.stopping;
    } finally {
      this.stopping = undefined;
    }
    // As in Flink, a stop succeeds only once the job terminated: a task may still fail while it
    // commits the savepoint's side effects.
    const failure = await ended;
    if (failure !== undefined) throw new StopWithSavepointFailedError(savepoint.pointer, { cause: failure });
    return savepoint;
  }

  cancel(): void {
    this.cancelled = true;
    this.current?.fail(new TaskCancelledError('job'));
  }

  /** Injects a failure into the running attempt, as a crashed task would (tests and demos). */
  failTask(cause: Error): void {
    this.current?.fail(cause);
  }

  get checkpointStats(): readonly CheckpointStats[] {
    return this.coordinator.stats;
  }

  get completedCheckpoints(): readonly CompletedCheckpoint[] {
    return this.coordinator.completedCheckpoints;
  }

  formatCheckpointStats(options: { detail?: boolean } = {}): string {
    return formatCheckpointStatsTable(this.coordinator.stats, options);
  }
}
