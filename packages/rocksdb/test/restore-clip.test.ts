// A restored database's rows outside the backend's key groups are deleted with one DeleteRange per
// side that holds any; a side without rows gets no range tombstone.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { KeyGroupRange, KvRowLayout } from '@flowstate/core';
import { RocksDBKvStore } from '@flowstate/rocksdb';
import { RocksDB, type ColumnFamily } from '@flowstate/rocksdb/native';
import { deleteRowsOutside } from '../src/backend/rocksdb-restore.js';

const root = mkdtempSync(join(tmpdir(), 'flowstate-restore-clip-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const layout = new KvRowLayout(128);
const RANGE = new KeyGroupRange(32, 63);

/** A store whose key space 's' holds one row per key (a key group, or the row key itself). */
function storeWith(keys: ReadonlyArray<number | Uint8Array>): { store: RocksDBKvStore; db: RocksDB } {
  const db = RocksDB.open(join(root, `db-${n++}`), { createIfMissing: true, disableWAL: true });
  const store = new RocksDBKvStore(db);
  const space = store.keySpace('s');
  for (const k of keys) space.put(typeof k === 'number' ? Uint8Array.of(k, 1, 7) : k, Uint8Array.of(1));
  db.flush();
  return { store, db };
}

/** Every row key of `cf`, in order. */
function allKeys(db: RocksDB, cf: ColumnFamily): number[][] {
  const it = db.iterator(cf);
  const keys: number[][] = [];
  try {
    for (it.seekToFirst(); it.valid(); it.next()) keys.push([...it.key()]);
  } finally {
    it.close();
  }
  return keys;
}

/** Clips key space 's' to `range`: the memtable entries that wrote (range tombstones) and the rows left (first byte each, or whole keys). */
function clip(keys: ReadonlyArray<number | Uint8Array>, range = RANGE, rowLayout = layout): { tombstones: number; left: number[]; leftKeys: number[][] } {
  const { store, db } = storeWith(keys);
  try {
    const space = store.keySpace('s');
    deleteRowsOutside([space], range, rowLayout);
    const tombstones = Number(db.getProperty('rocksdb.num-entries-active-mem-table', space.cf));
    const leftKeys = allKeys(db, space.cf);
    return { tombstones, left: leftKeys.map((k) => k[0]!), leftKeys };
  } finally {
    store.close();
  }
}

/** The tombstones and first bytes of a clip's result. */
function only(r: { tombstones: number; left: number[] }): { tombstones: number; left: number[] } {
  return { tombstones: r.tombstones, left: r.left };
}

describe('restore: rows outside the key-group range', () => {
  it('rows only in range: no range tombstone is written', () => {
    assert.deepEqual(only(clip([32, 40, 63])), { tombstones: 0, left: [32, 40, 63] });
  });

  it('rows below, above or on both sides: each side that holds rows is deleted, with one tombstone', () => {
    assert.deepEqual(only(clip([0, 31, 40])), { tombstones: 1, left: [40] });
    assert.deepEqual(only(clip([40, 64, 127])), { tombstones: 1, left: [40] });
    assert.deepEqual(only(clip([5, 40, 100])), { tombstones: 2, left: [40] });
  });

  it('an empty key space is left as it is', () => {
    assert.deepEqual(only(clip([])), { tombstones: 0, left: [] });
  });

  // Rows no key group of the job can hold (a hostile or damaged SST): no reader asks for them, so
  // kept they would be carried into every later snapshot of the restored backend.
  it('rows whose key-group prefix is at or above maxParallelism are deleted', () => {
    assert.deepEqual(only(clip([40, 128, 200, Uint8Array.of(255, 255, 255, 255)])), { tombstones: 1, left: [40] });
    // The job's range reaches maxParallelism: the side above still holds such rows.
    assert.deepEqual(only(clip([40, 127, 128, 255], new KeyGroupRange(32, 127))), { tombstones: 1, left: [40, 127] });
    // Two-byte prefixes (maxParallelism 256): prefix 256 and above.
    const wide = new KvRowLayout(256);
    const rows = [Uint8Array.of(0, 40, 1, 7), Uint8Array.of(1, 0, 1, 7), Uint8Array.of(0xff, 0xff, 1)];
    assert.deepEqual(clip(rows, new KeyGroupRange(0, 255), wide).leftKeys, [[0, 40, 1, 7]]);
  });

  it('rows shorter than a key-group prefix, the empty key included, are deleted', () => {
    const wide = new KvRowLayout(256);
    const rows = [new Uint8Array(0), Uint8Array.of(0), Uint8Array.of(0, 0, 1, 7)];
    assert.deepEqual(clip(rows, new KeyGroupRange(0, 127), wide), { tombstones: 1, left: [0], leftKeys: [[0, 0, 1, 7]] });
    assert.deepEqual(only(clip([new Uint8Array(0), 0, 40], new KeyGroupRange(0, 63))), { tombstones: 1, left: [0, 40] });
  });
});
