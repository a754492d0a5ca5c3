import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  FsCheckpointStorage,
  MemoryFileSystem,
  SharedStateDiscardedError,
  type KeyedStateBackend,
  type KeyedStateBackendParameters,
  type OperatorStateBackendParameters,
  type StateBackend,
} from '@flowstate/core';
import { FsStateBackend } from '@flowstate/heap';
import { CheckpointFailedError, JobClient } from '../src/index.js';
import { discardingCountJob } from './count-jobs.js';

/**
 * A heap backend whose keyed snapshot for one checkpoint claims to reuse a shared file that no
 * completed checkpoint ever had (as a backend with a stale view of what was confirmed would).
 */
class GhostReuseBackend implements StateBackend {
  readonly name = 'ghost-reuse';
  readonly supportsAsynchronousSnapshots = true;
  private readonly inner = new FsStateBackend();
  constructor(private readonly ghostAtCheckpoint: number) {}

  async createKeyedStateBackend<K>(parameters: KeyedStateBackendParameters<K>): Promise<KeyedStateBackend<K>> {
    const kb = await this.inner.createKeyedStateBackend(parameters);
    const snapshot = kb.snapshot.bind(kb);
    kb.snapshot = (checkpointId, timestamp, streamFactory, options) => {
      const f = snapshot(checkpointId, timestamp, streamFactory, options);
      if (checkpointId !== this.ghostAtCheckpoint) return f;
      const ghost = { name: '000042.sst', handle: { type: 'file' as const, path: 'shared/ghost', size: 1, checksum: 0 }, reused: true as const };
      const result = f.result.then((r) => (r.jobManagerOwnedSnapshot === null ? r : { ...r, jobManagerOwnedSnapshot: { ...r.jobManagerOwnedSnapshot, sharedFiles: [ghost] } }));
      return { ...f, result };
    };
    return kb;
  }

  createOperatorStateBackend(parameters: OperatorStateBackendParameters) {
    return this.inner.createOperatorStateBackend(parameters);
  }
}

test('a checkpoint that reuses a shared file the registry does not know is declined, never completed (FLINK-29913)', async () => {
  const storage = new FsCheckpointStorage(new MemoryFileSystem());
  const job = await JobClient.execute(discardingCountJob('ghost', 1), {
    stateBackend: new GhostReuseBackend(2),
    checkpointStorage: storage,
    checkpointing: { tolerableFailedCheckpoints: 1 },
  });
  await new Promise((r) => setTimeout(r, 20));
  const first = await job.triggerCheckpoint();
  await assert.rejects(job.triggerCheckpoint(), (e: unknown) => {
    assert.ok(e instanceof CheckpointFailedError, String(e));
    assert.equal(e.reason, 'DECLINED');
    assert.ok(e.cause instanceof SharedStateDiscardedError, `caused by SharedStateDiscardedError, got ${String(e.cause)}`);
    assert.equal(e.cause.file, 'shared/ghost');
    return true;
  });
  assert.deepEqual(await storage.listCompletedCheckpoints(), [`chk-${first.checkpointId}`], 'checkpoint 2 never wrote _metadata');
  const third = await job.triggerCheckpoint();
  job.cancel();
  await job.result;
  assert.equal(third.stats.status, 'COMPLETED');
  assert.deepEqual(await storage.listCompletedCheckpoints(), [`chk-${third.checkpointId}`]);
});
