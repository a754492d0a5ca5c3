import { strict as assert } from 'node:assert';
import fs, { readdirSync, readlinkSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CHECKPOINT, ForwardingFileSystem, FsCheckpointStorage, KeyGroupRange, Serializers, StorageError, VoidNamespace, type KeyedStateBackend, type KeyedStateHandle } from '@flowstate/core';
import { LocalFileSystem } from '@flowstate/storage-local';
import { isIncrementalRocksDBStateHandle, RocksDBKeyedStateBackend, RocksDBStateBackend } from '@flowstate/rocksdb';
import type { RocksDB } from '@flowstate/rocksdb/native';
import { CHECKPOINT_LINKS_DIR, RocksDbSyncedSsts } from '../src/backend/local-checkpoint-files.js';
import { rocksName } from './corrupt-sst.js';
import { COUNT, tempDirs } from './temp-dirs.js';

const tempDir = tempDirs();

/** `syncLocalFiles` undefined: the backend's default ('ssts'). */
async function backend(storage: FsCheckpointStorage, restore: KeyedStateHandle[] = [], syncLocalFiles?: boolean | 'ssts'): Promise<KeyedStateBackend<string>> {
  return new RocksDBStateBackend({ incrementalCheckpoints: true, localDirectory: tempDir('local'), ...(syncLocalFiles === undefined ? {} : { syncLocalFiles }) }).createKeyedStateBackend({
    operatorIdentifier: 'op',
    keySerializer: Serializers.string,
    maxParallelism: 128,
    keyGroupRange: new KeyGroupRange(0, 127),
    restoreState: restore,
    stateHandleReader: storage,
  });
}

function write(kb: KeyedStateBackend<string>, from: number, to: number): void {
  const count = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT);
  for (let i = from; i < to; i++) {
    kb.setCurrentKey(`k${i}`);
    count.update(i);
  }
}

describe('RocksDbSyncedSsts', () => {
  it('SSTs live when a database is first seen are not known to be synced; later ones are; a new database starts over', () => {
    const synced = new RocksDbSyncedSsts();
    const db = {};
    assert.equal(synced.isSynced('000007.sst'), false, 'nothing seen yet');
    synced.observe(db, ['000007.sst', '000009.sst'], ['000007.sst', '000009.sst', 'CURRENT']);
    synced.observe(db, ['000007.sst', '000009.sst', '000012.sst'], []);
    assert.deepEqual(['000007.sst', '000009.sst', '000012.sst'].map((n) => synced.isSynced(n)), [false, false, true]);
    synced.observe({}, ['000012.sst'], []);
    assert.equal(synced.isSynced('000012.sst'), false, 'another database: its files at first sight are unknown again');
  });

  it("a checkpoint's SST that a compaction dropped from the live list before it was read is still not known to be synced", () => {
    const synced = new RocksDbSyncedSsts();
    const db = {};
    // 000007.sst (restored, never fsynced) was compacted into 000012.sst between createCheckpoint and getLiveFilesMetaData.
    synced.observe(db, ['000012.sst'], ['000007.sst', 'CURRENT', 'MANIFEST-000011']);
    assert.equal(synced.isSynced('000007.sst'), false, 'in the checkpoint directory at first sight: must be synced by the upload');
    assert.equal(synced.isSynced('000012.sst'), false);
  });

  it('SSTs whose syncs a checkpoint deferred are not known to be synced until they are gone; one not live yet stays so', () => {
    const synced = new RocksDbSyncedSsts();
    const db = {};
    synced.observe(db, ['000007.sst'], ['000007.sst']);
    // The checkpoint flushed 000009.sst; a compaction synced 000010.sst meanwhile and installs it later.
    synced.observe(db, ['000007.sst', '000009.sst'], ['000007.sst', '000009.sst'], ['000009.sst', '000010.sst']);
    assert.deepEqual(['000009.sst', '000010.sst'].map((n) => synced.isSynced(n)), [false, false]);
    synced.observe(db, ['000010.sst', '000012.sst'], ['000010.sst', '000012.sst']);
    assert.deepEqual(['000010.sst', '000012.sst'].map((n) => synced.isSynced(n)), [false, true], 'installed later: still not known to be synced');
    synced.observe(db, ['000012.sst'], ['000012.sst']);
    synced.observe(db, ['000010.sst', '000012.sst'], []);
    assert.equal(synced.isSynced('000010.sst'), true, 'seen, then gone: forgotten (a file number is never reused; shown here only by reusing it)');
  });

  it('after forget() (a checkpoint failed after deferring syncs) every SST is not known to be synced again', () => {
    const synced = new RocksDbSyncedSsts();
    const db = {};
    synced.observe(db, ['000007.sst'], ['000007.sst']);
    synced.observe(db, ['000007.sst', '000009.sst'], []);
    assert.equal(synced.isSynced('000009.sst'), true);
    synced.forget(db);
    synced.observe(db, ['000007.sst', '000009.sst'], []);
    assert.equal(synced.isSynced('000009.sst'), false, 'its deferred list may have been lost');
    // A compaction output whose sync the failed pinning deferred, installed checkpoints later:
    // until session 36 it counted as synced and was linked into the checkpoint unsynced.
    synced.observe(db, ['000007.sst', '000009.sst', '000012.sst'], ['000012.sst']);
    assert.equal(synced.isSynced('000012.sst'), false, 'an SST first seen after forget() is not known to be synced either');
    const restored = {};
    synced.observe(restored, ['000003.sst'], ['000003.sst']);
    synced.observe(restored, ['000003.sst', '000005.sst'], []);
    assert.equal(synced.isSynced('000005.sst'), true, 'another database is trusted again');
  });
});

/** How much later than the disk a recorded data sync completes. */
const SLOW_SYNC_MS = 30;

/**
 * Runs `body` with node:fs's fdatasync and linkSync recording, in order, the base names of the
 * files the process data-synced itself (the backend's early syncs, each completing SLOW_SYNC_MS
 * late; the storage's go through its `datasyncFile`) and linked (the storage's adoptions).
 * `failSyncs`: every fdatasync fails with EIO instead (recorded as failed).
 */
async function observingSyncsAndLinks<T>(body: () => Promise<T>, failSyncs = false): Promise<{ result: T; events: string[]; linkTargets: string[] }> {
  const events: string[] = [];
  const linkTargets: string[] = [];
  const { fdatasync, linkSync } = fs;
  fs.fdatasync = ((fd: number, done: (e: NodeJS.ErrnoException | null) => void) => {
    const name = rocksName(readlinkSync(`/proc/self/fd/${fd}`));
    if (failSyncs) {
      events.push(`failed ${name}`);
      setImmediate(() => done(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO', errno: -5, syscall: 'fdatasync' })));
      return;
    }
    // Completed late: an upload that did not wait for the sync would resolve before it is recorded.
    fdatasync(fd, (e) =>
      setTimeout(() => {
        if (e === null) events.push(`synced ${name}`);
        done(e);
      }, SLOW_SYNC_MS),
    );
  }) as typeof fs.fdatasync;
  fs.linkSync = ((from: fs.PathLike, to: fs.PathLike) => {
    events.push(`linked ${rocksName(String(from))}`);
    linkTargets.push(String(to));
    linkSync(from, to);
  }) as typeof fs.linkSync;
  syncBuiltinESMExports();
  try {
    return { result: await body(), events, linkTargets };
  } finally {
    Object.assign(fs, { fdatasync, linkSync });
    syncBuiltinESMExports();
  }
}

/**
 * A storage on local disk that records which local files linkFrom syncs, and a checkpoint taker
 * that reports them, and which SSTs the backend synced itself before they were linked.
 */
function recordingStorage() {
  const datasynced: string[] = [];
  const storage = new FsCheckpointStorage(new LocalFileSystem(tempDir('storage'), { datasyncFile: async (p) => void datasynced.push(rocksName(p)) }));
  const checkpoint = async (kb: KeyedStateBackend<string>, id: number) => {
    datasynced.length = 0;
    const loc = await storage.initializeLocationForCheckpoint(id);
    const { result: h, events } = await observingSyncsAndLinks(async () => (await kb.snapshot(id, id, loc.streamFactory, CHECKPOINT).result).jobManagerOwnedSnapshot!);
    assert.ok(isIncrementalRocksDBStateHandle(h));
    kb.notifyCheckpointComplete(id);
    const uploaded = h.sharedFiles.filter((f) => f.reused !== true).map((f) => f.name).sort();
    // Recorded when each sync completed: a sync still running when the snapshot resolved is missing here.
    return { h, uploaded, synced: [...datasynced].sort(), backendSynced: events.filter((e) => e.startsWith('synced ')).map((e) => e.slice(7)).sort() };
  };
  return { storage, checkpoint };
}

describe('RocksDB incremental checkpoints on linking storage: which SSTs are synced before their upload completes, and by whom', () => {
  it('syncLocalFiles: false (RocksDB syncs nothing): every uploaded SST is synced by the storage', async () => {
    const { storage, checkpoint } = recordingStorage();
    const kb = await backend(storage, [], false);
    for (let id = 1; id <= 2; id++) {
      write(kb, id * 500, id * 500 + 500);
      const c = await checkpoint(kb, id);
      assert.ok(c.uploaded.length >= 1);
      assert.deepEqual(c.synced, c.uploaded, `checkpoint ${id}`);
    }
    kb.dispose();
  });

  it("default (RocksDB syncs SSTs): the first checkpoint's and a restored backend's SSTs are synced by the storage, a checkpoint flush's by the backend before its upload completes (once the storage is known to link); SSTs RocksDB wrote (and synced) since are not synced again", async () => {
    const { storage, checkpoint } = recordingStorage();
    const kb = await backend(storage);
    write(kb, 0, 500);
    const first = await checkpoint(kb, 1);
    assert.ok(first.uploaded.length >= 1);
    assert.deepEqual(first.synced, first.uploaded, 'the first checkpoint: every SST live at that time is synced (not known to be RocksDB-synced)');
    assert.deepEqual(first.backendSynced, [], 'before the storage is known to link, the backend syncs nothing itself');
    write(kb, 500, 1000);
    (kb as unknown as { db: RocksDB }).db.flush();
    const second = await checkpoint(kb, 2);
    assert.ok(second.uploaded.length >= 1, 'the second checkpoint uploads the new SST');
    assert.deepEqual(second.synced, [], 'flushed (and fsynced) by RocksDB before the checkpoint: not synced again');
    write(kb, 1000, 1500);
    const third = await checkpoint(kb, 3);
    assert.equal(third.uploaded.length, 1, "the third checkpoint uploads its own flush's SST");
    assert.deepEqual(third.synced, [], "the storage syncs nothing: the backend synced the flush's SST itself");
    assert.deepEqual(third.backendSynced, third.uploaded, "the checkpoint's flush deferred its fsync, and the storage linked the SSTs before: the synchronous part started the sync, and the upload, linking the SST while it ran, resolved only once it was done");
    kb.dispose();

    // A native restore downloads the SSTs without syncing them: its first checkpoint uploads (links) them, synced.
    const restored = await backend(storage, [third.h]);
    const fourth = await checkpoint(restored, 4);
    assert.ok(fourth.uploaded.length >= 3, 'nothing to reuse after a restore: every SST is uploaded');
    assert.deepEqual(fourth.synced, fourth.uploaded, 'the downloaded SSTs are synced before they are linked');
    restored.dispose();
  });
});

describe('RocksDB incremental checkpoints: an early sync that fails', () => {
  it('fails the checkpoint with a StorageError naming the SST, and the SST does not stay linked', async () => {
    const { storage, checkpoint } = recordingStorage();
    const kb = await backend(storage);
    write(kb, 0, 500);
    await checkpoint(kb, 1);
    write(kb, 500, 1000);
    const loc = await storage.initializeLocationForCheckpoint(2);
    const { result: error, events, linkTargets } = await observingSyncsAndLinks(async () => {
      try {
        await kb.snapshot(2, 2, loc.streamFactory, CHECKPOINT).result;
        return undefined;
      } catch (e) {
        return e;
      }
    }, true);
    const failed = events.filter((e) => e.startsWith('failed ')).map((e) => e.slice(7));
    assert.equal(failed.length, 1, "the checkpoint flush's SST: its sync started in the synchronous part, once the storage was known to link");
    assert.ok(error instanceof StorageError, `a StorageError, got ${String(error)}`);
    assert.ok(error.path.endsWith(failed[0]!) && /fdatasync failed: EIO/.test(error.message), error.message);
    assert.ok(linkTargets.length >= 1, 'the SST was linked while its sync ran');
    assert.ok(linkTargets.every((t) => !fs.existsSync(t)), 'and the link is removed from the storage');
    kb.dispose();
  });
});

describe('RocksDB incremental checkpoints: the pinned files', () => {
  it('go to a pin directory made again when something removed it between checkpoints', async () => {
    const { storage, checkpoint } = recordingStorage();
    const kb = await backend(storage);
    assert.ok(kb instanceof RocksDBKeyedStateBackend);
    write(kb, 0, 500);
    await checkpoint(kb, 1);
    fs.rmSync(join(kb.instanceDir, CHECKPOINT_LINKS_DIR), { recursive: true, force: true });
    write(kb, 500, 1000);
    const c = await checkpoint(kb, 2);
    assert.ok(c.uploaded.length >= 1, 'checkpoint 2 uploaded its new SST');
    kb.dispose();
  });

  it("of two checkpoints in flight are each their own: the first one's removal leaves the second's, which completes and restores", async () => {
    // Checkpoint 2 goes to a storage that copies (a wrapper has no linkFrom) and whose files cannot
    // be created until the gate opens: its pinned SSTs are read after checkpoint 1 removed its own.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    class GatedFileSystem extends ForwardingFileSystem {
      override async create(path: string) {
        await gate;
        return super.create(path);
      }
    }
    const first = new FsCheckpointStorage(new LocalFileSystem(tempDir('overlap-1')));
    const second = new FsCheckpointStorage(new GatedFileSystem(new LocalFileSystem(tempDir('overlap-2'))));
    const kb = await backend(first);
    assert.ok(kb instanceof RocksDBKeyedStateBackend);
    const pinned = (id: number) => readdirSync(join(kb.instanceDir, CHECKPOINT_LINKS_DIR)).filter((n) => n.startsWith(`chk-${id}-`));
    write(kb, 0, 500);
    const f1 = kb.snapshot(1, 1, (await first.initializeLocationForCheckpoint(1)).streamFactory, CHECKPOINT);
    write(kb, 500, 1000);
    const f2 = kb.snapshot(2, 2, (await second.initializeLocationForCheckpoint(2)).streamFactory, CHECKPOINT);
    assert.ok(pinned(2).some((n) => n.endsWith('.sst')), 'checkpoint 2 pinned its SSTs');
    await f1.result;
    for (let i = 0; i < 500 && pinned(1).length > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(pinned(1), [], "checkpoint 1's pinned files are removed");
    assert.ok(pinned(2).some((n) => n.endsWith('.sst')), "checkpoint 2's are still there");
    open();
    const h2 = (await f2.result).jobManagerOwnedSnapshot!;
    kb.dispose();
    const restored = await backend(second, [h2]);
    const count = restored.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT);
    for (const i of [0, 499, 500, 999]) {
      restored.setCurrentKey(`k${i}`);
      assert.equal(count.value(), i, `k${i}`);
    }
    restored.dispose();
  });

  it('are removed once the checkpoint completed (in the background; when it starts is not pinned), and no checkpoint directory is made', async () => {
    const { storage, checkpoint } = recordingStorage();
    const kb = await backend(storage);
    assert.ok(kb instanceof RocksDBKeyedStateBackend);
    const instanceDir = kb.instanceDir;
    const pinned = () => readdirSync(join(instanceDir, CHECKPOINT_LINKS_DIR));
    for (let id = 1; id <= 2; id++) {
      write(kb, id * 500, id * 500 + 500);
      await checkpoint(kb, id);
      // Background removal: wait for it (bounded), then require it done.
      for (let i = 0; i < 500 && pinned().length > 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(pinned(), [], `checkpoint ${id}`);
      assert.deepEqual(readdirSync(instanceDir).filter((n) => n.startsWith('chk-')), [], `checkpoint ${id}: no directory of its own`);
    }
    kb.dispose();
  });
});
