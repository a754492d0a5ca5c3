// Restores of damaged native (incremental) RocksDB handles fail with a typed error; they never
// open as a database with less state than the snapshot holds.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { CHECKPOINT, CorruptCheckpointError, FsCheckpointStorage, KeyGroupRange, MemoryFileSystem, Serializers, streamHandleName, VoidNamespace, type KeyedStateHandle } from '@flowstate/core';
import { isIncrementalRocksDBStateHandle, RocksDBError, RocksDBStateBackend, type IncrementalRocksDBStateHandle } from '@flowstate/rocksdb';
import { COUNT, tempDirs } from './temp-dirs.js';

const namedTempDir = tempDirs();
const tempDir = () => namedTempDir('native-restore');

const storage = new FsCheckpointStorage(new MemoryFileSystem());

function params(restoreState: readonly KeyedStateHandle[] = [], keyGroupRange = new KeyGroupRange(0, 127)) {
  return {
    operatorIdentifier: 'op',
    keySerializer: Serializers.string,
    maxParallelism: 128,
    keyGroupRange,
    restoreState,
    stateHandleReader: storage,
  };
}

/** A native checkpoint of one key with count 7. */
async function nativeHandle(keyGroupRange?: KeyGroupRange): Promise<IncrementalRocksDBStateHandle> {
  const kb = await new RocksDBStateBackend({ localDirectory: tempDir() }).createKeyedStateBackend(params([], keyGroupRange));
  kb.setCurrentKey('a');
  kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT).update(7);
  const loc = await storage.initializeLocationForCheckpoint(1);
  const h = (await kb.snapshot(1, 1, loc.streamFactory, CHECKPOINT).result).jobManagerOwnedSnapshot;
  kb.dispose();
  assert.ok(h !== null && isIncrementalRocksDBStateHandle(h));
  return h;
}

async function restoredCount(...h: KeyedStateHandle[]): Promise<number | null> {
  const kb = await new RocksDBStateBackend({ localDirectory: tempDir() }).createKeyedStateBackend(params(h));
  try {
    kb.setCurrentKey('a');
    return kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT).value();
  } finally {
    kb.dispose();
  }
}

describe('RocksDB native restore of damaged handles', () => {
  it('a handle without its CURRENT file is a CorruptCheckpointError, not an empty database', async () => {
    const h = await nativeHandle();
    assert.equal(await restoredCount(h), 7);
    for (const privateFiles of [[], h.privateFiles.filter((f) => f.name !== 'CURRENT')]) {
      const damaged: IncrementalRocksDBStateHandle = { ...h, privateFiles };
      await assert.rejects(restoredCount(damaged), (e: unknown) => e instanceof CorruptCheckpointError && /CURRENT/.test(e.message));
    }
  });

  it('a handle missing its MANIFEST or an SST is a CorruptCheckpointError naming the handle and checkpoint', async () => {
    const h = await nativeHandle();
    const files = [...h.sharedFiles, ...h.privateFiles].map((f) => f.name);
    assert.ok(files.some((n) => n.startsWith('MANIFEST-')) && files.some((n) => n.endsWith('.sst')), files.join());
    const drop = (keep: (name: string) => boolean): IncrementalRocksDBStateHandle => ({
      ...h,
      sharedFiles: h.sharedFiles.filter((f) => keep(f.name)),
      privateFiles: h.privateFiles.filter((f) => keep(f.name)),
    });
    // Alone (the database restored into), and after a handle of the other half (rows ingested from it).
    const other = await nativeHandle(new KeyGroupRange(64, 127)); // key 'a' is in key group 115
    const damagedHandles = [drop((n) => !n.startsWith('MANIFEST-')), drop((n) => !n.endsWith('.sst'))];
    for (const restore of damagedHandles.flatMap((d) => [[d], [other, { ...d, keyGroupRange: new KeyGroupRange(0, 63).toJSON() }]])) {
      await assert.rejects(restoredCount(...restore), (e: unknown) => {
        assert.ok(e instanceof CorruptCheckpointError, String(e));
        assert.equal(e.checkpointId, h.checkpointId);
        assert.equal(e.file, streamHandleName(h.meta));
        assert.ok(e.cause instanceof RocksDBError);
        return true;
      });
    }
  });
});
