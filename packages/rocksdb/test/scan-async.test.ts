// RocksDB.scanAsync: the read of scan on the libuv thread pool (scan_worker.cc).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { RocksDB, RocksDBError, type Entry } from '../src/native.js';
import { tempDirs } from './temp-dirs.js';

const dir = tempDirs();
const enc = new TextEncoder();
const b = (s: string): Uint8Array => enc.encode(s);
const text = (rows: Entry[]) => rows.map(([k, v]) => `${Buffer.from(k).toString('hex')}=${Buffer.from(v).toString('hex')}`);
const isRocksError = (code: string) => (e: unknown) => e instanceof RocksDBError && e.code === code;

function filled(name: string): RocksDB {
  const db = RocksDB.open(join(dir(name), 'db'), { createIfMissing: true, disableWAL: true });
  // Keys and values of every length mod 4: the batch's length table is aligned after the bytes.
  for (let i = 0; i < 60; i++) db.put(db.defaultColumnFamily, b(`k${String(i).padStart(2, '0')}${'x'.repeat(i % 4)}`), new Uint8Array(i % 9).fill(i));
  return db;
}

test('scanAsync returns what scan returns: bounds, limits, empty ranges, rows of any length', async () => {
  const db = filled('scan-async-same');
  try {
    const cf = db.defaultColumnFamily;
    db.flush(cf); // half in an SST, half in the memtable
    for (let i = 60; i < 80; i++) db.put(cf, b(`k${i}`), b(`v${i}`));
    for (const [lower, upper, limit] of [['k', 'l', 1000], ['k10', 'k40', 7], ['k79', 'l', 5], ['a', 'b', 3], ['k3', 'k3', 1]] as const) {
      assert.deepEqual(text(await db.scanAsync(cf, b(lower), b(upper), limit)), text(db.scan(cf, b(lower), b(upper), limit)), `${lower}..${upper} limit ${limit}`);
    }
  } finally {
    db.close();
  }
});

test('scanAsync goes on after a native batch that reached the byte cap (three 4 MiB values)', async () => {
  const db = RocksDB.open(join(dir('scan-async-cap'), 'db'), { createIfMissing: true, disableWAL: true });
  try {
    const cf = db.defaultColumnFamily;
    const big = new Uint8Array(4 << 20).fill(7);
    for (const k of ['m1', 'm2', 'm3']) db.put(cf, b(k), big);
    db.put(cf, b('m4'), b('odd'));
    const rows = await db.scanAsync(cf, b('m'), b('n'), 10);
    assert.deepEqual(rows.map(([k]) => Buffer.from(k).toString()), ['m1', 'm2', 'm3', 'm4']);
    assert.ok(rows.slice(0, 3).every(([, v]) => v.length === big.length && v[0] === 7 && v[v.length - 1] === 7));
  } finally {
    db.close();
  }
});

test('scanAsync reads at its snapshot, also when the snapshot is released before the read ran; then refuses it', async () => {
  const db = filled('scan-async-snapshot');
  try {
    const cf = db.defaultColumnFamily;
    const before = text(db.scan(cf, b('k'), b('l'), 1000));
    const snap = db.getSnapshot();
    db.deleteRange(cf, b('k10'), b('k50'));
    db.put(cf, b('k00'), b('changed'));
    const pending = db.scanAsync(cf, b('k'), b('l'), 1000, { snapshot: snap, fillCache: false });
    snap.release(); // pinned by the read in flight: RocksDB's snapshot goes once the read ended
    assert.deepEqual(text(await pending), before);
    await assert.rejects(db.scanAsync(cf, b('k'), b('l'), 10, { snapshot: snap }), isRocksError('ROCKSDB_CLOSED'));
    assert.equal(db.scan(cf, b('k'), b('l'), 1000).length, 60 - 40);
  } finally {
    db.close();
  }
});

test('scanAsync rejects (never throws) a bad limit, a closed database; many reads may be in flight at once', async () => {
  const db = filled('scan-async-errors');
  const cf = db.defaultColumnFamily;
  const bad = db.scanAsync(cf, b('k'), b('l'), 0);
  await assert.rejects(bad, isRocksError('ROCKSDB_INVALID_ARGUMENT'));
  const ranges = Array.from({ length: 6 }, (_, i) => [b(`k${i}`), b(`k${i + 1}`)] as const);
  const all = await Promise.all(ranges.map(([lo, hi]) => db.scanAsync(cf, lo, hi, 100)));
  assert.deepEqual(all.map(text), ranges.map(([lo, hi]) => text(db.scan(cf, lo, hi, 100))));
  db.close();
  await assert.rejects(db.scanAsync(cf, b('k'), b('l'), 10), isRocksError('ROCKSDB_CLOSED'));
});

test('close() while reads are in flight (one at a snapshot) waits for them: they end with their rows', async () => {
  const db = filled('scan-async-close');
  const cf = db.defaultColumnFamily;
  const expected = text(db.scan(cf, b('k'), b('l'), 1000));
  const snap = db.getSnapshot();
  const plain = db.scanAsync(cf, b('k'), b('l'), 1000);
  const atSnapshot = db.scanAsync(cf, b('k'), b('l'), 1000, { snapshot: snap });
  // Without the wait (or with the read's snapshot pin counted like an iterator's) the process aborts here.
  db.close();
  assert.ok(db.isClosed);
  assert.deepEqual(text(await plain), expected);
  assert.deepEqual(text(await atSnapshot), expected);
  assert.ok(snap.isReleased, 'close released the snapshot');
});
