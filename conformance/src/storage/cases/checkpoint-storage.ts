import assert from 'node:assert/strict';
import { collectGarbage, CorruptCheckpointError, FsCheckpointStorage, serializeCheckpointMetadata, StorageNotFoundError, type FileSystem, type StreamStateHandle } from '@flowstate/core';
import { patternBytes, writeBytes } from '../test-data.js';
import { storageCase, type StorageCaseGroup } from '../storage-case.js';

/** FsCheckpointStorage over the file system: state files, checksums, completion by _metadata, cleanup. */
export function checkpointStorageCases(): StorageCaseGroup {
  return {
    name: 'FsCheckpointStorage over this file system',
    cases: [
      storageCase('state files round-trip and are verified by size and CRC32C', stateFilesRoundTrip),
      storageCase('a buffer reused after a checkpoint stream write() resolved does not change the state file', reusedWriteBuffer),
      storageCase('a corrupted, truncated or missing state file is a CorruptCheckpointError naming the file', corruptStateFiles),
      storageCase('a checkpoint without _metadata is neither listed nor resolvable', completionByMetadata),
      storageCase('a checkpoint whose metadata references a missing or resized file is incomplete: not listed, not resolvable, reclaimed by gc', incompleteCheckpoint),
      storageCase('disposeOnFailure removes what a failed checkpoint wrote', disposeOnFailure),
    ],
  };
}

/** Checkpoint ids unique per test, because a factory may hand out one shared root. */
const freshId = () => 1_000_000 + Math.floor(Math.random() * 1_000_000_000);

const writeState = async (storage: FsCheckpointStorage, id: number, scope: 'EXCLUSIVE' | 'SHARED', size: number, seed: number) => {
  const loc = await storage.initializeLocationForCheckpoint(id);
  const out = loc.streamFactory.createCheckpointStateOutputStream(scope);
  for (let pos = 0; pos < size; pos += 70_001) await out.write(patternBytes(seed, pos, Math.min(70_001, size - pos)));
  return { loc, handle: await out.closeAndGetHandle() };
};

/** Real metadata of one operator whose subtask references `handles` (as channel state). */
const metadataOf = (id: number, handles: readonly StreamStateHandle[]) =>
  serializeCheckpointMetadata({
    checkpointId: id,
    kind: 'CHECKPOINT',
    timestamp: 0,
    operators: [{ uid: 'op', parallelism: 1, maxParallelism: 1, subtasks: [{ subtaskIndex: 0, keyed: [], operator: [], channelState: handles }] }],
  });

const expectCorrupt = async (fn: () => Promise<unknown>, handle: StreamStateHandle, what: string) => {
  await assert.rejects(
    fn,
    (e: unknown) => {
      assert.ok(e instanceof CorruptCheckpointError, `${what}: expected CorruptCheckpointError, got ${String(e)}`);
      assert.equal(e.code, 'CORRUPT_CHECKPOINT');
      assert.ok(handle.type === 'file' && e.file.endsWith(handle.path), `${what}: error names the file (${e.file})`);
      assert.ok(e.message.includes(handle.type === 'file' ? handle.path : ''), `${what}: message names the file`);
      return true;
    },
  );
};

async function stateFilesRoundTrip(fs: FileSystem): Promise<void> {
  const storage = new FsCheckpointStorage(fs, { writeBufferSize: 64 * 1024 });
  const id = freshId();
  const size = 1_000_003;
  for (const scope of ['EXCLUSIVE', 'SHARED'] as const) {
    const { handle } = await writeState(storage, id, scope, size, 5);
    assert.equal(handle.type, 'file');
    assert.equal(handle.size, size);
    const data = await storage.readFully(handle, id);
    assert.ok(Buffer.from(data).equals(patternBytes(5, 0, size)));
    assert.ok(Buffer.from(await storage.readRange(handle, 400_000, 1234, id)).equals(patternBytes(5, 400_000, 1234)));
    await storage.discardStateHandle(handle);
  }
  await storage.discardCheckpoint(id);
}

async function reusedWriteBuffer(fs: FileSystem): Promise<void> {
  const storage = new FsCheckpointStorage(fs, { writeBufferSize: 256 * 1024 });
  const id = freshId();
  const loc = await storage.initializeLocationForCheckpoint(id);
  const out = loc.streamFactory.createCheckpointStateOutputStream('EXCLUSIVE');
  const buf = Buffer.alloc(100_000);
  for (let i = 0; i < 5; i++) {
    buf.fill(i + 1);
    await out.write(buf);
  }
  buf.fill(0xff);
  const handle = await out.closeAndGetHandle();
  const data = Buffer.from(await storage.readFully(handle, id));
  for (let i = 0; i < 5; i++) assert.ok(data.subarray(i * 100_000, (i + 1) * 100_000).every((b) => b === i + 1), `block ${i}`);
  await storage.discardCheckpoint(id);
}

async function corruptStateFiles(fs: FileSystem): Promise<void> {
  const storage = new FsCheckpointStorage(fs);
  const id = freshId();
  const size = 300_001;
  const { handle } = await writeState(storage, id, 'EXCLUSIVE', size, 9);
  assert.ok(handle.type === 'file');
  const original = Buffer.from(await fs.read(handle.path));

  const flipped = Buffer.from(original);
  flipped[size >> 1] = flipped[size >> 1]! ^ 0x10;
  await writeBytes(fs, handle.path, flipped);
  await expectCorrupt(() => storage.readFully(handle, id), handle, 'one flipped bit');

  await writeBytes(fs, handle.path, original.subarray(0, size - 1));
  await expectCorrupt(() => storage.readFully(handle, id), handle, 'truncated (readFully)');
  await expectCorrupt(() => storage.readRange(handle, 0, 10, id), handle, 'truncated (readRange)');

  await writeBytes(fs, handle.path, Buffer.concat([original, Buffer.from([0])]));
  await expectCorrupt(() => storage.readFully(handle, id), handle, 'extended');

  await fs.delete(handle.path);
  await expectCorrupt(() => storage.readFully(handle, id), handle, 'missing (readFully)');
  await expectCorrupt(() => storage.readRange(handle, 0, 10, id), handle, 'missing (readRange)');
  await storage.discardCheckpoint(id);
}

async function completionByMetadata(fs: FileSystem): Promise<void> {
  const storage = new FsCheckpointStorage(fs);
  const id = freshId();
  const pointer = `chk-${id}`;
  const { loc, handle } = await writeState(storage, id, 'EXCLUSIVE', 10_000, 11);
  assert.equal(loc.pointer, pointer);

  const notComplete = async (what: string) => {
    assert.ok(!(await storage.listCompletedCheckpoints()).includes(pointer), `${what}: not listed`);
    await assert.rejects(() => storage.resolveCheckpoint(pointer), StorageNotFoundError, `${what}: not resolvable`);
  };
  await notComplete('state written, no metadata');

  // A metadata file that is being written, or whose write was aborted, does not complete it.
  const w = await fs.create(`${pointer}/_metadata`);
  await w.write(Buffer.from('half-written metadata'));
  await notComplete('metadata write in progress');
  await w.abort();
  await notComplete('metadata write aborted');

  const metadata = metadataOf(id, [handle]);
  const completed = await loc.finalizeCheckpoint(metadata);
  assert.equal(completed.pointer, pointer);
  assert.ok((await storage.listCompletedCheckpoints()).includes(pointer));
  const resolved = await storage.resolveCheckpoint(pointer);
  assert.equal(resolved.checkpointId, id);
  assert.ok(Buffer.from(resolved.metadata).equals(metadata));
  assert.equal((await resolved.reader.readFully(handle, id)).length, 10_000);

  await storage.discardCheckpoint(id);
  await notComplete('discarded');
  assert.deepEqual(await fs.list(pointer), []);
}

async function incompleteCheckpoint(fs: FileSystem): Promise<void> {
  const storage = new FsCheckpointStorage(fs);
  const id = freshId();
  const pointer = `chk-${id}`;
  const { loc, handle: own } = await writeState(storage, id, 'EXCLUSIVE', 3000, 21);
  const shared = (await writeState(storage, id, 'SHARED', 2000, 22)).handle;
  await loc.finalizeCheckpoint(metadataOf(id, [own, shared]));
  assert.ok((await storage.listCompletedCheckpoints()).includes(pointer), 'complete: listed');
  await storage.resolveCheckpoint(pointer);
  assert.ok(shared.type === 'file' && own.type === 'file');
  const original = Buffer.from(await fs.read(shared.path));

  const incomplete = async (what: string) => {
    assert.ok(!(await storage.listCompletedCheckpoints()).includes(pointer), `${what}: not listed`);
    await expectCorrupt(() => storage.resolveCheckpoint(pointer), shared, `${what}: resolveCheckpoint`);
    const scanned = (await storage.scanCheckpoints()).incomplete.find((c) => c.pointer === pointer);
    assert.equal(scanned?.reason, 'MISSING_FILES', `${what}: scanned as incomplete`);
  };
  // What an abort whose metadata delete failed left behind: the shared file deleted.
  await fs.delete(shared.path);
  await incomplete('shared file deleted');
  await writeBytes(fs, shared.path, original.subarray(0, 1000));
  await incomplete('shared file truncated');

  // Garbage collection would reclaim it: metadata and every file it had. (A dry run: the root
  // may be shared with other tests; core's tests check the deletion itself.)
  const gc = await collectGarbage(storage, { dryRun: true });
  assert.ok(gc.incompleteCheckpoints.includes(pointer));
  for (const p of [`${pointer}/_metadata`, own.path, shared.path]) assert.ok(gc.orphans.includes(p), `gc reclaims ${p}`);
  await storage.discardCheckpoint(id);
  await fs.delete(shared.path);
}

async function disposeOnFailure(fs: FileSystem): Promise<void> {
  const storage = new FsCheckpointStorage(fs);
  const id = freshId();
  const { loc } = await writeState(storage, id, 'EXCLUSIVE', 2000, 13);
  assert.equal((await fs.list(`chk-${id}`)).length, 1);
  await loc.disposeOnFailure();
  assert.deepEqual(await fs.list(`chk-${id}`), []);
  assert.ok(!(await storage.listCompletedCheckpoints()).includes(`chk-${id}`));
}
