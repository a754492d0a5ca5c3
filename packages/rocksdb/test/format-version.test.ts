import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { CorruptCheckpointError, defaultSerializerRegistry, UnknownFormatVersionError } from '@flowstate/core';
import { ROCKSDB_NATIVE_FORMAT, ROCKSDB_NATIVE_FORMAT_VERSION, type IncrementalRocksDBStateHandle } from '@flowstate/rocksdb';
import { nativeHandles } from './native-handles.js';

const { storage, nativeHandle, restoredCount } = nativeHandles('format-version');

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
