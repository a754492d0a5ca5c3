import { SnapshotCancelledError } from '../../errors.js';
import { yieldToEventLoop } from '../../event-loop.js';
import { SnapshotOutputStream } from '../../snapshot/snapshot-output.js';
import type { CheckpointedStateScope, CheckpointStateOutputStream, CheckpointStreamFactory } from '../../storage/spi.js';
import type { CheckpointOptions } from '../spi.js';
import type { SnapshotContext } from './snapshot-strategy.js';

/** How long the asynchronous part may hold the event loop before it yields to processing. */
const SLICE_MS = 4;

const RESOLVED = Promise.resolve();

/** The runner's side of a SnapshotContext: it also knows every stream the snapshot opened. */
export class RunnerSnapshotContext implements SnapshotContext {
  private readonly streams: SnapshotOutputStream[] = [];
  private sliceStart = performance.now();
  /** Mirrors `signal.aborted`, which is checked around every write and costs a getter call. */
  private cancelled: boolean;

  constructor(
    readonly checkpointId: number,
    readonly timestamp: number,
    readonly options: CheckpointOptions,
    readonly signal: AbortSignal,
    private readonly streamFactory: CheckpointStreamFactory,
    /** Releases the strategy's resources (idempotent: the runner's own release at the end is a no-op then). */
    private readonly release: () => void,
  ) {
    this.cancelled = signal.aborted;
    signal.addEventListener('abort', () => void (this.cancelled = true), { once: true });
  }

  throwIfCancelled(): void {
    if (this.cancelled) throw new SnapshotCancelledError(this.checkpointId);
  }

  openStream(scope: CheckpointedStateScope): CheckpointStateOutputStream {
    const stream = SnapshotOutputStream.open(this.streamFactory, scope, () => this.throwIfCancelled());
    this.streams.push(stream);
    return stream;
  }

  yieldIfBusy(): Promise<void> {
    // Called once per key group: the common case allocates nothing.
    if (performance.now() - this.sliceStart <= SLICE_MS) return this.cancelled ? this.rejectCancelled() : RESOLVED;
    return yieldToEventLoop().then(() => {
      this.sliceStart = performance.now();
      this.throwIfCancelled();
    });
  }

  private rejectCancelled(): Promise<void> {
    return Promise.reject(new SnapshotCancelledError(this.checkpointId));
  }

  releaseResources(): void {
    this.release();
  }

  /** After a failure or cancellation: aborts the open streams and deletes the closed ones' files. Never throws. */
  async discardWritten(): Promise<void> {
    await Promise.all(this.streams.map((s) => s.discard()));
  }
}
