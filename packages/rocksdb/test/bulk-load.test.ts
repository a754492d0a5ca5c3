import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runInNewContext } from 'node:vm';
import { AdoptableReadBuffers, BytesSerializer, dropIdleAdoptableBuffers, idleAdoptableBuffers, IllegalStateUsageError, type InternalTimer, KeyGroupRange, ListStateDescriptor, MapStateDescriptor, SAVEPOINT, type KeyedStateHandle, Serializers, timerElementType, ValueStateDescriptor, VoidNamespace, type KeyedStateBackend } from '@flowstate/core';
import { FsStateBackend } from '@flowstate/heap';
import { RocksDBKvStore, RocksDBStateBackend, STATE_CF_PREFIX } from '@flowstate/rocksdb';
import { RocksDB, SstFileWriter } from '@flowstate/rocksdb/native';
import { localCheckpointStorage } from '@flowstate/storage-local';
import { BULK_LOAD_BOUNDARY_SPILL_BYTES, RocksDBBulkLoad, rowsInKeyOrder, sortedLastWins } from '../src/backend/rocksdb-bulk-load.js';
import { dropIdleRowChunks, idleRowChunks, ROW_ARENA_CHUNK_BYTES, RowArena } from '../src/backend/row-arena.js';
import { loadBinding } from '../src/native/binding.js';
import { COUNT, stringKeyGroup, tempDirs } from './temp-dirs.js';

const tempDir = tempDirs();
const b = (...bytes: number[]) => new Uint8Array(bytes);
const memtableEntries = (db: RocksDB, cf: string) => Number(db.getProperty('rocksdb.num-entries-active-mem-table', db.getColumnFamily(cf)));

/** A RocksDBKvStore over a new database in a temp directory, closed after `fn`. */
async function withStore(name: string, fn: (db: RocksDB, store: RocksDBKvStore, dir: string) => Promise<void>): Promise<void> {
  const dir = tempDir(name);
  const db = RocksDB.open(join(dir, 'db'), { createIfMissing: true, disableWAL: true });
  const store = new RocksDBKvStore(db);
  try {
    await fn(db, store, dir);
  } finally {
    store.close();
  }
}

/** The live SST files of a state's column family, by smallest key. */
const filesInKeyOrder = (db: RocksDB, state: string) =>
  db
    .getLiveFilesMetaData({ uniqueIds: false })
    .filter((f) => f.columnFamily === `${STATE_CF_PREFIX}${state}`)
    .sort((x, y) => Buffer.compare(x.smallestKey, y.smallestKey));

/**
 * Holds every SST file write of `db` until `open()` (the promises are in `writes`); with
 * `maxWriters`, creating a writer beyond that many throws, as a failing file system would.
 */
function holdSstWrites(db: RocksDB, maxWriters = Infinity): { open: () => void; writes: Promise<unknown>[] } {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const writes: Promise<unknown>[] = [];
  const create = db.createSstFileWriter.bind(db);
  let created = 0;
  db.createSstFileWriter = () => {
    if (created++ >= maxWriters) throw new Error('no more files');
    const w = create();
    const put = w.putSortedAndFinishAsync.bind(w);
    w.putSortedAndFinishAsync = (keys, values) => {
      const write = gate.then(() => put(keys, values));
      writes.push(write);
      return write;
    };
    return w;
  };
  return { open, writes };
}

/** `n` keys k0.. with state `valueOf(i)` in a heap backend, canonical savepoint, restored into a RocksDB backend. */
async function heapToRocks<V>(name: string, descriptor: ValueStateDescriptor<V>, n: number, valueOf: (i: number) => V): Promise<KeyedStateBackend<string>> {
  const dir = tempDir(name);
  const storage = localCheckpointStorage(join(dir, 'checkpoints'));
  const params = { operatorIdentifier: 'op', keySerializer: Serializers.string, maxParallelism: 128, keyGroupRange: new KeyGroupRange(0, 127) };
  const heap = await new FsStateBackend().createKeyedStateBackend(params);
  const st = heap.getPartitionedState(VoidNamespace, Serializers.voidNamespace, descriptor);
  for (let i = 0; i < n; i++) {
    heap.setCurrentKey(`k${i}`);
    st.update(valueOf(i));
  }
  const loc = await storage.initializeLocationForCheckpoint(1);
  const handle = (await heap.snapshot(1, 1, loc.streamFactory, SAVEPOINT).result).jobManagerOwnedSnapshot!;
  heap.dispose();
  return await new RocksDBStateBackend({ incrementalCheckpoints: true, localDirectory: join(dir, 'local') }).createKeyedStateBackend({ ...params, restoreState: [handle], stateHandleReader: storage });
}

describe('RocksDB bulk load (canonical restores through SST ingestion)', () => {
  it('sorts keys as unsigned bytes, a prefix first; of equal keys the last added wins', () => {
    const keys = [b(0x80), b(1, 0), b(1), b(0xff), b(1), b(0)];
    assert.deepEqual(sortedLastWins(keys), [5, 4, 1, 0, 3]);
  });

  it('rows already in strictly ascending key order are passed on as they are; any other order (or an equal key) is sorted, the last added winning', () => {
    const values = (n: number) => Array.from({ length: n }, (_, i) => b(i));
    const ascending = [b(0), b(0, 0), b(1), b(0x80), b(0xff, 1)];
    const given = values(5);
    const asIs = rowsInKeyOrder(ascending, given);
    assert.equal(asIs.keys, ascending, 'the same array: no sort');
    assert.equal(asIs.values, given);
    // One pair out of order at the end, and an equal key: both take the general path.
    const late = [...ascending.slice(0, 4), b(0x7f)];
    assert.deepEqual(rowsInKeyOrder(late, values(5)), { keys: [b(0), b(0, 0), b(1), b(0x7f), b(0x80)], values: [b(0), b(1), b(2), b(4), b(3)] });
    const equal = [b(1), b(2), b(2), b(3)];
    assert.deepEqual(rowsInKeyOrder(equal, values(4)), { keys: [b(1), b(2), b(3)], values: [b(0), b(2), b(3)] });
    assert.deepEqual(rowsInKeyOrder([], []), { keys: [], values: [] });
  });

  it('RowArena: copies into shared chunks, a row larger than a chunk into a buffer of its own; seal() hands over the chunks and starts a new one', () => {
    dropIdleRowChunks();
    const arena = new RowArena();
    assert.equal(arena.copy(b()).length, 0);
    assert.deepEqual(arena.seal(), [], 'an empty value takes no chunk');
    const parts = [b(1, 2, 3), b(), b(0xff), new Uint8Array(100).fill(7), b(4, 5).subarray(1)];
    const copies = parts.map((p) => arena.copy(p));
    for (const p of parts) p.fill(0x55);
    assert.deepEqual(copies.map((v) => [...v]), [[1, 2, 3], [], [0xff], new Array(100).fill(7), [5]], 'copies, not views of the originals');
    assert.ok(copies.every((v) => v.length === 0 || v.buffer === copies[0]!.buffer), 'one shared chunk');
    const big = arena.copy(new Uint8Array(ROW_ARENA_CHUNK_BYTES + 1).fill(9));
    assert.equal(big.buffer.byteLength, ROW_ARENA_CHUNK_BYTES + 1);
    assert.notEqual(big.buffer, copies[0]!.buffer);
    const sealed = arena.seal();
    assert.equal(sealed.length, 1, 'only the shared chunk: a row of its own is not pooled');
    assert.equal(sealed[0]!.buffer, copies[0]!.buffer);
    assert.equal(sealed[0]!.length, ROW_ARENA_CHUNK_BYTES);
    assert.notEqual(arena.copy(b(1)).buffer, copies[0]!.buffer, 'a new chunk after seal()');
  });

  it('the bulk load copies what add() is given (copiesOnAdd): a caller reusing its buffers changes no row', async () => {
    await withStore('bulk-copies', async (_db, store) => {
      const space = store.keySpace('s');
      const load = store.bulkLoad(1 << 20, 640);
      assert.equal(load.copiesOnAdd, true);
      const key = b(0, 0, 0);
      const value = new Uint8Array(60);
      for (let k = 0; k < 20; k++) {
        key[2] = k;
        value.fill(k);
        load.add(space, key, value);
      }
      key.fill(0xee);
      value.fill(0xee);
      await load.finish();
      for (let k = 0; k < 20; k++) assert.deepEqual(space.get(b(0, 0, k)), new Uint8Array(60).fill(k), `key ${k}`);
    });
  });

  it("a spill's chunks go back to the pool only once its SST files settled, also after an abort", async () => {
    await withStore('bulk-chunks', async (db, store) => {
      dropIdleRowChunks();
      const { open, writes } = holdSstWrites(db);
      const space = store.keySpace('s');
      const load = store.bulkLoad(640);
      // 63-byte rows, a spill every 11: two spills (a chunk each), then 8 rows in a third chunk.
      for (let k = 0; k < 30; k++) load.add(space, b(0, 0, k), new Uint8Array(60).fill(k));
      assert.equal(load.filesWritten, 2);
      // An abort gives back at once only the chunk of the rows no writer was given.
      load.abort();
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(idleRowChunks(), 1, 'only the unspilled rows\' chunk while the files were being written');
      open();
      await Promise.allSettled(writes);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(idleRowChunks(), 3, 'the chunk of each spill came back once its file settled');
    });
  });

  it('values in its readBuffers are handed to the SST writer as they are, their buffer held until the files settle (also after an abort); keys and other values are copied', async () => {
    await withStore('bulk-adopts', async (db, store) => {
      dropIdleAdoptableBuffers();
      const given: Uint8Array[][] = [];
      const create = db.createSstFileWriter.bind(db);
      db.createSstFileWriter = () => {
        const w = create();
        const put = w.putSortedAndFinishAsync.bind(w);
        w.putSortedAndFinishAsync = (keys, values) => (given.push([...values]), put(keys, values));
        return w;
      };
      const { open, writes } = holdSstWrites(db);
      const space = store.keySpace('s');
      // Spills at key-group boundaries after 640 bytes of rows (every 11 rows of 63 bytes); the
      // 64 KiB read buffer held stays under the 128 KiB threshold.
      const load = store.bulkLoad(128 << 10, 640);
      const read = load.readBuffers.take(30 * 60);
      const key = b(0, 0, 0);
      for (let k = 0; k < 30; k++) {
        read.fill(k, k * 60, (k + 1) * 60);
        key[2] = k;
        load.add(space, key, read.subarray(k * 60, (k + 1) * 60));
        load.keyGroupBoundary();
      }
      const other = new Uint8Array(60).fill(99);
      load.add(space, b(0, 1, 0), other);
      other.fill(0xee);
      key.fill(0xee);
      // The reader is done with its buffer: the spills' hold keeps it.
      load.readBuffers.release();
      assert.equal(load.filesWritten, 2);
      assert.ok(given.flat().every((v) => v.buffer === read.buffer), 'the spilled values are views of the read buffer');
      assert.equal(load.readBuffers.inUse, 1, 'held while its files are written');
      open();
      await load.finish();
      await Promise.allSettled(writes);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(load.readBuffers.inUse, 0, 'free once every file settled');
      assert.equal(idleAdoptableBuffers(), 1);
      for (let k = 0; k < 30; k++) assert.deepEqual(space.get(b(0, 0, k)), new Uint8Array(60).fill(k), `key ${k}`);
      assert.deepEqual(space.get(b(0, 1, 0)), new Uint8Array(60).fill(99));

      const aborted = store.bulkLoad(128 << 10, 640);
      const { open: openAborted, writes: abortedWrites } = holdSstWrites(db);
      const bytes = aborted.readBuffers.take(60 * 15);
      for (let k = 0; k < 15; k++) {
        aborted.add(space, b(0, 2, k), bytes.subarray(k * 60, (k + 1) * 60));
        aborted.keyGroupBoundary();
      }
      aborted.readBuffers.release();
      aborted.abort();
      assert.equal(aborted.readBuffers.inUse, 1, 'after an abort, held by the file still being written only');
      openAborted();
      await Promise.allSettled(abortedWrites);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(aborted.readBuffers.inUse, 0);
    });
  });

  it('held read buffers the reader moved past count whole towards the spill threshold: rows from many small reads do not pin a buffer each', async () => {
    await withStore('bulk-held-bytes', async (_db, store) => {
      const space = store.keySpace('s');
      // 200 KiB of rows or of held buffers; each read below gets a buffer of at least 64 KiB.
      const load = store.bulkLoad(200 << 10);
      for (let r = 0; r < 5; r++) {
        const read = load.readBuffers.take(100);
        read.fill(r, 0, 60);
        load.add(space, b(0, r), read.subarray(0, 60));
        load.readBuffers.release();
      }
      assert.equal(load.filesWritten, 1, 'four 64 KiB buffers held for 248 bytes of rows, then a fifth read: spilled');
      await load.finish();
      for (let r = 0; r < 5; r++) assert.deepEqual(space.get(b(0, r)), new Uint8Array(60).fill(r));
    });
  });

  it('a read buffer of spillBytes or more counts only once the reader moved past it: its rows fill files of spillBytes, not a file each', async () => {
    await withStore('bulk-large-block', async (db, store) => {
      const space = store.keySpace('s');
      // A block of 300,000 bytes is read alone into a buffer of 512 KiB, twice the threshold (as
      // a block of 64 MiB or more with the default one).
      const load = store.bulkLoad(256 << 10);
      const rows = 100;
      const size = 3000;
      const block = load.readBuffers.take(rows * size);
      // As a restore reads: the next request is taken before the rows of this one are added.
      const next = load.readBuffers.take(100);
      for (let k = 0; k < rows; k++) {
        block.fill(k, k * size, (k + 1) * size);
        load.add(space, b(0, 0, k), block.subarray(k * size, (k + 1) * size));
      }
      assert.equal(load.filesWritten, 1, 'one file once the rows reached 256 KiB (88 of 3,003 bytes)');
      // The reader moves past the block: the next read's first row spills, which frees it.
      load.readBuffers.take(100);
      next.fill(0xaa, 0, 60);
      load.add(space, b(0, 1, 0), next.subarray(0, 60));
      assert.equal(load.filesWritten, 2, 'the 512 KiB buffer the reader moved past counts whole');
      load.readBuffers.release();
      await load.finish();
      assert.equal(filesInKeyOrder(db, 's').length, 2);
      for (let k = 0; k < rows; k++) assert.deepEqual(space.get(b(0, 0, k)), new Uint8Array(size).fill(k), `key ${k}`);
      assert.deepEqual(space.get(b(0, 1, 0)), new Uint8Array(60).fill(0xaa));
    });
  });

  it('a canonical restore reads into the bulk load\'s readBuffers and gives them back after each handle', async () => {
    const { take, release, hold } = AdoptableReadBuffers.prototype;
    let taken = 0;
    let released = 0;
    let held = 0;
    AdoptableReadBuffers.prototype.take = function (length) {
      taken++;
      return take.call(this, length);
    };
    AdoptableReadBuffers.prototype.release = function () {
      released++;
      release.call(this);
    };
    AdoptableReadBuffers.prototype.hold = function (view) {
      const h = hold.call(this, view);
      if (h !== undefined) held++;
      return h;
    };
    let rocks: KeyedStateBackend<string>;
    try {
      rocks = await heapToRocks('bulk-restore-adopts', COUNT, 200, (i) => i);
    } finally {
      Object.assign(AdoptableReadBuffers.prototype, { take, release, hold });
    }
    try {
      assert.ok(taken > 0 && released === 1, `${taken} reads, ${released} releases`);
      assert.ok(held > 0, 'values were kept as views of the read buffers (a hold taken)');
      const count = rocks.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT);
      for (let i = 0; i < 200; i++) {
        rocks.setCurrentKey(`k${i}`);
        assert.equal(count.value(), i);
      }
    } finally {
      rocks.dispose();
    }
  });

  it("a spill that fails to start a later column family's file still keeps the chunk until the earlier file settled", async () => {
    await withStore('bulk-chunks-failed-spill', async (db, store) => {
      dropIdleRowChunks();
      const { open, writes } = holdSstWrites(db, 1);
      const [s, t] = [store.keySpace('s'), store.keySpace('t')];
      const load = store.bulkLoad(1 << 20);
      for (let k = 0; k < 5; k++) {
        load.add(s, b(0, k), new Uint8Array(60).fill(k));
        load.add(t, b(0, k), new Uint8Array(60).fill(k));
      }
      await assert.rejects(load.finish(), /no more files/);
      // As a failed restore does.
      load.abort();
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(writes.length, 1, "the first family's file was being written");
      assert.equal(idleRowChunks(), 0, 'no chunk back while that file was being written');
      open();
      await Promise.allSettled(writes);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(idleRowChunks(), 1, 'the chunk came back once it settled');
    });
  });

  it('after a failed spill only abort() is accepted: finish(), add() and keyGroupBoundary() throw a typed error naming the failure, and no row is written from the memory given back', async () => {
    await withStore('bulk-failed-spill', async (db, store, dir) => {
      holdSstWrites(db, 1).open();
      const [s, t] = [store.keySpace('s'), store.keySpace('t')];
      const failed = /^bulk load failed \(writing an SST file of column family 'state:t': no more files\); only abort\(\) is accepted$/;
      const load = store.bulkLoad(1 << 20);
      for (let k = 0; k < 5; k++) {
        load.add(s, b(0, k), new Uint8Array(60).fill(k));
        load.add(t, b(0, k), new Uint8Array(60).fill(k));
      }
      await assert.rejects(load.finish(), /no more files/);
      await assert.rejects(load.finish(), (e) => e instanceof IllegalStateUsageError && failed.test(e.message));
      assert.throws(() => load.add(s, b(1), b(1)), (e) => e instanceof IllegalStateUsageError && failed.test(e.message));
      assert.throws(() => load.keyGroupBoundary(), IllegalStateUsageError);
      load.abort();
      assert.deepEqual(readdirSync(join(dir, 'db')).filter((n) => n.startsWith('.bulk-load-')), [], 'abort() removed the scratch directory');
      assert.equal(s.get(b(0, 0)), undefined, 'nothing ingested');

      // A spill on the threshold in add(): a caller that catches its error cannot add on.
      const spilling = store.bulkLoad(640);
      assert.throws(() => {
        for (let k = 0; k < 10; k++) {
          spilling.add(s, b(2, k), new Uint8Array(60).fill(k));
          spilling.add(t, b(2, k), new Uint8Array(60).fill(k));
        }
      }, /no more files/);
      assert.throws(() => spilling.add(s, b(3), b(3)), IllegalStateUsageError);
      spilling.abort();
    });
  });

  it('a key-group boundary writes the buffered rows once over its threshold: files that do not overlap, the same rows as one file', async () => {
    await withStore('bulk-boundary', async (db, store) => {
      const space = store.keySpace('s');
      // 64-byte rows; a boundary writes once 640 bytes are buffered (the hard limit is far away).
      const load = store.bulkLoad(1 << 20, 640);
      const value = (g: number, k: number) => new Uint8Array(60).fill(g).map((x, i) => (i === 0 ? k : x));
      // Key groups 0..5 of 4 rows each (256 bytes), keys out of order within a group.
      for (let g = 0; g < 6; g++) {
        for (const k of [3, 1, 2, 0]) load.add(space, b(0, g, k), value(g, k));
        if (g === 0) assert.equal(load.filesWritten, 0, 'nothing written before a boundary');
        load.keyGroupBoundary();
        assert.equal(load.filesWritten, g < 2 ? 0 : g < 5 ? 1 : 2, `after key group ${g}`);
      }
      await load.finish();
      assert.equal(load.filesWritten, 2);
      for (let g = 0; g < 6; g++) for (let k = 0; k < 4; k++) assert.deepEqual(space.get(b(0, g, k)), value(g, k), `group ${g} key ${k}`);
      const files = filesInKeyOrder(db, 's');
      assert.equal(files.length, 2);
      assert.ok(Buffer.compare(files[0]!.largestKey, files[1]!.smallestKey) < 0, 'the files do not overlap');
    });
  });

  it('spills into several (overlapping) SST files and ingests them: nothing goes through the memtable, the last value wins', async () => {
    await withStore('bulk-spill', async (db, store, dir) => {
      const space = store.keySpace('s');
      // 64-byte rows, a spill every ~10: keys interleave across files, and key 7 is in two files.
      const load = store.bulkLoad(640);
      const value = (k: number, v: number) => new Uint8Array(60).fill(v).map((x, i) => (i === 0 ? k : x));
      for (let i = 0; i < 40; i++) load.add(space, b(0, 0, 0, (i * 17) % 40), value((i * 17) % 40, 1));
      load.add(space, b(0, 0, 0, 7), value(7, 2));
      assert.ok(load.filesWritten >= 3, `spilled ${load.filesWritten} files`);
      await load.finish();
      assert.equal(memtableEntries(db, `${STATE_CF_PREFIX}s`), 0);
      for (let k = 0; k < 40; k++) assert.deepEqual(space.get(b(0, 0, 0, k)), value(k, k === 7 ? 2 : 1), `key ${k}`);
      // The scratch directory is left, empty (ingestion moved every file), to the database's removal.
      const scratch = readdirSync(join(dir, 'db')).filter((n) => n.startsWith('.bulk-load'));
      assert.equal(scratch.length, 1);
      assert.deepEqual(readdirSync(join(dir, 'db', scratch[0]!)), [], 'scratch directory left empty');
    });
  });

  it('a finished bulk load leaves its scratch directory, empty, without starting a removal; a failed finish removes it and waits for that before rejecting', async () => {
    await withStore('bulk-removal', async (db, store, dir) => {
      const space = store.keySpace('s');
      const cfOf = () => db.getColumnFamily(`${STATE_CF_PREFIX}s`)!;
      // A removal that ends only when the test says so, recording what the directory held then.
      const held = () => {
        const removals: { dir: string; left: string[]; end: () => void }[] = [];
        let started!: () => void;
        const first = new Promise<void>((resolve) => (started = resolve));
        const remove = (d: string) =>
          new Promise<void>((end) => {
            removals.push({ dir: d, left: readdirSync(d), end });
            started();
          });
        return { removals, remove, first };
      };
      const ok = held();
      const load = new RocksDBBulkLoad(db, join(dir, 'scratch-ok'), cfOf, 640, 640, ok.remove);
      for (let k = 0; k < 30; k++) load.add(space, b(0, k), new Uint8Array(60).fill(k));
      await load.finish();
      assert.ok(load.filesWritten >= 2, `spilled ${load.filesWritten} files`);
      assert.deepEqual(space.get(b(0, 29)), new Uint8Array(60).fill(29), 'ingested');
      assert.deepEqual(ok.removals, [], 'no removal started');
      assert.deepEqual(readdirSync(join(dir, 'scratch-ok')), [], 'the directory is left, empty: ingestion moved every file');

      const failing = held();
      db.ingestExternalFileAsync = () => Promise.reject(new Error('ingestion failed'));
      const bad = new RocksDBBulkLoad(db, join(dir, 'scratch-bad'), cfOf, 1 << 20, 640, failing.remove);
      bad.add(space, b(1, 0), b(1));
      let settled = false;
      const finishing = bad.finish().finally(() => (settled = true));
      finishing.catch(() => {});
      await failing.first;
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(settled, false, 'the failed finish waits for the removal before rejecting');
      assert.equal(failing.removals.length, 1);
      assert.ok(failing.removals[0]!.left.some((f) => f.endsWith('.sst')), `the removal takes the files ingestion left: ${failing.removals[0]!.left.join(', ')}`);
      failing.removals[0]!.end();
      await assert.rejects(finishing, /ingestion failed/);
    });
  });

  it("ingests with the CRC32C each SstFileWriter computed (fileChecksums, one per file), which RocksDB records for the unmodified files", async () => {
    await withStore('bulk-checksums', async (db, store) => {
      const calls: { paths: readonly string[]; checksums: readonly number[] | undefined }[] = [];
      const ingest = db.ingestExternalFileAsync.bind(db);
      db.ingestExternalFileAsync = (cf, paths, options) => {
        calls.push({ paths: [...paths], checksums: options?.fileChecksums });
        return ingest(cf, paths, options);
      };
      const space = store.keySpace('s');
      // Overlapping files (keys interleave): without their checksums RocksDB would write a global
      // sequence number into each and read every file to checksum it.
      // Three files of 10 rows (64 bytes each, spilled at 640): a fourth L0 file would trigger a
      // background compaction that replaces them (level0_file_num_compaction_trigger is 4), and
      // the live files below would race with it (1 run in 3 failed with 40 rows).
      const load = store.bulkLoad(640);
      for (let i = 0; i < 30; i++) load.add(space, b(0, 0, 0, (i * 17) % 30), new Uint8Array(60).fill(i));
      assert.equal(load.filesWritten, 3);
      await load.finish();
      assert.equal(calls.length, 1);
      const { paths, checksums } = calls[0]!;
      assert.ok(checksums !== undefined && checksums.length === paths.length, 'one checksum per ingested file');
      const live = db.getLiveFilesMetaData({ uniqueIds: false }).filter((f) => f.columnFamily === `${STATE_CF_PREFIX}s`);
      assert.deepEqual(live.map((f) => f.fileChecksum).sort(), [...checksums].sort());
    });
  });

  it('restores a canonical savepoint by ingesting SST files, not through write batches', async () => {
    const rocks = await heapToRocks('bulk-restore', COUNT, 500, (i) => i);
    try {
      const restored = rocks.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT);
      for (let i = 0; i < 500; i++) {
        rocks.setCurrentKey(`k${i}`);
        assert.equal(restored.value(), i);
      }
      const db = (rocks as unknown as { db: RocksDB }).db;
      assert.equal(memtableEntries(db, `${STATE_CF_PREFIX}count`), 0, 'restored rows went through the memtable');
      assert.ok(db.getLiveFilesMetaData({ uniqueIds: false }).some((f) => f.columnFamily === `${STATE_CF_PREFIX}count` && f.numEntries === 500));
    } finally {
      rocks.dispose();
    }
  });

  it('restores value, list and map states and a priority queue (RocksDB timers) by ingestion: no column family gets a row through the memtable, rescaled too', async () => {
    const dir = tempDir('bulk-restore-kinds');
    const storage = localCheckpointStorage(join(dir, 'checkpoints'));
    const params = { operatorIdentifier: 'op', keySerializer: Serializers.string, maxParallelism: 128 };
    const timers = timerElementType(Serializers.string, Serializers.string);
    const timerId = (t: InternalTimer<string, string>) => `${t.timestamp}/${t.key}/${t.namespace}`;
    // Two old subtasks (a rescaling restore reads both), each with every kind of state and timers.
    const handles: KeyedStateHandle[] = [];
    const all: InternalTimer<string, string>[] = [];
    for (const [id, range] of [new KeyGroupRange(0, 63), new KeyGroupRange(64, 127)].entries()) {
      const heap = await new FsStateBackend().createKeyedStateBackend({ ...params, keyGroupRange: range });
      const value = heap.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT);
      const list = heap.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ListStateDescriptor('events', Serializers.string));
      const map = heap.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new MapStateDescriptor('seen', Serializers.string, Serializers.int32));
      const queue = heap.createPriorityQueue('timers', timers);
      for (let i = 0; i < 400; i++) {
        const key = `k${i}`;
        if (!range.contains(stringKeyGroup(key))) continue;
        heap.setCurrentKey(key);
        value.update(i);
        list.add(`e${i}`);
        map.put(`u${i}`, i);
        const timer = { timestamp: 1000 + (i % 7), key, namespace: 'w' };
        queue.add(timer);
        all.push(timer);
      }
      const loc = await storage.initializeLocationForCheckpoint(id + 1);
      handles.push((await heap.snapshot(id + 1, id + 1, loc.streamFactory, SAVEPOINT).result).jobManagerOwnedSnapshot!);
      heap.dispose();
    }
    for (const range of [new KeyGroupRange(0, 127), new KeyGroupRange(20, 90)]) {
      const rocks = await new RocksDBStateBackend({ incrementalCheckpoints: true, localDirectory: join(dir, `local-${range.startKeyGroup}`) }).createKeyedStateBackend({ ...params, keyGroupRange: range, restoreState: handles, stateHandleReader: storage });
      try {
        const db = (rocks as unknown as { db: RocksDB }).db;
        const stateCfs = db.listColumnFamilies().filter((cf) => cf.startsWith(STATE_CF_PREFIX));
        assert.deepEqual(stateCfs.sort(), ['count', 'events', 'seen', 'timers'].map((n) => STATE_CF_PREFIX + n));
        for (const cf of stateCfs) assert.equal(memtableEntries(db, cf), 0, `${cf}: restored rows went through the memtable`);
        const expected = all.filter((t) => range.contains(stringKeyGroup(t.key)));
        const live = db.getLiveFilesMetaData({ uniqueIds: false }).filter((f) => f.columnFamily === `${STATE_CF_PREFIX}timers`);
        assert.equal(live.reduce((n, f) => n + f.numEntries, 0), expected.length, 'the timers are in ingested files');
        const queue = rocks.createPriorityQueue('timers', timers);
        const polled: string[] = [];
        for (let t = queue.poll(); t !== undefined; t = queue.poll()) polled.push(timerId(t));
        const order = (a: InternalTimer<string, string>, b: InternalTimer<string, string>) => timers.compare(a, b);
        assert.deepEqual(polled, [...expected].sort(order).map(timerId), 'the restored queue polls exactly the timers of its key groups, in order');
        const value = rocks.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT);
        const list = rocks.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ListStateDescriptor('events', Serializers.string));
        const map = rocks.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new MapStateDescriptor('seen', Serializers.string, Serializers.int32));
        for (const t of expected) {
          rocks.setCurrentKey(t.key);
          const i = Number(t.key.slice(1));
          assert.equal(value.value(), i);
          assert.deepEqual([...list.get()], [`e${i}`]);
          assert.equal(map.get(`u${i}`), i);
        }
      } finally {
        rocks.dispose();
      }
    }
  });

  it('a canonical restore of two handles calls keyGroupBoundary at every change of key group, between the handles too', async () => {
    const dir = tempDir('bulk-restore-handles');
    const storage = localCheckpointStorage(join(dir, 'checkpoints'));
    const params = { operatorIdentifier: 'op', keySerializer: Serializers.string, maxParallelism: 128 };
    const handles: KeyedStateHandle[] = [];
    for (const [id, range] of [new KeyGroupRange(0, 63), new KeyGroupRange(64, 127)].entries()) {
      const heap = await new FsStateBackend().createKeyedStateBackend({ ...params, keyGroupRange: range });
      const st = heap.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT);
      for (let i = 0; i < 300; i++) {
        if (!range.contains(stringKeyGroup(`k${i}`))) continue;
        heap.setCurrentKey(`k${i}`);
        st.update(i);
      }
      const loc = await storage.initializeLocationForCheckpoint(id + 1);
      handles.push((await heap.snapshot(id + 1, id + 1, loc.streamFactory, SAVEPOINT).result).jobManagerOwnedSnapshot!);
      heap.dispose();
    }
    // Each added row's key group (its first byte at maxParallelism 128), and 'boundary' for each call.
    const events: Array<number | 'boundary'> = [];
    const { add, keyGroupBoundary } = RocksDBBulkLoad.prototype;
    RocksDBBulkLoad.prototype.add = function (space, key, value) {
      events.push(key[0]!);
      add.call(this, space, key, value);
    };
    RocksDBBulkLoad.prototype.keyGroupBoundary = function () {
      events.push('boundary');
      keyGroupBoundary.call(this);
    };
    let rocks: KeyedStateBackend<string>;
    try {
      rocks = await new RocksDBStateBackend({ incrementalCheckpoints: true, localDirectory: join(dir, 'local') }).createKeyedStateBackend({ ...params, keyGroupRange: new KeyGroupRange(0, 127), restoreState: handles, stateHandleReader: storage });
    } finally {
      Object.assign(RocksDBBulkLoad.prototype, { add, keyGroupBoundary });
    }
    try {
      const groups = events.filter((e) => e !== 'boundary');
      assert.equal(groups.length, 300);
      assert.ok(groups.some((g) => g < 64) && groups.some((g) => g >= 64), 'rows of both handles');
      let last: number | undefined;
      let boundarySince = false;
      for (const e of events) {
        if (e === 'boundary') {
          boundarySince = true;
          continue;
        }
        if (last !== undefined && e !== last) assert.ok(boundarySince, `no keyGroupBoundary between key groups ${last} and ${e}`);
        last = e;
        boundarySince = false;
      }
      const count = rocks.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT);
      for (let i = 0; i < 300; i++) {
        rocks.setCurrentKey(`k${i}`);
        assert.equal(count.value(), i);
      }
    } finally {
      rocks.dispose();
    }
  });

  it('a canonical restore of more than BULK_LOAD_BOUNDARY_SPILL_BYTES writes files at key-group boundaries while it reads: no two overlap, every value restored', async () => {
    const BLOB = new ValueStateDescriptor('blob', BytesSerializer.INSTANCE);
    const value = (i: number) => new Uint8Array(4096).fill(i & 0xff).map((x, j) => (j < 4 ? (i >> (8 * j)) & 0xff : x));
    const n = Math.ceil((BULK_LOAD_BOUNDARY_SPILL_BYTES * 2.5) / 4096);
    const rocks = await heapToRocks('bulk-restore-boundaries', BLOB, n, value);
    try {
      const restored = rocks.getPartitionedState(VoidNamespace, Serializers.voidNamespace, BLOB);
      for (let i = 0; i < n; i++) {
        rocks.setCurrentKey(`k${i}`);
        assert.deepEqual(restored.value(), value(i));
      }
      const db = (rocks as unknown as { db: RocksDB }).db;
      const files = filesInKeyOrder(db, 'blob');
      assert.ok(files.length >= 2, `${files.length} files`);
      for (let i = 1; i < files.length; i++) assert.ok(Buffer.compare(files[i - 1]!.largestKey, files[i]!.smallestKey) < 0, 'the files do not overlap');
      assert.equal(files.reduce((s, f) => s + f.numEntries, 0), n);
    } finally {
      rocks.dispose();
    }
  });

  it('putAllAndFinishAsync builds a file off the event loop; keys out of order reject and leave the writer reusable', async () => {
    const dir = tempDir('bulk-writer');
    const w = new SstFileWriter();
    w.open(join(dir, 'bad.sst'));
    await assert.rejects(w.putAllAndFinishAsync([[b(2), b(2)], [b(1), b(1)]]), (e: Error & { code?: string }) => e.code === 'ROCKSDB_INVALID_ARGUMENT');
    assert.equal(w.state, 'idle');
    assert.deepEqual(readdirSync(dir), [], 'the half-written file is deleted');
    w.open(join(dir, 'good.sst'));
    const info = await w.putAllAndFinishAsync([[b(1), b(1)], [b(2), b(2, 2)]]);
    assert.equal(info.numEntries, 2);
    assert.deepEqual(info.largestKey, b(2));
  });

  it('putSortedAndFinishAsync reads the rows in place (views into larger buffers, Buffers); bad arguments reject before any work starts', async () => {
    const dir = tempDir('bulk-rows');
    const w = new SstFileWriter();
    w.open(join(dir, 'rows.sst'));
    const bad = (keys: unknown, values: unknown) => () => w.putSortedAndFinishAsync(keys as Uint8Array[], values as Uint8Array[]);
    await assert.rejects(bad([b(1)], [b(1), b(2)]), (e: Error & { code?: string }) => e.code === 'ROCKSDB_INVALID_ARGUMENT' && /differ in length/.test(e.message));
    await assert.rejects(bad([b(1)], ['x']), (e: Error & { code?: string }) => e.code === 'ROCKSDB_INVALID_ARGUMENT' && /value must be a Uint8Array/.test(e.message));
    await assert.rejects(bad(b(1), [b(1)]), (e: Error & { code?: string }) => e.code === 'ROCKSDB_INVALID_ARGUMENT');
    for (const [keys, values] of [[null, null], [{}, {}], [new Set([b(1)]), new Set([b(1)])]]) {
      await assert.rejects(bad(keys, values), (e: Error & { code?: string }) => e.code === 'ROCKSDB_INVALID_ARGUMENT' && /must be arrays \(sst file: .*rows\.sst\)/.test(e.message));
    }
    // A Uint8Array of another realm is a Uint8Array (checked with util.types, as the binding checks it).
    const foreign = runInNewContext('new Uint8Array([9])') as Uint8Array;
    assert.equal(w.state, 'open', 'a rejected call leaves the file open');
    const big = new Uint8Array(64).map((_, i) => i);
    // The binding gets each buffer once and the rows as ranges of them: `big` holds the first and last rows.
    const info = await w.putSortedAndFinishAsync([big.subarray(1, 3), Buffer.from([2]), b(3), big.subarray(4, 5), foreign], [big.subarray(10, 20), b(), Buffer.alloc(3000, 7), big.subarray(30, 40), b(5)]);
    assert.equal(info.numEntries, 5);
    const db = await RocksDB.openAsync(join(dir, 'db'), { createIfMissing: true });
    try {
      db.ingestExternalFile(db.defaultColumnFamily, [join(dir, 'rows.sst')]);
      assert.deepEqual(db.get(db.defaultColumnFamily, b(1, 2)), big.slice(10, 20));
      assert.deepEqual(db.get(db.defaultColumnFamily, b(2)), b());
      assert.deepEqual(db.get(db.defaultColumnFamily, b(3)), new Uint8Array(3000).fill(7));
      assert.deepEqual(db.get(db.defaultColumnFamily, b(4)), big.slice(30, 40));
      assert.deepEqual(db.get(db.defaultColumnFamily, b(9)), b(5));
    } finally {
      db.close();
    }
  });

  it('the binding checks every packed row against its buffer before any work starts', () => {
    const dir = tempDir('bulk-packed');
    const native = new (loadBinding().SstFileWriter)();
    native.configure({});
    native.open(join(dir, 'packed.sst'));
    const buf = new Uint8Array(64);
    // (buffer index, offset, length) of a key, then of its value.
    const rows = (...numbers: number[]) => () => native.putPackedRowsAndFinishAsync([buf], new Float64Array(numbers));
    const invalidArgument = (e: Error & { code?: string }) => e.code === 'ROCKSDB_INVALID_ARGUMENT' && /\(sst file: .*packed\.sst\)/.test(e.message);
    for (const bad of [
      rows(0, 60, 10, 0, 0, 1), // past the buffer's end
      rows(1, 0, 1, 0, 0, 1), // no such buffer
      rows(-1, 0, 1, 0, 0, 1),
      rows(0.5, 0, 1, 0, 0, 1),
      rows(0, 0.5, 1, 0, 0, 1),
      rows(0, 1e300, 1, 0, 0, 1), // past every size_t
      rows(0, 0, 1e300, 0, 0, 1),
      rows(0, 0, Number.NaN, 0, 0, 1),
      rows(0, 0, -1, 0, 0, 1),
      rows(0, 0, 1, 0, 0), // not six numbers per row
    ]) {
      assert.throws(bad, invalidArgument);
    }
    assert.throws(() => native.putPackedRowsAndFinishAsync([buf], new Uint32Array(6) as unknown as Float64Array), invalidArgument);
    assert.equal(native.state(), 'open', 'nothing started');
    native.abandon();
  });

  it("putSortedAndFinishAsync builds an LZ4 file whose sampled rows do not compress without compression (RocksDB would store those blocks uncompressed), and keeps LZ4 for rows that compress (a row larger than a block judged whole), small rows, a file with rows put before, a writer's next file and other compressions", async () => {
    const dir = tempDir('bulk-compression-probe');
    const counts = () => loadBinding().compressionProbeCountsForTest();
    const keys = Array.from({ length: 64 }, (_, i) => b(1, i));
    const random = keys.map(() => new Uint8Array(randomBytes(4000)));
    const repetitive = keys.map((_, i) => new Uint8Array(4000).fill(i));
    // The properties block records the compression the file was built with, in plain text.
    const recorded = (file: string) => (readFileSync(file).includes('NoCompression') ? 'none' : 'compressed');
    const build = async (w: SstFileWriter, compression: 'lz4' | 'snappy', rows: { keys: Uint8Array[]; values: Uint8Array[]; before?: [Uint8Array, Uint8Array] }, name: string) => {
      const file = join(dir, `${name}.sst`);
      const before = counts();
      w.open(file);
      if (rows.before !== undefined) w.put(...rows.before);
      const info = await w.putSortedAndFinishAsync(rows.keys, rows.values);
      const after = counts();
      const db = await RocksDB.openAsync(join(dir, `${name}-db`), { createIfMissing: true, compression });
      try {
        db.ingestExternalFile(db.defaultColumnFamily, [file], { moveFiles: false });
        const all = rows.before === undefined ? rows : { keys: [rows.before[0], ...rows.keys], values: [rows.before[1], ...rows.values] };
        assert.deepEqual(all.keys.map((k) => db.get(db.defaultColumnFamily, k)), all.values, `${name}: every row reads back`);
        assert.equal(info.numEntries, all.keys.length, name);
      } finally {
        db.close();
      }
      return { skipped: after.skipped - before.skipped, kept: after.kept - before.kept, recorded: recorded(file), size: info.fileSize };
    };
    const lz4 = new SstFileWriter({ compression: 'lz4' });
    const incompressible = await build(lz4, 'lz4', { keys, values: random }, 'lz4-random');
    assert.deepEqual([incompressible.skipped, incompressible.kept, incompressible.recorded], [1, 0, 'none']);
    // The same writer's next file is judged afresh and, compressible, stored with LZ4.
    const compressible = await build(lz4, 'lz4', { keys, values: repetitive }, 'lz4-repetitive');
    assert.deepEqual([compressible.skipped, compressible.kept, compressible.recorded], [0, 1, 'compressed']);
    assert.ok(compressible.size < (64 * 4000) / 10, `compressible rows are stored compressed: ${compressible.size} bytes`);
    // A row put before the call is in the file: the probe leaves a file that has rows alone.
    const after = await build(new SstFileWriter({ compression: 'lz4' }), 'lz4', { keys, values: random, before: [b(0), b(7)] }, 'lz4-put-before');
    assert.deepEqual([after.skipped, after.kept, after.recorded], [0, 0, 'compressed']);
    // A row larger than a block is one block to RocksDB, and judged whole: random for a block's
    // worth, then zeros.
    const long = keys.map(() => {
      const v = new Uint8Array(16000);
      v.set(randomBytes(4000));
      return v;
    });
    const longRows = await build(new SstFileWriter({ compression: 'lz4' }), 'lz4', { keys, values: long }, 'lz4-long-rows');
    assert.deepEqual([longRows.skipped, longRows.kept, longRows.recorded], [0, 1, 'compressed']);
    // Small rows are mostly keys, trailers and lengths, which compress: not judged.
    const smallKeys = Array.from({ length: 2000 }, (_, i) => b(1, i >> 8, i & 0xff));
    const small = await build(new SstFileWriter({ compression: 'lz4' }), 'lz4', { keys: smallKeys, values: smallKeys.map(() => new Uint8Array(randomBytes(8))) }, 'lz4-small');
    assert.deepEqual([small.skipped, small.kept, small.recorded], [0, 0, 'compressed']);
    // The probe judges LZ4 only: another compression is tried block by block, as RocksDB does.
    const snappy = await build(new SstFileWriter({ compression: 'snappy' }), 'snappy', { keys, values: random }, 'snappy-random');
    assert.deepEqual([snappy.skipped, snappy.kept, snappy.recorded], [0, 0, 'compressed']);
  });

  it('openAsync opens off the event loop and rejects with a typed error', async () => {
    const dir = tempDir('bulk-open');
    const db = await RocksDB.openAsync(join(dir, 'db'), { createIfMissing: true });
    db.put(db.defaultColumnFamily, b(1), b(1));
    db.close();
    const again = await RocksDB.openAsync(join(dir, 'db'), { createIfMissing: false });
    assert.deepEqual(again.get(again.defaultColumnFamily, b(1)), b(1));
    again.close();
    await assert.rejects(RocksDB.openAsync(join(dir, 'missing'), { createIfMissing: false }), (e: Error & { code?: string }) => e.code === 'ROCKSDB_INVALID_ARGUMENT');
  });

  it('close() during openAsync closes the database once the open completes (its lock is released)', async () => {
    const path = join(tempDir('bulk-open-close'), 'db');
    const native = new (loadBinding().Database)();
    const opening = native.openAsync(path, { createIfMissing: true });
    native.close(); // while the open runs on the thread pool
    await assert.rejects(opening, (e: Error & { code?: string }) => e.code === 'ROCKSDB_CLOSED');
    assert.equal(native.isClosed(), true);
    const again = RocksDB.open(path, { createIfMissing: false }); // IO error (LOCK held) if the first stayed open
    again.close();
  });

  it("syncFiles: 'ssts' keeps the syncs of SSTs (flush, SstFileWriter, ingestion) and skips every other file's; false skips the SSTs' too; anything else is invalid", async () => {
    const counts = () => loadBinding().syncCountsForTest();
    const work = async (syncFiles: boolean | 'ssts', name: string) => {
      const dir = tempDir(name);
      const before = counts();
      const db = await RocksDB.openAsync(join(dir, 'db'), { createIfMissing: true, disableWAL: true, syncFiles });
      const cf = db.createColumnFamily('state:x');
      db.put(cf, b(1), b(1));
      await db.flushAsync(cf);
      const w = db.createSstFileWriter();
      w.open(join(dir, 'rows.sst'));
      await w.putSortedAndFinishAsync([b(2), b(3)], [b(2), b(3)]);
      await db.ingestExternalFileAsync(cf, [join(dir, 'rows.sst')], { moveFiles: true });
      await db.createCheckpointAsync(join(dir, 'chk'));
      db.close();
      const after = counts();
      return { keptSst: after.keptSst - before.keptSst, skipped: after.skipped - before.skipped };
    };
    const ssts = await work('ssts', 'sync-ssts');
    // The flush's SST, the SstFileWriter's file, and the ingested file reopened in the database.
    assert.ok(ssts.keptSst >= 3, `SST syncs kept: ${ssts.keptSst}`);
    assert.ok(ssts.skipped >= 3, `other syncs skipped (MANIFEST, CURRENT and the checkpoint's copies): ${ssts.skipped}`);
    const none = await work(false, 'sync-none');
    assert.equal(none.keptSst, 0, 'false: no SST sync either');
    assert.ok(none.skipped > ssts.skipped, 'false skips what ssts kept');
    const all = await work(true, 'sync-all');
    assert.deepEqual(all, { keptSst: 0, skipped: 0 }, 'true: RocksDB syncs as by default, nothing wrapped');
    assert.throws(() => RocksDB.open(join(tempDir('sync-bad'), 'db'), { createIfMissing: true, syncFiles: 'all' as unknown as boolean }), (e: Error & { code?: string }) => e.code === 'ROCKSDB_INVALID_ARGUMENT');
  });

  it("createCheckpoint with deferSstSyncs: the flush's SST skips its sync (only starting its writeback) and is listed; without it, or with syncFiles true, the SST is synced and nothing is listed", async () => {
    const counts = () => loadBinding().syncCountsForTest();
    const checkpoint = async (syncFiles: boolean | 'ssts', deferSstSyncs: boolean | undefined, name: string) => {
      const dir = tempDir(name);
      const db = await RocksDB.openAsync(join(dir, 'db'), { createIfMissing: true, disableWAL: true, syncFiles });
      const cf = db.createColumnFamily('state:x');
      db.put(cf, b(1), b(1));
      const before = counts();
      const { unsyncedSsts } = db.createCheckpoint(join(dir, 'chk'), deferSstSyncs === undefined ? undefined : { deferSstSyncs });
      const keptSst = counts().keptSst - before.keptSst;
      const writebackStarts = counts().writebackStarts - before.writebackStarts;
      const inCheckpoint = readdirSync(join(dir, 'chk')).filter((f) => f.endsWith('.sst'));
      // Deferring ends with the call: the next flush's SST is synced again.
      db.put(cf, b(2), b(2));
      const beforeFlush = counts().keptSst;
      db.flush(cf);
      const afterCall = counts().keptSst - beforeFlush;
      db.close();
      return { unsyncedSsts, keptSst, writebackStarts, inCheckpoint, afterCall };
    };
    const deferred = await checkpoint('ssts', true, 'defer-ssts');
    assert.equal(deferred.inCheckpoint.length, 1, "the flush's SST");
    assert.deepEqual(deferred.unsyncedSsts, deferred.inCheckpoint, 'listed by its base name');
    assert.equal(deferred.keptSst, 0, 'its sync skipped');
    assert.equal(deferred.writebackStarts, 1, "its skipped sync asked for the file's writeback (RangeSync: sync_file_range on Linux), for the fdatasync before the upload's link to find under way");
    assert.ok(deferred.afterCall >= 1, 'a later flush syncs its SST');
    const plain = await checkpoint('ssts', undefined, 'defer-off');
    assert.deepEqual(plain.unsyncedSsts, []);
    assert.ok(plain.keptSst >= 1, 'synced by the flush');
    assert.equal(plain.writebackStarts, 0, 'a sync that was not deferred asks for no separate writeback');
    const all = await checkpoint(true, true, 'defer-sync-all');
    assert.deepEqual(all.unsyncedSsts, [], 'syncFiles true: RocksDB syncs as by default, nothing is deferred');
  });

  it('syncFiles: false (scratch databases): writes, SST ingestion, flush and checkpoints work, and a clean close leaves a database that reopens', async () => {
    const dir = tempDir('bulk-nosync');
    const db = await RocksDB.openAsync(join(dir, 'db'), { createIfMissing: true, disableWAL: true, syncFiles: false });
    const cf = db.createColumnFamily('state:x');
    db.put(cf, b(1), b(1));
    const w = db.createSstFileWriter();
    w.open(join(dir, 'rows.sst'));
    await w.putSortedAndFinishAsync([b(2), b(3)], [b(2), b(3)]);
    await db.ingestExternalFileAsync(cf, [join(dir, 'rows.sst')], { moveFiles: true });
    await db.flushAsync(cf);
    await db.createCheckpointAsync(join(dir, 'chk'));
    db.close();
    for (const path of ['db', 'chk']) {
      const again = RocksDB.open(join(dir, path), { createIfMissing: false, columnFamilies: ['default', 'state:x'] });
      const x = again.getColumnFamily('state:x')!;
      assert.deepEqual([1, 2, 3].map((k) => again.get(x, b(k))), [b(1), b(2), b(3)], path);
      again.close();
    }
  });
});
