/**
 * Process RSS of an off-heap backend (RocksDB) as its state grows: ValueState<Uint8Array> (1 KiB
 * incompressible values) written up to each step size; after each step, `rssReads` random point
 * reads warm the block cache, V8 garbage is collected and RSS is sampled. The goal: RSS stays
 * within the empty process's RSS + block cache + all write buffers + a constant, i.e. it does not
 * grow with the state size. Runs in its own child process.
 */
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Serializers, ValueStateDescriptor, VoidNamespace } from '@flowstate/core';
import { dirBytes } from './dir-bytes.js';
import { backendById, createKeyed, ROCKSDB_BENCH_OPTIONS } from './backends.js';
import { GOALS, type Preset } from './config.js';
import { prng } from './stats.js';

export interface RssStep {
  readonly stateBytes: number;
  readonly entries: number;
  /** Bytes of the RocksDB directory on disk (SSTs + logs) at this step. */
  readonly diskBytes: number;
  readonly rssMb: number;
  readonly heapUsedMb: number;
  /** Process-wide external (off-V8-heap ArrayBuffer) memory V8 knows about. */
  readonly externalMb: number;
  readonly populateMs: number;
}

export interface RssResult {
  readonly backend: string;
  readonly blockCacheMb: number;
  /** writeBufferSize × maxWriteBufferNumber × column families holding data (the state's). */
  readonly writeBuffersMb: number;
  /** RSS after creating the backend and registering the state, before any write. */
  readonly emptyRssMb: number;
  /** emptyRss + block cache + write buffers + GOALS.rssConstantMb. */
  readonly boundMb: number;
  readonly steps: readonly RssStep[];
  /** Least-squares slope of RSS over state size (MB of RSS per 100 MB of state). */
  readonly slopeMbPer100Mb: number;
  readonly met: boolean;
}

const MB = 1024 * 1024;
const gc = (): void => {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error('rss suite needs --expose-gc');
  g();
  g();
};
const settle = () => new Promise<void>((r) => setTimeout(r, 50));


export async function runRssSuite(p: Preset, backendId: string, log: (s: string) => void): Promise<RssResult> {
  const b = backendById(backendId);
  const work = mkdtempSync(join(tmpdir(), `flowstate-bench-rss-${b.id}-`));
  try {
    const be = await createKeyed(b, Serializers.int32, { localDirectory: work });
    const st = be.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ValueStateDescriptor<Uint8Array>('blob', Serializers.bytes));
    const V = p.snapshotValueBytes;
    // Values are windows of one random pool (no per-value garbage); consecutive keys get distant windows.
    const pool = randomFillSync(new Uint8Array(16 * MB));
    const value = (k: number) => {
      const off = Math.imul(k, 2654435761) >>> 0;
      const start = off % (pool.length - V);
      return pool.subarray(start, start + V);
    };
    gc();
    await settle();
    const emptyRssMb = process.memoryUsage.rss() / MB;
    const steps: RssStep[] = [];
    let written = 0;
    const rand = prng(11);
    for (const stateBytes of p.rssStepsBytes) {
      const target = Math.round(stateBytes / V);
      const t0 = performance.now();
      for (; written < target; written++) {
        be.setCurrentKey(written);
        st.update(value(written));
      }
      const populateMs = performance.now() - t0;
      let s = 0;
      for (let i = 0; i < p.rssReads; i++) {
        be.setCurrentKey(Math.floor(rand() * written));
        s += st.value()?.length ?? 0;
      }
      if (s === 0) throw new Error('reads found nothing');
      gc();
      await settle();
      const m = process.memoryUsage();
      const step: RssStep = { stateBytes, entries: written, diskBytes: dirBytes(work), rssMb: m.rss / MB, heapUsedMb: m.heapUsed / MB, externalMb: m.external / MB, populateMs };
      steps.push(step);
      log(`  [${b.id}/rss] ${(stateBytes / MB).toFixed(0)} MB state (${(step.diskBytes / MB).toFixed(0)} MB on disk): RSS ${step.rssMb.toFixed(0)} MB (heap ${step.heapUsedMb.toFixed(0)} MB), populated in ${populateMs.toFixed(0)} ms`);
    }
    be.dispose();
    const blockCacheMb = ROCKSDB_BENCH_OPTIONS.blockCacheSize / MB;
    const writeBuffersMb = (ROCKSDB_BENCH_OPTIONS.writeBufferSize * ROCKSDB_BENCH_OPTIONS.maxWriteBufferNumber) / MB;
    const boundMb = emptyRssMb + blockCacheMb + writeBuffersMb + GOALS.rssConstantMb;
    const xs = steps.map((x) => x.stateBytes / MB);
    const ys = steps.map((x) => x.rssMb);
    const mx = xs.reduce((a, c) => a + c, 0) / xs.length;
    const my = ys.reduce((a, c) => a + c, 0) / ys.length;
    const den = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
    const slope = den === 0 ? 0 : xs.reduce((a, x, i) => a + (x - mx) * (ys[i]! - my), 0) / den;
    return { backend: b.id, blockCacheMb, writeBuffersMb, emptyRssMb, boundMb, steps, slopeMbPer100Mb: slope * 100, met: steps.every((x) => x.rssMb <= boundMb) };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
