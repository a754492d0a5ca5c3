import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
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
