import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CHECKPOINT, KeyGroupRange, serializeCheckpointMetadata, Serializers, ValueStateDescriptor, VoidNamespace } from '@flowstate/core';
import { FsStateBackend } from '@flowstate/heap';
import { localCheckpointStorage } from '@flowstate/storage-local';
import { convertSavepoint, disposeSavepoint } from '../src/index.js';
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
});
