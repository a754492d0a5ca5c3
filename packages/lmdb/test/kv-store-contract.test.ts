import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { runKvStoreConformance } from '@flowstate/conformance';
import { LmdbKvStore } from '@flowstate/lmdb';

const base = mkdtempSync(join(tmpdir(), 'flowstate-lmdb-kv-'));
after(() => rmSync(base, { recursive: true, force: true }));
let n = 0;

// The KvStore SPI contract on LMDB (the backend conformance suite runs in conformance.test.ts).
runKvStoreConformance({
  name: 'LmdbKvStore',
  createStore: () => new LmdbKvStore({ path: join(base, `store-${n++}`), maxKeySpaces: 16 }),
  notApplicable: {
    bulkLoad: 'LMDB has no ingestion path faster than its write transaction; restores use putAll',
    bulkLoadCopies: 'no bulk load (see bulkLoad)',
    bulkLoadReadBuffers: 'no bulk load (see bulkLoad)',
    forEachTransient: "lmdb-js's getRange allocates a buffer for every key and value it returns: a visitor over them would save nothing",
  },
});
