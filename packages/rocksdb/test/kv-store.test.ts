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

/**
 * Reads key groups 0, 1, 2, 3 and 0 again of a snapshot view, through `read` (scan or
 * forEachTransient), and returns the rows each read saw and the readahead each native call was given.
 */
function readaheadAsked(read: 'scan' | 'forEachTransient'): { counts: number[]; asked: number[] } {
  const db = RocksDB.open(join(root, `db-${n++}`), { createIfMissing: true, disableWAL: true });
  const store = new RocksDBKvStore(db);
  try {
    const space = store.keySpace('s');
    // Key group g: 1 row of 1 KiB (g < 2), then 100 rows of 1 KiB (g = 2), 1,000 (g = 3) and 3,000
    // (g = 4: more than forEachTransient's 1 MiB buffer holds, so three native calls).
    const rows = [1, 1, 100, 1000, 3000];
    rows.forEach((count, g) => {
      for (let i = 0; i < count; i++) space.put(Uint8Array.of(g, i >> 8, i & 0xff), new Uint8Array(1024).fill(g));
    });
    // In SST files, where a canonical snapshot reads them.
    db.flush();
    const asked: number[] = [];
    const scan = db.scan.bind(db);
    db.scan = (cf, lower, upper, limit, options) => {
      asked.push(options?.readaheadBytes ?? -1);
      return scan(cf, lower, upper, limit, options);
    };
    const forEachTransient = db.forEachTransient.bind(db);
    // One native call per readaheadAfter call: the first reads ahead readaheadBytes, each later one
    // what readaheadAfter returned after the call before it (its last return is the next range's).
    db.forEachTransient = (cf, lower, upper, visit, options) => {
      const after = options?.readaheadAfter;
      const returned: number[] = [];
      const counted = after === undefined ? {} : { readaheadAfter: (bytes: number) => { const r = after(bytes); returned.push(r); return r; } };
      const visited = forEachTransient(cf, lower, upper, visit, { ...options, ...counted });
      asked.push(options?.readaheadBytes ?? -1, ...returned.slice(0, -1));
      return visited;
    };
    const view = store.view();
    try {
      const s = view.keySpace('s')!;
      const counts = [0, 1, 2, 3, 4, 0].map((g) => {
        const [lower, upper] = [Uint8Array.of(g), Uint8Array.of(g + 1)];
        if (read === 'scan') return s.scan(lower, upper, 10_000).length;
        let c = 0;
        s.forEachTransient!(lower, upper, () => void c++);
        return c;
      });
      return { counts, asked };
    } finally {
      view.release();
    }
  } finally {
    store.close();
  }
}

const CAP = 256 << 10;
// Before g = 0: nothing read yet; after 1 KiB rows: below 32 KiB; after 100 KiB: that; after 1 MiB: the cap.
// One scan reads g = 4 (up to 8 MiB per native call); forEachTransient reads it in three calls
// (1,013 + 1,013 + 974 rows of 1,035 packed bytes), each after the first with the cap again.
const EXPECTED_ASKED = { scan: [0, 0, 0, 100 * (1024 + 3), CAP, CAP], forEachTransient: [0, 0, 0, 100 * (1024 + 3), CAP, CAP, CAP, CAP] };

for (const read of ['scan', 'forEachTransient'] as const) {
  it(`a snapshot view's ${read} reads ahead what its last native call returned: none at first and after a small one, at most 256 KiB`, () => {
    const { counts, asked } = readaheadAsked(read);
    assert.deepEqual(counts, [1, 1, 100, 1000, 3000, 1]);
    assert.deepEqual(asked, EXPECTED_ASKED[read]);
  });
}
