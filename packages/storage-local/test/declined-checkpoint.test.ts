import { strict as assert } from 'node:assert';
import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FaultInjectingFileSystem } from '@flowstate/conformance';
import {
  collectGarbage,
  collectStreamHandles,
  deserializeCheckpointMetadata,
  FsCheckpointStorage,
  serializeCheckpointMetadata,
  type CheckpointStorageLocation,
  type StreamStateHandle,
} from '@flowstate/core';
import { LocalFileSystem, localSavepointStorage } from '@flowstate/storage-local';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'flowstate-declined-'));
  dirs.push(d);
  return d;
};
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** What a coordinator does: write every task's files, then the metadata; decline on any failure. */
async function checkpoint(loc: CheckpointStorageLocation, id: number, sizes: number[]): Promise<'completed' | 'declined'> {
  try {
    const handles: StreamStateHandle[] = [];
    for (const [i, size] of sizes.entries()) {
      const out = loc.streamFactory.createCheckpointStateOutputStream(i % 2 === 0 ? 'EXCLUSIVE' : 'SHARED');
      for (let off = 0; off < size; off += 4096) await out.write(new Uint8Array(Math.min(4096, size - off)).fill(id));
      handles.push(await out.closeAndGetHandle());
    }
    const metadata = { checkpointId: id, kind: 'CHECKPOINT' as const, timestamp: id, operators: [{ uid: 'op', parallelism: 1, maxParallelism: 1, subtasks: [{ subtaskIndex: 0, keyed: [{ type: 'test', keyGroupRange: { start: 0, end: 0 }, stateSize: 0, files: handles }], operator: [] }] }] };
    await loc.finalizeCheckpoint(serializeCheckpointMetadata(metadata));
    return 'completed';
  } catch {
    await loc.disposeOnFailure().catch(() => {});
    return 'declined';
  }
}

async function assertEveryCompletedCheckpointIsIntact(storage: FsCheckpointStorage): Promise<number> {
  let files = 0;
  for (const p of await storage.listCompletedCheckpoints()) {
    const meta = deserializeCheckpointMetadata((await storage.resolveCheckpoint(p)).metadata, p);
    for (const h of collectStreamHandles(meta)) {
      await storage.readFully(h, meta.checkpointId); // size and CRC32C verified
      files++;
    }
  }
  return files;
}

describe('storage faults during checkpoints', () => {
  for (const failAfter of [0, 5000, 20000, 40000]) {
    it(`a permanent write fault after ${failAfter} bytes declines the checkpoint; completed checkpoints stay intact`, async () => {
      const fs = new FaultInjectingFileSystem(new LocalFileSystem(tempDir()));
      const storage = new FsCheckpointStorage(fs);
      assert.equal(await checkpoint(await storage.initializeLocationForCheckpoint(1), 1, [10000, 10000, 10000]), 'completed');
      fs.mode = 'permanent';
      fs.failWritesAfterBytes = 30000 + failAfter;
      assert.equal(await checkpoint(await storage.initializeLocationForCheckpoint(2), 2, [10000, 10000, 10000, 10000, 10000]), 'declined');
      assert.ok(fs.injected.writes + fs.injected.commits >= 1);
      assert.deepEqual(await storage.listCompletedCheckpoints(), ['chk-1']);
      assert.equal(await assertEveryCompletedCheckpointIsIntact(storage), 3);
      // Storage heals: the next checkpoint completes, and gc removes what the declined one left.
      fs.mode = 'none';
      assert.equal(await checkpoint(await storage.initializeLocationForCheckpoint(3), 3, [10000, 10000]), 'completed');
      await collectGarbage(storage);
      // After gc, storage holds exactly the two completed checkpoints: their metadata and files.
      const referenced = new Set<string>();
      for (const p of await storage.listCompletedCheckpoints()) {
        referenced.add(`${p}/_metadata`);
        const meta = deserializeCheckpointMetadata((await storage.resolveCheckpoint(p)).metadata, p);
        for (const h of collectStreamHandles(meta)) if (h.type === 'file') referenced.add(h.path);
      }
      const left = [...(await fs.list('')), ...(await fs.listIncomplete(''))].map((f) => f.path).sort();
      assert.deepEqual(left, [...referenced].sort());
      assert.equal(await assertEveryCompletedCheckpointIsIntact(storage), 5);
    });
  }

  it('a storage that also refuses deletes still never exposes the declined checkpoint', async () => {
    const fs = new FaultInjectingFileSystem(new LocalFileSystem(tempDir()));
    const storage = new FsCheckpointStorage(fs);
    fs.mode = 'permanent';
    fs.failWritesAfterBytes = 15000;
    fs.failDeletes = true;
    assert.equal(await checkpoint(await storage.initializeLocationForCheckpoint(1), 1, [10000, 10000]), 'declined');
    assert.deepEqual(await storage.listCompletedCheckpoints(), []);
    fs.mode = 'none';
    const gc = await collectGarbage(storage);
    assert.ok(gc.orphans.length >= 1, 'the committed file of the declined checkpoint is reclaimed');
    assert.deepEqual([...(await fs.list('')), ...(await fs.listIncomplete(''))], []);
  });

  it('a savepoint directory can be moved and still restores (handles are relative)', async () => {
    const a = join(tempDir(), 'savepoint-a');
    const sp = localSavepointStorage(a);
    assert.equal(await checkpoint(await sp.initializeLocationForCheckpoint(7), 7, [3000, 5000]), 'completed');
    const b = join(tempDir(), 'moved', 'savepoint-b');
    renameSync(join(a, '..'), join(b, '..'));
    const moved = localSavepointStorage(join(b, '..', 'savepoint-a'));
    assert.deepEqual(await moved.listCompletedCheckpoints(), ['']);
    assert.equal(await assertEveryCompletedCheckpointIsIntact(moved), 2);
  });
});
