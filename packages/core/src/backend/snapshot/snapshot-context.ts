import { SnapshotCancelledError } from '../../errors.js';
import { SnapshotOutputStream } from '../../snapshot/snapshot-output.js';
import type { CheckpointedStateScope, CheckpointStateOutputStream, CheckpointStreamFactory } from '../../storage/spi.js';
import type { CheckpointOptions } from '../spi.js';
import type { SnapshotContext } from './snapshot-strategy.js';

/** How long the asynchronous part may hold the event loop before it yields to processing. */
const SLICE_MS = 4;

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The runner's side of a SnapshotContext: it also knows every stream the snapshot opened. */
export class RunnerSnapshotContext implements SnapshotContext {
  private readonly streams: SnapshotOutputStream[] = [];
  private sliceStart = performance.now();

  constructor(
    readonly checkpointId: number,
    readonly timestamp: number,
    readonly options: CheckpointOptions,
    readonly signal: AbortSignal,
    private readonly streamFactory: CheckpointStreamFactory,
  ) {}

  throwIfCancelled(): void {
    if (this.signal.aborted) throw new SnapshotCancelledError(this.checkpointId);
  }

  openStream(scope: CheckpointedStateScope): CheckpointStateOutputStream {
    const stream = SnapshotOutputStream.open(this.streamFactory, scope, () => this.throwIfCancelled());
    this.streams.push(stream);
    return stream;
  }

  async yieldIfBusy(): Promise<void> {
    if (performance.now() - this.sliceStart > SLICE_MS) {
      await yieldToEventLoop();
      this.sliceStart = performance.now();
    }
    this.throwIfCancelled();
  }

  /** After a failure or cancellation: aborts the open streams and deletes the closed ones' files. Never throws. */
  async discardWritten(): Promise<void> {
    await Promise.all(this.streams.map((s) => s.discard()));
  }
}
