import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  MAX_UNCONFIRMED_SNAPSHOTS,
  SharedFileReuseTracker,
  SharedStateDiscardedError,
  SharedStateRegistry,
  type FileStateHandle,
  type SharedFileReference,
  type StreamStateHandle,
} from '@flowstate/core';

const file = (name: string): FileStateHandle => ({ type: 'file', path: `shared/${name}`, size: 1, checksum: 0 });
const ref = (name: string, use: SharedFileReference['use']): SharedFileReference => ({ handle: file(name), use });

function registry(): { reg: SharedStateRegistry; deleted: string[] } {
  const deleted: string[] = [];
  const reg = new SharedStateRegistry(async (h: StreamStateHandle) => void deleted.push(h.type === 'file' ? h.path : h.name));
  return { reg, deleted };
}

/** Registers and completes `id`, then subsumes everything older (one retained checkpoint). */
async function completeAndRetainOnly(reg: SharedStateRegistry, id: number, refs: SharedFileReference[]): Promise<void> {
  reg.registerCheckpoint(id, refs);
  reg.checkpointCompleted(id);
  reg.unregisterUnusedState(id);
  await reg.drain();
}

/** 'a' retained by completed checkpoint 1, then checkpoints 2 and 3 triggered (pending). */
async function aRetainedTwoPending(): Promise<{ reg: SharedStateRegistry; deleted: string[] }> {
  const r = registry();
  await completeAndRetainOnly(r.reg, 1, [ref('a', 'new')]);
  r.reg.checkpointTriggered(2);
  r.reg.checkpointTriggered(3);
  return r;
}

describe('SharedStateRegistry', () => {
  it('refuses a reused file it already discarded (FLINK-29913), registering nothing of that checkpoint', async () => {
    const { reg, deleted } = registry();
    await completeAndRetainOnly(reg, 1, [ref('a', 'new')]);
    await completeAndRetainOnly(reg, 2, [ref('b', 'new')]);
    assert.deepEqual(deleted, ['shared/a']);
    let error: unknown;
    try {
      reg.registerCheckpoint(3, [ref('c', 'new'), ref('a', 'reused')]);
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof SharedStateDiscardedError, `a typed error, got ${String(error)}`);
    assert.equal(error.code, 'SHARED_STATE_DISCARDED');
    assert.equal(error.checkpointId, 3);
    assert.equal(error.file, 'shared/a');
    assert.equal(reg.entry('shared/c'), undefined, 'all or nothing: the new file of the refused checkpoint is not registered');
    assert.equal(reg.isRegistered(3), false);
  });

  it('refuses a reused file whose checkpoint never completed (FLINK-25395)', () => {
    const { reg } = registry();
    reg.registerCheckpoint(1, [ref('a', 'new')]);
    assert.throws(() => reg.registerCheckpoint(2, [ref('a', 'reused')]), SharedStateDiscardedError);
  });

  it('holds back the deletion of an unused file while a checkpoint triggered before is pending', async () => {
    const { reg, deleted } = await aRetainedTwoPending();
    // 2 completes without 'a'; 3 (triggered before) may reuse it in its backend.
    await completeAndRetainOnly(reg, 2, [ref('b', 'new')]);
    assert.deepEqual(deleted, [], 'not deleted while checkpoint 3 is pending');
    reg.registerCheckpoint(3, [ref('a', 'reused'), ref('b', 'reused')]);
    reg.checkpointCompleted(3);
    reg.unregisterUnusedState(3);
    await reg.drain();
    assert.deepEqual(deleted, [], 'checkpoint 3 uses it');
    await completeAndRetainOnly(reg, 4, [ref('c', 'new')]);
    assert.deepEqual(deleted.sort(), ['shared/a', 'shared/b']);
  });

  it('a checkpoint triggered after a file became unused does not hold it back', async () => {
    const { reg, deleted } = registry();
    await completeAndRetainOnly(reg, 1, [ref('a', 'new')]);
    reg.checkpointTriggered(2);
    await completeAndRetainOnly(reg, 2, []);
    assert.deepEqual(deleted, ['shared/a']);
    reg.checkpointTriggered(3);
    await completeAndRetainOnly(reg, 3, []);
    assert.deepEqual(deleted, ['shared/a']);
  });

  it('an aborted checkpoint releases what it held back, and forgets its own files for the caller to delete', async () => {
    const { reg, deleted } = await aRetainedTwoPending();
    await completeAndRetainOnly(reg, 3, [ref('c', 'new')]);
    assert.deepEqual(deleted, [], 'held back for checkpoint 2');
    assert.deepEqual(reg.checkpointAborted(2), []);
    await reg.drain();
    assert.deepEqual(deleted, ['shared/a'], 'released once checkpoint 2 aborted');
    reg.checkpointTriggered(4);
    reg.registerCheckpoint(4, [ref('c', 'reused'), ref('d', 'new')]);
    assert.deepEqual(reg.checkpointAborted(4), [file('d')], 'its own file is forgotten, for the coordinator to delete');
    assert.equal(reg.entry('shared/d'), undefined);
    assert.equal(reg.entry('shared/c')?.lastUsedCheckpointId, 4, 'a reused file keeps its last use');
  });
});

describe('SharedFileReuseTracker', () => {
  const tracker = () => new SharedFileReuseTracker<FileStateHandle>((f) => f.path);
  const files = (...names: string[]) => new Map(names.map((n) => [n, file(n)]));

  it('reuses the files of the newest confirmed checkpoint; a late notification of an older one changes nothing', () => {
    const t = tracker();
    t.reusableFor(1);
    t.snapshotFinished(1, files('x'));
    t.reusableFor(2);
    t.snapshotFinished(2, files('x', 'y'));
    t.checkpointCompleted(2);
    t.checkpointCompleted(1);
    assert.deepEqual([...t.reusableFor(3).keys()], ['x', 'y']);
  });

  it('does not reuse a file that a later snapshot, which may complete first, does not hold (the issue 10 sequence)', () => {
    const t = tracker();
    t.reusableFor(2);
    t.snapshotFinished(2, files('a'));
    t.checkpointCompleted(2);
    assert.deepEqual([...t.reusableFor(3).keys()], ['a']);
    t.snapshotFinished(3, new Map([['a', file('a')], ['b', file('b3')]]));
    assert.deepEqual([...t.reusableFor(4).keys()], ['a']);
    // 4 uploaded its own copy of content b.
    t.snapshotFinished(4, new Map([['a', file('a')], ['b', file('b4')]]));
    t.checkpointCompleted(3);
    // 4 may still complete and subsume 3, deleting b3: 5 uploads b again.
    assert.deepEqual([...t.reusableFor(5).keys()], ['a']);
    t.checkpointAborted(4);
    assert.deepEqual([...t.reusableFor(6).keys()].sort(), ['a'], '5 is still pending and did not hold b3');
  });

  it(`stays bounded without notifications: past ${MAX_UNCONFIRMED_SNAPSHOTS} unconfirmed snapshots it reuses nothing until a newer one is confirmed`, () => {
    const t = tracker();
    t.reusableFor(1);
    t.snapshotFinished(1, files('a'));
    t.checkpointCompleted(1);
    const last = MAX_UNCONFIRMED_SNAPSHOTS + 2;
    for (let id = 2; id <= last; id++) {
      assert.equal(t.reusableFor(id).size, 1, `checkpoint ${id}: every earlier snapshot holds 'a'`);
      t.snapshotFinished(id, files('a'));
    }
    assert.ok(t.unconfirmedSnapshots <= MAX_UNCONFIRMED_SNAPSHOTS);
    assert.equal(t.reusableFor(last + 1).size, 0, 'the constraint of a forgotten snapshot is unknown: reuse nothing');
    t.snapshotFinished(last + 1, files('b'));
    t.checkpointCompleted(2);
    assert.equal(t.reusableFor(last + 2).size, 0, 'a notification older than what was forgotten does not count');
    t.checkpointCompleted(last + 1);
    assert.equal(t.reusableFor(last + 3).size, 0, 'snapshot last + 2, which reused nothing, may still complete first');
    t.checkpointAborted(last + 2);
    t.checkpointAborted(last + 3);
    assert.deepEqual([...t.reusableFor(last + 4).keys()], ['b'], 'once they aborted, the files of last + 1 are reusable');
  });
});
