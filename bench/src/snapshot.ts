/**
 * Snapshot benchmarks: full snapshots of ValueState<Uint8Array> (fixed-size values) to a local
 * checkpoint directory. Reports the synchronous pause (SnapshotFuture.syncDurationMs), the
 * asynchronous duration, bytes written, restore time, RSS before/peak during the snapshot, and a
 * `cp` of a file of the same byte volume as a disk baseline. Runs in its own child process.
 */
import { execFileSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHECKPOINT, Serializers, ValueStateDescriptor, VoidNamespace, type KeyedStateBackend, type KeyedStateHandle, type ValueState } from '@flowstate/core';
import { localCheckpointStorage } from '@flowstate/storage-local';
import { backendById, createKeyed, type BackendUnderTest } from './backends.js';
import type { Preset } from './config.js';
import { prng, summarize, type Summary } from './stats.js';

export interface SnapshotSample {
  readonly syncMs: number;
  readonly asyncMs: number;
  readonly totalMs: number;
  readonly bytesWritten: number;
  readonly restoreMs: number;
  readonly rssBeforeMb: number;
  /** Highest RSS sampled (every ms) while the snapshot ran, or maxRSS growth for the synchronous part. */
  readonly rssPeakMb: number;
  readonly heapUsedBeforeMb: number;
  readonly writesDuringSnapshot: number;
}

export interface ChurnSample {
  readonly churn: number;
  readonly syncMs: number;
  readonly asyncMs: number;
  readonly checkpointedSize: number;
  readonly fullSize: number;
}

export interface SnapshotResultRow {
  readonly backend: string;
  readonly stateBytes: number;
  readonly entries: number;
  readonly valueBytes: number;
  readonly samples: readonly SnapshotSample[];
  readonly syncMs: Summary;
  readonly asyncMs: Summary;
  readonly totalMs: Summary;
  readonly restoreMs: Summary;
  readonly bytesWritten: number;
  readonly rssBeforeMb: number;
  readonly rssPeakMb: number;
  /** cp of a file with bytesWritten bytes (page cache warm, like the snapshot's own writes). */
  readonly cpMs: Summary;
  /** median(totalMs) / median(cpMs). */
  readonly ratioToCp: number;
  /** Only for backends with incremental checkpoints (RocksDB, later). */
  readonly churn: readonly ChurnSample[];
}

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();
const mb = (b: number) => b / (1024 * 1024);

function populate(be: KeyedStateBackend<number>, st: ValueState<Uint8Array>, entries: number, valueBytes: number): void {
  for (let k = 0; k < entries; k++) {
    be.setCurrentKey(k);
    st.update(randomFillSync(new Uint8Array(valueBytes)));
  }
}

/**
 * Hook for incremental checkpoints: changes `churn` of the keys after a base checkpoint and takes
 * another one; checkpointedSize shows what the increment uploaded. Runs only for backends whose
 * entry has incrementalCheckpoints = true.
 */
async function churnVariants(b: BackendUnderTest, be: KeyedStateBackend<number>, st: ValueState<Uint8Array>, entries: number, valueBytes: number, dir: string, firstId: number): Promise<ChurnSample[]> {
  if (!b.incrementalCheckpoints) return [];
  const storage = localCheckpointStorage(dir);
  const out: ChurnSample[] = [];
  let id = firstId;
  const base = await storage.initializeLocationForCheckpoint(id);
  await be.snapshot(id, Date.now(), base.streamFactory, CHECKPOINT).result;
  be.notifyCheckpointComplete(id);
  for (const churn of [0.01, 0.1]) {
    const r = prng(id);
    for (let i = 0; i < Math.ceil(entries * churn); i++) {
      be.setCurrentKey(Math.floor(r() * entries));
      st.update(randomFillSync(new Uint8Array(valueBytes)));
    }
    id++;
    const loc = await storage.initializeLocationForCheckpoint(id);
    const t0 = performance.now();
    const f = be.snapshot(id, Date.now(), loc.streamFactory, CHECKPOINT);
    const t1 = performance.now();
    const res = await f.result;
    be.notifyCheckpointComplete(id);
    out.push({ churn, syncMs: f.syncDurationMs, asyncMs: performance.now() - t1 + (t1 - t0 - f.syncDurationMs), checkpointedSize: res.checkpointedSize, fullSize: res.fullSize });
  }
  return out;
}

export async function runSnapshotSuite(p: Preset, backendId: string, stateBytes: number, log: (s: string) => void): Promise<SnapshotResultRow> {
  const b = backendById(backendId);
  const entries = Math.max(1, Math.round(stateBytes / p.snapshotValueBytes));
  const work = mkdtempSync(join(tmpdir(), `flowstate-bench-snap-${b.id}-`));
  try {
    const be = await createKeyed(b, Serializers.int32, b.needsLocalDirectory ? { localDirectory: join(work, 'local') } : {});
    const st = be.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ValueStateDescriptor<Uint8Array>('blob', Serializers.bytes));
    const tp = performance.now();
    populate(be, st, entries, p.snapshotValueBytes);
    log(`  [${b.id}/snapshot ${mb(stateBytes).toFixed(1)} MB] ${entries} entries populated in ${(performance.now() - tp).toFixed(0)} ms`);
    const storageDir = join(work, 'checkpoints');
    const storage = localCheckpointStorage(storageDir);
    const samples: SnapshotSample[] = [];
    const rand = prng(7);
    for (let s = 0; s < p.snapshotSamples; s++) {
      const id = s + 1;
      const location = await storage.initializeLocationForCheckpoint(id);
      gc();
      const rssBefore = process.memoryUsage.rss();
      const heapBefore = process.memoryUsage().heapUsed;
      const maxRssBeforeKb = process.resourceUsage().maxRSS;
      let peak = rssBefore;
      let writes = 0;
      // While the asynchronous part runs, keep processing: write ~1% of the keys (exercises copy-on-write).
      const writeBudget = Math.ceil(entries * 0.01);
      const timer = setInterval(() => {
        const r = process.memoryUsage.rss();
        if (r > peak) peak = r;
        for (let i = 0; i < 64 && writes < writeBudget; i++, writes++) {
          be.setCurrentKey(Math.floor(rand() * entries));
          st.update(randomFillSync(new Uint8Array(p.snapshotValueBytes)));
        }
      }, 1);
      const t0 = performance.now();
      const future = be.snapshot(id, Date.now(), location.streamFactory, CHECKPOINT);
      const t1 = performance.now();
      const res = await future.result;
      const t2 = performance.now();
      clearInterval(timer);
      const rssAfter = process.memoryUsage.rss();
      if (rssAfter > peak) peak = rssAfter;
      // maxRSS (KiB) catches peaks inside the synchronous part, where no timer can run.
      const maxRssGrowth = process.resourceUsage().maxRSS * 1024;
      if (process.resourceUsage().maxRSS > maxRssBeforeKb && maxRssGrowth > peak) peak = maxRssGrowth;
      be.notifyCheckpointComplete(id);
      const handle = res.jobManagerOwnedSnapshot;
      if (!handle) throw new Error('snapshot produced no handle');
      // Restore into a fresh backend and check the entry count.
      gc();
      const r0 = performance.now();
      const restored = await createKeyed<number>(b, Serializers.int32, { restoreState: [handle as KeyedStateHandle], reader: storage });
      const restoreMs = performance.now() - r0;
      const n = restored.numKeyValueStateEntries();
      if (n !== entries) throw new Error(`restored ${n} entries, expected ${entries}`);
      restored.dispose();
      await storage.discardCheckpoint(id);
      samples.push({
        syncMs: future.syncDurationMs,
        asyncMs: t2 - t1,
        totalMs: t2 - t0,
        bytesWritten: res.fullSize,
        restoreMs,
        rssBeforeMb: mb(rssBefore),
        rssPeakMb: mb(peak),
        heapUsedBeforeMb: mb(heapBefore),
        writesDuringSnapshot: writes,
      });
      log(`  [${b.id}/snapshot ${mb(stateBytes).toFixed(1)} MB] #${id}: sync ${future.syncDurationMs.toFixed(1)} ms, async ${(t2 - t1).toFixed(1)} ms, ${mb(res.fullSize).toFixed(1)} MB, restore ${restoreMs.toFixed(0)} ms, RSS ${mb(rssBefore).toFixed(0)} -> peak ${mb(peak).toFixed(0)} MB`);
    }
    const churn = await churnVariants(b, be, st, entries, p.snapshotValueBytes, join(work, 'churn'), p.snapshotSamples + 1);
    be.dispose();
    // Disk baseline: cp of a file with the same byte volume.
    const bytesWritten = samples[0]?.bytesWritten ?? 0;
    const src = join(work, 'cp-src.bin');
    const dst = join(work, 'cp-dst.bin');
    const chunk = randomFillSync(Buffer.alloc(Math.min(bytesWritten, 16 * 1024 * 1024)));
    const parts: Buffer[] = [];
    for (let left = bytesWritten; left > 0; left -= chunk.length) parts.push(left >= chunk.length ? chunk : chunk.subarray(0, left));
    writeFileSync(src, Buffer.concat(parts));
    const cp: number[] = [];
    for (let s = 0; s < Math.max(3, p.snapshotSamples); s++) {
      rmSync(dst, { force: true });
      const c0 = performance.now();
      execFileSync('cp', [src, dst]);
      cp.push(performance.now() - c0);
    }
    const totalMs = summarize(samples.map((x) => x.totalMs));
    const cpMs = summarize(cp);
    return {
      backend: b.id,
      stateBytes,
      entries,
      valueBytes: p.snapshotValueBytes,
      samples,
      syncMs: summarize(samples.map((x) => x.syncMs)),
      asyncMs: summarize(samples.map((x) => x.asyncMs)),
      totalMs,
      restoreMs: summarize(samples.map((x) => x.restoreMs)),
      bytesWritten,
      rssBeforeMb: summarize(samples.map((x) => x.rssBeforeMb)).median,
      rssPeakMb: summarize(samples.map((x) => x.rssPeakMb)).median,
      cpMs,
      ratioToCp: totalMs.median / cpMs.median,
      churn,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
