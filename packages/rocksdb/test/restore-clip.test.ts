// A restored database's rows outside the backend's key groups are deleted with one DeleteRange per
// side that holds any; a side without rows gets no range tombstone.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { KeyGroupRange, KvRowLayout } from '@flowstate/core';
import { RocksDBKvStore } from '@flowstate/rocksdb';
import { RocksDB } from '@flowstate/rocksdb/native';
import { deleteRowsOutside } from '../src/backend/rocksdb-restore.js';

const root = mkdtempSync(join(tmpdir(), 'flowstate-restore-clip-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const layout = new KvRowLayout(128);
const RANGE = new KeyGroupRange(32, 63);

/** A store whose key space 's' holds one row in each of `keyGroups`. */
function storeWith(keyGroups: readonly number[]): { store: RocksDBKvStore; db: RocksDB } {
  const db = RocksDB.open(join(root, `db-${n++}`), { createIfMissing: true, disableWAL: true });
  const store = new RocksDBKvStore(db);
  const space = store.keySpace('s');
  for (const g of keyGroups) space.put(Uint8Array.of(g, 1, 7), Uint8Array.of(g));
  db.flush();
  return { store, db };
}

/** Clips key space 's' to RANGE: the memtable entries that wrote (range tombstones) and the key groups left. */
function clip(keyGroups: readonly number[]): { tombstones: number; left: number[] } {
  const { store, db } = storeWith(keyGroups);
  try {
    const space = store.keySpace('s');
    deleteRowsOutside([space], RANGE, layout, 128);
    const tombstones = Number(db.getProperty('rocksdb.num-entries-active-mem-table', space.cf));
    const left = space.scan(layout.keyGroupStart(0), layout.keyGroupStart(128), 1000).map(([k]) => k[0]!);
    return { tombstones, left };
  } finally {
    store.close();
  }
}

describe('restore: rows outside the key-group range', () => {
  it('rows only in range: no range tombstone is written', () => {
    assert.deepEqual(clip([32, 40, 63]), { tombstones: 0, left: [32, 40, 63] });
  });

  it('rows below, above or on both sides: each side that holds rows is deleted, with one tombstone', () => {
    assert.deepEqual(clip([0, 31, 40]), { tombstones: 1, left: [40] });
    assert.deepEqual(clip([40, 64, 127]), { tombstones: 1, left: [40] });
    assert.deepEqual(clip([5, 40, 100]), { tombstones: 2, left: [40] });
  });

  it('an empty key space is left as it is', () => {
    assert.deepEqual(clip([]), { tombstones: 0, left: [] });
  });
});
