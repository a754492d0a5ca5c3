import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { ListState } from '@flowstate/core';
import { LogSource, sequenceLog, type RuntimeContext } from '../src/index.js';

type Offset = { partition: number; offset: number };

/** A context of one subtask whose offsets list state is `stored` (what a checkpoint keeps). */
function contextOf(stored: { value: Offset[] }, restored: boolean): RuntimeContext {
  const state = {
    get: () => stored.value.map((o) => ({ ...o })),
    update: (v: Offset[]) => void (stored.value = v.map((o) => ({ ...o }))),
  } as unknown as ListState<unknown>;
  return { isRestored: restored, subtaskIndex: 0, parallelism: 1, getListState: () => state } as unknown as RuntimeContext;
}

it('LogSource resumes the failure-free order after a restore, even from a checkpoint taken between two partitions\' reads', async () => {
  const log = sequenceLog(3, 100, (p, o) => `${p}:${o}`);
  const stored = { value: [] as Offset[] };
  const reference = new LogSource(() => log);
  await reference.initializeState(contextOf(stored, false));
  const expected = Array.from({ length: 300 }, () => reference.pollNext());
  assert.deepEqual(expected.slice(0, 4), ['0:0', '1:0', '2:0', '0:1'], 'round robin from equal offsets');

  let source = new LogSource(() => log);
  await source.initializeState(contextOf(stored, false));
  const read: Array<string | undefined> = [];
  // A checkpoint after 7, 14, 21... reads: never at a partition boundary of the round robin.
  while (read.length < 300) {
    for (let i = 0; i < 7 && read.length < 300; i++) read.push(source.pollNext());
    source.snapshotState({ checkpointId: read.length, timestamp: 0, savepoint: false });
    source = new LogSource(() => log);
    await source.initializeState(contextOf(stored, true));
  }
  assert.deepEqual(read, expected, 'every restore resumes where the failure-free run was');
  assert.equal(source.pollNext(), undefined, 'the log is read to its end, once');
});
