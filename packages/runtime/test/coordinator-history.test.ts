import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectStreamHandles, FsCheckpointStorage, MemoryFileSystem, readCheckpointHistory, type CheckpointMetadata } from '@flowstate/core';
import { FsStateBackend } from '@flowstate/heap';
import { JobClient, type JobOptions } from '../src/index.js';
import { discardingCountJob } from './count-jobs.js';

const graph = () => discardingCountJob('history', 2);

/** Runs the job for `checkpoints` checkpoints, then cancels it. */
async function run(options: Omit<JobOptions, 'stateBackend'>, checkpoints: number) {
  const job = await JobClient.execute(graph(), { stateBackend: new FsStateBackend(), checkpointing: { retainedCheckpoints: 1 }, ...options });
  const done = [];
  for (let i = 0; i < checkpoints; i++) done.push(await job.triggerCheckpoint());
  job.cancel();
  await job.result;
  return done;
}

const filesOf = (m: CheckpointMetadata, pointer: string) => [`${pointer}/_metadata`, ...collectStreamHandles(m).flatMap((h) => (h.type === 'file' ? [h.path] : []))].sort();

test('the runtime persists the checkpoint history next to its checkpoints, per operator and subtask', async () => {
  const fs = new MemoryFileSystem();
  const done = await run({ checkpointStorage: new FsCheckpointStorage(fs) }, 2);
  const h = await readCheckpointHistory(fs);
  assert.deepEqual(h.unreadable, []);
  assert.deepEqual(h.entries.map((e) => [e.checkpointId, e.kind, e.status, e.pointer]), done.map((c) => [c.checkpointId, 'CHECKPOINT', 'COMPLETED', c.pointer]));
  for (const e of h.entries) {
    assert.deepEqual(e.subtasks.map((s) => `${s.operatorUid}#${s.subtaskIndex}`), ['count#0', 'count#1', 'discard#0', 'discard#1', 'src#0', 'src#1']);
    assert.equal(e.fullSize, e.subtasks.reduce((n, s) => n + s.fullSize, 0));
    assert.ok(e.fullSize > 0);
  }
});

for (const mode of ['NO_CLAIM', 'CLAIM'] as const) {
  test(`restoreMode ${mode}: resuming from the latest checkpoint ${mode === 'CLAIM' ? 'subsumes and deletes it' : 'never deletes it nor its files'}`, async () => {
    const fs = new MemoryFileSystem();
    const storage = new FsCheckpointStorage(fs);
    const [first] = await run({ checkpointStorage: storage }, 1);
    const restored = filesOf(first!.metadata, first!.pointer);
    const later = await run({ checkpointStorage: storage, resumeFromLatestCheckpoint: true, restoreMode: mode }, 2);
    const onStorage = (await fs.list('')).map((f) => f.path).filter((p) => !p.startsWith('_history/')).sort();
    const last = filesOf(later[1]!.metadata, later[1]!.pointer);
    assert.deepEqual(onStorage, mode === 'CLAIM' ? last : [...restored, ...last].sort());
  });
}

test('JobOptions.checkpointListener hears every trigger, completion and the restore (what @flowstate/metrics exports)', async () => {
  const storage = new FsCheckpointStorage(new MemoryFileSystem());
  const events: string[] = [];
  const checkpointListener = {
    checkpointTriggered: (id: number) => events.push(`triggered ${id}`),
    checkpointCompleted: (e: { checkpointId: number; status: string }) => events.push(`completed ${e.checkpointId} ${e.status}`),
    checkpointFailed: (e: { checkpointId: number }) => events.push(`failed ${e.checkpointId}`),
    restored: () => events.push('restored'),
  };
  const done = await run({ checkpointStorage: storage, checkpointListener }, 2);
  assert.deepEqual(events, done.flatMap((c) => [`triggered ${c.checkpointId}`, `completed ${c.checkpointId} COMPLETED`]));
  events.length = 0;
  await run({ checkpointStorage: storage, resumeFromLatestCheckpoint: true, checkpointListener }, 1);
  assert.equal(events[0], 'restored', 'the restore is reported before any new checkpoint');
  assert.equal(events.filter((e) => e.startsWith('completed')).length, 1);
});
