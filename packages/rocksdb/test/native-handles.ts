// Native (incremental) RocksDB handles of one counter, and restores of them, for the tests of
// native snapshots (format version, damaged handles). Checkpoints go to an in-memory storage.
import { strict as assert } from 'node:assert';
import { CHECKPOINT, FsCheckpointStorage, KeyGroupRange, MemoryFileSystem, Serializers, VoidNamespace, type KeyedStateHandle } from '@flowstate/core';
import { isIncrementalRocksDBStateHandle, RocksDBStateBackend, type IncrementalRocksDBStateHandle } from '@flowstate/rocksdb';
import { COUNT, tempDirs } from './temp-dirs.js';

/** The helpers of one test file; `name` names its temp directories. */
export function nativeHandles(name: string) {
  const namedTempDir = tempDirs();
  const tempDir = () => namedTempDir(name);
  const storage = new FsCheckpointStorage(new MemoryFileSystem());

  const params = (restoreState: readonly KeyedStateHandle[] = [], keyGroupRange = new KeyGroupRange(0, 127)) => ({
    operatorIdentifier: 'op',
    keySerializer: Serializers.string,
    maxParallelism: 128,
    keyGroupRange,
    restoreState,
    stateHandleReader: storage,
  });

  /** A native checkpoint of one key ('a') with count 7. */
  const nativeHandle = async (keyGroupRange?: KeyGroupRange): Promise<IncrementalRocksDBStateHandle> => {
    const kb = await new RocksDBStateBackend({ localDirectory: tempDir() }).createKeyedStateBackend(params([], keyGroupRange));
    kb.setCurrentKey('a');
    kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT).update(7);
    const loc = await storage.initializeLocationForCheckpoint(1);
    const h = (await kb.snapshot(1, 1, loc.streamFactory, CHECKPOINT).result).jobManagerOwnedSnapshot;
    kb.dispose();
    assert.ok(h !== null && isIncrementalRocksDBStateHandle(h));
    return h;
  };

  /** Key 'a''s count after a restore of `h`. */
  const restoredCount = async (...h: KeyedStateHandle[]): Promise<number | null> => {
    const kb = await new RocksDBStateBackend({ localDirectory: tempDir() }).createKeyedStateBackend(params(h));
    try {
      kb.setCurrentKey('a');
      return kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT).value();
    } finally {
      kb.dispose();
    }
  };

  return { storage, tempDir, params, nativeHandle, restoredCount };
}
