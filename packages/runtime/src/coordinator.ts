import {
  assert,
  type CheckpointStorage,
  type ResolvedCheckpointingOptions,
} from '@flowstate/core';
import {
  CheckpointCoordinator as CoreCheckpointCoordinator,
  type CheckpointAttempt,
  type CheckpointEventListener,
  type CompletedCheckpoint as CoreCompletedCheckpoint,
  type MetadataLayout,
  type PendingCheckpoint,
  type RecoveredCheckpoints,
  type RestoreMode,
  type RestorePoint,
} from '@flowstate/coordinator';
import type { JobGraph } from './graph.js';
import type { CheckpointingMode, Task, TaskAck, TaskCheckpointStats } from './task.js';

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

export type CompletedCheckpoint = CoreCompletedCheckpoint<TaskCheckpointStats>;

/** What the coordinator needs of a running execution attempt. */
export interface AttemptView extends CheckpointAttempt<Task> {
  /** Where checkpoints start: barriers are injected here. */
  readonly sources: readonly Task[];
}

/**
 * The runtime's checkpoint coordinator: @flowstate/coordinator's lifecycle (pending checkpoints,
 * acknowledgements, `_metadata`, retention, claim modes, disposal, history), started by barriers
 * injected at the sources, plus Flink's final checkpoint (FLIP-147) and stop-with-savepoint.
 */
export class CheckpointCoordinator extends CoreCheckpointCoordinator<Task, TaskAck, AttemptView> {
  private finishedTasks = new Set<Task>();
  private finalTriggered = false;

  constructor(
    private readonly graph: JobGraph,
    config: ResolvedCheckpointConfig | undefined,
    storage: CheckpointStorage | undefined,
    firstCheckpointId: number,
    initial: RestorePoint | undefined,
    log: (line: string) => void,
    recovered?: RecoveredCheckpoints,
    readonly restoreMode: RestoreMode = 'CLAIM',
    listener: CheckpointEventListener = {},
  ) {
    super(config, storage, { firstCheckpointId, initial, log, ...(recovered ? { recovered } : {}), restoreMode, listener });
    if (initial !== undefined) this.restored();
  }

  protected layoutOf(): MetadataLayout {
    const g = this.graph;
    return { operators: g.nodes.map((n) => ({ uid: n.uid, parallelism: n.parallelism, maxParallelism: g.maxParallelism })), properties: { job: g.name, mode: this.config?.mode ?? 'EXACTLY_ONCE' } };
  }

  protected startSnapshots(p: PendingCheckpoint<Task, TaskAck, AttemptView>): void {
    const savepoint = p.kind === 'SAVEPOINT';
    const barrier = { kind: 'barrier' as const, checkpointId: p.id, timestamp: p.timestamp, savepoint, stop: p.flags.stop, unaligned: this.config?.mode === 'UNALIGNED' && !savepoint };
    for (const s of p.attempt.sources) s.triggerCheckpoint(barrier);
  }

  protected override onAborted(p: PendingCheckpoint<Task, TaskAck, AttemptView>): void {
    if (p.flags.final && this.attempt === p.attempt) {
      this.finalTriggered = false;
      const a = p.attempt;
      setTimeout(() => this.triggerFinal(a), this.config?.minPauseBetweenCheckpointsMs ?? 0);
    }
  }

  protected override periodicTriggerAllowed(): boolean {
    return !this.finalTriggered;
  }

  override startAttempt(attempt: AttemptView): void {
    this.finishedTasks = new Set();
    this.finalTriggered = false;
    super.startAttempt(attempt);
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
}
