import { strict as assert } from 'node:assert';
import { closeSync, openSync, readdirSync, readFileSync, readSync, renameSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  CHECKPOINT,
  CorruptCheckpointError,
  CorruptLocalStateError,
  crc32c,
  FlowstateError,
  ForwardingFileSystem,
  FsCheckpointStorage,
  KeyGroupRange,
  MemoryFileSystem,
  mulberry32,
  Serializers,
  ValueStateDescriptor,
  VoidNamespace,
  type CheckpointStreamFactory,
  type KeyedStateBackend,
  type KeyedStateHandle,
  type StateHandleReader,
} from '@flowstate/core';
import { localCheckpointStorage } from '@flowstate/storage-local';
import { RocksDBError, RocksDBKeyedStateBackend, RocksDBStateBackend, type IncrementalRocksDBStateHandle } from '@flowstate/rocksdb';
import { RocksDB, nativeCrc32cForTest, verifySstFile } from '@flowstate/rocksdb/native';
import { loadBinding } from '../src/native/binding.js';
import { pinnedSsts, rocksName } from './corrupt-sst.js';
import { backendWithState, tempDirs } from './temp-dirs.js';

const tempDir = tempDirs();


/**
 * One flushed SST: 'small' (~100 KB, read into memory once by verifySstFile) or 'large' (random
 * 1 KiB values, over the 4 MiB up to which it reads into memory: streamed, read twice).
 */
function oneSst(kind: 'small' | 'large' = 'small'): string {
  const dir = tempDir('sst');
  const db = RocksDB.open(dir);
  const rand = mulberry32(0x5e7);
  const value = (i: number) => (kind === 'small' ? Buffer.from(`value-${i}`.repeat(3)) : Uint8Array.from({ length: 1024 }, () => Math.floor(rand() * 256)));
  for (let i = 0; i < 5000; i++) db.put(db.defaultColumnFamily, Buffer.from(`key-${i}`), value(i));
  db.flush();
  db.close();
  const name = readdirSync(dir).find((n) => n.endsWith('.sst'));
  assert.ok(name !== undefined, 'the flush wrote an SST');
  return join(dir, name);
}

/** Replaces `path` (possibly a hard link) by a copy with one byte flipped. */
function flipByte(path: string, at: number): void {
  const bytes = Uint8Array.from(readFileSync(path));
  bytes[at] = bytes[at]! ^ 0xff;
  writeFileSync(`${path}.tmp`, bytes);
  renameSync(`${path}.tmp`, path);
}

/** Flips one byte of `path` in place: the same file (inode), so a handle already open reads the change. */
function flipByteInPlace(path: string, at: number): void {
  const fd = openSync(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at);
    b[0] = b[0]! ^ 0xff;
    writeSync(fd, b, 0, 1, at);
  } finally {
    closeSync(fd);
  }
}

/** One SST of several MiB: `keys` random 1 KiB values (incompressible), one flush. */
async function backendWithBlobs(keys: number): Promise<RocksDBKeyedStateBackend<string>> {
  const kb = await new RocksDBStateBackend({ incrementalCheckpoints: true, localDirectory: tempDir('local') }).createKeyedStateBackend({
    operatorIdentifier: 'op',
    keySerializer: Serializers.string,
    maxParallelism: 128,
    keyGroupRange: new KeyGroupRange(0, 127),
  });
  const blob = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ValueStateDescriptor<Uint8Array>('blob', Serializers.bytes));
  const rand = mulberry32(0xb10b);
  for (let i = 0; i < keys; i++) {
    kb.setCurrentKey(`k${i}`);
    blob.update(Uint8Array.from({ length: 1024 }, () => Math.floor(rand() * 256)));
  }
  assert.ok(kb instanceof RocksDBKeyedStateBackend);
  return kb;
}

/** The paths of the SSTs checkpoint `checkpointId` pinned. */
function localSsts(kb: RocksDBKeyedStateBackend<string>, checkpointId: number): string[] {
  return pinnedSsts(kb, checkpointId).map((f) => f.path);
}

describe('verifySstFile (native)', () => {
  for (const kind of ['small', 'large'] as const) {
    it(`returns the size and the CRC32C of the whole file (the checksum stream handles carry): ${kind} SST, ${kind === 'small' ? 'read once into memory' : 'streamed'}`, async () => {
      const path = oneSst(kind);
      const bytes = readFileSync(path);
      assert.equal(bytes.length > 4 << 20, kind === 'large', `${bytes.length} bytes`);
      const before = loadBinding().sstVerifyCountsForTest();
      assert.deepEqual(await verifySstFile(path), { size: bytes.length, crc32c: crc32c(bytes) });
      const after = loadBinding().sstVerifyCountsForTest();
      const path_ = kind === 'small' ? 'inMemory' : 'streamed';
      assert.equal(after[path_] - before[path_], 1, `verified on the ${path_} path`);
    });

    it(`rejects a flipped byte in a data block with ROCKSDB_CORRUPTION (block checksum mismatch) naming the file: ${kind} SST`, async () => {
      const path = oneSst(kind);
      flipByte(path, 100);
      const err = await verifySstFile(path).then(
        () => assert.fail('a damaged SST verified'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof RocksDBError, String(err));
      assert.ok(err instanceof FlowstateError, 'RocksDBError is a FlowstateError');
      assert.equal(err.code, 'ROCKSDB_CORRUPTION');
      assert.match(err.message, /block checksum mismatch/);
      assert.ok(err.message.includes(path), err.message);
    });

    it(`rejects a truncated file with ROCKSDB_CORRUPTION naming the file: ${kind} SST`, async () => {
      const path = oneSst(kind);
      truncateSync(path, statSync(path).size - 1000);
      const err = await verifySstFile(path).then(
        () => assert.fail('a truncated SST verified'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof RocksDBError && err.code === 'ROCKSDB_CORRUPTION', String(err));
      assert.ok(err.message.includes(path), err.message);
    });
  }

  it('computes CRC32C alike with the CPU instruction and with the portable table, at every length and alignment', () => {
    // Bytes that do not repeat with the lanes' 256-byte period (xorshift32), so a lane read from the
    // wrong place changes the result.
    const data = new Uint8Array(10_007);
    let x = 0x9e3779b9;
    for (let i = 0; i < data.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      data[i] = x & 0xff;
    }
    // The instruction's path runs three interleaved lanes over every 768 bytes (3 × 256), then one lane.
    const laneEdges = [[0, 767], [0, 768], [1, 769], [2, 1543], [0, 2304], [7, 2311 + 767]] as const;
    for (const [start, end] of [[0, 0], [0, 1], [1, 8], [3, 17], [0, 4096], [5, 4099], ...laneEdges, [3, 10_007]] as const) {
      const slice = data.subarray(start, end);
      const expected = crc32c(slice);
      assert.equal(nativeCrc32cForTest(slice, false), expected, `hardware-or-default path, bytes ${start}..${end}`);
      assert.equal(nativeCrc32cForTest(slice, true), expected, `portable table, bytes ${start}..${end}`);
    }
  });

  it('rejects a missing file with ROCKSDB_IO_ERROR, and a non-string path with ROCKSDB_INVALID_ARGUMENT', async () => {
    await assert.rejects(verifySstFile(join(tempDir('missing'), 'nope.sst')), (e: unknown) => e instanceof RocksDBError && e.code === 'ROCKSDB_IO_ERROR');
    await assert.rejects(verifySstFile(42 as unknown as string), (e: unknown) => e instanceof RocksDBError && e.code === 'ROCKSDB_INVALID_ARGUMENT');
  });
});

describe('RocksDB incremental checkpoints verify SSTs before upload', () => {
  it('copying storage: a file that changes after its verification fails the checkpoint: the upload CRC32C must be the verified one', async () => {
    // A wrapper has no linkFrom: the SST is verified, then copied (streamed, 1 MiB at a time). It
    // is damaged in place (same inode: the copy's open handle reads the damage) when the copy's
    // first MiB reaches the storage, i.e. after its verification and before its last MiB is read.
    let damaged: string | undefined;
    let kb: RocksDBKeyedStateBackend<string> | undefined;
    class DamagingFileSystem extends ForwardingFileSystem {
      override create(path: string) {
        if (path.startsWith('shared/') && damaged === undefined) {
          damaged = localSsts(kb!, 1)[0]!;
          flipByteInPlace(damaged, statSync(damaged).size - 4096);
        }
        return super.create(path);
      }
    }
    const storage = new FsCheckpointStorage(new DamagingFileSystem(new MemoryFileSystem()));
    kb = await backendWithBlobs(4000);
    const loc = await storage.initializeLocationForCheckpoint(1);
    const err = await kb.snapshot(1, 1, loc.streamFactory, CHECKPOINT).result.then(
      () => assert.fail('the checkpoint completed with a file that changed after verification'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof CorruptLocalStateError, String(err));
    assert.equal(err.checkpointId, 1);
    assert.match(err.message, /not the verified ones/);
    assert.ok(damaged !== undefined && err.message.includes(rocksName(damaged)), err.message);
    const left = (await storage.fs.list('')).map((f) => f.path);
    assert.deepEqual(left, [], 'the failed checkpoint deleted what it uploaded');
    kb.dispose();
  });

  it('linking storage: a file damaged before its link fails the checkpoint (verified through the new name), and the link is removed', async () => {
    const storage = localCheckpointStorage(tempDir('linked-damaged'));
    const kb = await backendWithState(tempDir('local'), 2000);
    const loc = await storage.initializeLocationForCheckpoint(1);
    let damaged: string | undefined;
    const factory: CheckpointStreamFactory = {
      checkpointId: 1,
      discardStateHandle: (h) => loc.streamFactory.discardStateHandle(h),
      createCheckpointStateOutputStream: (scope) => {
        if (scope === 'SHARED' && damaged === undefined) {
          const ssts = localSsts(kb, 1);
          assert.equal(ssts.length, 1, 'one SST to upload');
          damaged = ssts[0]!;
          flipByte(damaged, 8);
        }
        return loc.streamFactory.createCheckpointStateOutputStream(scope);
      },
    };
    const err = await kb.snapshot(1, 1, factory, CHECKPOINT).result.then(
      () => assert.fail('the checkpoint completed with a damaged SST'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof CorruptLocalStateError, String(err));
    assert.equal(err.checkpointId, 1);
    assert.match(err.message, /block checksum mismatch/);
    assert.ok(damaged !== undefined && err.message.includes(rocksName(damaged)), err.message);
    assert.deepEqual((await storage.fs.list('')).map((f) => f.path), [], 'nothing left: the link was removed');
    kb.dispose();
  });

  it("linking storage: an adopted SST's handle (size, CRC32C from the verification) is what the stored file holds", async () => {
    const root = tempDir('linked');
    const storage = localCheckpointStorage(root);
    const kb = await backendWithState(tempDir('local'), 2000);
    const loc = await storage.initializeLocationForCheckpoint(1);
    const h = (await kb.snapshot(1, 1, loc.streamFactory, CHECKPOINT).result).jobManagerOwnedSnapshot as IncrementalRocksDBStateHandle;
    assert.ok(h.sharedFiles.length >= 1);
    for (const f of h.sharedFiles) {
      assert.equal(f.handle.type, 'file');
      const stored = readFileSync(join(root, ...(f.handle as { path: string }).path.split('/')));
      assert.deepEqual({ size: f.handle.size, checksum: f.handle.checksum }, { size: stored.length, checksum: crc32c(stored) }, f.name);
    }
    kb.dispose();
  });
});

describe('verifySstsBeforeUpload: false', () => {
  it("linking storage: each SST's handle (size, CRC32C read back through the link) is what the stored file holds", async () => {
    const root = tempDir('linked-unverified');
    const storage = localCheckpointStorage(root);
    const kb = await backendWithState(tempDir('local'), 2000, false);
    const loc = await storage.initializeLocationForCheckpoint(1);
    const h = (await kb.snapshot(1, 1, loc.streamFactory, CHECKPOINT).result).jobManagerOwnedSnapshot as IncrementalRocksDBStateHandle;
    assert.ok(h.sharedFiles.length >= 1);
    for (const f of h.sharedFiles) {
      const path = join(root, ...(f.handle as { path: string }).path.split('/'));
      const stored = readFileSync(path);
      assert.deepEqual({ size: f.handle.size, checksum: f.handle.checksum }, { size: stored.length, checksum: crc32c(stored) }, f.name);
      assert.ok(statSync(path).nlink >= 2, `${f.name} was linked, not copied`);
    }
    kb.dispose();
  });

  it('uploads a damaged SST without a block check, under the CRC32C RocksDB computed while writing it: reading it fails', async () => {
    const storage = localCheckpointStorage(tempDir('unverified'));
    const kb = await backendWithState(tempDir('local'), 2000, false);
    const loc = await storage.initializeLocationForCheckpoint(1);
    const future = kb.snapshot(1, 1, loc.streamFactory, CHECKPOINT);
    const [sst] = localSsts(kb, 1);
    flipByte(sst!, 8);
    const h = (await future.result).jobManagerOwnedSnapshot as IncrementalRocksDBStateHandle;
    const uploaded = h.sharedFiles.find((f) => sst!.endsWith(f.name));
    assert.ok(uploaded !== undefined, 'the damaged SST is part of the checkpoint');
    // Until session 10 the handle carried the CRC32C read back from the damaged bytes (valid).
    await assert.rejects(storage.readFully(uploaded.handle, 1), CorruptCheckpointError);
    kb.dispose();
  });
});

describe('RocksDB restore refuses file names that are not plain RocksDB file names', () => {
  async function checkpointHandle(): Promise<{ handle: IncrementalRocksDBStateHandle; reader: StateHandleReader }> {
    const storage = localCheckpointStorage(tempDir('names'));
    const kb = await backendWithState(tempDir('local'), 50);
    const loc = await storage.initializeLocationForCheckpoint(1);
    const handle = (await kb.snapshot(1, 1, loc.streamFactory, CHECKPOINT).result).jobManagerOwnedSnapshot as IncrementalRocksDBStateHandle;
    kb.dispose();
    return { handle, reader: storage };
  }

  function restore(handle: KeyedStateHandle, reader: StateHandleReader): Promise<KeyedStateBackend<string>> {
    return new RocksDBStateBackend({ localDirectory: tempDir('restore') }).createKeyedStateBackend({
      operatorIdentifier: 'op',
      keySerializer: Serializers.string,
      maxParallelism: 128,
      keyGroupRange: new KeyGroupRange(0, 127),
      restoreState: [handle],
      stateHandleReader: reader,
    });
  }

  for (const [what, rename] of [
    ["'.'", () => '.'],
    ["'..'", () => '..'],
    ['a 300-character name', () => 'a'.repeat(300)],
    ['a name used twice', (h: IncrementalRocksDBStateHandle) => h.privateFiles[0]!.name],
  ] as const) {
    it(`${what} fails with CorruptCheckpointError, not a raw file system error`, async () => {
      const { handle, reader } = await checkpointHandle();
      const [first, ...rest] = handle.sharedFiles;
      assert.ok(first !== undefined, 'the checkpoint has an SST');
      const bad: IncrementalRocksDBStateHandle = { ...handle, sharedFiles: [{ ...first, name: rename(handle) }, ...rest] };
      const err = await restore(bad, reader).then(
        (kb) => {
          kb.dispose();
          return assert.fail('restore accepted the name');
        },
        (e: unknown) => e,
      );
      assert.ok(err instanceof CorruptCheckpointError, `expected CorruptCheckpointError, got ${String(err)}`);
      assert.match(err.message, /RocksDB file name/);
      assert.match(err.message, /checkpoint 1/);
    });
  }
});

describe('RocksDBError', () => {
  function openError(path: string, createIfMissing: boolean): unknown {
    try {
      RocksDB.open(path, { createIfMissing }).close();
    } catch (e) {
      return e;
    }
    return assert.fail(`opening ${path} succeeded`);
  }

  it('is a FlowstateError whose stable code is mapped from the rocksdb::Status (the CLI does not report it as a bug)', () => {
    const root = tempDir('errors');
    const cases: Array<[string, unknown]> = [];
    cases.push(['ROCKSDB_INVALID_ARGUMENT', openError(join(root, 'absent'), false)]);
    const corrupt = join(root, 'corrupt');
    RocksDB.open(corrupt).close();
    writeFileSync(join(corrupt, 'CURRENT'), 'no newline at the end');
    cases.push(['ROCKSDB_CORRUPTION', openError(corrupt, false)]);
    writeFileSync(join(root, 'a-file'), '');
    cases.push(['ROCKSDB_IO_ERROR', openError(join(root, 'a-file', 'db'), true)]);
    for (const [code, err] of cases) {
      assert.ok(err instanceof RocksDBError, `${code}: ${String(err)}`);
      assert.ok(err instanceof FlowstateError, `${code}: RocksDBError is a FlowstateError`);
      assert.equal(err.code, code, err.message);
      assert.equal(err.name, 'RocksDBError');
      assert.ok(err.status !== undefined && err.message.includes(err.status), 'the message carries the rocksdb::Status');
    }
  });
});
