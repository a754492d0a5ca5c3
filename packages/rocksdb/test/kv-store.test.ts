import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strict as assert } from 'node:assert';
import { after, it } from 'node:test';
import { runKvStoreConformance } from '@flowstate/conformance';
import { RocksDBKvStore } from '@flowstate/rocksdb';
import { RocksDB } from '@flowstate/rocksdb/native';

const root = mkdtempSync(join(tmpdir(), 'flowstate-rocksdb-kv-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

// The KvStore SPI contract on RocksDB (the backend conformance suite runs in conformance.test.ts).
runKvStoreConformance({
  name: 'RocksDBKvStore',
  createStore: () => new RocksDBKvStore(RocksDB.open(join(root, `db-${n++}`), { createIfMissing: true, disableWAL: true })),
});

it('compactAsync flushes off the JS thread (flushAsync, never the synchronous flush)', async () => {
  const db = RocksDB.open(join(root, `db-${n++}`), { createIfMissing: true, disableWAL: true });
  const store = new RocksDBKvStore(db);
  try {
    const space = store.keySpace('s');
    space.put(Uint8Array.of(1), Uint8Array.of(2));
    db.flush = () => assert.fail('compactAsync called the synchronous flush');
    await space.compactAsync();
    assert.equal(db.getProperty('rocksdb.num-entries-active-mem-table', space.cf), '0', 'the memtable was flushed');
    assert.ok(db.getLiveFilesMetaData({ uniqueIds: false }).some((f) => f.columnFamily === space.cf.name && f.numEntries === 1));
    assert.deepEqual(space.get(Uint8Array.of(1)), Uint8Array.of(2));
  } finally {
    store.close();
  }
});
