import type { CheckpointedStateScope, CheckpointStateOutputStream } from '../../storage/spi.js';
import type { CheckpointOptions, SnapshotResult } from '../spi.js';

/**
 * What a snapshot's synchronous part captured for its asynchronous part (Flink's
 * SnapshotResources): a copy-on-write view, a database snapshot, a local checkpoint directory.
 * The runner calls `release()` exactly once, whatever the outcome: when the strategy asks for it
 * (SnapshotContext.releaseResources), after the asynchronous part ended, or at once when the
 * backend is disposed while it runs, whichever comes first.
 */
export interface SnapshotResources {
  release(): void;
}

/** Resources with nothing to release (the synchronous part copied everything it needs). */
export const NO_RESOURCES_TO_RELEASE = { release(): void {} };

/**
 * What the asynchronous part of a snapshot is given by the runner. Everything it writes goes
 * through `openStream`, so that the runner can delete it if the snapshot fails or is cancelled.
 */
export interface SnapshotContext {
  readonly checkpointId: number;
  readonly timestamp: number;
  readonly options: CheckpointOptions;
  /** Aborted by cancel(), by the caller's signal, or by the backend's dispose(). */
  readonly signal: AbortSignal;
  /** Throws SnapshotCancelledError once `signal` is aborted. */
  throwIfCancelled(): void;
  /**
   * A checkpoint stream owned by the runner: every call checks for cancellation before and after
   * it runs, and on failure or cancellation the open stream is aborted or its closed file deleted.
   */
  openStream(scope: CheckpointedStateScope): CheckpointStateOutputStream;
  /**
   * Yields to the event loop when the current slice of work held it for more than a few
   * milliseconds, so that record processing goes on; then checks for cancellation.
   */
  yieldIfBusy(): Promise<void>;
  /**
   * Everything the snapshot needs from the state is read: releases what the synchronous part
   * captured now (a copy-on-write view, a store snapshot) instead of after the streams are closed.
   * Closing makes the bytes durable (an fsync, an upload's completion); until the release a store
   * keeps the versions its snapshot pins, and a heap backend's writes still test every running
   * view. Idempotent: the runner's own release at the end does nothing then.
   */
  releaseResources(): void;
}

/**
 * How a backend snapshots (Flink's SnapshotStrategy): what to capture synchronously, and what to
 * write asynchronously. Cancellation, disposal, time measurement and the cleanup of what a failed
 * snapshot wrote belong to the SnapshotStrategyRunner, not to the strategy.
 */
export interface SnapshotStrategy<H, R extends SnapshotResources> {
  /**
   * The synchronous part, run on the caller before snapshot() returns; state writes after it
   * returned must not show in the snapshot. null: nothing to snapshot (the result has no handle).
   * When it throws, it must release what it acquired itself.
   */
  syncPrepareResources(checkpointId: number, options: CheckpointOptions): R | null;
  /**
   * The asynchronous part: writes the captured state through `context.openStream`. It never
   * releases `resources` itself (it may ask the runner to, through `context.releaseResources()`,
   * once it read them for the last time) and need not delete what it wrote on failure.
   */
  asyncSnapshot(resources: R, context: SnapshotContext): Promise<SnapshotResult<H>>;
}
