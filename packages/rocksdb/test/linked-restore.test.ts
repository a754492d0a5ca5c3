import { strict as assert } from 'node:assert';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { KeyGroupRange, Serializers, VoidNamespace, type KeyedStateBackend, type KeyedStateHandle, type StateHandleReader } from '@flowstate/core';
import { ROCKSDB_NATIVE_FORMAT, RocksDBStateBackend, type IncrementalRocksDBStateHandle, type RocksDBKeyedStateBackend } from '@flowstate/rocksdb';
import { localCheckpointStorage } from '@flowstate/storage-local';
import { COUNT, tempDirs } from './temp-dirs.js';

const tempDir = tempDirs();
const NATIVE_SAVEPOINT = { checkpointType: 'SAVEPOINT', formatType: 'NATIVE' } as const;
const KEYS = Array.from({ length: 300 }, (_, i) => `key-${i}`);
const inode = (p: string) => statSync(p).ino;

async function create(linkRestoredFiles: boolean, restore: KeyedStateHandle[] = [], reader?: StateHandleReader): Promise<KeyedStateBackend<string>> {
  return new RocksDBStateBackend({ localDirectory: tempDir('linked-restore-local'), linkRestoredFiles }).createKeyedStateBackend({
    operatorIdentifier: 'op',
    keySerializer: Serializers.string,
    maxParallelism: 128,
    keyGroupRange: new KeyGroupRange(0, 127),
    restoreState: restore,
    ...(reader === undefined ? {} : { stateHandleReader: reader }),
  });
}

describe('RocksDB linkRestoredFiles (savepoint conversions)', () => {
  it('a native restore links the stored SSTs (same inodes) or copies them, with the same restored state either way', async () => {
    const root = tempDir('linked-restore-storage');
    const storage = localCheckpointStorage(root);
    const kb = await create(false);
    const count = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT);
    KEYS.forEach((k, i) => {
      kb.setCurrentKey(k);
      count.update(i);
    });
    const loc = await storage.initializeLocationForCheckpoint(1);
    const h = (await kb.snapshot(1, 1, loc.streamFactory, NATIVE_SAVEPOINT).result).jobManagerOwnedSnapshot as IncrementalRocksDBStateHandle;
    kb.dispose();
    const ssts = h.sharedFiles.filter((f) => f.name.endsWith('.sst'));
    assert.ok(ssts.length > 0);
    const stored = (f: (typeof ssts)[number]) => join(root, f.handle.type === 'file' ? f.handle.path : '');

    for (const link of [true, false]) {
      const restored = await create(link, [h], storage);
      try {
        const live = (f: (typeof ssts)[number]) => join((restored as RocksDBKeyedStateBackend<string>).instanceDir, 'db', f.name);
        for (const f of ssts) assert.equal(inode(stored(f)) === inode(live(f)), link, `${link ? 'linked' : 'copied'} ${f.name}`);
        const c = restored.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT);
        KEYS.forEach((k, i) => {
          restored.setCurrentKey(k);
          assert.equal(c.value(), i);
        });
      } finally {
        restored.dispose();
      }
      // The stored files outlive the scratch database's links.
      for (const f of ssts) assert.equal(statSync(stored(f)).size, f.handle.size);
    }
  });

  it("a conversion's scratch backend preallocates no space for its MANIFEST (a job's backend does)", async (t) => {
    // Bytes the file system holds beyond the live MANIFEST's size, after a native savepoint.
    const spare = async (backend: RocksDBStateBackend): Promise<number> => {
      const kb = await backend.createKeyedStateBackend({ operatorIdentifier: 'op', keySerializer: Serializers.string, maxParallelism: 128, keyGroupRange: new KeyGroupRange(0, 127) });
      try {
        const count = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT);
        KEYS.forEach((k, i) => {
          kb.setCurrentKey(k);
          count.update(i);
        });
        const loc = await localCheckpointStorage(tempDir('scratch-prealloc-storage')).initializeLocationForCheckpoint(1);
        await kb.snapshot(1, 1, loc.streamFactory, NATIVE_SAVEPOINT).result;
        const db = join((kb as RocksDBKeyedStateBackend<string>).instanceDir, 'db');
        const name = readdirSync(db).find((f) => f.startsWith('MANIFEST-'));
        assert.ok(name !== undefined);
        const st = statSync(join(db, name));
        return st.blocks * 512 - st.size;
      } finally {
        kb.dispose();
      }
    };
    const job = await spare(new RocksDBStateBackend({ localDirectory: tempDir('job-prealloc') }));
    if (job < 1 << 20) {
      t.skip(`this file system did not preallocate (${job} spare bytes behind a job's MANIFEST): nothing to compare`);
      return;
    }
    // At most the rest of its last 4 KiB block, where a job's MANIFEST had a MiB or more.
    assert.ok((await spare(ROCKSDB_NATIVE_FORMAT.createBackend(tempDir('scratch-prealloc')) as RocksDBStateBackend)) < 4096);
  });

  it("a conversion's scratch backend writes no info LOG (a job's backend does)", async () => {
    const logs = async (backend: RocksDBStateBackend): Promise<string[]> => {
      const kb = await backend.createKeyedStateBackend({ operatorIdentifier: 'op', keySerializer: Serializers.string, maxParallelism: 128, keyGroupRange: new KeyGroupRange(0, 127) });
      try {
        const count = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT);
        KEYS.forEach((k, i) => {
          kb.setCurrentKey(k);
          count.update(i);
        });
        const loc = await localCheckpointStorage(tempDir('scratch-log-storage')).initializeLocationForCheckpoint(1);
        await kb.snapshot(1, 1, loc.streamFactory, NATIVE_SAVEPOINT).result;
        const dir = (kb as RocksDBKeyedStateBackend<string>).instanceDir;
        return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => /(^|\/)LOG(\.|$)/.test(f));
      } finally {
        kb.dispose();
      }
    };
    assert.deepEqual(await logs(ROCKSDB_NATIVE_FORMAT.createBackend(tempDir('scratch-log')) as RocksDBStateBackend), []);
    assert.notDeepEqual(await logs(new RocksDBStateBackend({ localDirectory: tempDir('job-log') })), []);
  });
});
