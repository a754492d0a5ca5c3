import { IllegalStateUsageError } from '../../errors.js';

/** One running snapshot as the registry sees it. */
export interface RunningSnapshot {
  /** Aborts the snapshot's signal. */
  cancel(): void;
  /** Releases the snapshot's resources unless that already happened (idempotent). */
  releaseResources(): void;
}

/**
 * The snapshots of one backend whose asynchronous part still runs (in the role of Flink's
 * cancelStreamRegistry). The backend closes it on dispose(): every running snapshot is
 * cancelled and its resources released before the backend frees what they point into.
 */
export class RunningSnapshots {
  private readonly running = new Set<RunningSnapshot>();
  private closed = false;

  constructor(private readonly owner: string) {}

  get size(): number {
    return this.running.size;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Throws once the registry is closed: a disposed backend takes no snapshot. */
  checkOpen(): void {
    if (this.closed) throw new IllegalStateUsageError(undefined, `cannot snapshot: the state backend of '${this.owner}' is disposed`);
  }

  register(snapshot: RunningSnapshot): void {
    this.checkOpen();
    this.running.add(snapshot);
  }

  unregister(snapshot: RunningSnapshot): void {
    this.running.delete(snapshot);
  }

  /** Cancels every running snapshot and releases its resources now; later snapshots are refused. */
  close(): void {
    this.closed = true;
    const all = [...this.running];
    this.running.clear();
    for (const s of all) s.cancel();
    for (const s of all) s.releaseResources();
  }
}
