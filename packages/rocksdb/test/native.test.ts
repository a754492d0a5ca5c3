// Tests for the native RocksDB binding (packages/rocksdb/src/native.ts and src/native/).
// Requires the addon: `npm run build:native -w @flowstate/rocksdb`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  ColumnFamily,
  LIST_APPEND_MERGE_OPERATOR,
  MAX_SCAN_LIMIT,
  MAX_SCAN_READAHEAD_BYTES,
  RocksDB,
  RocksDBError,
  RocksIterator,
  SstFileWriter,
  WriteBatch,
  decodeListElements,
  encodeListElements,
  isNativeAvailable,
  rocksdbVersion,
} from '../src/native.js';
import type { RocksDBErrorCode, Entry, PinnedLiveFiles } from '../src/native.js';
import { valuePool } from '../src/native/value-pool.js';
import { liveManifestSpace } from './temp-dirs.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const b = (s: string): Uint8Array => enc.encode(s);
const s = (u: Uint8Array | undefined): string | undefined => (u === undefined ? undefined : dec.decode(u));
const keys = (entries: Entry[]): string[] => entries.map(([k]) => dec.decode(k));

let root = '';
let counter = 0;
function freshDir(name: string): string {
  counter++;
  return join(root, `${counter}-${name}`);
}

function assertRocksError(fn: () => unknown, code: RocksDBErrorCode, messageIncludes?: string): RocksDBError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof RocksDBError, `expected RocksDBError(${code}), got ${String(caught)}`);
  assert.equal(caught.code, code, `code of: ${caught.message}`);
  if (messageIncludes !== undefined) assert.ok(caught.message.includes(messageIncludes), caught.message);
  return caught;
}

function hasLdb(): boolean {
  const r = spawnSync('ldb', ['--help'], { encoding: 'utf8' });
  return r.error === undefined;
}

before(() => {
  root = mkdtempSync(join(tmpdir(), 'flowstate-rocksdb-test-'));
  assert.ok(
    isNativeAvailable(),
    'native addon not built: run `npm run build:native -w @flowstate/rocksdb` (needs librocksdb-dev)',
  );
});

after(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('RocksDB native binding', () => {
  test('reports the linked RocksDB version', () => {
    assert.match(rocksdbVersion(), /^\d+\.\d+\.\d+$/);
  });

  test('open, put/get/delete, close, reopen (WAL disabled, data flushed on close)', () => {
    const path = freshDir('basic');
    const db = RocksDB.open(path, {
      createIfMissing: true,
      blockCacheSize: 8 << 20,
      writeBufferSize: 4 << 20,
      maxWriteBufferNumber: 3,
      compression: 'lz4',
      disableWAL: true,
    });
    assert.equal(db.isClosed, false);
    assert.equal(db.path, path);
    const cf = db.defaultColumnFamily;
    assert.equal(cf.name, 'default');
    assert.deepEqual(db.listColumnFamilies(), ['default']);
    db.put(cf, b('k1'), b('v1'));
    db.put(cf, b('k2'), new Uint8Array(0));
    assert.equal(s(db.get(cf, b('k1'))), 'v1');
    assert.equal(db.get(cf, b('k2'))?.byteLength, 0, 'empty value is distinct from missing');
    assert.equal(db.get(cf, b('missing')), undefined);
    db.delete(cf, b('k1'));
    assert.equal(db.get(cf, b('k1')), undefined);
    db.put(cf, Buffer.from('buf'), Buffer.from('buffers work too'));
    // Values larger than the 64 KiB get() scratch buffer take the other path;
    // values returned by get() are independent copies.
    const big = new Uint8Array(300_000).map((_, i) => i % 251);
    db.put(cf, b('big'), big);
    assert.deepEqual(db.get(cf, b('big')), big);
    const small1 = db.get(cf, b('buf'));
    db.get(cf, b('k2'));
    assert.equal(s(small1), 'buffers work too');
    // Iterator batches are capped at ~8 MiB even when maxEntries allows more.
    for (let i = 0; i < 40; i++) db.put(cf, b(`huge${String(i).padStart(2, '0')}`), big);
    const it = db.iterator(cf, { lowerBound: b('huge'), upperBound: b('hugf') });
    it.seekToFirst();
    const first = it.nextBatch(1000);
    assert.ok(first.length > 1 && first.length < 40, `batch of ${first.length}`);
    assert.deepEqual(first[0]?.[1], big);
    const rest = it.nextBatch(1000);
    assert.equal(first.length + rest.length, 40);
    it.close();
    assert.ok(db.getLatestSequenceNumber() >= 4);
    db.close();
    assert.equal(db.isClosed, true);
    db.close(); // idempotent

    const again = RocksDB.open(path, { createIfMissing: false, disableWAL: true });
    assert.equal(s(again.get(again.defaultColumnFamily, b('buf'))), 'buffers work too');
    assert.equal(again.get(again.defaultColumnFamily, b('k2'))?.byteLength, 0);
    again.close();
  });

  test('infoLog: false writes no info LOG file; the default writes one', () => {
    const files = (infoLog: boolean | undefined): string[] => {
      const path = freshDir(`info-log-${String(infoLog)}`);
      const db = RocksDB.open(path, { createIfMissing: true, disableWAL: true, ...(infoLog === undefined ? {} : { infoLog }) });
      db.createColumnFamily('x');
      db.put(db.defaultColumnFamily, b('k'), b('v'));
      db.flush();
      db.close();
      return readdirSync(path);
    };
    assert.ok(files(undefined).includes('LOG'));
    assert.ok(files(true).includes('LOG'));
    const none = files(false);
    assert.ok(!none.some((f) => f === 'LOG' || f.startsWith('LOG.old')), `no LOG expected, got ${none.join(', ')}`);
    // The database itself is complete without it.
    assert.ok(none.includes('CURRENT') && none.some((f) => f.endsWith('.sst')));
  });

  test('preallocateFiles: false leaves the MANIFEST without preallocated blocks; true and the default preallocate', (t) => {
    const manifest = (preallocateFiles: boolean | undefined) => {
      const path = freshDir(`preallocate-${String(preallocateFiles)}`);
      const db = RocksDB.open(path, { createIfMissing: true, disableWAL: true, ...(preallocateFiles === undefined ? {} : { preallocateFiles }) });
      db.createColumnFamily('x');
      db.put(db.defaultColumnFamily, b('k'), b('v'));
      db.flush();
      const space = liveManifestSpace(path);
      db.close();
      return space;
    };
    const on = manifest(true);
    if (on.allocated - on.size < 1 << 20) {
      t.skip(`this file system did not preallocate (a ${on.size}-byte MANIFEST holds ${on.allocated} bytes with preallocateFiles: true): nothing to compare`);
      return;
    }
    const byDefault = manifest(undefined);
    assert.ok(byDefault.allocated - byDefault.size >= 1 << 20, `the default preallocates: ${byDefault.allocated} bytes for ${byDefault.size}`);
    const off = manifest(false);
    assert.ok(off.size > 0);
    assert.ok(off.allocated <= off.needed, `no more than its bytes need: ${off.allocated} bytes for ${off.size}`);
  });

  test('open errors are typed: missing DB, locked DB, bad options', () => {
    const missing = freshDir('missing');
    const e = assertRocksError(() => RocksDB.open(missing, { createIfMissing: false }), 'ROCKSDB_INVALID_ARGUMENT');
    assert.equal(e.path, missing);
    assert.ok(e.message.includes(missing));
    assert.ok(e.status !== undefined && e.status.length > 0);

    const path = freshDir('locked');
    const db = RocksDB.open(path);
    assertRocksError(() => RocksDB.open(path), 'ROCKSDB_IO_ERROR', 'LOCK');
    db.close();

    assertRocksError(
      () => RocksDB.open(freshDir('bad'), { compression: 'gzip' as unknown as 'none' }),
      'ROCKSDB_INVALID_ARGUMENT',
      'compression',
    );
    assertRocksError(() => RocksDB.open(freshDir('bad2'), { maxWriteBufferNumber: 1 }), 'ROCKSDB_INVALID_ARGUMENT');
    assertRocksError(() => RocksDB.open(freshDir('bad3'), { preallocateFiles: 'yes' as unknown as boolean }), 'ROCKSDB_INVALID_ARGUMENT', 'preallocateFiles');
  });

  test('open starts one file-opening thread per 16 SSTs of a column family (the directory\'s shared among its families), at most 16 (RocksDB starts them all per family, files or not)', () => {
    // The value DB::Open ran with, as RocksDB recorded it in the OPTIONS file it wrote.
    const openingThreads = (dir: string): number => {
      const file = readdirSync(dir).filter((n) => n.startsWith('OPTIONS-')).sort().at(-1)!;
      return Number(/max_file_opening_threads=(\d+)/.exec(readFileSync(join(dir, file), 'utf8'))![1]);
    };
    // No directory yet (created by the open): nothing to open, one thread.
    const missing = freshDir('opening-threads-missing');
    RocksDB.open(missing, { createIfMissing: true }).close();
    assert.equal(openingThreads(missing), 1);
    const cases = [[0, 1, 1], [31, 1, 1], [32, 1, 2], [300, 1, 16], [64, 2, 2], [63, 2, 1]] as const;
    for (const [ssts, families, threads] of cases) {
      const dir = freshDir(`opening-threads-${ssts}-${families}`);
      mkdirSync(dir);
      // Empty files RocksDB does not know: counted, then deleted by the open as obsolete.
      for (let i = 0; i < ssts; i++) writeFileSync(join(dir, `${900000 + i}.sst`), '');
      const columnFamilies = families === 1 ? undefined : ['default', 'other'];
      RocksDB.open(dir, { createIfMissing: true, createMissingColumnFamilies: true, ...(columnFamilies === undefined ? {} : { columnFamilies }) }).close();
      assert.equal(openingThreads(dir), threads, `${ssts} SSTs, ${families} column families`);
    }
  });

  test('column families: create and drop while open, reopen with all / explicit families', () => {
    const path = freshDir('cf');
    const db = RocksDB.open(path, { disableWAL: true });
    const users = db.createColumnFamily('users');
    const orders = db.createColumnFamily('orders');
    assert.equal(users.name, 'users');
    assert.ok(users.id > 0);
    assert.deepEqual(db.listColumnFamilies().sort(), ['default', 'orders', 'users']);
    assert.equal(db.getColumnFamily('users'), users);
    assert.equal(db.getColumnFamily('nope'), undefined);
    assertRocksError(() => db.createColumnFamily('users'), 'ROCKSDB_INVALID_ARGUMENT', 'exists');

    db.put(users, b('k'), b('user'));
    db.put(orders, b('k'), b('order'));
    db.put(db.defaultColumnFamily, b('k'), b('default'));
    assert.equal(s(db.get(users, b('k'))), 'user');
    assert.equal(s(db.get(orders, b('k'))), 'order');
    assert.equal(s(db.get(db.defaultColumnFamily, b('k'))), 'default');

    // Drop while open, with an iterator over it still open.
    const it = db.iterator(orders);
    it.seekToFirst();
    db.dropColumnFamily(orders);
    assert.equal(orders.isValid, false);
    assert.equal(orders.isDropped, true);
    assert.equal(it.isClosed, true, 'iterators over a dropped family are closed');
    assertRocksError(() => it.key(), 'ROCKSDB_CLOSED', 'dropped');
    assertRocksError(() => db.get(orders, b('k')), 'ROCKSDB_COLUMN_FAMILY_DROPPED');
    assertRocksError(() => new WriteBatch().put(orders, b('k'), b('v')), 'ROCKSDB_COLUMN_FAMILY_DROPPED');
    assert.deepEqual(db.listColumnFamilies().sort(), ['default', 'users']);
    assertRocksError(() => db.dropColumnFamily(db.defaultColumnFamily), 'ROCKSDB_INVALID_ARGUMENT');

    // Re-create with the same name: a new, empty family.
    const orders2 = db.createColumnFamily('orders');
    assert.notEqual(orders2.id, orders.id);
    assert.equal(db.get(orders2, b('k')), undefined);
    db.close();

    assert.deepEqual(RocksDB.listColumnFamilies(path).sort(), ['default', 'orders', 'users']);
    const all = RocksDB.open(path); // no columnFamilies: opens every existing one
    assert.deepEqual(all.listColumnFamilies().sort(), ['default', 'orders', 'users']);
    const u = all.getColumnFamily('users');
    assert.ok(u);
    assert.equal(s(all.get(u, b('k'))), 'user');
    all.close();

    const explicit = RocksDB.open(path, { columnFamilies: ['users', 'orders'] });
    assert.deepEqual(explicit.listColumnFamilies().sort(), ['default', 'orders', 'users']);
    explicit.close();
    // RocksDB requires every existing family to be opened.
    assertRocksError(() => RocksDB.open(path, { columnFamilies: ['users'] }), 'ROCKSDB_INVALID_ARGUMENT');
    const created = RocksDB.open(path, {
      columnFamilies: ['users', 'orders', 'extra'],
      createMissingColumnFamilies: true,
    });
    assert.deepEqual(created.listColumnFamilies().sort(), ['default', 'extra', 'orders', 'users']);
    created.close();
  });

  test('column family handles are bound to their database', () => {
    const a = RocksDB.open(freshDir('cf-a'));
    const c = RocksDB.open(freshDir('cf-b'));
    assertRocksError(() => a.get(c.defaultColumnFamily, b('x')), 'ROCKSDB_INVALID_ARGUMENT', 'another database');
    const batch = new WriteBatch().put(c.defaultColumnFamily, b('x'), b('y'));
    assertRocksError(() => a.write(batch), 'ROCKSDB_INVALID_ARGUMENT');
    assertRocksError(() => batch.put(a.defaultColumnFamily, b('x'), b('y')), 'ROCKSDB_INVALID_ARGUMENT');
    assertRocksError(() => a.get({} as ColumnFamily, b('x')), 'ROCKSDB_INVALID_ARGUMENT');
    assertRocksError(() => a.put(a.defaultColumnFamily, 'str' as unknown as Uint8Array, b('y')), 'ROCKSDB_INVALID_ARGUMENT');
    a.close();
    c.close();
  });

  test(`merge operator ${LIST_APPEND_MERGE_OPERATOR} concatenates length-prefixed elements`, () => {
    const db = RocksDB.open(freshDir('merge'), { disableWAL: true });
    const cf = db.createColumnFamily('lists');
    const key = b('list');
    db.merge(cf, key, encodeListElements([b('a')]));
    db.merge(cf, key, encodeListElements([b('bb'), b('')]));
    const v1 = db.get(cf, key);
    assert.ok(v1);
    assert.deepEqual(
      Array.from(v1),
      [0, 0, 0, 1, 97, 0, 0, 0, 2, 98, 98, 0, 0, 0, 0],
      'plain concatenation of [u32 BE len][bytes] elements',
    );
    assert.deepEqual(decodeListElements(v1).map((e) => dec.decode(e)), ['a', 'bb', '']);

    // On top of a put value, across a flush (partial/full merge in SSTs) and a compaction.
    const k2 = b('list2');
    db.put(cf, k2, encodeListElements([b('base')]));
    db.merge(cf, k2, encodeListElements([b('x')]));
    db.flush(cf);
    db.merge(cf, k2, encodeListElements([b('y')]));
    db.merge(cf, k2, encodeListElements([b('z')]));
    db.flush(cf);
    assert.deepEqual(decodeListElements(db.get(cf, k2) ?? new Uint8Array()).map((e) => dec.decode(e)), ['base', 'x', 'y', 'z']);
    db.compactRange(cf);
    assert.deepEqual(decodeListElements(db.get(cf, k2) ?? new Uint8Array()).map((e) => dec.decode(e)), ['base', 'x', 'y', 'z']);

    // Registered on the default family and on every created family, and in batches.
    const batch = new WriteBatch();
    batch.merge(db.defaultColumnFamily, key, encodeListElements([b('1')]));
    batch.merge(db.defaultColumnFamily, key, encodeListElements([b('2')]));
    db.write(batch);
    assert.deepEqual(decodeListElements(db.get(db.defaultColumnFamily, key) ?? new Uint8Array()).map((e) => dec.decode(e)), ['1', '2']);
    // A put after merges replaces the list; a delete removes it.
    db.put(cf, key, encodeListElements([b('fresh')]));
    db.merge(cf, key, encodeListElements([b('more')]));
    assert.deepEqual(decodeListElements(db.get(cf, key) ?? new Uint8Array()).map((e) => dec.decode(e)), ['fresh', 'more']);
    db.delete(cf, key);
    db.merge(cf, key, encodeListElements([b('after-delete')]));
    assert.deepEqual(decodeListElements(db.get(cf, key) ?? new Uint8Array()).map((e) => dec.decode(e)), ['after-delete']);
    assertRocksError(() => decodeListElements(new Uint8Array([0, 0, 0, 9, 1])), 'ROCKSDB_CORRUPTION');
    db.close();
  });

  test('deleteRange removes [begin, end) only', () => {
    const db = RocksDB.open(freshDir('delrange'), { disableWAL: true });
    const cf = db.defaultColumnFamily;
    for (const k of ['a', 'b', 'c', 'd', 'e']) db.put(cf, b(k), b(k.toUpperCase()));
    db.deleteRange(cf, b('b'), b('d'));
    assert.equal(s(db.get(cf, b('a'))), 'A');
    assert.equal(db.get(cf, b('b')), undefined);
    assert.equal(db.get(cf, b('c')), undefined);
    assert.equal(s(db.get(cf, b('d'))), 'D');
    db.flush();
    db.compactRange(cf, b('a'), b('z'));
    const it = db.iterator(cf);
    assert.deepEqual(keys([...it]), ['a', 'd', 'e']);
    it.close();
    db.close();
  });

  test('write batches: put/delete/merge/deleteRange across families, count, clear', () => {
    const db = RocksDB.open(freshDir('batch'), { disableWAL: true });
    const d = db.defaultColumnFamily;
    const other = db.createColumnFamily('other');
    db.put(d, b('gone'), b('x'));
    db.put(other, b('r1'), b('x'));
    db.put(other, b('r2'), b('x'));
    const batch = new WriteBatch();
    assert.equal(batch.count, 0);
    batch
      .put(d, b('p'), b('P'))
      .delete(d, b('gone'))
      .merge(other, b('m'), encodeListElements([b('e1')]))
      .deleteRange(other, b('r1'), b('r3'));
    assert.equal(batch.count, 4);
    assert.ok(batch.dataSize > 0);
    // Nothing is visible before write().
    assert.equal(db.get(d, b('p')), undefined);
    db.write(batch);
    assert.equal(s(db.get(d, b('p'))), 'P');
    assert.equal(db.get(d, b('gone')), undefined);
    assert.deepEqual(decodeListElements(db.get(other, b('m')) ?? new Uint8Array()).map((e) => dec.decode(e)), ['e1']);
    assert.equal(db.get(other, b('r1')), undefined);
    assert.equal(db.get(other, b('r2')), undefined);
    batch.clear();
    assert.equal(batch.count, 0);
    batch.put(d, b('p'), b('P2'));
    db.write(batch);
    assert.equal(s(db.get(d, b('p'))), 'P2');
    db.write(new WriteBatch()); // empty batch is fine
    db.close();
  });

  test('snapshots: get at a snapshot ignores later writes; release', () => {
    const db = RocksDB.open(freshDir('snap'), { disableWAL: true });
    const cf = db.defaultColumnFamily;
    db.put(cf, b('k'), b('old'));
    const snap = db.getSnapshot();
    assert.ok(snap.sequenceNumber > 0);
    db.put(cf, b('k'), b('new'));
    db.put(cf, b('k2'), b('added'));
    assert.equal(s(db.get(cf, b('k'), snap)), 'old');
    assert.equal(db.get(cf, b('k2'), snap), undefined);
    assert.equal(s(db.get(cf, b('k'))), 'new');
    assert.equal(snap.isReleased, false);
    snap.release();
    assert.equal(snap.isReleased, true);
    snap.release(); // idempotent
    assertRocksError(() => db.get(cf, b('k'), snap), 'ROCKSDB_CLOSED', 'released');
    assertRocksError(() => db.iterator(cf, { snapshot: snap }), 'ROCKSDB_CLOSED');
    db.close();
  });

  test('iterators: bounds, seek, prev/next, nextBatch, for..of, on a snapshot ignoring later writes', () => {
    const db = RocksDB.open(freshDir('iter'), { disableWAL: true });
    const cf = db.createColumnFamily('it');
    for (const k of ['a1', 'a2', 'b1', 'b2', 'b3', 'c1']) db.put(cf, b(k), b(`v-${k}`));
    const snap = db.getSnapshot();
    // Writes after the snapshot: must not be visible through it.
    db.put(cf, b('b0'), b('late'));
    db.delete(cf, b('b2'));
    db.put(cf, b('b1'), b('changed'));

    const it = db.iterator(cf, { lowerBound: b('b'), upperBound: b('c'), snapshot: snap });
    assert.ok(it instanceof RocksIterator);
    assert.equal(it.valid(), false, 'unpositioned');
    assertRocksError(() => it.key(), 'ROCKSDB_INVALID_ARGUMENT', 'not positioned');
    assertRocksError(() => it.next(), 'ROCKSDB_INVALID_ARGUMENT');
    it.seekToFirst();
    assert.equal(it.valid(), true);
    assert.equal(s(it.key()), 'b1');
    assert.equal(s(it.value()), 'v-b1');
    it.next();
    assert.equal(s(it.key()), 'b2');
    it.seekToLast();
    assert.equal(s(it.key()), 'b3', 'upper bound is exclusive');
    it.prev();
    assert.equal(s(it.key()), 'b2');
    it.seek(b('a'));
    assert.equal(s(it.key()), 'b1', 'seek below the lower bound lands on the bound');
    it.seek(b('b15'));
    assert.equal(s(it.key()), 'b2');
    it.seekForPrev(b('b25'));
    assert.equal(s(it.key()), 'b2');
    it.seek(b('b3'));
    it.next();
    assert.equal(it.valid(), false);
    it.seekToFirst();
    const batch1 = it.nextBatch(2);
    assert.deepEqual(keys(batch1), ['b1', 'b2']);
    assert.equal(s(batch1[0]?.[1]), 'v-b1');
    assert.deepEqual(keys(it.nextBatch(10)), ['b3']);
    assert.deepEqual(it.nextBatch(10), []);
    it.close();
    it.close(); // idempotent
    assertRocksError(() => it.seekToFirst(), 'ROCKSDB_CLOSED');

    // Without the snapshot, the later writes are visible.
    const live = db.iterator(cf, { lowerBound: b('b'), upperBound: b('c') });
    const entries = [...live];
    assert.deepEqual(keys(entries), ['b0', 'b1', 'b3']);
    assert.equal(s(entries[1]?.[1]), 'changed');
    live.close();

    // Full scan, reverse scan.
    const all = db.iterator(cf);
    assert.deepEqual(keys([...all]), ['a1', 'a2', 'b0', 'b1', 'b3', 'c1']);
    all.seekToLast();
    const reversed: string[] = [];
    for (; all.valid(); all.prev()) reversed.push(dec.decode(all.key()));
    assert.deepEqual(reversed, ['c1', 'b3', 'b1', 'b0', 'a2', 'a1']);
    all.close();

    // Releasing the snapshot while an iterator still reads at it is safe.
    const pinned = db.iterator(cf, { snapshot: snap });
    snap.release();
    pinned.seek(b('b2'));
    assert.equal(s(pinned.key()), 'b2', 'iterator keeps its snapshot until closed');
    pinned.close();
    db.close();
  });

  test('get: values read into the shared pool stay intact across later gets, pool renewals and large values', () => {
    const db = RocksDB.open(freshDir('get-pool'), { createIfMissing: true, disableWAL: true });
    try {
      const cf = db.defaultColumnFamily;
      // Sizes from empty to larger than a pool (16 KiB): small values go to the pool, many renew it.
      const sizes = [0, 1, 7, 8, 100, 1500, 2048, 5000, 20_000];
      const valueOf = (i: number) => new Uint8Array(sizes[i % sizes.length]!).map((_, j) => (i * 31 + j) & 0xff);
      const n = 200;
      for (let i = 0; i < n; i++) db.put(cf, b(`k${i}`), valueOf(i));
      const got = Array.from({ length: n }, (_, i) => db.get(cf, b(`k${i}`))!);
      for (let i = 0; i < n; i++) assert.deepEqual(got[i], valueOf(i), `value ${i}`);
      got[1]![0] = 0xaa; // writing through one value touches no other
      assert.deepEqual(got[10], valueOf(10));
      assert.deepEqual(db.get(cf, b('k1')), valueOf(1));
      const snap = db.getSnapshot();
      db.put(cf, b('k3'), b('new'));
      assert.deepEqual(db.get(cf, b('k3'), snap), valueOf(3));
      snap.release();
    } finally {
      db.close();
    }
  });

  test('scan reads a range in one call like an iterator: bounds, limit, snapshot, byte-cap continuation', () => {
    const db = RocksDB.open(freshDir('scan'), { createIfMissing: true, disableWAL: true });
    try {
      const cf = db.defaultColumnFamily;
      for (let i = 0; i < 50; i++) db.put(cf, b(`k${String(i).padStart(2, '0')}`), b(`v${i}`));
      const viaIterator = (lower: Uint8Array, upper: Uint8Array) => {
        const it = db.iterator(cf, { lowerBound: lower, upperBound: upper });
        try { return [...it].map(([k, v]) => [s(k), s(v)]); } finally { it.close(); }
      };
      const scanned = (lower: string, upper: string, limit: number) => db.scan(cf, b(lower), b(upper), limit).map(([k, v]) => [s(k), s(v)]);
      assert.deepEqual(scanned('k10', 'k20', 100), viaIterator(b('k10'), b('k20')));
      assert.deepEqual(scanned('k10', 'k20', 3), viaIterator(b('k10'), b('k20')).slice(0, 3));
      assert.deepEqual(scanned('x', 'y', 10), []);
      const snap = db.getSnapshot();
      db.delete(cf, b('k11'));
      assert.deepEqual(db.scan(cf, b('k10'), b('k13'), 10, { snapshot: snap, fillCache: false }).map(([k]) => s(k)), ['k10', 'k11', 'k12']);
      assert.deepEqual(scanned('k10', 'k13', 10).map(([k]) => k), ['k10', 'k12']);
      snap.release();
      // Three 4 MiB values: a native call stops at 8 MiB, scan goes on after the last key.
      const big = new Uint8Array(4 << 20).fill(7);
      for (const k of ['m1', 'm2', 'm3']) db.put(cf, b(k), big);
      const rows = db.scan(cf, b('m'), b('n'), 10);
      assert.deepEqual(rows.map(([k]) => s(k)), ['m1', 'm2', 'm3']);
      assert.ok(rows.every(([, v]) => v.length === big.length && v[0] === 7 && v[v.length - 1] === 7));
    } finally {
      db.close();
    }
  });

  test('scan with readaheadBytes reads the same entries from SST files, at a snapshot and past its upper bound; a bad value is refused', () => {
    const path = freshDir('scan-readahead');
    const db = RocksDB.open(path, { createIfMissing: true, disableWAL: true });
    try {
      const cf = db.defaultColumnFamily;
      // 300 rows of 1 KiB in SST files (4 KiB blocks: readahead spans many blocks and the range's end).
      const value = (i: number) => new Uint8Array(1024).fill(i & 0xff).map((x, j) => (j < 2 ? (i >> (8 * j)) & 0xff : x));
      for (let i = 0; i < 300; i++) db.put(cf, b(`k${String(i).padStart(3, '0')}`), value(i));
      db.flush();
      const snap = db.getSnapshot();
      db.delete(cf, b('k150'));
      const read = (readaheadBytes: number | undefined, lower: string, upper: string, limit = 1000) =>
        db.scan(cf, b(lower), b(upper), limit, { snapshot: snap, fillCache: false, ...(readaheadBytes === undefined ? {} : { readaheadBytes }) }).map(([k, v]) => `${s(k)}:${v[0]},${v[1]},${v.length}`);
      for (const [lower, upper] of [['k000', 'k300'], ['k100', 'k101'], ['k149', 'k152'], ['k299', 'z']]) {
        const expected = read(undefined, lower!, upper!);
        for (const ra of [0, 4096, 64 << 10, MAX_SCAN_READAHEAD_BYTES]) assert.deepEqual(read(ra, lower!, upper!), expected, `[${lower}, ${upper}) readahead ${ra}`);
      }
      assert.equal(read(256 << 10, 'k000', 'k300').length, 300, 'the deleted row is there at the snapshot');
      assert.deepEqual(read(256 << 10, 'k010', 'k300', 3), read(0, 'k010', 'k013'), 'limit');
      for (const bad of [-1, 1.5, NaN, MAX_SCAN_READAHEAD_BYTES + 1, '4096']) {
        const e = assertRocksError(() => db.scan(cf, b('k'), b('l'), 10, { snapshot: snap, readaheadBytes: bad as number }), 'ROCKSDB_INVALID_ARGUMENT', 'readaheadBytes');
        assert.equal(e.path, path);
      }
      snap.release();
    } finally {
      db.close();
    }
  });

  test('forEachTransient visits what scan returns (at a snapshot, with readahead, past a value larger than its buffer); a throwing visitor leaves it usable', () => {
    const db = RocksDB.open(freshDir('for-each-transient'), { createIfMissing: true, disableWAL: true });
    try {
      const cf = db.defaultColumnFamily;
      for (let i = 0; i < 300; i++) db.put(cf, b(`k${String(i).padStart(3, '0')}`), new Uint8Array(8 << 10).fill(i & 0xff));
      db.put(cf, b('k150x'), new Uint8Array(3 << 20).fill(9));
      db.flush();
      const snap = db.getSnapshot();
      db.delete(cf, b('k100'));
      const options = { snapshot: snap, fillCache: false, readaheadBytes: 64 << 10 };
      const visited: string[] = [];
      const bytes = db.forEachTransient(cf, b('k'), b('l'), (k, v) => void visited.push(`${s(k)}:${v.length}:${v[0]}:${v[v.length - 1]}`), options);
      const scanned = db.scan(cf, b('k'), b('l'), 1000, options).map(([k, v]) => `${s(k)}:${v.length}:${v[0]}:${v[v.length - 1]}`);
      assert.equal(visited.length, 301);
      assert.deepEqual(visited, scanned);
      assert.equal(bytes, 300 * (4 + (8 << 10)) + 5 + (3 << 20), 'the bytes of the keys and values visited');
      assert.throws(() => db.forEachTransient(cf, b('k'), b('l'), () => { throw new Error('visitor failed'); }), /visitor failed/);
      let again = 0;
      // The views are of the reused 1 MiB buffer, but for the 3 MiB value's, which has one of its own.
      const buffers = new Set<number>();
      db.forEachTransient(cf, b('k'), b('l'), (k) => void (again++, buffers.add(k.buffer.byteLength)), options);
      assert.equal(again, 301, 'a visit after a failed one sees everything');
      assert.deepEqual([...buffers].sort((x, y) => x - y), [1 << 20, 8 + 5 + (3 << 20)]);
      // A visitor that detaches the buffer (against the contract) fails its own visit, not the next one.
      assert.throws(() => db.forEachTransient(cf, b('k'), b('l'), (k) => void structuredClone(k.buffer, { transfer: [k.buffer as ArrayBuffer] }), options), TypeError);
      let afterDetach = 0;
      db.forEachTransient(cf, b('k'), b('l'), () => void afterDetach++, options);
      assert.equal(afterDetach, 301, 'a detached buffer is replaced');
      snap.release();
    } finally {
      db.close();
    }
  });

  test('get() values share a pool; a pool detached by user code is replaced, not read around forever', () => {
    const db = RocksDB.open(freshDir('pool-detach'));
    try {
      const cf = db.defaultColumnFamily;
      db.put(cf, b('v'), new Uint8Array(1000).fill(5));
      db.put(cf, b('empty'), new Uint8Array(0));
      const first = db.get(cf, b('v'))!;
      structuredClone(first.buffer, { transfer: [first.buffer as ArrayBuffer] });
      assert.equal(first.length, 0, 'the transfer detached the pool');
      db.get(cf, b('v')); // the first value after the detach: comes back on its own, the pool is renewed
      const x = db.get(cf, b('v'))!;
      const y = db.get(cf, b('v'))!;
      assert.equal(x.buffer, y.buffer, 'values are pooled again');
      assert.ok(x.every((e) => e === 5) && x.length === 1000 && y.every((e) => e === 5));
      // A detached pool at offset 0 "fits" only an empty value, whose view of it threw a TypeError.
      while (valuePool.offset !== 0) db.get(cf, b('v'));
      const empty = db.get(cf, b('empty'))!;
      assert.equal(empty.buffer, valuePool.bytes.buffer, 'the empty value is a view of the fresh pool');
      structuredClone(empty.buffer, { transfer: [empty.buffer as ArrayBuffer] });
      assert.deepEqual(db.get(cf, b('empty')), new Uint8Array(0));
      assert.equal(db.get(cf, b('v'))!.buffer, valuePool.bytes.buffer, 'the pool was replaced');
    } finally {
      db.close();
    }
  });

  test('scan and nextBatch refuse a limit that is not an integer in [1, MAX_SCAN_LIMIT] (one native check, no native default)', () => {
    const path = freshDir('scan-limit');
    const db = RocksDB.open(path);
    try {
      const cf = db.defaultColumnFamily;
      for (let i = 0; i < 5; i++) db.put(cf, b(`k${i}`), b('v'));
      // Without the check the native side read 2.5 as 2, a missing limit as 1024, and named 'maxEntries'.
      for (const limit of [2.5, 0, -1, NaN, Infinity, MAX_SCAN_LIMIT + 1, undefined, '3']) {
        const e = assertRocksError(() => db.scan(cf, b('k'), b('l'), limit as number), 'ROCKSDB_INVALID_ARGUMENT', 'scan limit');
        assert.equal(e.path, path, 'the error names the database');
      }
      assert.equal(db.scan(cf, b('k'), b('l'), MAX_SCAN_LIMIT).length, 5, 'the largest limit is accepted');
      assert.equal(db.scan(cf, b('k'), b('l'), 1).length, 1);
      // Iterator batches share the check: a missing count was read as 1024 natively, a fraction truncated.
      const it = db.iterator(cf);
      try {
        it.seekToFirst();
        for (const n of [2.5, 0, NaN, MAX_SCAN_LIMIT + 1, null, '3']) {
          const e = assertRocksError(() => it.nextBatch(n as number), 'ROCKSDB_INVALID_ARGUMENT', 'nextBatch maxEntries');
          assert.equal(e.path, path);
        }
        assert.equal(it.nextBatch().length, 5, 'the default batch (1024, in TS) reads them all');
      } finally {
        it.close();
      }
    } finally {
      db.close();
    }
  });

  test('SSTs carry XXH3 block checksums (RocksDB 8.x default), from flushes and from SstFileWriter', () => {
    const path = freshDir('xxh3');
    const db = RocksDB.open(path);
    try {
      const cf = db.defaultColumnFamily;
      db.put(cf, b('k'), b('v'));
      db.flush(cf);
      const external = join(path, 'external.sst');
      const w = db.createSstFileWriter();
      w.open(external);
      w.put(b('a'), b('1'));
      w.finish();
      const ssts = [...readdirSync(path).filter((n) => n.endsWith('.sst') && n !== 'external.sst').map((n) => join(path, n)), external];
      assert.equal(ssts.length, 2);
      for (const f of ssts) {
        // Block-based table footer (format_version >= 1): 53 bytes, the checksum type first (1 = CRC32C, 4 = XXH3).
        const bytes = readFileSync(f);
        assert.equal(bytes[bytes.length - 53], 4, `${f}: checksum type`);
      }
      assert.deepEqual([...db.get(cf, b('k'))!], [...b('v')]);
    } finally {
      db.close();
    }
  });

  test('iterators: prefixSameAsStart with a fixed prefix extractor', () => {
    const db = RocksDB.open(freshDir('prefix'), { fixedPrefixLength: 2 });
    const cf = db.defaultColumnFamily;
    for (const k of ['aa1', 'aa2', 'ab1', 'ac1']) db.put(cf, b(k), b('v'));
    const it = db.iterator(cf, { prefixSameAsStart: true });
    it.seek(b('aa'));
    assert.deepEqual(keys(it.nextBatch(100)), ['aa1', 'aa2']);
    it.close();
    db.close();
    const noPrefix = RocksDB.open(freshDir('noprefix'));
    assertRocksError(() => noPrefix.iterator(noPrefix.defaultColumnFamily, { prefixSameAsStart: true }), 'ROCKSDB_INVALID_ARGUMENT');
    noPrefix.close();
  });

  test('flush + getLiveFilesMetaData: non-empty, correct column family names, unique ids', () => {
    const path = freshDir('meta');
    const db = RocksDB.open(path, { disableWAL: true, compression: 'zstd' });
    const cf = db.createColumnFamily('state-1');
    assert.deepEqual(db.getLiveFilesMetaData(), []);
    db.put(cf, b('k1'), b('v1'));
    db.put(cf, b('k9'), b('v9'));
    db.put(db.defaultColumnFamily, b('d'), b('v'));
    db.flush(); // all families
    const files = db.getLiveFilesMetaData();
    assert.equal(files.length, 2);
    const mine = files.find((f) => f.columnFamily === 'state-1');
    assert.ok(mine, JSON.stringify(files.map((f) => f.columnFamily)));
    assert.ok(files.some((f) => f.columnFamily === 'default'));
    assert.match(mine.name, /^\d+\.sst$/);
    assert.equal(mine.directory, path);
    assert.ok(existsSync(join(mine.directory, mine.name)));
    assert.ok(mine.size > 0);
    assert.equal(s(mine.smallestKey), 'k1');
    assert.equal(s(mine.largestKey), 'k9');
    assert.ok(mine.smallestSeqno <= mine.largestSeqno);
    assert.equal(mine.level, 0);
    assert.equal(mine.name, `${String(mine.fileNumber).padStart(6, '0')}.sst`);
    assert.equal(mine.numEntries, 2);
    assert.match(mine.uniqueId ?? '', /^[0-9A-F]{16}-[0-9A-F]{16}$/);
    assert.notEqual(files[0]?.uniqueId, files[1]?.uniqueId);
    assert.equal(db.getLiveFilesMetaData({ uniqueIds: false })[0]?.uniqueId, undefined);
    assert.equal(db.getProperty('rocksdb.num-files-at-level0', cf), '1');
    assert.equal(db.getProperty('rocksdb.no-such-property'), undefined);
    db.flush(cf); // flushing an empty memtable is fine
    db.close();
  });

  test('compactRange sync and async', async () => {
    const db = RocksDB.open(freshDir('compact'), { disableWAL: true });
    const cf = db.defaultColumnFamily;
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 100; i++) db.put(cf, b(`k${String(i).padStart(3, '0')}`), b(`r${round}`));
      db.flush(cf);
    }
    assert.equal(db.getLiveFilesMetaData().length, 3);
    db.compactRange(cf, b('k000'), b('k050'));
    await db.compactRangeAsync(cf);
    const files = db.getLiveFilesMetaData();
    assert.equal(files.length, 1);
    assert.ok((files[0]?.level ?? 0) > 0);
    assert.equal(s(db.get(cf, b('k042'))), 'r2');
    db.close();
  });

  test('checkpoint opens as a separate DB with the data; ldb can scan it', async (t) => {
    const path = freshDir('cp-src');
    const db = RocksDB.open(path, { disableWAL: true });
    const cf = db.createColumnFamily('window-contents');
    db.put(cf, b('alpha'), b('1'));
    db.put(cf, b('beta'), b('2'));
    db.merge(cf, b('gamma'), encodeListElements([b('g')]));
    db.put(db.defaultColumnFamily, b('meta'), b('m'));
    const cpDir = freshDir('cp');
    db.createCheckpoint(cpDir); // flushes the memtable despite the WAL being off
    db.put(cf, b('after'), b('not in checkpoint'));
    const cpAsync = freshDir('cp-async');
    await db.createCheckpointAsync(cpAsync);
    assertRocksError(() => db.createCheckpoint(cpDir), 'ROCKSDB_INVALID_ARGUMENT'); // dir exists
    db.close();

    const cp = RocksDB.open(cpDir, { createIfMissing: false });
    const ccf = cp.getColumnFamily('window-contents');
    assert.ok(ccf);
    assert.equal(s(cp.get(ccf, b('alpha'))), '1');
    assert.equal(s(cp.get(ccf, b('beta'))), '2');
    assert.deepEqual(decodeListElements(cp.get(ccf, b('gamma')) ?? new Uint8Array()).map((e) => dec.decode(e)), ['g']);
    assert.equal(cp.get(ccf, b('after')), undefined);
    assert.equal(s(cp.get(cp.defaultColumnFamily, b('meta'))), 'm');
    cp.put(ccf, b('alpha'), b('changed in checkpoint copy'));
    cp.close();
    const src = RocksDB.open(path);
    const scf = src.getColumnFamily('window-contents');
    assert.ok(scf);
    assert.equal(s(src.get(scf, b('alpha'))), '1', 'the checkpoint is an independent DB (hard links are copy-on-write)');
    src.close();
    const a = RocksDB.open(cpAsync);
    const acf = a.getColumnFamily('window-contents');
    assert.ok(acf);
    assert.equal(s(a.get(acf, b('after'))), 'not in checkpoint');
    a.close();

    if (!hasLdb()) {
      t.skip('ldb (Debian package rocksdb-tools) is not installed');
      return;
    }
    const r = spawnSync('ldb', [`--db=${cpAsync}`, '--column_family=window-contents', 'scan'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^alpha : 1$/m);
    assert.match(r.stdout, /^beta : 2$/m);
    assert.match(r.stdout, /^after : not in checkpoint$/m);
    assert.ok(r.stdout.includes('gamma : '), r.stdout);
  });

  /** Lays the pinned files out under their RocksDB names in a new directory: an openable checkpoint. */
  function materialize(pinned: PinnedLiveFiles, dir: string): void {
    mkdirSync(dir);
    for (const f of pinned.files) {
      if (f.path !== undefined) linkSync(f.path, join(dir, f.name));
      else writeFileSync(join(dir, f.name), f.bytes!);
    }
  }

  test('pinLiveFiles: the pinned view opens as the database at that moment (memtables flushed, the WAL off)', () => {
    const db = RocksDB.open(freshDir('pin-src'), { disableWAL: true });
    const cf = db.createColumnFamily('window-contents');
    db.put(cf, b('alpha'), b('1'));
    db.put(db.defaultColumnFamily, b('meta'), b('m'));
    const pinDir = freshDir('pins');
    mkdirSync(pinDir);
    const pinned = db.pinLiveFiles(pinDir, 'chk-1-', { inlineMaxBytes: 20 * 1024 });
    db.put(cf, b('after'), b('not pinned'));
    db.flush();
    db.compactRange(cf, undefined, undefined);
    const names = pinned.files.map((f) => f.name).sort();
    assert.ok(names.includes('CURRENT') && names.some((n) => /^MANIFEST-\d+$/.test(n)) && names.some((n) => /^OPTIONS-\d+$/.test(n)), names.join(', '));
    assert.ok(names.some((n) => n.endsWith('.sst')), 'the flush wrote an SST');
    for (const f of pinned.files) {
      // SSTs are links in pinDir under the prefix; the small files (20 KiB at most here) are bytes.
      assert.equal(f.path !== undefined, f.name.endsWith('.sst'), f.name);
      if (f.path !== undefined) assert.equal(f.path, join(pinDir, `chk-1-${f.name}`));
    }
    assert.equal(dec.decode(pinned.files.find((f) => f.name === 'CURRENT')!.bytes!), `${names.find((n) => n.startsWith('MANIFEST-'))}\n`);
    assert.deepEqual(pinned.unsyncedSsts, [], 'nothing deferred unless asked');
    assert.equal(db.getProperty('rocksdb.is-file-deletions-enabled'), '1', 'file deletions are enabled again');
    const cpDir = freshDir('pin-cp');
    materialize(pinned, cpDir);
    db.close();
    const cp = RocksDB.open(cpDir, { createIfMissing: false });
    const ccf = cp.getColumnFamily('window-contents');
    assert.ok(ccf);
    assert.equal(s(cp.get(ccf, b('alpha'))), '1');
    assert.equal(cp.get(ccf, b('after')), undefined);
    assert.equal(s(cp.get(cp.defaultColumnFamily, b('meta'))), 'm');
    cp.close();
  });

  test('pinLiveFiles over inlineMaxBytes: MANIFEST copied up to its recorded size, OPTIONS and SSTs linked, CURRENT as bytes', () => {
    const path = freshDir('pin-big');
    const db = RocksDB.open(path, { disableWAL: true });
    db.put(db.defaultColumnFamily, b('k'), b('v'));
    const pinDir = freshDir('pins-big');
    mkdirSync(pinDir);
    const pinned = db.pinLiveFiles(pinDir, 'p-', { inlineMaxBytes: 0 });
    const manifest = pinned.files.find((f) => f.name.startsWith('MANIFEST-'))!;
    // Nothing writes to the database meanwhile: the version's recorded size is the live file's.
    const live = readFileSync(join(path, manifest.name));
    assert.ok(manifest.path !== undefined && statSync(manifest.path).nlink === 1, 'the MANIFEST is a copy');
    assert.ok(live.length > 0);
    assert.deepEqual(readFileSync(manifest.path), live, 'the copy holds the MANIFEST up to its recorded size');
    for (const f of pinned.files.filter((x) => x.name.endsWith('.sst') || x.name.startsWith('OPTIONS-'))) {
      assert.equal(statSync(f.path!).ino, statSync(join(path, f.name)).ino, `${f.name} is a link`);
    }
    assert.ok(pinned.files.find((f) => f.name === 'CURRENT')?.bytes !== undefined, 'CURRENT is always bytes');
    db.close();
    const cpDir = freshDir('pin-big-cp');
    materialize(pinned, cpDir);
    const cp = RocksDB.open(cpDir, { createIfMissing: false });
    assert.equal(s(cp.get(cp.defaultColumnFamily, b('k'))), 'v');
    cp.close();
  });

  test('pinLiveFiles copies the SSTs where they cannot be linked (another file system)', (t) => {
    // /dev/shm is tmpfs: a hard link from the test's directory into it fails with EXDEV.
    if (!existsSync('/dev/shm')) {
      t.skip('no /dev/shm (tmpfs) to pin into from another file system');
      return;
    }
    const path = freshDir('pin-xdev');
    const db = RocksDB.open(path, { disableWAL: true });
    db.put(db.defaultColumnFamily, b('k'), b('v'));
    const pinDir = mkdtempSync('/dev/shm/flowstate-pin-');
    try {
      if (statSync(pinDir).dev === statSync(root).dev) {
        t.skip('/dev/shm is on the same file system as the test directory here');
        return;
      }
      const pinned = db.pinLiveFiles(pinDir, 'x-', { inlineMaxBytes: 20 * 1024 });
      const ssts = pinned.files.filter((f) => f.name.endsWith('.sst'));
      assert.ok(ssts.length >= 1);
      for (const f of ssts) {
        assert.equal(statSync(f.path!).nlink, 1, `${f.name} is a copy`);
        assert.deepEqual(readFileSync(f.path!), readFileSync(join(path, f.name)), `${f.name}: same bytes`);
      }
    } finally {
      db.close();
      rmSync(pinDir, { recursive: true, force: true });
    }
  });

  test('pinLiveFiles: a failure part-way removes what it pinned, and only that', () => {
    const db = RocksDB.open(freshDir('pin-fail'), { disableWAL: true });
    db.put(db.defaultColumnFamily, b('k'), b('v'));
    db.flush();
    const pinDir = freshDir('pins-fail');
    mkdirSync(pinDir);
    // The MANIFEST comes after the SSTs, and its copy (inlineMaxBytes 0) cannot be created: someone else's file is there.
    const manifest = db.pinLiveFiles(pinDir, 'probe-', { inlineMaxBytes: 20 * 1024 }).files.find((f) => f.name.startsWith('MANIFEST-'))!.name;
    writeFileSync(join(pinDir, `p-${manifest}`), 'not ours');
    assertRocksError(() => db.pinLiveFiles(pinDir, 'p-', { inlineMaxBytes: 0 }), 'ROCKSDB_IO_ERROR', `p-${manifest}`);
    assert.deepEqual(readdirSync(pinDir).filter((n) => n.startsWith('p-')), [`p-${manifest}`], 'the SST links were removed, the foreign file kept');
    assert.equal(readFileSync(join(pinDir, `p-${manifest}`), 'utf8'), 'not ours');
    assert.equal(db.getProperty('rocksdb.is-file-deletions-enabled'), '1', 'file deletions are enabled again');
    db.close();
  });

  test('pinLiveFiles checks its arguments', () => {
    const db = RocksDB.open(freshDir('pin-args'));
    const pinDir = freshDir('pins-args');
    mkdirSync(pinDir);
    assertRocksError(() => db.pinLiveFiles(pinDir, '', { inlineMaxBytes: 0 }), 'ROCKSDB_INVALID_ARGUMENT', 'prefix');
    assertRocksError(() => db.pinLiveFiles(pinDir, 'a/b-', { inlineMaxBytes: 0 }), 'ROCKSDB_INVALID_ARGUMENT', 'prefix');
    assertRocksError(() => db.pinLiveFiles(pinDir, 'p-', { inlineMaxBytes: -1 }), 'ROCKSDB_INVALID_ARGUMENT', 'inlineMaxBytes');
    assertRocksError(() => db.pinLiveFiles(pinDir, 'p-', { inlineMaxBytes: 1.5 }), 'ROCKSDB_INVALID_ARGUMENT', 'inlineMaxBytes');
    assertRocksError(() => db.pinLiveFiles(pinDir, 'p-', { inlineMaxBytes: 2 ** 40 }), 'ROCKSDB_INVALID_ARGUMENT', 'inlineMaxBytes');
    assertRocksError(() => db.pinLiveFiles(join(pinDir, 'missing'), 'p-', { inlineMaxBytes: 0 }), 'ROCKSDB_IO_ERROR');
    assert.deepEqual(readdirSync(pinDir), []);
    db.close();
    assertRocksError(() => db.pinLiveFiles(pinDir, 'p-', { inlineMaxBytes: 0 }), 'ROCKSDB_CLOSED');
  });

  test('SstFileWriter + ingestExternalFile (copy and move, sync and async)', async () => {
    const sstDir = freshDir('sst');
    const db = RocksDB.open(freshDir('ingest'), { disableWAL: true, compression: 'snappy' });
    const cf = db.createColumnFamily('bulk');
    db.put(cf, b('k00'), b('old'));

    const w = db.createSstFileWriter();
    assert.equal(w.state, 'idle');
    assertRocksError(() => w.put(b('a'), b('b')), 'ROCKSDB_INVALID_ARGUMENT', 'not open');
    mkdirSync(sstDir, { recursive: true });
    const f1 = join(sstDir, 'one.sst');
    w.open(f1);
    assert.equal(w.state, 'open');
    for (let i = 0; i < 50; i++) w.put(b(`k${String(i).padStart(2, '0')}`), b(`v${i}`));
    w.merge(b('k50'), encodeListElements([b('m')]));
    w.delete(b('k51'));
    assertRocksError(() => w.put(b('k10'), b('out of order')), 'ROCKSDB_INVALID_ARGUMENT', 'one.sst');
    assert.ok(w.fileSize >= 0);
    const info = w.finish();
    assert.equal(w.state, 'idle');
    assert.equal(info.path, f1);
    assert.equal(info.numEntries, 52);
    assert.equal(s(info.smallestKey), 'k00');
    assert.equal(s(info.largestKey), 'k51');
    assert.ok(info.fileSize > 0);

    // Reuse the writer asynchronously for a second file.
    const f2 = join(sstDir, 'two.sst');
    w.open(f2);
    w.put(b('z1'), b('Z1'));
    w.deleteRange(b('za'), b('zz'));
    const pending = w.finishAsync();
    assert.equal(w.state, 'finishing');
    assertRocksError(() => w.put(b('z2'), b('busy')), 'ROCKSDB_BUSY');
    const info2 = await pending;
    assert.equal(info2.numEntries, 1);
    assert.equal(info2.numRangeDelEntries, 1);

    db.ingestExternalFile(cf, [f1], { moveFiles: false });
    assert.ok(existsSync(f1), 'copied, not moved');
    assert.equal(s(db.get(cf, b('k00'))), 'v0', 'ingested data is newer than existing data');
    assert.equal(s(db.get(cf, b('k49'))), 'v49');
    assert.deepEqual(decodeListElements(db.get(cf, b('k50')) ?? new Uint8Array()).map((e) => dec.decode(e)), ['m']);
    assert.equal(db.get(cf, b('k51')), undefined);
    await db.ingestExternalFileAsync(cf, [f2], { moveFiles: true });
    assert.ok(!existsSync(f2), 'moved, not copied');
    assert.equal(s(db.get(cf, b('z1'))), 'Z1');
    assert.ok(db.getLiveFilesMetaData().filter((f) => f.columnFamily === 'bulk').length >= 2);

    // Standalone writer with explicit options.
    const standalone = new SstFileWriter({ compression: 'none' });
    const f3 = join(sstDir, 'three.sst');
    standalone.open(f3);
    standalone.put(b('s1'), b('S1'));
    standalone.finish();
    db.ingestExternalFile(db.defaultColumnFamily, [f3]);
    assert.equal(s(db.get(db.defaultColumnFamily, b('s1'))), 'S1');
    assertRocksError(() => db.ingestExternalFile(cf, [join(sstDir, 'missing.sst')]), 'ROCKSDB_IO_ERROR');

    const empty = new SstFileWriter();
    empty.open(join(sstDir, 'empty.sst'));
    assertRocksError(() => empty.finish(), 'ROCKSDB_INVALID_ARGUMENT');
    const abandoned = new SstFileWriter();
    abandoned.open(join(sstDir, 'abandoned.sst'));
    abandoned.put(b('a'), b('b'));
    abandoned.abandon();
    assert.equal(abandoned.state, 'idle');
    db.close();
  });

  test('a synchronous finish that fails and abandon() delete the partial file; the writer is reusable', () => {
    const dir = freshDir('sst-discard');
    mkdirSync(dir);
    const w = new SstFileWriter();
    const empty = join(dir, 'empty.sst');
    w.open(empty);
    assert.ok(existsSync(empty), 'open creates the file');
    // RocksDB refuses to finish a file without entries: a deterministic finish failure.
    assertRocksError(() => w.finish(), 'ROCKSDB_INVALID_ARGUMENT', 'empty.sst');
    assert.equal(w.state, 'idle');
    assert.ok(!existsSync(empty), 'the failed finish deleted its partial file');
    const abandoned = join(dir, 'abandoned.sst');
    w.open(abandoned);
    for (let i = 0; i < 100; i++) w.put(b(`k${String(i).padStart(3, '0')}`), b('v'.repeat(100)));
    w.abandon();
    assert.equal(w.state, 'idle');
    assert.ok(!existsSync(abandoned), 'abandon deleted the unfinished file');
    const good = join(dir, 'good.sst');
    w.open(good);
    w.put(b('a'), b('b'));
    assert.equal(w.finish().numEntries, 1, 'the writer still works after both');
    assert.deepEqual(readdirSync(dir), ['good.sst']);
  });

  test('get without a snapshot and put (bound per column family) match the general path: values and errors', () => {
    const a = RocksDB.open(freshDir('bound-a'));
    const c = RocksDB.open(freshDir('bound-c'));
    const cf = a.createColumnFamily('x');
    const big = new Uint8Array(40_000).map((_, i) => i % 253);
    const rows: [string, Uint8Array][] = [['k', b('v')], ['empty', new Uint8Array(0)], ['big', big]];
    for (const [k, v] of rows) a.put(cf, b(k), v);
    const snap = a.getSnapshot();
    // The snapshot argument takes the general native call: every answer must be the same.
    for (const k of ['k', 'empty', 'big', 'missing']) assert.deepEqual(a.get(cf, b(k)), a.get(cf, b(k), snap), k);
    snap.release();
    // A family whose bound ops are cached for its own database is still refused by another one.
    assertRocksError(() => c.get(cf, b('k')), 'ROCKSDB_INVALID_ARGUMENT', 'another database');
    assertRocksError(() => c.put(cf, b('k'), b('v')), 'ROCKSDB_INVALID_ARGUMENT', 'another database');
    assertRocksError(() => a.get(cf, 'k' as unknown as Uint8Array), 'ROCKSDB_INVALID_ARGUMENT', 'key');
    assertRocksError(() => a.put(cf, b('k'), 7 as unknown as Uint8Array), 'ROCKSDB_INVALID_ARGUMENT', 'value');
    a.dropColumnFamily(cf);
    assertRocksError(() => a.get(cf, b('k')), 'ROCKSDB_COLUMN_FAMILY_DROPPED', "'x'");
    assertRocksError(() => a.put(cf, b('k'), b('v')), 'ROCKSDB_COLUMN_FAMILY_DROPPED', "'x'");
    const d = a.defaultColumnFamily;
    a.put(d, b('k'), b('v'));
    a.close();
    const e = assertRocksError(() => a.get(d, b('k')), 'ROCKSDB_CLOSED', 'closed');
    assert.equal(e.path, a.path);
    assertRocksError(() => a.put(d, b('k'), b('v')), 'ROCKSDB_CLOSED');
    c.close();
  });

  test('use after close throws typed ROCKSDB_CLOSED errors', async () => {
    const path = freshDir('closed');
    const db = RocksDB.open(path);
    const cf = db.createColumnFamily('x');
    const batch = new WriteBatch();
    batch.put(cf, b('k'), b('v'));
    const snap = db.getSnapshot();
    const writer = db.createSstFileWriter();
    db.close();
    const e = assertRocksError(() => db.get(cf, b('k')), 'ROCKSDB_CLOSED');
    assert.ok(e instanceof Error);
    assert.equal(e.name, 'RocksDBError');
    assert.equal(e.path, path);
    assert.ok(e.message.includes(path), e.message);
    assertRocksError(() => db.put(cf, b('k'), b('v')), 'ROCKSDB_CLOSED');
    assertRocksError(() => db.delete(cf, b('k')), 'ROCKSDB_CLOSED');
    assertRocksError(() => db.merge(cf, b('k'), b('v')), 'ROCKSDB_CLOSED');
    assertRocksError(() => db.deleteRange(cf, b('a'), b('b')), 'ROCKSDB_CLOSED');
    assertRocksError(() => db.write(batch), 'ROCKSDB_CLOSED');
    assertRocksError(() => db.flush(), 'ROCKSDB_CLOSED');
    assertRocksError(() => db.compactRange(cf), 'ROCKSDB_CLOSED');
    assertRocksError(() => db.getSnapshot(), 'ROCKSDB_CLOSED');
    assertRocksError(() => db.iterator(cf), 'ROCKSDB_CLOSED');
    assertRocksError(() => db.createCheckpoint(freshDir('never')), 'ROCKSDB_CLOSED');
    assertRocksError(() => db.getLiveFilesMetaData(), 'ROCKSDB_CLOSED');
    assertRocksError(() => db.createColumnFamily('y'), 'ROCKSDB_CLOSED');
    assertRocksError(() => db.dropColumnFamily(cf), 'ROCKSDB_CLOSED');
    assertRocksError(() => db.getColumnFamily('x'), 'ROCKSDB_CLOSED');
    assertRocksError(() => db.listColumnFamilies(), 'ROCKSDB_CLOSED');
    assertRocksError(() => db.defaultColumnFamily, 'ROCKSDB_CLOSED');
    assertRocksError(() => db.ingestExternalFile(cf, []), 'ROCKSDB_CLOSED');
    assertRocksError(() => db.createSstFileWriter(), 'ROCKSDB_CLOSED');
    assertRocksError(() => db.getProperty('rocksdb.stats'), 'ROCKSDB_CLOSED');
    assertRocksError(() => db.getLatestSequenceNumber(), 'ROCKSDB_CLOSED');
    assertRocksError(() => batch.put(cf, b('k'), b('v')), 'ROCKSDB_CLOSED');
    assert.equal(cf.isValid, false);
    assert.equal(snap.isReleased, true, 'close released the snapshot');
    snap.release(); // no-op
    assert.equal(batch.count, 1, 'the batch itself stays usable as a buffer');
    // A writer created from the DB keeps working: it owns a copy of the options.
    const f = join(root, `writer-after-close-${counter}.sst`);
    writer.open(f);
    writer.put(b('a'), b('b'));
    assert.equal(writer.finish().numEntries, 1);
    // Async variants reject (never throw synchronously).
    const isClosedError = (e: unknown): boolean => e instanceof RocksDBError && e.code === 'ROCKSDB_CLOSED';
    await assert.rejects(db.compactRangeAsync(cf), isClosedError);
    await assert.rejects(db.createCheckpointAsync(freshDir('never2')), isClosedError);
    await assert.rejects(db.ingestExternalFileAsync(cf, []), isClosedError);
  });

  test('closing with open iterators and snapshots is safe and invalidates them', async () => {
    const path = freshDir('close-busy');
    const db = RocksDB.open(path, { disableWAL: true });
    const cf = db.defaultColumnFamily;
    for (let i = 0; i < 1000; i++) db.put(cf, b(`k${i}`), b(`v${i}`));
    db.flush();
    const snap = db.getSnapshot();
    const its: RocksIterator[] = [];
    for (let i = 0; i < 5; i++) {
      const it = db.iterator(cf, i % 2 === 0 ? { snapshot: snap } : {});
      it.seekToFirst();
      its.push(it);
    }
    const generator = its[0]?.[Symbol.iterator]();
    generator?.next();
    const compaction = db.compactRangeAsync(cf); // close() waits for it
    db.close();
    await compaction;
    for (const it of its) {
      assert.equal(it.isClosed, true);
      assertRocksError(() => it.valid(), 'ROCKSDB_CLOSED', 'database is closed');
      assertRocksError(() => it.next(), 'ROCKSDB_CLOSED');
      assertRocksError(() => it.key(), 'ROCKSDB_CLOSED');
      assertRocksError(() => it.nextBatch(10), 'ROCKSDB_CLOSED');
      it.close(); // no-op
    }
    // A for..of in progress keeps its read-ahead batch, then fails on the next native read.
    assert.throws(
      () => {
        while (generator?.next().done === false);
      },
      (e: unknown) => e instanceof RocksDBError && e.code === 'ROCKSDB_CLOSED',
    );
    assert.equal(snap.isReleased, true);
    // The DB really is closed (lock released): it can be opened again.
    const again = RocksDB.open(path);
    assert.equal(s(again.get(again.defaultColumnFamily, b('k999'))), 'v999');
    again.close();
  });

  test('terminating a worker with an open DB, iterators, snapshots and in-flight async work is safe', async () => {
    const indexUrl = new URL('../src/native.js', import.meta.url).href;
    const workerFile = join(root, `worker-${counter}.mjs`);
    writeFileSync(
      workerFile,
      `import { RocksDB, SstFileWriter } from ${JSON.stringify(indexUrl)};
import { workerData, parentPort } from 'node:worker_threads';
const db = RocksDB.open(workerData.path, { disableWAL: true });
const cf = db.createColumnFamily('x');
for (let i = 0; i < 5000; i++) db.put(cf, Buffer.from('k' + String(i).padStart(6, '0')), Buffer.alloc(100, 1));
const snap = db.getSnapshot();
db.iterator(cf, { snapshot: snap }).seekToFirst();
const w = new SstFileWriter();
w.open(workerData.path + '.sst');
for (let i = 0; i < 5000; i++) w.put(Buffer.from('k' + String(i).padStart(6, '0')), Buffer.alloc(100, 2));
void w.finishAsync().catch(() => {});
void db.compactRangeAsync(cf).catch(() => {});
void db.createCheckpointAsync(workerData.path + '-cp').catch(() => {});
parentPort.postMessage('ready');
setInterval(() => {}, 1000);
`,
    );
    for (let round = 0; round < 3; round++) {
      const path = freshDir(`worker-${round}`);
      const worker = new Worker(workerFile, { workerData: { path } });
      await new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      await worker.terminate();
      // Environment teardown closed the DB (LOCK released, memtable flushed).
      const db = RocksDB.open(path);
      const cf = db.getColumnFamily('x');
      assert.ok(cf);
      assert.equal(db.get(cf, b('k000001'))?.byteLength, 100);
      db.close();
    }
  });

  test('a column family kept after get/put does not keep its dropped database open (the bound ops hold a token, not the database)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const path = freshDir('gc-kept-family');
    const kept = (() => {
      const db = RocksDB.open(path, { disableWAL: true });
      db.put(db.defaultColumnFamily, b('k'), b('v'));
      assert.equal(s(db.get(db.defaultColumnFamily, b('k'))), 'v');
      return db.defaultColumnFamily; // No close(): only the family stays reachable.
    })();
    let reopened: RocksDB | undefined;
    for (let attempt = 0; attempt < 50 && reopened === undefined; attempt++) {
      gc();
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setTimeout(r, 10));
      try {
        reopened = RocksDB.open(path);
      } catch (e) {
        if (!(e instanceof RocksDBError) || e.code !== 'ROCKSDB_IO_ERROR') throw e;
      }
    }
    assert.ok(reopened, 'the database was finalized although one of its families is still reachable');
    assert.equal(kept.isValid, false, 'the kept family is invalid once its database is gone');
    assertRocksError(() => reopened!.put(kept, b('k'), b('x')), 'ROCKSDB_INVALID_ARGUMENT');
    assert.equal(s(reopened.get(reopened.defaultColumnFamily, b('k'))), 'v');
    reopened.close();
  });

  test('finalizers clean up unreachable databases, iterators and snapshots', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const path = freshDir('gc');
    (() => {
      const db = RocksDB.open(path, { disableWAL: true });
      db.put(db.defaultColumnFamily, b('k'), b('v'));
      const snap = db.getSnapshot();
      for (let i = 0; i < 20; i++) {
        const it = db.iterator(db.defaultColumnFamily, { snapshot: snap });
        it.seekToFirst();
      }
      db.getSnapshot();
      // No close(): everything becomes unreachable here.
    })();
    let reopened: RocksDB | undefined;
    for (let attempt = 0; attempt < 50 && reopened === undefined; attempt++) {
      gc();
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setTimeout(r, 10));
      try {
        reopened = RocksDB.open(path);
      } catch (e) {
        if (!(e instanceof RocksDBError) || e.code !== 'ROCKSDB_IO_ERROR') throw e;
      }
    }
    assert.ok(reopened, 'the collected database was closed by its finalizer (LOCK released)');
    assert.equal(s(reopened.get(reopened.defaultColumnFamily, b('k'))), 'v', 'memtable flushed on finalizer close');
    reopened.close();
  });
});
