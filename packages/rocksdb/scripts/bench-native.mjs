#!/usr/bin/env node
// Micro-benchmark of the synchronous native binding (not a test).
//   npx tsc -b packages/rocksdb && node packages/rocksdb/scripts/bench-native.mjs [numKeys]
// Prints sync put/s and get/s for N (default 200k) 16-byte keys with 32-byte
// values, WAL disabled (as the state backend uses it), plus an iterator scan
// via nextBatch for reference.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RocksDB } from '../dist/src/index.js';

const N = Number(process.argv[2] ?? 200_000);
const KEY = 16;
const VALUE = 32;

function key(i) {
  const k = Buffer.alloc(KEY);
  k.writeUInt32BE(0x666c6f77, 0); // "flow"
  k.writeUInt32BE(0, 4);
  k.writeBigUInt64BE(BigInt(i), 8);
  return k;
}

function rate(n, ns) {
  return Math.round(n / (Number(ns) / 1e9)).toLocaleString('en-US');
}

const dir = mkdtempSync(join(tmpdir(), 'flowstate-rocksdb-bench-'));
try {
  const db = RocksDB.open(join(dir, 'db'), { disableWAL: true, compression: 'lz4', blockCacheSize: 64 << 20 });
  const cf = db.defaultColumnFamily;
  const keys = Array.from({ length: N }, (_, i) => key(i));
  const value = Buffer.alloc(VALUE, 0x5a);
  // Shuffled order for gets (Fisher-Yates with a fixed LCG seed).
  const order = Array.from({ length: N }, (_, i) => i);
  let seed = 42;
  for (let i = N - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const j = seed % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }

  let t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) db.put(cf, keys[i], value);
  const putNs = process.hrtime.bigint() - t;

  t = process.hrtime.bigint();
  let found = 0;
  for (let i = 0; i < N; i++) if (db.get(cf, keys[order[i]]) !== undefined) found++;
  const getNs = process.hrtime.bigint() - t;
  if (found !== N) throw new Error(`expected ${N} hits, got ${found}`);

  db.flush();
  t = process.hrtime.bigint();
  let found2 = 0;
  for (let i = 0; i < N; i++) if (db.get(cf, keys[order[i]]) !== undefined) found2++;
  const getSstNs = process.hrtime.bigint() - t;
  if (found2 !== N) throw new Error(`expected ${N} hits after flush, got ${found2}`);

  t = process.hrtime.bigint();
  const it = db.iterator(cf);
  it.seekToFirst();
  let scanned = 0;
  for (;;) {
    const batch = it.nextBatch(1024);
    if (batch.length === 0) break;
    scanned += batch.length;
  }
  it.close();
  const scanNs = process.hrtime.bigint() - t;
  db.close();

  console.log(`flowstate native RocksDB micro-benchmark: ${N} keys, ${KEY}-byte keys, ${VALUE}-byte values, WAL disabled`);
  console.log(`  put (sync)                 : ${rate(N, putNs)} ops/s`);
  console.log(`  get (sync, memtable)       : ${rate(N, getNs)} ops/s`);
  console.log(`  get (sync, after flush)    : ${rate(N, getSstNs)} ops/s`);
  console.log(`  scan (nextBatch(1024))     : ${rate(scanned, scanNs)} entries/s`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
