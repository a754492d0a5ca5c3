/**
 * SnapshotStrategyRunner's own contract, with a strategy whose every step the test controls:
 * resources are released exactly once however the snapshot ends, what a failed or cancelled
 * snapshot wrote is deleted before its result rejects, and a caller's signal is not held on to.
 */
import { strict as assert } from 'node:assert';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import {
  CHECKPOINT,
  FsCheckpointStorage,
  IllegalStateUsageError,
  MemoryFileSystem,
  RunningSnapshots,
  SnapshotCancelledError,
  SnapshotStrategyRunner,
  type CheckpointStreamFactory,
  type SnapshotContext,
  type SnapshotResources,
  type SnapshotResult,
  type SnapshotStrategy,
  type StreamStateHandle,
} from '@flowstate/core';

type Step = (context: SnapshotContext) => Promise<void>;

/** A strategy that writes one closed file, then runs `then` (which may wait, fail or write more). */
class ScriptedStrategy implements SnapshotStrategy<StreamStateHandle, SnapshotResources> {
  prepared = 0;
  released = 0;
  constructor(private readonly then: Step = async () => {}) {}

  syncPrepareResources(): SnapshotResources {
    this.prepared++;
    return { release: () => void this.released++ };
  }

  async asyncSnapshot(_resources: SnapshotResources, context: SnapshotContext): Promise<SnapshotResult<StreamStateHandle>> {
    const out = context.openStream('EXCLUSIVE');
    await out.write(new Uint8Array([1, 2, 3]));
    const handle = await out.closeAndGetHandle();
    await this.then(context);
    return { jobManagerOwnedSnapshot: handle, checkpointedSize: handle.size, fullSize: handle.size };
  }
}

async function setup(strategy: SnapshotStrategy<StreamStateHandle, SnapshotResources>) {
  const fs = new MemoryFileSystem();
  const location = await new FsCheckpointStorage(fs).initializeLocationForCheckpoint(7);
  const running = new RunningSnapshots('op');
  const runner = new SnapshotStrategyRunner('scripted snapshot', strategy, running);
  const files = async () => (await fs.list('')).map((f) => f.path);
  const snapshot = (signal?: AbortSignal, factory: CheckpointStreamFactory = location.streamFactory) => runner.snapshot(7, 0, factory, CHECKPOINT, signal);
  return { running, files, snapshot };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('SnapshotStrategyRunner', () => {
  it('a finished snapshot keeps its file and releases its resources once, before the result settles', async () => {
    const strategy = new ScriptedStrategy();
    const { running, files, snapshot } = await setup(strategy);
    const future = snapshot();
    assert.equal(running.size, 1);
    const result = await future.result;
    assert.notEqual(result.jobManagerOwnedSnapshot, null);
    assert.equal(strategy.released, 1);
    assert.equal(running.size, 0);
    assert.equal((await files()).length, 1, 'the snapshot file stays');
  });

  it('a strategy that releases its resources early (context.releaseResources) has them released then, once, and not again at the end or on dispose', async () => {
    let releasedEarly = -1;
    const closing = deferred();
    const strategy = new ScriptedStrategy(async (context) => {
      context.releaseResources();
      releasedEarly = strategy.released;
      context.releaseResources();
      await closing.promise;
    });
    const { running, snapshot } = await setup(strategy);
    const future = snapshot();
    await new Promise((r) => setImmediate(r));
    assert.equal(releasedEarly, 1, 'released when the strategy asked, while the snapshot still runs');
    running.close();
    closing.resolve();
    await future.result.catch(() => {});
    assert.equal(strategy.released, 1, 'neither a second call, dispose nor the end released it again');
  });

  it('a failing asynchronous part: its own error, the closed and the open file deleted, resources released once', async () => {
    const failure = new Error('disk full');
    const strategy = new ScriptedStrategy(async (context) => {
      await context.openStream('SHARED').write(new Uint8Array([4]));
      throw failure;
    });
    const { running, files, snapshot } = await setup(strategy);
    await assert.rejects(snapshot().result, (e) => e === failure);
    assert.deepEqual(await files(), []);
    assert.equal(strategy.released, 1);
    assert.equal(running.size, 0);
  });

  it('cancel() while the asynchronous part waits: SnapshotCancelledError, file deleted, resources released once', async () => {
    const gate = deferred();
    const strategy = new ScriptedStrategy(async (context) => {
      await gate.promise;
      context.throwIfCancelled();
    });
    const { files, snapshot } = await setup(strategy);
    const future = snapshot();
    await new Promise((r) => setImmediate(r));
    future.cancel();
    gate.resolve();
    await assert.rejects(future.result, (e) => e instanceof SnapshotCancelledError && e.checkpointId === 7);
    assert.deepEqual(await files(), []);
    assert.equal(strategy.released, 1);
  });

  it('closing the registry (dispose) releases the resources at once, and not again when the asynchronous part ends', async () => {
    const gate = deferred();
    const strategy = new ScriptedStrategy(async (context) => {
      await gate.promise;
      await context.yieldIfBusy();
    });
    const { running, files, snapshot } = await setup(strategy);
    const future = snapshot();
    await new Promise((r) => setImmediate(r));
    running.close();
    assert.equal(strategy.released, 1, 'released by close(), before the asynchronous part resumed');
    gate.resolve();
    await assert.rejects(future.result, SnapshotCancelledError);
    assert.equal(strategy.released, 1);
    assert.deepEqual(await files(), []);
    assert.throws(() => snapshot(), IllegalStateUsageError, 'a closed registry takes no snapshot');
    assert.equal(strategy.prepared, 1, 'nor runs a synchronous part');
  });

  it('a signal aborted before the call skips the synchronous part; one aborted later cancels; neither keeps a listener', async () => {
    const strategy = new ScriptedStrategy();
    const { files, snapshot } = await setup(strategy);
    const aborted = new AbortController();
    aborted.abort();
    await assert.rejects(snapshot(aborted.signal).result, SnapshotCancelledError);
    assert.equal(strategy.prepared, 0);

    const later = new AbortController();
    const future = snapshot(later.signal);
    later.abort();
    await assert.rejects(future.result, SnapshotCancelledError);
    assert.equal(strategy.released, 1);
    assert.deepEqual(await files(), []);

    // A long-lived signal (a job's) passed to every snapshot must not collect their listeners.
    const jobSignal = new AbortController().signal;
    await snapshot(jobSignal).result;
    await snapshot(jobSignal).result;
    assert.equal(getEventListeners(jobSignal, 'abort').length, 0);
  });

  it('a synchronous part with nothing to snapshot gives a null handle and registers nothing', async () => {
    const running = new RunningSnapshots('op');
    const empty: SnapshotStrategy<StreamStateHandle, SnapshotResources> = {
      syncPrepareResources: () => null,
      asyncSnapshot: () => assert.fail('no asynchronous part for an empty snapshot'),
    };
    const fs = new MemoryFileSystem();
    const location = await new FsCheckpointStorage(fs).initializeLocationForCheckpoint(1);
    const future = new SnapshotStrategyRunner('empty', empty, running).snapshot(1, 0, location.streamFactory, CHECKPOINT);
    assert.equal(running.size, 0);
    assert.deepEqual(await future.result, { jobManagerOwnedSnapshot: null, checkpointedSize: 0, fullSize: 0 });
  });
});
