// Restores of damaged native (incremental) RocksDB handles fail with a typed error; they never
// open as a database with less state than the snapshot holds.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { CorruptCheckpointError, KeyGroupRange, streamHandleName } from '@flowstate/core';
import { RocksDBError, type IncrementalRocksDBStateHandle } from '@flowstate/rocksdb';
import { nativeHandles } from './native-handles.js';

const { nativeHandle, restoredCount } = nativeHandles('native-restore');

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
