/**
 * What the synchronous part of a native RocksDB checkpoint costs with and without deferring the
 * flush's SST syncs (`createCheckpoint(dir, { deferSstSyncs })`, which the incremental strategy
 * uses): `node bench/dist/checkpoint-flush-profile.js [MiB in the memtable] [rounds]`. Each round
 * fills a fresh database (the backend's options, WAL off) with 1 KiB random values, then times
 * createCheckpoint, alternating which variant goes first. Prints medians and their ratio.
 */
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RocksDB } from '@flowstate/rocksdb/native';
import { ROCKSDB_BACKEND_DB_OPTIONS } from './backends.js';
import { summarize } from './stats.js';

const mib = Number(process.argv[2] ?? 11);
const rounds = Number(process.argv[3] ?? 8);
if (!(mib > 0 && mib <= 1024) || !Number.isInteger(rounds) || rounds < 1) throw new Error(`usage: checkpoint-flush-profile.js [MiB in (0, 1024]] [rounds ≥ 1], got ${process.argv.slice(2).join(' ')}`);
const VALUE_BYTES = 1024;

/** createCheckpoint's time, in ms, for a fresh database holding `mib` MiB in its memtable. */
function timeCheckpoint(deferSstSyncs: boolean): number {
  const dir = mkdtempSync(join(tmpdir(), 'flowstate-checkpoint-flush-'));
  try {
    const db = RocksDB.open(join(dir, 'db'), { ...ROCKSDB_BACKEND_DB_OPTIONS, createIfMissing: true, disableWAL: true });
    try {
      const key = new Uint8Array(8);
      const keys = new DataView(key.buffer);
      const value = new Uint8Array(VALUE_BYTES);
      for (let i = 0; i < (mib * 1024 * 1024) / VALUE_BYTES; i++) {
        keys.setUint32(0, Math.imul(i, 2654435761) >>> 0);
        db.put(db.defaultColumnFamily, key, randomFillSync(value));
      }
      const t0 = performance.now();
      db.createCheckpoint(join(dir, 'chk'), { deferSstSyncs });
      return performance.now() - t0;
    } finally {
      db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const synced: number[] = [];
const deferred: number[] = [];
for (let r = 0; r < rounds; r++) {
  for (const defer of r % 2 === 0 ? [false, true] : [true, false]) (defer ? deferred : synced).push(timeCheckpoint(defer));
}
const s = summarize(synced).median;
const d = summarize(deferred).median;
console.log(`${mib} MiB memtable, ${rounds} rounds: createCheckpoint ${s.toFixed(1)} ms with the flush's SST syncs, ${d.toFixed(1)} ms deferred (${(d / s).toFixed(2)}x)`);
