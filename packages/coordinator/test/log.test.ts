import { strict as assert } from 'node:assert';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { it } from 'node:test';
import { FsCheckpointStorage, MemoryFileSystem } from '@flowstate/core';
import { COORDINATOR_LOG_CHANNEL, EmbeddedCheckpointCoordinator, type CoordinatorLogRecord } from '../src/index.js';

it('without a log function, messages are published on the flowstate:coordinator diagnostics channel', async () => {
  const records: CoordinatorLogRecord[] = [];
  const onRecord = (r: unknown) => records.push(r as CoordinatorLogRecord);
  subscribe(COORDINATOR_LOG_CHANNEL, onRecord);
  try {
    const coordinator = await EmbeddedCheckpointCoordinator.open({ storage: new FsCheckpointStorage(new MemoryFileSystem()) });
    await assert.rejects(coordinator.triggerCheckpoint({ signal: AbortSignal.abort(new Error('stop')) }));
    await coordinator.close();
  } finally {
    unsubscribe(COORDINATOR_LOG_CHANNEL, onRecord);
  }
  // Exactly the failure line: the coordinator logs nothing else for a checkpoint cancelled before it started.
  assert.equal(records.length, 1);
  assert.equal(records[0]!.source, 'embedded-coordinator');
  assert.match(records[0]!.message, /checkpoint 1/);
});
