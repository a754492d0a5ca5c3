/**
 * RocksDB TTL compaction filter: the cost of the native filter on compaction time. Per value layout
 * (VALUE, MAP, LIST) and share of expired data (0%: the filter parses every value and drops
 * nothing, its pure cost; 50%: it also drops entries, or rewrites every list), two databases get
 * the same bytes in the same L0 files; one key space has the filter configured, the other not.
 * Both are then compacted with the same two manual compactions (every level into the bottommost,
 * then the bottommost rewritten: what RocksDBKeySpace.compact() does for a TTL'd space), so the
 * ratio filtered / plain is the filter's cost (parsing, list rewriting) net of what it saves by
 * writing less. One sample = one compaction of a freshly written database (the writes are not
 * timed); samples of the two sides interleave in one process, as in the snapshot suite. Wall time
 * and process CPU time (which includes RocksDB's compaction thread and is less sensitive to other
 * load) are both reported.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KvTtlLayout } from '@flowstate/core';
import { RocksDBKvStore, STATE_CF_PREFIX, type RocksDBKeySpace } from '@flowstate/rocksdb';
import { RocksDB } from '@flowstate/rocksdb/native';
import { ROCKSDB_BENCH_OPTIONS } from './backends.js';
import type { Preset } from './config.js';
import { prng, summarize, type Summary } from './stats.js';

export interface TtlCompactionRow {
  readonly layout: KvTtlLayout['layout'];
  /** Share of entries (VALUE, MAP) or list elements (LIST) that are expired at compaction time. */
  readonly expiredFraction: number;
  readonly entries: number;
  /** User bytes written (keys + values, before merges). */
  readonly bytesWritten: number;
  readonly filterMs: Summary;
  readonly plainMs: Summary;
  /** median(filter) / median(plain), wall time. */
  readonly ratio: number;
  /** Process CPU time (all threads: the compaction runs on RocksDB's) of the same compactions. */
  readonly filterCpuMs: Summary;
  readonly plainCpuMs: Summary;
  /** median(filter) / median(plain), CPU time: less sensitive to other load on the machine. */
  readonly cpuRatio: number;
  /** Live SST entries and bytes of the key space after one compaction of each kind. */
  readonly after: { readonly filter: SstStats; readonly plain: SstStats };
}

export interface SstStats {
  readonly entries: number;
  readonly bytes: number;
}

const TTL_MS = 60_000;
const NOW = 10_000_000;
const LIST_ELEMENTS = 8;
const SPACE = 'ttl';

/** The bytes both databases get: a list of rounds, each a list of [key, value, isAppend]. */
type Rounds = ReadonlyArray<ReadonlyArray<readonly [Uint8Array, Uint8Array, boolean]>>;

function i64(ts: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(ts));
  return b;
}

function listElements(n: number, expired: () => boolean, payload: () => Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const len = Buffer.alloc(4);
    const p = payload();
    len.writeUInt32BE(8 + p.length);
    parts.push(len, i64(expired() ? NOW - TTL_MS : NOW), p);
  }
  return Buffer.concat(parts);
}

/**
 * VALUE and MAP: three rounds of interleaved keys (three overlapping L0 files, below RocksDB's L0
 * compaction trigger of 4, so no background compaction runs first). LIST: half the elements put,
 * the other half appended (merge operands) in a second round.
 */
function fixture(layout: KvTtlLayout['layout'], entries: number, expiredFraction: number): Rounds {
  const rand = prng(0x7711 + entries);
  const expired = () => rand() < expiredFraction;
  const payload = (n: number) => () => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
    return b;
  };
  const key = (i: number) => Buffer.from(`key-${String(i).padStart(10, '0')}`);
  if (layout === 'LIST') {
    const half = LIST_ELEMENTS / 2;
    const base = Array.from({ length: entries }, (_, i) => [key(i), listElements(half, expired, payload(12)), false] as const);
    const appended = Array.from({ length: entries }, (_, i) => [key(i), listElements(half, expired, payload(12)), true] as const);
    return [base, appended];
  }
  const value = (): Buffer => {
    const ts = i64(expired() ? NOW - TTL_MS : NOW);
    return layout === 'VALUE' ? Buffer.concat([ts, payload(92)()]) : Buffer.concat([Buffer.from([1]), ts, Buffer.from([1]), payload(90)()]);
  };
  const rounds: Array<Array<readonly [Uint8Array, Uint8Array, boolean]>> = [[], [], []];
  for (let i = 0; i < entries; i++) rounds[i % 3]!.push([key(i), value(), false]);
  return rounds;
}

interface Db {
  readonly dir: string;
  readonly store: RocksDBKvStore;
  readonly space: RocksDBKeySpace;
}

function openWritten(rounds: Rounds, ttl: KvTtlLayout | undefined): Db {
  const dir = mkdtempSync(join(tmpdir(), 'flowstate-bench-ttl-'));
  const store = new RocksDBKvStore(RocksDB.open(join(dir, 'db'), { ...ROCKSDB_BENCH_OPTIONS, createIfMissing: true, disableWAL: true }));
  const space = store.keySpace(SPACE, ttl === undefined ? {} : { ttl });
  for (const round of rounds) {
    for (const [k, v, append] of round) (append ? space.append(k, v) : space.put(k, v));
    store.db.flush(space.cf);
  }
  store.setTtlTime(NOW);
  return { dir, store, space };
}

/** The two passes of RocksDBKeySpace.compact() for a TTL'd space, on either database. */
function compact(db: Db): void {
  db.store.db.compactRange(db.space.cf, undefined, undefined, { bottommostLevelCompaction: 'skip' });
  db.store.db.compactRange(db.space.cf, undefined, undefined, { bottommostLevelCompaction: 'force' });
}

function sstStats(db: Db): SstStats {
  const files = db.store.db.getLiveFilesMetaData({ uniqueIds: false }).filter((f) => f.columnFamily === STATE_CF_PREFIX + SPACE);
  return { entries: files.reduce((n, f) => n + f.numEntries, 0), bytes: files.reduce((n, f) => n + f.size, 0) };
}

function closeAndRemove(db: Db | undefined): void {
  if (db === undefined) return;
  db.store.close();
  rmSync(db.dir, { recursive: true, force: true });
}

/** One compaction of a freshly written database: wall ms and process CPU ms (RocksDB's compaction thread included). */
function timedCompaction(rounds: Rounds, ttl: KvTtlLayout | undefined): { wallMs: number; cpuMs: number; after: SstStats } {
  const db = openWritten(rounds, ttl);
  try {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    compact(db);
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000, after: sstStats(db) };
  } finally {
    closeAndRemove(db);
  }
}

function measure(p: Preset, layout: KvTtlLayout['layout'], expiredFraction: number): TtlCompactionRow {
  const rounds = fixture(layout, p.ttlCompactionEntries, expiredFraction);
  const ttl: KvTtlLayout = { layout, ttlMs: TTL_MS, timeCharacteristic: 'ProcessingTime' };
  const samples = { filter: [] as Array<ReturnType<typeof timedCompaction>>, plain: [] as Array<ReturnType<typeof timedCompaction>> };
  for (let i = 0; i < p.ttlCompactionSamples; i++) {
    // Interleaved, alternating which side goes first, so load changes hit both alike.
    for (const side of i % 2 === 0 ? (['filter', 'plain'] as const) : (['plain', 'filter'] as const)) samples[side].push(timedCompaction(rounds, side === 'filter' ? ttl : undefined));
  }
  const wall = (side: 'filter' | 'plain') => summarize(samples[side].map((x) => x.wallMs));
  const cpu = (side: 'filter' | 'plain') => summarize(samples[side].map((x) => x.cpuMs));
  const [filterMs, plainMs, filterCpuMs, plainCpuMs] = [wall('filter'), wall('plain'), cpu('filter'), cpu('plain')];
  const bytesWritten = rounds.reduce((n, r) => n + r.reduce((m, [k, v]) => m + k.length + v.length, 0), 0);
  return {
    layout,
    expiredFraction,
    entries: p.ttlCompactionEntries,
    bytesWritten,
    filterMs,
    plainMs,
    ratio: filterMs.median / plainMs.median,
    filterCpuMs,
    plainCpuMs,
    cpuRatio: filterCpuMs.median / plainCpuMs.median,
    after: { filter: samples.filter[0]!.after, plain: samples.plain[0]!.after },
  };
}

/** Runs in a child process. */
export function runTtlCompactionSuite(p: Preset, log: (s: string) => void): TtlCompactionRow[] {
  const out: TtlCompactionRow[] = [];
  for (const layout of ['VALUE', 'MAP', 'LIST'] as const) {
    for (const expiredFraction of [0, 0.5]) {
      const row = measure(p, layout, expiredFraction);
      log(`  [ttl-compaction] ${layout} ${expiredFraction * 100}% expired: filter ${row.filterMs.median.toFixed(1)} ms, plain ${row.plainMs.median.toFixed(1)} ms (${row.ratio.toFixed(2)}×); CPU ${row.filterCpuMs.median.toFixed(1)} vs ${row.plainCpuMs.median.toFixed(1)} ms (${row.cpuRatio.toFixed(2)}×)`);
      out.push(row);
    }
  }
  return out;
}
