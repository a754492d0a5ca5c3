import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, it } from 'node:test';
import { collectGarbage, CompletedCheckpointStore, deserializeCheckpointMetadata, collectStreamHandles } from '@flowstate/core';
import { IN_PROGRESS_SUFFIX, localCheckpointStorage } from '@flowstate/storage-local';

const root = mkdtempSync(join(tmpdir(), 'flowstate-crash-'));
after(() => rmSync(root, { recursive: true, force: true }));

it('a writer killed mid-checkpoint leaves orphans; gc reclaims exactly them and nothing a completed checkpoint needs', async () => {
  const child = spawnSync(process.execPath, [fileURLToPath(new URL('./crash-writer.js', import.meta.url)), root], { encoding: 'utf8' });
  assert.equal(child.signal, 'SIGKILL', `writer should have been killed: ${child.stderr}`);
  assert.match(child.stdout, /about to crash/);

  const storage = localCheckpointStorage(root);
  const all = [...(await storage.fs.list('')), ...(await storage.fs.listIncomplete!(''))].map((f) => f.path).sort();
  const meta = deserializeCheckpointMetadata((await storage.resolveCheckpoint('chk-1')).metadata, 'chk-1/_metadata');
  const referenced = new Set(['chk-1/_metadata', ...collectStreamHandles(meta).map((h) => (h.type === 'file' ? h.path : ''))]);
  assert.equal(referenced.size, 3);
  const expectedOrphans = all.filter((p) => !referenced.has(p));
  // chk-2's exclusive file, its committed shared file and the half-written temporary file.
  assert.equal(expectedOrphans.length, 3, `orphans: ${expectedOrphans.join(', ')}`);
  assert.ok(expectedOrphans.some((p) => p.endsWith(IN_PROGRESS_SUFFIX)));
  assert.ok(expectedOrphans.some((p) => p.startsWith('chk-2/')));

  const dry = await collectGarbage(storage, { dryRun: true });
  assert.deepEqual(dry.orphans, expectedOrphans);
  const res = await collectGarbage(storage);
  assert.deepEqual(res.orphans, expectedOrphans);
  const left = [...(await storage.fs.list('')), ...(await storage.fs.listIncomplete!(''))].map((f) => f.path).sort();
  assert.deepEqual(left, [...referenced].sort());

  // The completed checkpoint still restores byte for byte (sizes and checksums verified).
  for (const h of collectStreamHandles(meta)) await storage.readFully(h, 1);
  const store = await CompletedCheckpointStore.recover(storage, 1);
  assert.equal(store.latest()?.checkpointId, 1);
  assert.equal((await collectGarbage(storage)).orphans.length, 0, 'gc is idempotent');
});

it('subsumed checkpoints delete their exclusive files and the shared files no retained checkpoint uses', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowstate-subsume-'));
  try {
    const storage = localCheckpointStorage(dir);
    const store = new CompletedCheckpointStore(storage, 2);
    const sharedA = await write(storage, 1, 'SHARED');
    const files: string[][] = [];
    for (let id = 1; id <= 4; id++) {
      const loc = await storage.initializeLocationForCheckpoint(id);
      const own = await write(storage, id, 'EXCLUSIVE');
      const sharedNew = await write(storage, id, 'SHARED');
      // Checkpoints 1 and 2 share file A; every checkpoint also adds one shared file of its own.
      const shared = id <= 2 ? [sharedA, sharedNew] : [sharedNew];
      const metadata = { checkpointId: id, kind: 'CHECKPOINT' as const, timestamp: id, operators: [{ uid: 'op', parallelism: 1, maxParallelism: 1, subtasks: [{ subtaskIndex: 0, keyed: [{ type: 't', keyGroupRange: { start: 0, end: 0 }, stateSize: 0, shared, own }], operator: [] }] }] };
      const { serializeCheckpointMetadata } = await import('@flowstate/core');
      await loc.finalizeCheckpoint(serializeCheckpointMetadata(metadata));
      await store.add({ checkpointId: id, pointer: `chk-${id}`, metadata });
      await store.registry.drain();
      files.push([own.path, ...shared.map((s) => s.path)]);
      const present = new Set((await storage.fs.list('')).map((f) => f.path));
      const retainedFrom = Math.max(1, id - 1);
      for (let j = 1; j <= id; j++) {
        const shouldExist = j >= retainedFrom;
        assert.equal(present.has(`chk-${j}/_metadata`), shouldExist, `after ${id}: chk-${j} ${shouldExist ? 'retained' : 'subsumed'}`);
        if (shouldExist) for (const f of files[j - 1]!) assert.ok(present.has(f), `after ${id}: ${f} is still referenced`);
      }
      if (id >= 4) assert.ok(!present.has(sharedA.path), 'file shared by 1 and 2 is gone once both are subsumed');
      if (id === 3) assert.ok(present.has(sharedA.path), 'file shared by 1 and 2 stays while 2 is retained');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

async function write(storage: ReturnType<typeof localCheckpointStorage>, id: number, scope: 'EXCLUSIVE' | 'SHARED') {
  const loc = await storage.initializeLocationForCheckpoint(id);
  const out = loc.streamFactory.createCheckpointStateOutputStream(scope);
  await out.write(new Uint8Array(100).fill(id));
  const h = await out.closeAndGetHandle();
  assert.equal(h.type, 'file');
  return h as { type: 'file'; path: string; size: number; checksum: number };
}
