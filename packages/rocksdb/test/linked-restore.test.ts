import { strict as assert } from 'node:assert';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { KeyGroupRange, Serializers, VoidNamespace, type KeyedStateBackend, type KeyedStateHandle, type StateHandleReader } from '@flowstate/core';
import { ROCKSDB_NATIVE_FORMAT, RocksDBStateBackend, type IncrementalRocksDBStateHandle, type RocksDBKeyedStateBackend } from '@flowstate/rocksdb';
import { RocksDB, SCRATCH_DATABASE_OPTIONS, type RocksDBOptions } from '@flowstate/rocksdb/native';
import { localCheckpointStorage } from '@flowstate/storage-local';
import { COUNT, liveManifestSpace, stringKeyGroup, tempDirs } from './temp-dirs.js';

const tempDir = tempDirs();
const NATIVE_SAVEPOINT = { checkpointType: 'SAVEPOINT', formatType: 'NATIVE' } as const;
const KEYS = Array.from({ length: 300 }, (_, i) => `key-${i}`);
const inode = (p: string) => statSync(p).ino;

async function create(linkRestoredFiles: boolean, restore: KeyedStateHandle[] = [], reader?: StateHandleReader, keyGroupRange = new KeyGroupRange(0, 127)): Promise<KeyedStateBackend<string>> {
  return new RocksDBStateBackend({ localDirectory: tempDir('linked-restore-local'), linkRestoredFiles }).createKeyedStateBackend({
    operatorIdentifier: 'op',
    keySerializer: Serializers.string,
    maxParallelism: 128,
    keyGroupRange,
    restoreState: restore,
    ...(reader === undefined ? {} : { stateHandleReader: reader }),
  });
}

/** Every key of KEYS holds its index, as the backends the handles came from wrote it. */
function assertKeysRestored(restored: KeyedStateBackend<string>): void {
  const c = restored.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT);
  KEYS.forEach((k, i) => {
    restored.setCurrentKey(k);
    assert.equal(c.value(), i);
  });
}

/** `inspect` of the backend's instance directory after a native savepoint of KEYS (before its disposal). */
async function afterNativeSavepoint<T>(backend: RocksDBStateBackend, inspect: (instanceDir: string) => T): Promise<T> {
  const kb = await backend.createKeyedStateBackend({ operatorIdentifier: 'op', keySerializer: Serializers.string, maxParallelism: 128, keyGroupRange: new KeyGroupRange(0, 127) });
  try {
    const count = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT);
    KEYS.forEach((k, i) => {
      kb.setCurrentKey(k);
      count.update(i);
    });
    const loc = await localCheckpointStorage(tempDir('scratch-storage')).initializeLocationForCheckpoint(1);
    await kb.snapshot(1, 1, loc.streamFactory, NATIVE_SAVEPOINT).result;
    return inspect((kb as RocksDBKeyedStateBackend<string>).instanceDir);
  } finally {
    kb.dispose();
  }
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
        assertKeysRestored(restored);
      } finally {
        restored.dispose();
      }
      // The stored files outlive the scratch database's links.
      for (const f of ssts) assert.equal(statSync(stored(f)).size, f.handle.size);
    }
  });

  it("a conversion's scratch backend preallocates no space for its MANIFEST (a job's backend does)", async (t) => {
    const manifest = (backend: RocksDBStateBackend) => afterNativeSavepoint(backend, (instanceDir) => liveManifestSpace(join(instanceDir, 'db')));
    const on = await manifest(new RocksDBStateBackend({ localDirectory: tempDir('job-prealloc-on'), preallocateFiles: true }));
    if (on.allocated - on.size < 1 << 20) {
      t.skip(`this file system did not preallocate (${on.allocated} bytes for a ${on.size}-byte MANIFEST with preallocateFiles: true): nothing to compare`);
      return;
    }
    const job = await manifest(new RocksDBStateBackend({ localDirectory: tempDir('job-prealloc') }));
    assert.ok(job.allocated - job.size >= 1 << 20, `a job's backend preallocates: ${job.allocated} bytes for ${job.size}`);
    const scratch = await manifest(ROCKSDB_NATIVE_FORMAT.createBackend(tempDir('scratch-prealloc')) as RocksDBStateBackend);
    assert.ok(scratch.allocated <= scratch.needed, `no more than its bytes need: ${scratch.allocated} bytes for ${scratch.size}`);
  });

  it("a conversion's scratch backend writes no info LOG (a job's backend does)", async () => {
    const logs = (backend: RocksDBStateBackend) =>
      afterNativeSavepoint(backend, (instanceDir) => readdirSync(instanceDir, { recursive: true, encoding: 'utf8' }).filter((f) => /(^|\/)LOG(\.|$)/.test(f)));
    assert.deepEqual(await logs(ROCKSDB_NATIVE_FORMAT.createBackend(tempDir('scratch-log')) as RocksDBStateBackend), []);
    assert.notDeepEqual(await logs(new RocksDBStateBackend({ localDirectory: tempDir('job-log') })), []);
  });

  it("a rescaling restore opens each other handle's database as a scratch database (no syncs, LOG, preallocation or cache) and removes it", async () => {
    const storage = localCheckpointStorage(tempDir('rescale-storage'));
    const handles: KeyedStateHandle[] = [];
    for (const [i, range] of [new KeyGroupRange(0, 63), new KeyGroupRange(64, 127)].entries()) {
      const kb = await create(true, [], undefined, range);
      const count = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT);
      KEYS.forEach((k, j) => {
        if (!range.contains(stringKeyGroup(k))) return;
        kb.setCurrentKey(k);
        count.update(j);
      });
      const loc = await storage.initializeLocationForCheckpoint(i + 1);
      handles.push((await kb.snapshot(i + 1, 1, loc.streamFactory, NATIVE_SAVEPOINT).result).jobManagerOwnedSnapshot!);
      kb.dispose();
    }
    const opened: RocksDBOptions[] = [];
    const openAsync = RocksDB.openAsync;
    RocksDB.openAsync = (path: string, options?: RocksDBOptions) => {
      if (/[/\\]restore-[^/\\]+[/\\]db$/.test(path)) opened.push(options ?? {});
      return openAsync.call(RocksDB, path, options);
    };
    let restored: KeyedStateBackend<string>;
    try {
      restored = await create(true, handles, storage);
    } finally {
      RocksDB.openAsync = openAsync;
    }
    try {
      assert.equal(opened.length, 1, 'one handle is the base, the other is read from a scratch database');
      assert.deepEqual({ ...opened[0], createIfMissing: undefined }, { ...SCRATCH_DATABASE_OPTIONS, createIfMissing: undefined });
      const instanceDir = (restored as RocksDBKeyedStateBackend<string>).instanceDir;
      assert.deepEqual(readdirSync(instanceDir).filter((f) => f.startsWith('restore-')), [], 'the scratch database is gone once the restore resolves');
      assertKeysRestored(restored);
    } finally {
      restored.dispose();
    }
  });
});
