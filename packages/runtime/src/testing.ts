/**
 * `@flowstate/runtime/testing`: helpers for tests of jobs, not part of the runtime's API. A gate
 * that holds a job's input mid-run, so that checkpoints complete while it runs on any machine.
 */
import type { RuntimeContext, SnapshotContext, SourceFunction } from './functions.js';
import { LogSource, type ReplayableLog } from './sources.js';
import { SOURCE_IDLE } from './source-idle.js';

/**
 * Each source subtask behind the gate emits `holdAfter` records, then polls SOURCE_IDLE until
 * the test opens the gate. An idle source task keeps running its mail, so checkpoints trigger
 * and complete while the input is held: a test that needs checkpoints during the run waits for
 * them here instead of counting on the job being slow enough to outlast them.
 */
export class SourceGate {
  private opened = false;

  constructor(readonly holdAfter: number) {}

  open(): void {
    this.opened = true;
  }

  get isOpen(): boolean {
    return this.opened;
  }

  /** A factory of sources reading `log` (like `fromLog`) behind this gate. */
  logSource<T>(log: ReplayableLog<T>): () => SourceFunction<T> {
    return () => new GatedLogSource(new LogSource<T>(() => log), this);
  }
}

class GatedLogSource<T> implements SourceFunction<T> {
  private emitted = 0;

  constructor(
    private readonly inner: LogSource<T>,
    private readonly gate: SourceGate,
  ) {}

  initializeState(ctx: RuntimeContext): Promise<void> {
    return this.inner.initializeState(ctx);
  }

  snapshotState(ctx: SnapshotContext): void {
    this.inner.snapshotState(ctx);
  }

  pollNext(): T | undefined | typeof SOURCE_IDLE {
    if (!this.gate.isOpen && this.emitted >= this.gate.holdAfter) return SOURCE_IDLE;
    const v = this.inner.pollNext();
    if (v !== undefined) this.emitted++;
    return v;
  }
}
