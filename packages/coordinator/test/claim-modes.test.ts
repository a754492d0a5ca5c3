/**
 * Restore modes file by file: incremental RocksDB checkpoints share SST files, so which files a run
 * may delete after restoring a checkpoint is visible in the storage listing.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  CHECKPOINT_HISTORY_DIR,
  collectStreamHandles,
  CorruptCheckpointError,
  FsCheckpointStorage,
  IllegalStateUsageError,
  MemoryFileSystem,
  readCheckpointHistory,
  Serializers,
  VoidNamespace,
  type CheckpointMetadata,
  type FileStateHandle,
  type KeyedStateBackend,
} from '@flowstate/core';
import { CheckpointFailedError, EmbeddedCheckpointCoordinator, type CompletedCheckpointInfo, type RestoreMode, type RestorePoint } from '@flowstate/coordinator';
import { RocksDBStateBackend } from '@flowstate/rocksdb';
import { COUNT, counter as restoredCounter, fileBackend, MAX_P } from './counter.js';

const work = mkdtempSync(join(tmpdir(), 'flowstate-claim-'));
after(() => rmSync(work, { recursive: true, force: true }));

const filesOf = (m: CheckpointMetadata, pointer: string) => new Set([`${pointer}/_metadata`, ...collectStreamHandles(m).flatMap((h) => (h.type === 'file' ? [h.path] : []))]);
const union = (...sets: ReadonlySet<string>[]) => [...new Set(sets.flatMap((s) => [...s]))].sort();

async function onStorage(fs: MemoryFileSystem): Promise<string[]> {
  return (await fs.list('')).map((f) => f.path).filter((p) => !p.startsWith(`${CHECKPOINT_HISTORY_DIR}/`)).sort();
}

function counter(point: RestorePoint | undefined): Promise<KeyedStateBackend<string>> {
  return restoredCounter(new RocksDBStateBackend({ incrementalCheckpoints: true, localDirectory: work }), point);
}

/** Adds `n` to the count of keys [from, to): every round writes new SSTs and keeps older ones. */
function bump(kb: KeyedStateBackend<string>, from: number, to: number): void {
  const count = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT);
  for (let i = from; i < to; i++) {
    kb.setCurrentKey(`k${i}`);
    count.update((count.value() ?? 0) + 1);
  }
}

/** Run 1: two incremental checkpoints (the second reuses SSTs of the first), retaining 1. */
async function firstRun(fs: MemoryFileSystem): Promise<{ restored: Set<string>; id: number }> {
  const coordinator = await EmbeddedCheckpointCoordinator.open({ storage: new FsCheckpointStorage(fs), retainedCheckpoints: 1 });
  const kb = await counter(coordinator.restorePoint);
  coordinator.register({ uid: 'counter', subtaskIndex: 0, parallelism: 1, maxParallelism: MAX_P, keyed: kb });
  bump(kb, 0, 300);
  await coordinator.triggerCheckpoint();
  bump(kb, 300, 600);
  const c2 = await coordinator.triggerCheckpoint();
  await coordinator.close();
  kb.dispose();
  const restored = filesOf(c2.metadata, c2.pointer);
  assert.ok([...restored].filter((p) => p.startsWith('shared/')).length >= 2, 'checkpoint 2 references shared SSTs of both checkpoints');
  assert.deepEqual(await onStorage(fs), [...restored].sort(), 'run 1 leaves exactly checkpoint 2');
  return { restored, id: c2.checkpointId };
}

/** Run 2: restores checkpoint 2 in `mode`, takes checkpoints 3 and 4 (4 reuses 3's SSTs; retaining 1). */
async function secondRun(fs: MemoryFileSystem, mode: RestoreMode) {
  const storage = new FsCheckpointStorage(fs);
  const coordinator = await EmbeddedCheckpointCoordinator.open({ storage, retainedCheckpoints: 1, restoreMode: mode });
  const kb = await coordinator.restore(async (point) => counter(point));
  coordinator.register({ uid: 'counter', subtaskIndex: 0, parallelism: 1, maxParallelism: MAX_P, keyed: kb });
  const count = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT);
  kb.setCurrentKey('k5');
  assert.equal(count.value(), 1, 'restored');
  bump(kb, 0, 100);
  const c3 = await coordinator.triggerCheckpoint();
  const afterFirst = await onStorage(fs);
  // No update: RocksDB would compact four L0 files into one new SST, and nothing would be reused.
  const c4 = await coordinator.triggerCheckpoint();
  await coordinator.close();
  kb.dispose();
  return { c3, c4, afterFirst, files: await onStorage(fs) };
}

describe('restore modes (Flink 1.15+), file by file, with incremental RocksDB checkpoints', () => {
  for (const mode of ['NO_CLAIM', 'LEGACY'] as const) {
    it(`${mode}: the restored checkpoint's files all survive; the first checkpoint after the restore references none of them`, async () => {
      const fs = new MemoryFileSystem();
      const { restored, id } = await firstRun(fs);
      const { c3, c4, afterFirst, files } = await secondRun(fs, mode);
      assert.equal(c3.checkpointId, id + 1);
      const own3 = filesOf(c3.metadata, c3.pointer);
      assert.deepEqual([...own3].filter((p) => restored.has(p)), [], 'checkpoint 3 is a full one');
      assert.deepEqual(afterFirst, union(restored, own3));
      // Checkpoint 4 subsumed checkpoint 3 (owned by this run), never checkpoint 2.
      assert.deepEqual(files, union(restored, filesOf(c4.metadata, c4.pointer)));
      assert.ok(filesOf(c4.metadata, c4.pointer).size > 0 && [...filesOf(c4.metadata, c4.pointer)].some((p) => own3.has(p)), 'checkpoint 4 is incremental on checkpoint 3');
    });
  }

  it('CLAIM: the first completed checkpoint subsumes the restored one; its files, shared SSTs included, are deleted', async () => {
    const fs = new MemoryFileSystem();
    const { restored } = await firstRun(fs);
    const { c3, c4, afterFirst, files } = await secondRun(fs, 'CLAIM');
    const own3 = filesOf(c3.metadata, c3.pointer);
    assert.deepEqual(afterFirst, [...own3].sort(), 'only checkpoint 3 is left');
    assert.deepEqual(files, [...filesOf(c4.metadata, c4.pointer)].sort());
    assert.ok([...restored].every((p) => !files.includes(p)));
  });

  it('the history of both runs survives on storage: ids, kinds, incremental checkpoints, per subtask', async () => {
    const fs = new MemoryFileSystem();
    await firstRun(fs);
    await secondRun(fs, 'NO_CLAIM');
    const h = await readCheckpointHistory(fs);
    assert.deepEqual(h.unreadable, []);
    assert.deepEqual(h.entries.map((e) => [e.checkpointId, e.kind, e.status, e.snapshotType]), [
      [1, 'CHECKPOINT', 'COMPLETED', 'FULL'],
      [2, 'CHECKPOINT', 'COMPLETED', 'INCREMENTAL'],
      [3, 'CHECKPOINT', 'COMPLETED', 'FULL'],
      [4, 'CHECKPOINT', 'COMPLETED', 'INCREMENTAL'],
    ]);
    for (const e of h.entries) {
      assert.deepEqual(e.subtasks.map((s) => [s.operatorUid, s.subtaskIndex]), [['counter', 0]]);
      assert.equal(e.pointer, `chk-${e.checkpointId}`);
      assert.ok(e.fullSize > 0 && e.checkpointedSize > 0 && e.checkpointedSize <= e.fullSize);
    }
  });
});

describe('restore modes: references to the restored files', () => {
  /** The operator's file in a completed checkpoint. */
  const operatorFile = (done: CompletedCheckpointInfo): FileStateHandle => done.metadata.operators[0]!.subtasks[0]!.operator[0]!.stream as FileStateHandle;

  async function restoredSharedFile(fs: MemoryFileSystem): Promise<FileStateHandle> {
    const c = await EmbeddedCheckpointCoordinator.open({ storage: new FsCheckpointStorage(fs) });
    c.register({ uid: 'op', subtaskIndex: 0, parallelism: 1, maxParallelism: MAX_P, operator: fileBackend(() => undefined) });
    return operatorFile(await c.triggerCheckpoint());
  }

  /** A coordinator restarted in `restoreMode` after checkpoint 1; its operator references checkpoint 1's file while `reuse()` says so. */
  async function restartedWithSharedFile(restoreMode: RestoreMode, reuse: () => boolean) {
    const fs = new MemoryFileSystem();
    const file = await restoredSharedFile(fs);
    const c = await EmbeddedCheckpointCoordinator.open({ storage: new FsCheckpointStorage(fs), restoreMode });
    c.register({ uid: 'op', subtaskIndex: 0, parallelism: 1, maxParallelism: MAX_P, operator: fileBackend(() => (reuse() ? file : undefined)) });
    return { fs, file, c };
  }

  it('NO_CLAIM declines a checkpoint that references a restored file (it would dangle once the user deletes the restored checkpoint)', async () => {
    const { fs, file, c } = await restartedWithSharedFile('NO_CLAIM', () => true);
    await assert.rejects(c.triggerCheckpoint(), (e: unknown) => e instanceof CheckpointFailedError && /NO_CLAIM.*does not own/.test(e.message));
    assert.ok((await fs.stat(file.path)) !== null, 'the restored file survives the failed checkpoint');
    assert.deepEqual(await new FsCheckpointStorage(fs).listCompletedCheckpoints(), ['chk-1']);
  });

  it('LEGACY lets later checkpoints reference a restored file and never deletes it, also once they are subsumed', async () => {
    let reuse = true;
    const { fs, file, c } = await restartedWithSharedFile('LEGACY', () => reuse);
    await c.triggerCheckpoint();
    reuse = false;
    const own = operatorFile(await c.triggerCheckpoint());
    await c.close();
    assert.deepEqual(await onStorage(fs), ['chk-1/_metadata', 'chk-3/_metadata', file.path, own.path].sort(), 'checkpoint 2 subsumed; the restored file stays');
  });

  it('CLAIM: a checkpoint may reference a restored file; once nothing retained does, it is deleted', async () => {
    let reuse = true;
    const { fs, file, c } = await restartedWithSharedFile('CLAIM', () => reuse);
    await c.triggerCheckpoint();
    assert.deepEqual(await onStorage(fs), ['chk-2/_metadata', file.path].sort(), 'checkpoint 1 subsumed; its file is still used by checkpoint 2');
    reuse = false;
    const own = operatorFile(await c.triggerCheckpoint());
    await c.close();
    assert.deepEqual(await onStorage(fs), ['chk-3/_metadata', own.path].sort());
  });
});

describe('restore modes: a restore that fell back to an older checkpoint', () => {
  const operatorFile = (done: CompletedCheckpointInfo): FileStateHandle => done.metadata.operators[0]!.subtasks[0]!.operator[0]!.stream as FileStateHandle;

  /** Run 1 retains checkpoints 1 and 2 (one new shared file each); run 2 fails to restore 2 (corrupt) and falls back to 1. */
  async function fellBackTo1(restoreMode: RestoreMode, reuse: () => boolean) {
    const fs = new MemoryFileSystem();
    const first = await EmbeddedCheckpointCoordinator.open({ storage: new FsCheckpointStorage(fs), retainedCheckpoints: 2 });
    first.register({ uid: 'op', subtaskIndex: 0, parallelism: 1, maxParallelism: MAX_P, operator: fileBackend(() => undefined) });
    const file1 = operatorFile(await first.triggerCheckpoint());
    await first.triggerCheckpoint();
    await first.close();
    const c = await EmbeddedCheckpointCoordinator.open({ storage: new FsCheckpointStorage(fs), restoreMode });
    const point = await c.restore(async (p) => {
      if (p!.checkpointId === 2) throw new CorruptCheckpointError('chk-2/x', 'corrupt', 2);
      return p;
    });
    assert.equal(point?.checkpointId, 1);
    c.register({ uid: 'op', subtaskIndex: 0, parallelism: 1, maxParallelism: MAX_P, operator: fileBackend(() => (reuse() ? file1 : undefined)) });
    return { fs, file1, c };
  }

  it('NO_CLAIM declines a checkpoint that references a file of the checkpoint it fell back to', async () => {
    const { fs, file1, c } = await fellBackTo1('NO_CLAIM', () => true);
    await assert.rejects(c.triggerCheckpoint(), (e: unknown) => e instanceof CheckpointFailedError && /NO_CLAIM.*of restored checkpoint 1,/.test(e.message));
    await c.close();
    assert.ok((await fs.stat(file1.path)) !== null, 'the restored file survives');
    assert.deepEqual(await new FsCheckpointStorage(fs).listCompletedCheckpoints(), ['chk-1', 'chk-2']);
  });

  it('LEGACY never deletes a file of the checkpoint it fell back to, also once the checkpoints referencing it are subsumed', async () => {
    let reuse = true;
    const { fs, file1, c } = await fellBackTo1('LEGACY', () => reuse);
    await c.triggerCheckpoint();
    reuse = false;
    await c.triggerCheckpoint();
    await c.close();
    assert.ok((await fs.stat(file1.path)) !== null, 'the file of checkpoint 1 (not owned) survives');
    assert.deepEqual(await new FsCheckpointStorage(fs).listCompletedCheckpoints(), ['chk-1', 'chk-2', 'chk-4']);
  });

  it('restore() refuses while a subtask is registered or another restore() runs: the operators of a job are never restored from different checkpoints', async () => {
    const fs = new MemoryFileSystem();
    const first = await EmbeddedCheckpointCoordinator.open({ storage: new FsCheckpointStorage(fs), retainedCheckpoints: 2 });
    for (const uid of ['a', 'b']) first.register({ uid, subtaskIndex: 0, parallelism: 1, maxParallelism: MAX_P, operator: fileBackend(() => undefined) });
    await first.triggerCheckpoint();
    await first.triggerCheckpoint();
    await first.close();
    const c = await EmbeddedCheckpointCoordinator.open({ storage: new FsCheckpointStorage(fs), restoreMode: 'CLAIM' });
    // One restore() per operator: 'a' restores checkpoint 2; 'b' finds a file of 2 corrupt and would fall back to 1.
    const a = await c.restore(async (p) => p);
    assert.equal(a?.checkpointId, 2);
    c.register({ uid: 'a', subtaskIndex: 0, parallelism: 1, maxParallelism: MAX_P, operator: fileBackend(() => undefined) });
    const tried: number[] = [];
    const buildB = async (p: RestorePoint | undefined) => {
      tried.push(p!.checkpointId);
      if (p!.checkpointId === 2) throw new CorruptCheckpointError('chk-2/x', 'corrupt', 2);
      return p;
    };
    await assert.rejects(c.restore(buildB), (e: unknown) => e instanceof IllegalStateUsageError && /subtasks are registered already: a#0/.test(e.message));
    assert.deepEqual(tried, [], 'b was not built');
    assert.equal(c.restorePoint?.checkpointId, 2, 'the restore point is unchanged');
    assert.deepEqual(c.skippedCheckpoints, []);
    const d = await EmbeddedCheckpointCoordinator.open({ storage: new FsCheckpointStorage(fs), restoreMode: 'CLAIM' });
    const results = await Promise.allSettled([d.restore(async (p) => p), d.restore(buildB)]);
    assert.equal(results[0].status, 'fulfilled');
    assert.ok(results[1].status === 'rejected' && results[1].reason instanceof IllegalStateUsageError && /another restore\(\) is running/.test(results[1].reason.message));
    assert.deepEqual(tried, []);
    // One restore() per operator, every subtask registered only at the end: the second is refused too.
    const e = await EmbeddedCheckpointCoordinator.open({ storage: new FsCheckpointStorage(fs), restoreMode: 'CLAIM' });
    assert.equal((await e.restore(async (p) => p))?.checkpointId, 2);
    await assert.rejects(e.restore(buildB), (err: unknown) => err instanceof IllegalStateUsageError && /register its subtasks/.test(err.message));
    assert.deepEqual(tried, []);
    // Once the job's subtasks registered and left (a failover), the next restore() runs.
    const unregister = e.register({ uid: 'a', subtaskIndex: 0, parallelism: 1, maxParallelism: MAX_P, operator: fileBackend(() => undefined) });
    unregister();
    assert.equal((await e.restore(async (p) => p))?.checkpointId, 2);
  });

  it("a fallback to one of the run's own checkpoints leaves it owned: retention deletes its files once it is subsumed", async () => {
    const fs = new MemoryFileSystem();
    const c = await EmbeddedCheckpointCoordinator.open({ storage: new FsCheckpointStorage(fs), retainedCheckpoints: 2, restoreMode: 'NO_CLAIM' });
    const unregister = c.register({ uid: 'op', subtaskIndex: 0, parallelism: 1, maxParallelism: MAX_P, operator: fileBackend(() => undefined) });
    const file1 = operatorFile(await c.triggerCheckpoint());
    await c.triggerCheckpoint();
    unregister();
    const point = await c.restore(async (p) => {
      if (p!.checkpointId === 2) throw new CorruptCheckpointError('chk-2/x', 'corrupt', 2);
      return p;
    });
    assert.equal(point?.checkpointId, 1);
    c.register({ uid: 'op', subtaskIndex: 0, parallelism: 1, maxParallelism: MAX_P, operator: fileBackend(() => undefined) });
    await c.triggerCheckpoint();
    await c.triggerCheckpoint();
    await c.close();
    assert.equal(await fs.stat(file1.path), null, 'the file of checkpoint 1 (owned, subsumed) is deleted');
    assert.deepEqual(await new FsCheckpointStorage(fs).listCompletedCheckpoints(), ['chk-3', 'chk-4']);
  });
});
