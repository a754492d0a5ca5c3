import { strict as assert } from 'node:assert';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CHECKPOINT, crc32c, FsCheckpointStorage, type FileSystem, type ReadRange } from '@flowstate/core';
import { LocalFileSystem } from '@flowstate/storage-local';
import type { IncrementalRocksDBStateHandle, RocksDBKeyedStateBackend } from '@flowstate/rocksdb';
import { RocksDB, type LiveFileMetaData } from '@flowstate/rocksdb/native';
import { ingestOptions } from '../src/backend/rocksdb-bulk-load.js';
import { backendWithState, tempDirs } from './temp-dirs.js';

const tempDir = tempDirs();
const key = (i: number) => Buffer.from(`key-${String(i).padStart(6, '0')}`);

/** A new database in a temp directory for `fn`, closed after it; resolves to the directory. */
async function withDb(name: string, fn: (db: RocksDB, cf: RocksDB['defaultColumnFamily'], dir: string) => Promise<void>): Promise<string> {
  const dir = tempDir(name);
  const db = RocksDB.open(dir);
  try {
    await fn(db, db.defaultColumnFamily, dir);
  } finally {
    db.close();
  }
  return dir;
}

/** Every live SST's recorded checksum against the CRC32C of the bytes it holds on disk. */
function assertLiveChecksums(db: RocksDB, dir: string): LiveFileMetaData[] {
  const live = db.getLiveFilesMetaData();
  assert.ok(live.length > 0);
  for (const f of live) {
    const bytes = readFileSync(join(dir, f.name));
    assert.equal(f.size, bytes.length, f.name);
    assert.equal(f.fileChecksum, crc32c(bytes), `${f.name}: RocksDB's CRC32C is the CRC32C of the whole file (byte order)`);
  }
  return live;
}

describe('RocksDB records each SST file CRC32C as it writes it', () => {
  it('flush, compaction, SstFileWriter and ingestion (with a global sequence number written into the file)', async () => {
    await withDb('checksum-db', async (db, cf, dir) => {
      for (let i = 0; i < 3000; i++) db.put(cf, key(i), Buffer.from(`value-${i}`.repeat(5)));
      db.flush();
      for (let i = 0; i < 3000; i += 2) db.put(cf, key(i), Buffer.from(`second-${i}`));
      db.flush();
      assert.equal(assertLiveChecksums(db, dir).length, 2, 'two flushes');
      db.compactRange(cf);
      assertLiveChecksums(db, dir);

      const ext = join(tempDir('checksum-ext'), 'ext.sst');
      const w = db.createSstFileWriter();
      w.open(ext);
      // Keys the database holds already: the file gets a sequence number of its own, which
      // RocksDB writes into it (write_global_seqno) and then checksums again.
      const info = await w.putSortedAndFinishAsync([key(10), key(20), key(5000)], [Buffer.from('a'), Buffer.from('b'), Buffer.from('c')]);
      const written = readFileSync(ext);
      assert.equal(info.fileChecksum, crc32c(written), "the SstFileWriter's CRC32C is the written file's");
      db.ingestExternalFile(cf, [ext], { moveFiles: true });
      const live = assertLiveChecksums(db, dir);
      const ingested = live.find((f) => f.largestSeqno > 0 && f.numEntries === 3);
      assert.ok(ingested !== undefined, 'the ingested file got a sequence number');
      assert.notEqual(crc32c(readFileSync(join(dir, ingested.name))), crc32c(written), 'ingestion rewrote the file: the recorded CRC32C follows it');
      assert.equal(Buffer.from(db.get(cf, key(10))!).toString(), 'a');
    });
  });
});

function assertNewestWin(db: RocksDB): void {
  const at = (i: number) => Buffer.from(db.get(db.defaultColumnFamily, key(i))!).toString();
  assert.deepEqual([at(10), at(20), at(21), at(30)], ['new-1', 'new-0', 'new-1', 'old'], 'the later file wins over the earlier one and the flushed keys');
}

describe('ingestion with the files\' own checksums (fileChecksums)', () => {
  it('records them unread and leaves the files as written, later files still winning over older keys', async () => {
    const dir = await withDb('checksum-ingest', async (db, cf, dir) => {
      for (let i = 0; i < 100; i++) db.put(cf, key(i), Buffer.from('old'));
      db.flush();
      const paths = [0, 1].map((n) => join(tempDir('checksum-ext'), `${n}.sst`));
      const infos = [];
      for (const [n, path] of paths.entries()) {
        const w = db.createSstFileWriter();
        w.open(path);
        // Both files overlap the flushed keys and each other: each gets a sequence number.
        infos.push(await w.putSortedAndFinishAsync([key(10), key(20 + n)], [Buffer.from(`new-${n}`), Buffer.from(`new-${n}`)]));
      }
      const crcs = paths.map((p) => crc32c(readFileSync(p)));
      assert.deepEqual(infos.map((i) => i.fileChecksum), crcs);
      assert.throws(() => db.ingestExternalFile(cf, paths, { moveFiles: true, fileChecksums: crcs.slice(1) }), /one CRC32C per file/);
      await db.ingestExternalFileAsync(cf, paths, { moveFiles: true, fileChecksums: crcs });
      const ingested = assertLiveChecksums(db, dir).filter((f) => f.numEntries === 2);
      assert.deepEqual(ingested.map((f) => f.fileChecksum).sort(), [...crcs].sort(), 'the files were not modified (no sequence number written into them)');
      assertNewestWin(db);
    });
    // The files' sequence numbers live in the MANIFEST only: a reopened database still has them.
    const reopened = RocksDB.open(dir);
    try {
      assertNewestWin(reopened);
      reopened.compactRange(reopened.defaultColumnFamily);
      assertNewestWin(reopened);
    } finally {
      reopened.close();
    }
  });
});

describe("the bulk load's ingestion options (ingestOptions)", () => {
  it('pass the writers\' checksums only when every file has one; without, RocksDB checksums the files itself, and what it records is what they hold', async () => {
    assert.deepEqual(ingestOptions(['a', 'b'], new Map([['a', 5], ['b', 6]])), { moveFiles: true, fileChecksums: [5, 6] });
    assert.deepEqual(ingestOptions(['a', 'b'], new Map([['a', 5], ['b', undefined]])), { moveFiles: true }, 'one missing: none given');
    assert.deepEqual(ingestOptions(['a', 'b'], new Map([['a', 5]])), { moveFiles: true }, 'one unknown: none given');
    await withDb('checksum-ingest-partial', async (db, cf, dir) => {
      for (let i = 0; i < 100; i++) db.put(cf, key(i), Buffer.from('old'));
      db.flush();
      const paths = [0, 1].map((n) => join(tempDir('checksum-ext-partial'), `${n}.sst`));
      const written = new Map<string, number | undefined>();
      for (const [n, path] of paths.entries()) {
        const w = db.createSstFileWriter();
        w.open(path);
        const info = await w.putSortedAndFinishAsync([key(10), key(20 + n)], [Buffer.from(`new-${n}`), Buffer.from(`new-${n}`)]);
        written.set(path, n === 0 ? info.fileChecksum : undefined);
      }
      await db.ingestExternalFileAsync(cf, paths, ingestOptions(paths, written));
      // The overlapping files got a global sequence number written into them: their recorded
      // checksums are of the modified bytes, computed by RocksDB.
      assert.equal(assertLiveChecksums(db, dir).filter((f) => f.numEntries === 2).length, 2);
      assertNewestWin(db);
    });
  });
});

/** A local file system (it links) that records the paths it reads: an upload's read-back shows there. */
class RecordingFileSystem extends LocalFileSystem {
  readonly readPaths = new Set<string>();
  override read(path: string, range?: ReadRange): Promise<Uint8Array> {
    this.readPaths.add(path);
    return super.read(path, range);
  }
}

const sstPaths = (h: IncrementalRocksDBStateHandle) => h.sharedFiles.map((f) => (f.handle as { path: string }).path);

async function checkpointOnce(kb: RocksDBKeyedStateBackend<string>, fs: FileSystem) {
  const storage = new FsCheckpointStorage(fs);
  const loc = await storage.initializeLocationForCheckpoint(1);
  const h = (await kb.snapshot(1, 1, loc.streamFactory, CHECKPOINT).result).jobManagerOwnedSnapshot as IncrementalRocksDBStateHandle;
  assert.ok(h.sharedFiles.length >= 1);
  return { storage, h };
}

function storedPath(root: string, handle: unknown): string {
  return join(root, ...(handle as { path: string }).path.split('/'));
}

describe('unverified SST uploads take the CRC32C RocksDB computed while writing', () => {
  it('a linked SST is not read back, and its handle (size, CRC32C) is what the stored file holds', async () => {
    const root = tempDir('written-checksum');
    const fs = new RecordingFileSystem(root);
    const kb = await backendWithState(tempDir('local'), 2000, false);
    const { h } = await checkpointOnce(kb, fs);
    assert.deepEqual(sstPaths(h).filter((p) => fs.readPaths.has(p)), [], 'no SST was read back');
    for (const f of h.sharedFiles) {
      const path = storedPath(root, f.handle);
      const stored = readFileSync(path);
      assert.deepEqual({ size: f.handle.size, checksum: f.handle.checksum }, { size: stored.length, checksum: crc32c(stored) }, f.name);
      assert.ok(statSync(path).nlink >= 2, `${f.name} was linked, not copied`);
    }
    kb.dispose();
  });

  it('an SST without a recorded checksum is read back through its new name (the general path)', async () => {
    const root = tempDir('no-written-checksum');
    const fs = new RecordingFileSystem(root);
    const kb = await backendWithState(tempDir('local'), 2000, false);
    const original = RocksDB.prototype.getLiveFilesMetaData;
    // A database whose MANIFEST has no checksums (written without a checksum generator).
    RocksDB.prototype.getLiveFilesMetaData = function (this: RocksDB, o) {
      return original.call(this, o).map(({ fileChecksum: _, ...f }) => f);
    };
    try {
      const { h } = await checkpointOnce(kb, fs);
      assert.deepEqual(sstPaths(h).filter((p) => !fs.readPaths.has(p)), [], 'each SST was read back');
      for (const f of h.sharedFiles) assert.equal(f.handle.checksum, crc32c(readFileSync(storedPath(root, f.handle))), f.name);
    } finally {
      RocksDB.prototype.getLiveFilesMetaData = original;
      kb.dispose();
    }
  });
});
