/**
 * Completeness, garbage collection and the CompletedCheckpointStore when deletes fail: a checkpoint
 * whose `_metadata` exists never loses a file it references.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  collectGarbage,
  CompletedCheckpointStore,
  CorruptCheckpointError,
  IllegalStateUsageError,
  ForwardingFileSystem,
  FsCheckpointStorage,
  MemoryFileSystem,
  serializeCheckpointMetadata,
  StorageError,
  type CheckpointMetadata,
  type StreamStateHandle,
} from '@flowstate/core';

/** Memory file system that records deletes and fails those `failDelete` matches. */
class RecordingFileSystem extends ForwardingFileSystem {
  readonly deleted: string[] = [];
  failDelete: (path: string) => boolean = () => false;
  constructor() {
    super(new MemoryFileSystem());
  }
  override async delete(path: string): Promise<void> {
    if (this.failDelete(path)) throw new StorageError(path, 'injected delete failure', { transient: true });
    this.deleted.push(path);
    await this.inner.delete(path);
  }
  /** Path by path, so that each is recorded and may fail. */
  override async deleteMany(paths: readonly string[]): Promise<void> {
    for (const p of paths) await this.delete(p);
  }
  override async deleteDirectory(dir: string): Promise<void> {
    if (this.failDelete(dir)) throw new StorageError(dir, 'injected delete failure', { transient: true });
    for (const f of await this.inner.list(dir)) this.deleted.push(f.path);
    await this.inner.deleteDirectory(dir);
  }
}

/** A recording file system, checkpoint storage on it, and a store that retains one checkpoint. */
function setup(): { fs: RecordingFileSystem; storage: FsCheckpointStorage; store: CompletedCheckpointStore } {
  const fs = new RecordingFileSystem();
  const storage = new FsCheckpointStorage(fs);
  return { fs, storage, store: new CompletedCheckpointStore(storage, 1) };
}

async function writeFile(storage: FsCheckpointStorage, id: number, scope: 'EXCLUSIVE' | 'SHARED', text: string): Promise<StreamStateHandle> {
  const loc = await storage.initializeLocationForCheckpoint(id);
  const out = loc.streamFactory.createCheckpointStateOutputStream(scope);
  await out.write(Buffer.from(text));
  return out.closeAndGetHandle();
}

function metadataOf(id: number, handles: readonly StreamStateHandle[]): CheckpointMetadata {
  return {
    checkpointId: id,
    kind: 'CHECKPOINT',
    timestamp: id,
    operators: [{ uid: 'op', parallelism: 1, maxParallelism: 1, subtasks: [{ subtaskIndex: 0, keyed: [], operator: [], channelState: handles }] }],
  };
}

/** Writes checkpoint `id` with one exclusive file, one new shared file and `reused` shared files. */
async function checkpoint(storage: FsCheckpointStorage, id: number, reused: readonly StreamStateHandle[] = []) {
  const own = await writeFile(storage, id, 'EXCLUSIVE', `own ${id}`);
  const shared = await writeFile(storage, id, 'SHARED', `shared ${id}`);
  const metadata = metadataOf(id, [own, shared, ...reused]);
  await (await storage.initializeLocationForCheckpoint(id)).finalizeCheckpoint(serializeCheckpointMetadata(metadata));
  return { checkpointId: id, pointer: `chk-${id}`, metadata, own, shared };
}

const pathOf = (h: StreamStateHandle) => (h.type === 'file' ? h.path : assert.fail('file handle'));

describe('checkpoint completeness', () => {
  it('gc reclaims an incomplete checkpoint, metadata first, and keeps the files complete checkpoints share with it', async () => {
    const { fs, storage } = setup();
    const c1 = await checkpoint(storage, 1);
    const c2 = await checkpoint(storage, 2, [c1.shared]);
    await fs.inner.delete(pathOf(c2.shared)); // what a premature shared-file delete leaves behind
    const scan = await storage.scanCheckpoints();
    assert.deepEqual(scan.complete.map((c) => c.pointer), ['chk-1']);
    assert.deepEqual(scan.incomplete.map((c) => [c.pointer, c.reason]), [['chk-2', 'MISSING_FILES']]);
    await assert.rejects(storage.resolveCheckpoint('chk-2'), (e: unknown) => e instanceof CorruptCheckpointError && e.file.endsWith(pathOf(c2.shared)) && e.checkpointId === 2);

    // If the metadata cannot be deleted, gc deletes nothing else of that checkpoint.
    fs.failDelete = (p) => p === 'chk-2/_metadata';
    await assert.rejects(collectGarbage(storage), StorageError);
    assert.deepEqual(fs.deleted, []);
    fs.failDelete = () => false;
    const gc = await collectGarbage(storage);
    assert.deepEqual(gc.incompleteCheckpoints, ['chk-2']);
    assert.equal(fs.deleted[0], 'chk-2/_metadata', 'metadata first');
    assert.deepEqual(new Set(fs.deleted), new Set(['chk-2/_metadata', pathOf(c2.own)]));
    assert.ok((await fs.stat(pathOf(c1.shared))) !== null, 'the shared file checkpoint 1 uses stays');
    assert.deepEqual(await storage.listCompletedCheckpoints(), ['chk-1']);
  });

  it('gc deletes nothing while a checkpoint has metadata it cannot decode', async () => {
    const { fs, storage } = setup();
    await checkpoint(storage, 1);
    const w = await fs.create('chk-2/_metadata');
    await w.write(Buffer.from('not metadata'));
    await w.commit();
    await writeFile(storage, 3, 'EXCLUSIVE', 'orphan');
    assert.deepEqual((await storage.scanCheckpoints()).incomplete.map((c) => c.reason), ['UNREADABLE_METADATA']);
    await assert.rejects(collectGarbage(storage), CorruptCheckpointError);
    assert.deepEqual(fs.deleted, []);
  });
});

describe('garbage collection of a root that is not only a checkpoint directory', () => {
  it("gc deletes only orphans of the checkpoint layout (chk-<id>/, shared/, taskowned/) and reports every other unreferenced file as foreign, deleting none", async () => {
    const { fs, storage } = setup();
    await checkpoint(storage, 1);
    const orphans = [pathOf(await writeFile(storage, 2, 'EXCLUSIVE', 'aborted')), pathOf(await writeFile(storage, 2, 'SHARED', 'aborted shared')), 'taskowned/aborted'];
    // A home directory, a parent of several jobs' directories, savepoints kept inside the root, history.
    const foreign = ['docs/thesis.txt', 'job-2/chk-1/_metadata', 'job-2/shared/f', 'notes.txt', 'savepoint-1a2b/_metadata', 'chk-3', 'chk-x/f', 'shared', 'sharedish/f'];
    for (const path of [...orphans.slice(2), ...foreign, '_history/000000000001-0000000000001.json']) {
      const w = await fs.create(path);
      await w.write(Buffer.from('not yours'));
      await w.commit();
    }
    const dry = await collectGarbage(storage, { dryRun: true });
    assert.deepEqual(dry.orphans, [...orphans].sort());
    assert.deepEqual(dry.foreign, [...foreign].sort());
    // refuseForeign: a root holding foreign files is refused whole, nothing deleted.
    await assert.rejects(collectGarbage(storage, { refuseForeign: true }), (e: unknown) => e instanceof IllegalStateUsageError && /no checkpoint's \(chk-3, chk-x\/f, docs\/thesis.txt, and 6 more\).*nothing was deleted/.test((e as Error).message));
    assert.deepEqual(fs.deleted, [], 'refused before deleting');
    const gc = await collectGarbage(storage);
    assert.deepEqual(gc.orphans, [...orphans].sort());
    assert.deepEqual(gc.foreign, [...foreign].sort());
    assert.deepEqual(new Set(fs.deleted), new Set(orphans), 'only the orphans are deleted');
    for (const path of [...foreign, '_history/000000000001-0000000000001.json']) assert.ok((await fs.stat(path)) !== null, `${path} is kept`);
    assert.deepEqual(await storage.listCompletedCheckpoints(), ['chk-1']);
  });
});

describe('CompletedCheckpointStore', () => {
  it('recovers the checkpoints of earlier runs without subsuming them, then retention deletes exactly the unreferenced files', async () => {
    const { fs, storage } = setup();
    const cps = [await checkpoint(storage, 1)];
    for (let id = 2; id <= 6; id++) cps.push(await checkpoint(storage, id, [cps[0]!.shared]));
    const store = await CompletedCheckpointStore.recover(storage, 2);
    assert.deepEqual(store.all().map((c) => c.checkpointId), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(fs.deleted, [], 'recovery deletes nothing: a restore may still fall back to any of them');
    const c7 = await checkpoint(storage, 7, [cps[0]!.shared]);
    await store.add(c7);
    await store.registry.drain();
    assert.deepEqual(store.all().map((c) => c.checkpointId), [6, 7]);
    assert.deepEqual(await storage.listCompletedCheckpoints(), ['chk-6', 'chk-7']);
    const kept = new Set([...[cps[5]!, c7].flatMap((c) => [pathOf(c.own), pathOf(c.shared)]), pathOf(cps[0]!.shared), 'chk-6/_metadata', 'chk-7/_metadata']);
    assert.deepEqual(new Set((await fs.list('')).map((f) => f.path)), kept);
  });

  it('a subsumed checkpoint whose metadata cannot be deleted keeps its shared files until it is gone', async () => {
    const { fs, storage, store } = setup();
    const c1 = await checkpoint(storage, 1);
    await store.add(c1);
    fs.failDelete = (p) => p === 'chk-1/_metadata';
    await assert.rejects(store.add(await checkpoint(storage, 2)), StorageError);
    await store.registry.drain();
    assert.ok((await fs.stat('chk-1/_metadata')) !== null);
    assert.ok((await fs.stat(pathOf(c1.shared))) !== null, 'chk-1 still looks complete: its shared file must stay');
    assert.equal((await storage.scanCheckpoints()).incomplete.length, 0);
    fs.failDelete = () => false;
    await store.retryDiscards();
    await store.registry.drain();
    assert.equal(await fs.stat('chk-1/_metadata'), null);
    assert.equal(await fs.stat(pathOf(c1.shared)), null, 'released once checkpoint 1 is gone');
  });

  it('an adopted checkpoint (aborted, metadata left behind) keeps the files it reuses until it is discarded', async () => {
    const { fs, storage, store } = setup();
    const c1 = await checkpoint(storage, 1);
    await store.add(c1);
    const c2 = await checkpoint(storage, 2, [c1.shared]); // aborted, its metadata could not be deleted
    fs.failDelete = (p) => p === 'chk-2/_metadata';
    store.adopt(c2);
    await assert.rejects(store.add(await checkpoint(storage, 3)), StorageError);
    await store.registry.drain();
    assert.equal((await storage.scanCheckpoints()).incomplete.length, 0, 'chk-2 is still complete');
    fs.failDelete = () => false;
    await store.retryDiscards();
    await store.registry.drain();
    assert.deepEqual(await storage.listCompletedCheckpoints(), ['chk-3']);
    assert.equal(await fs.stat(pathOf(c1.shared)), null);
    assert.equal(await fs.stat(pathOf(c2.shared)), null);
    assert.deepEqual((await collectGarbage(storage, { dryRun: true })).orphans, []);
  });

  it('a dropped checkpoint newer than a retained one releases exactly the files only it used', async () => {
    const { fs, storage } = setup();
    const c1 = await checkpoint(storage, 1);
    const c2 = await checkpoint(storage, 2, [c1.shared]);
    const store = await CompletedCheckpointStore.recover(storage, 2);
    assert.ok(store.drop(2), 'restoring checkpoint 2 failed: it is dropped');
    assert.deepEqual(store.all().map((c) => c.checkpointId), [1]);
    await store.add(await checkpoint(storage, 3));
    await store.registry.drain();
    assert.deepEqual(await storage.listCompletedCheckpoints(), ['chk-1', 'chk-3']);
    assert.equal(await fs.stat(pathOf(c2.shared)), null, 'only checkpoint 2 used it');
    assert.ok((await fs.stat(pathOf(c1.shared))) !== null, 'checkpoint 1 (retained) uses it too');
    assert.deepEqual((await collectGarbage(storage, { dryRun: true })).orphans, []);
  });

  it('an adopted checkpoint before any completed one releases its shared files once it is gone', async () => {
    const { fs, storage, store } = setup();
    const c1 = await checkpoint(storage, 1); // aborted: its response was lost, its metadata is there
    store.adopt(c1);
    await store.retryDiscards();
    await store.registry.drain();
    assert.equal(await fs.stat('chk-1/_metadata'), null);
    assert.equal(await fs.stat(pathOf(c1.shared)), null);
    assert.deepEqual(await fs.list(''), []);
  });
});
