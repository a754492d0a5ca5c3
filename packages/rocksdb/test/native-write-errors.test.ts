// Writes RocksDB would refuse only while applying them to the memtable, keeping that failure as the
// database's background error (every later write and flush failing, a close with the WAL off
// dropping the unflushed writes): the binding refuses them first with a typed error, and the
// database stays as usable as before.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { RocksDB, RocksDBError, WriteBatch } from '../src/native.js';

const root = mkdtempSync(join(tmpdir(), 'flowstate-native-lifetimes-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const b = (s: string): Uint8Array => new TextEncoder().encode(s);
const s = (u: Uint8Array | undefined): string | undefined => (u === undefined ? undefined : new TextDecoder().decode(u));

/** The values of `keys` in the default column family after a reopen of the database at `path`. */
function reopenedValues(path: string, keys: readonly string[]): (string | undefined)[] {
  const db = RocksDB.open(path);
  try {
    return keys.map((k) => s(db.get(db.defaultColumnFamily, b(k))));
  } finally {
    db.close();
  }
}

describe('native writes that would stop the database', () => {
  it('a write batch over a dropped column family is refused (ROCKSDB_COLUMN_FAMILY_DROPPED); the database keeps its writes and its data', () => {
    const path = join(root, `db-${n++}`);
    const db = RocksDB.open(path, { disableWAL: true });
    db.put(db.defaultColumnFamily, b('before'), b('1'));
    const cf = db.createColumnFamily('x');
    const batch = new WriteBatch().put(db.defaultColumnFamily, b('d'), b('2')).put(cf, b('k'), b('v'));
    db.dropColumnFamily(cf);
    assert.throws(
      () => db.write(batch),
      (e: unknown) => e instanceof RocksDBError && e.code === 'ROCKSDB_COLUMN_FAMILY_DROPPED' && e.message.includes("'x'"),
    );
    assert.equal(db.get(db.defaultColumnFamily, b('d')), undefined, 'nothing of the refused batch was written');
    // RocksDB never saw the batch: writes, flushes and a cleared batch still work.
    db.put(db.defaultColumnFamily, b('after'), b('3'));
    batch.clear();
    db.write(batch.put(db.defaultColumnFamily, b('batched'), b('4')));
    db.flush();
    db.close();
    assert.deepEqual(reopenedValues(path, ['before', 'after', 'batched']), ['1', '3', '4']);
  });

  it('a deleteRange whose end sorts before its begin is refused (ROCKSDB_INVALID_ARGUMENT) by the database, write batches and SST writers; the database keeps its writes and its data', () => {
    const path = join(root, `db-${n++}`);
    const db = RocksDB.open(path, { disableWAL: true });
    const cf = db.defaultColumnFamily;
    db.put(cf, b('before'), b('1'));
    const refused = (e: unknown) => e instanceof RocksDBError && e.code === 'ROCKSDB_INVALID_ARGUMENT' && /end key comes before begin key/.test(e.message);
    assert.throws(() => db.deleteRange(cf, b('z'), b('a')), refused);
    const batch = new WriteBatch();
    assert.throws(() => batch.deleteRange(cf, b('z'), b('a')), refused);
    const sst = db.createSstFileWriter();
    sst.open(join(root, `range-${n}.sst`));
    assert.throws(() => sst.deleteRange(b('z'), b('a')), refused);
    sst.deleteRange(b('a'), b('b'));
    sst.finish();
    db.write(batch.put(cf, b('batched'), b('2')));
    // An empty range (begin = end) deletes nothing, as in RocksDB; a proper one still deletes.
    db.deleteRange(cf, b('a'), b('a'));
    db.put(cf, b('gone'), b('x'));
    db.deleteRange(cf, b('gone'), b('gone\0'));
    db.put(cf, b('after'), b('3'));
    db.flush();
    db.close();
    assert.deepEqual(reopenedValues(path, ['before', 'batched', 'after', 'gone']), ['1', '2', '3', undefined]);
  });
});
