import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  CHECKPOINT_HISTORY_DIR,
  FsCheckpointStorage,
  MemoryFileSystem,
  readCheckpointHistory,
  Serializers,
  VoidNamespace,
  type KeyedStateBackend,
} from '@flowstate/core';
import { CheckpointFailedError, EmbeddedCheckpointCoordinator, type RestorePoint } from '@flowstate/coordinator';
import { FsStateBackend } from '@flowstate/heap';
import { COUNT, counter as restoredCounter, MAX_P } from './counter.js';

const counter = (point: RestorePoint | undefined, index = 0, parallelism = 1) => restoredCounter(new FsStateBackend(), point, index, parallelism);

function set(kb: KeyedStateBackend<string>, key: string, v: number): void {
  kb.setCurrentKey(key);
  kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT).update(v);
}

function get(kb: KeyedStateBackend<string>, key: string): number | null {
  kb.setCurrentKey(key);
  return kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT).value();
}

describe('EmbeddedCheckpointCoordinator', () => {
  it('restores the latest checkpoint; a corrupt file falls back to the older one (CLAIM drops the corrupt one)', async () => {
    const fs = new MemoryFileSystem();
    const storage = new FsCheckpointStorage(fs);
    const first = await EmbeddedCheckpointCoordinator.open({ storage, retainedCheckpoints: 2 });
    const operator = await new FsStateBackend().createOperatorStateBackend({ operatorIdentifier: 'counter#0', restoreState: [] });
    const kb = await counter(undefined);
    first.register({ uid: 'counter', subtaskIndex: 0, parallelism: 1, maxParallelism: MAX_P, keyed: kb, operator });
    set(kb, 'a', 1);
    await first.triggerCheckpoint();
    set(kb, 'a', 2);
    const c2 = await first.triggerCheckpoint();
    kb.dispose();
    // Same size, other bytes: the scan finds checkpoint 2 complete; only reading it finds the corruption.
    const victim = (await fs.list('chk-2')).find((f) => !f.path.endsWith('_metadata'))!;
    const bytes = await fs.read(victim.path);
    bytes[bytes.length - 1]! ^= 0xff;
    const w = await fs.create(victim.path);
    await w.write(bytes);
    await w.commit();

    const second = await EmbeddedCheckpointCoordinator.open({ storage, retainedCheckpoints: 2, restoreMode: 'CLAIM' });
    assert.equal(second.restorePoint?.checkpointId, c2.checkpointId);
    const tried: number[] = [];
    const restored = await second.restore(async (p) => {
      tried.push(p!.checkpointId);
      return counter(p);
    });
    assert.deepEqual(tried, [2, 1]);
    assert.equal(get(restored, 'a'), 1);
    assert.deepEqual(second.skippedCheckpoints.map((s) => [s.checkpointId, s.reason]), [[2, 'RESTORE_FAILED']]);
    assert.deepEqual(second.retainedCheckpoints.map((c) => c.checkpointId), [1]);
    second.register({ uid: 'counter', subtaskIndex: 0, parallelism: 1, maxParallelism: MAX_P, keyed: restored });
    await second.triggerCheckpoint();
    await second.close();
    assert.deepEqual(await storage.listCompletedCheckpoints(), ['chk-1', 'chk-3'], 'the corrupt checkpoint is discarded after the next completion');
    restored.dispose();
  });

  it('a cancelled checkpoint (AbortSignal) fails, leaves no files, and is in the history as FAILED', async () => {
    const fs = new MemoryFileSystem();
    const coordinator = await EmbeddedCheckpointCoordinator.open({ storage: new FsCheckpointStorage(fs) });
    const kb = await counter(undefined);
    coordinator.register({ uid: 'counter', subtaskIndex: 0, parallelism: 1, maxParallelism: MAX_P, keyed: kb });
    set(kb, 'a', 1);
    const ac = new AbortController();
    ac.abort(new Error('shutting down'));
    await assert.rejects(coordinator.triggerCheckpoint({ signal: ac.signal }), (e: unknown) => e instanceof CheckpointFailedError && e.reason === 'CANCELLED' && /shutting down/.test(e.message));
    const ok = await coordinator.triggerCheckpoint();
    assert.equal(ok.checkpointId, 2);
    assert.deepEqual((await fs.list('')).map((f) => f.path).filter((p) => !p.startsWith(`${CHECKPOINT_HISTORY_DIR}/`) && !p.startsWith('chk-2/')), []);
    const h = await readCheckpointHistory(fs);
    assert.deepEqual(h.entries.map((e) => [e.checkpointId, e.status]), [[1, 'FAILED'], [2, 'COMPLETED']]);
    assert.match(h.entries[0]!.failureCause!, /CANCELLED/);
    kb.dispose();
  });

  it('restores at another parallelism; an operator with missing subtasks cannot be checkpointed', async () => {
    const storage = new FsCheckpointStorage(new MemoryFileSystem());
    const c = await EmbeddedCheckpointCoordinator.open({ storage });
    const kbs = [await counter(undefined, 0, 2), await counter(undefined, 1, 2)];
    kbs.forEach((kb, i) => c.register({ uid: 'counter', subtaskIndex: i, parallelism: 2, maxParallelism: MAX_P, keyed: kb }));
    const keys = Array.from({ length: 50 }, (_, i) => `k${i}`);
    for (const k of keys) for (const kb of kbs) if (tryOwn(kb, k)) set(kb, k, k.length);
    await c.triggerCheckpoint();
    kbs.forEach((kb) => kb.dispose());
    const c2 = await EmbeddedCheckpointCoordinator.open({ storage });
    const one = await c2.restore((p) => counter(p));
    for (const k of keys) assert.equal(get(one, k), k.length, k);
    const unregister = c2.register({ uid: 'counter', subtaskIndex: 0, parallelism: 2, maxParallelism: MAX_P, keyed: one });
    await assert.rejects(c2.triggerCheckpoint(), /1 registered subtasks, its parallelism is 2/);
    unregister();
    one.dispose();
  });

  it('a savepoint goes to its own storage, canonical, not retained, and restorable; the history records it', async () => {
    const fs = new MemoryFileSystem();
    const storage = new FsCheckpointStorage(fs);
    const c = await EmbeddedCheckpointCoordinator.open({ storage });
    const kb = await counter(undefined);
    c.register({ uid: 'counter', subtaskIndex: 0, parallelism: 1, maxParallelism: MAX_P, keyed: kb });
    set(kb, 'a', 7);
    const savepointStorage = new FsCheckpointStorage(new MemoryFileSystem(), { layout: 'savepoint' });
    const sp = await c.triggerCheckpoint({ savepointStorage });
    assert.equal(sp.kind, 'SAVEPOINT');
    assert.deepEqual(await storage.listCompletedCheckpoints(), [], 'nothing in the checkpoint storage');
    assert.deepEqual(c.retainedCheckpoints, []);
    const h = await readCheckpointHistory(fs);
    assert.deepEqual(h.entries.map((e) => [e.checkpointId, e.kind, e.status]), [[1, 'SAVEPOINT', 'COMPLETED']]);
    const loc = await savepointStorage.resolveCheckpoint(sp.pointer);
    const restored = await counter({ checkpointId: sp.checkpointId, kind: 'SAVEPOINT', pointer: sp.pointer, metadata: sp.metadata, reader: loc.reader });
    assert.equal(get(restored, 'a'), 7);
    kb.dispose();
    restored.dispose();
  });
});

/** Whether `kb` owns `key`'s key group (setCurrentKey rejects keys of other key groups). */
function tryOwn(kb: KeyedStateBackend<string>, key: string): boolean {
  try {
    kb.setCurrentKey(key);
    return true;
  } catch {
    return false;
  }
}
