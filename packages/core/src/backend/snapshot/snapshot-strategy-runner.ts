import { SnapshotCancelledError } from '../../errors.js';
import type { CheckpointStreamFactory } from '../../storage/spi.js';
import type { CheckpointOptions, SnapshotFuture, SnapshotResult } from '../spi.js';
import type { RunningSnapshot, RunningSnapshots } from './running-snapshots.js';
import { RunnerSnapshotContext } from './snapshot-context.js';
import type { SnapshotResources, SnapshotStrategy } from './snapshot-strategy.js';

const EMPTY_RESULT: SnapshotResult<never> = Object.freeze({ jobManagerOwnedSnapshot: null, checkpointedSize: 0, fullSize: 0 });

/**
 * Runs a SnapshotStrategy (Flink's SnapshotStrategyRunner): the synchronous part on the caller,
 * the asynchronous part as the returned future. It owns what every backend would otherwise
 * repeat: cancellation (cancel(), the caller's AbortSignal, the backend's dispose()), releasing
 * the strategy's resources exactly once, and deleting what a failed or cancelled snapshot wrote
 * before its result rejects.
 */
export class SnapshotStrategyRunner<H, R extends SnapshotResources> {
  constructor(
    /** Names the strategy (Flink's description), e.g. "heap full snapshot", for diagnostics. */
    readonly description: string,
    private readonly strategy: SnapshotStrategy<H, R>,
    private readonly running: RunningSnapshots,
  ) {}

  /**
   * Runs the synchronous part now and returns the running asynchronous part. An aborted `signal`
   * cancels the snapshot like SnapshotFuture.cancel() does; one aborted before the call skips
   * the synchronous part too.
   */
  snapshot(checkpointId: number, timestamp: number, streamFactory: CheckpointStreamFactory, options: CheckpointOptions, signal?: AbortSignal): SnapshotFuture<H> {
    const t0 = performance.now();
    this.running.checkOpen();
    if (signal?.aborted) return cancelledFuture(checkpointId);
    const resources = this.strategy.syncPrepareResources(checkpointId, options);
    if (resources === null) return { checkpointId, result: Promise.resolve(EMPTY_RESULT), syncDurationMs: performance.now() - t0, cancel() {} };
    const syncDurationMs = performance.now() - t0;

    const controller = new AbortController();
    const cancel = () => controller.abort();
    // Dropped on release: the future outlives the snapshot, and must not pin what it captured.
    let held: R | undefined = resources;
    const entry: RunningSnapshot = {
      cancel,
      releaseResources: () => {
        const r = held;
        held = undefined;
        r?.release();
      },
    };
    this.running.register(entry);
    signal?.addEventListener('abort', cancel, { once: true });
    const context = new RunnerSnapshotContext(checkpointId, timestamp, options, controller.signal, streamFactory, entry.releaseResources);
    const result = this.runAsync(resources, context).finally(() => {
      entry.releaseResources();
      this.running.unregister(entry);
      signal?.removeEventListener('abort', cancel);
    });
    return { checkpointId, result, syncDurationMs, cancel };
  }

  private async runAsync(resources: R, context: RunnerSnapshotContext): Promise<SnapshotResult<H>> {
    // Not one step before snapshot() returned: a cancel() right after it is seen before anything is opened.
    await Promise.resolve();
    try {
      context.throwIfCancelled();
      return await this.strategy.asyncSnapshot(resources, context);
    } catch (e) {
      await context.discardWritten();
      // A failure caused by the cancellation (a stream closed under it, files deleted by dispose()) is still a cancellation.
      context.throwIfCancelled();
      throw e;
    }
  }
}

function cancelledFuture<H>(checkpointId: number): SnapshotFuture<H> {
  const result = Promise.reject(new SnapshotCancelledError(checkpointId));
  return { checkpointId, result, syncDurationMs: 0, cancel() {} };
}
