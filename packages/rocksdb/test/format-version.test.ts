import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  CHECKPOINT,
  CorruptCheckpointError,
  defaultSerializerRegistry,
  FsCheckpointStorage,
  KeyGroupRange,
  MemoryFileSystem,
  Serializers,
  UnknownFormatVersionError,
  VoidNamespace,
  type KeyedStateHandle,
} from '@flowstate/core';
import { isIncrementalRocksDBStateHandle, ROCKSDB_NATIVE_FORMAT, ROCKSDB_NATIVE_FORMAT_VERSION, RocksDBStateBackend, type IncrementalRocksDBStateHandle } from '@flowstate/rocksdb';
import { COUNT, tempDirs } from './temp-dirs.js';

const namedTempDir = tempDirs();
const tempDir = () => namedTempDir('format-version');

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

describe('RocksDB native snapshot format version', () => {
  it('native handles carry the format version and restore', async () => {
    const h = await nativeHandle();
    assert.equal(h.formatVersion, ROCKSDB_NATIVE_FORMAT_VERSION);
    assert.equal(await restoredCount(h), 7);
  });

  it('an unknown format version fails restore and readHeader with UnknownFormatVersionError naming the handle', async () => {
    const h = { ...(await nativeHandle()), formatVersion: ROCKSDB_NATIVE_FORMAT_VERSION + 1 };
    const check = (e: unknown) => e instanceof UnknownFormatVersionError && e.version === ROCKSDB_NATIVE_FORMAT_VERSION + 1 && e.file !== undefined && e.file.length > 0;
    await assert.rejects(restoredCount(h), check);
    await assert.rejects(ROCKSDB_NATIVE_FORMAT.readHeader(h, storage, defaultSerializerRegistry), check);
  });

  it('a handle written before the field existed reads as version 1', async () => {
    const { formatVersion: _dropped, ...legacy } = await nativeHandle();
    assert.equal(await restoredCount(legacy as IncrementalRocksDBStateHandle), 7);
  });

  it('a malformed format version is a CorruptCheckpointError naming the field', async () => {
    const h = { ...(await nativeHandle()), formatVersion: 'one' as unknown as number };
    await assert.rejects(restoredCount(h), (e: unknown) => e instanceof CorruptCheckpointError && /formatVersion/.test(e.message));
  });
});
