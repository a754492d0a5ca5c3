import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { CHECKPOINT, FileSystemRegistry, KeyGroupRange, PathEscapeError, serializeCheckpointMetadata, Serializers, ValueStateDescriptor, VoidNamespace } from '@flowstate/core';
import { FsStateBackend } from '@flowstate/heap';
import { LocalFileSystem, localCheckpointStorage, localFileSystemProvider } from '@flowstate/storage-local';
import { convertSavepoint, disposeSavepoint } from '../src/index.js';
import { deleteLocationIfEmpty } from '../src/location.js';
import { copyFixture, freshDirs } from './helpers.js';

const fresh = freshDirs();
const fixture = freshDirs(() => copyFixture());

/** A retained checkpoint chk-1 of one heap subtask: its files are `chk-1/...` relative to the root. */
async function retainedCheckpoint(): Promise<string> {
  const root = fresh();
  const loc = await localCheckpointStorage(root).initializeLocationForCheckpoint(1);
  const b = await new FsStateBackend().createKeyedStateBackend({ operatorIdentifier: 'k', keySerializer: Serializers.string, maxParallelism: 4, keyGroupRange: new KeyGroupRange(0, 3) });
  b.setCurrentKey('a');
  b.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ValueStateDescriptor('v', Serializers.int32)).update(1);
  const keyed = (await b.snapshot(1, 1, loc.streamFactory, CHECKPOINT).result).jobManagerOwnedSnapshot!;
  b.dispose();
  await loc.finalizeCheckpoint(serializeCheckpointMetadata({ checkpointId: 1, kind: 'CHECKPOINT', timestamp: 1, operators: [{ uid: 'k', parallelism: 1, maxParallelism: 4, subtasks: [{ subtaskIndex: 0, keyed: [keyed], operator: [] }] }] }));
  return join(root, 'chk-1');
}

describe('disposeSavepoint', () => {
  const foreign: Array<[string, string, (dir: string, outside: string) => void]> = [
    ['a file being written', 'report.csv.inprogress', (dir) => writeFileSync(join(dir, 'report.csv.inprogress'), 'someone else is writing this')],
    ['a symbolic link', 'link', (dir, outside) => symlinkSync(outside, join(dir, 'link'))],
    ['an empty directory', 'empty', (dir) => mkdirSync(join(dir, 'empty'))],
  ];
  for (const [what, name, add] of foreign) {
    it(`leaves alone what is not the savepoint's: ${what}`, async () => {
      const outside = join(fresh(), 'outside.txt');
      writeFileSync(outside, 'not part of any savepoint');
      const dir = fixture();
      add(dir, outside);
      const r = await disposeSavepoint(dir);
      assert.equal(r.directoryRemoved, false);
      assert.deepEqual(readdirSync(dir), [name], `only ${name} is left`);
      // Files (not links or directories) are reported, those being written too.
      assert.deepEqual(r.leftAlone, name.endsWith('.inprogress') ? [join(dir, name)] : []);
      assert.equal(existsSync(outside), true);
    });
  }

  it('removes the directories its own files were in, and then its own', async () => {
    // A self-contained copy of a checkpoint keeps its files under chk-1/.
    const out = join(fresh(), 'copy');
    await convertSavepoint(await retainedCheckpoint(), out, 'canonical');
    assert.deepEqual(readdirSync(out).sort(), ['_metadata', 'chk-1']);
    const r = await disposeSavepoint(out);
    assert.deepEqual(r.leftAlone, []);
    assert.equal(r.directoryRemoved, true);
    assert.equal(existsSync(out), false);
  });

  it('removes no directory through a symbolic link swapped in above one of its own (PathEscapeError naming the link)', async () => {
    // The savepoint's files were in a/b/; after they went (and the listing), `a` became a link to
    // a directory outside the savepoint holding an empty `b`: an rmdir of <savepoint>/a/b would follow it.
    const base = fresh();
    const outside = join(base, 'outside');
    mkdirSync(join(outside, 'b'), { recursive: true });
    const dir = join(base, 'savepoint');
    mkdirSync(dir);
    symlinkSync(outside, join(dir, 'a'));
    const removal = deleteLocationIfEmpty(pathToFileURL(dir), new LocalFileSystem(dir), new FileSystemRegistry().register(localFileSystemProvider), ['a/b', 'a'], []);
    await assert.rejects(removal, (e: unknown) => e instanceof PathEscapeError && e.code === 'PATH_ESCAPE' && e.path === join(dir, 'a'));
    assert.deepEqual(readdirSync(outside), ['b'], 'the empty directory outside the savepoint is still there');
    assert.deepEqual(readdirSync(dir), ['a'], 'the link is left alone');
  });

  it('leaves a directory reached through a symbolic link that stays inside the savepoint, without an error', async () => {
    // `a` links to `real-a` within the savepoint: not the savepoint's own path, so left alone (no PathEscapeError).
    const base = fresh();
    const dir = join(base, 'savepoint');
    mkdirSync(join(dir, 'real-a', 'b'), { recursive: true });
    symlinkSync(join(dir, 'real-a'), join(dir, 'a'));
    const removed = await deleteLocationIfEmpty(pathToFileURL(dir), new LocalFileSystem(dir), new FileSystemRegistry().register(localFileSystemProvider), ['a/b', 'a'], []);
    assert.equal(removed, false);
    assert.deepEqual(readdirSync(join(dir, 'real-a')), ['b'], 'nothing removed through the link');
    assert.deepEqual(readdirSync(dir).sort(), ['a', 'real-a']);
  });
});
