// Restores of damaged native (incremental) RocksDB handles fail with a typed error; they never
// open as a database with less state than the snapshot holds.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { CHECKPOINT, CorruptCheckpointError, FsCheckpointStorage, KeyGroupRange, MemoryFileSystem, Serializers, VoidNamespace, type KeyedStateHandle } from '@flowstate/core';
import { isIncrementalRocksDBStateHandle, RocksDBStateBackend, type IncrementalRocksDBStateHandle } from '@flowstate/rocksdb';
import { COUNT, tempDirs } from './temp-dirs.js';

const namedTempDir = tempDirs();
const tempDir = () => namedTempDir('native-restore');

const storage = new FsCheckpointStorage(new MemoryFileSystem());

function params(restoreState: readonly KeyedStateHandle[] = []) {
  return {
    operatorIdentifier: 'op',
    keySerializer: Serializers.string,
    maxParallelism: 128,
    keyGroupRange: new KeyGroupRange(0, 127),
    restoreState,
    stateHandleReader: storage,
  };
}

/** A native checkpoint of one key with count 7. */
async function nativeHandle(): Promise<IncrementalRocksDBStateHandle> {
  const kb = await new RocksDBStateBackend({ localDirectory: tempDir() }).createKeyedStateBackend(params());
  kb.setCurrentKey('a');
  kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT).update(7);
  const loc = await storage.initializeLocationForCheckpoint(1);
  const h = (await kb.snapshot(1, 1, loc.streamFactory, CHECKPOINT).result).jobManagerOwnedSnapshot;
  kb.dispose();
  assert.ok(h !== null && isIncrementalRocksDBStateHandle(h));
  return h;
}

async function restoredCount(h: KeyedStateHandle): Promise<number | null> {
  const kb = await new RocksDBStateBackend({ localDirectory: tempDir() }).createKeyedStateBackend(params([h]));
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
});
