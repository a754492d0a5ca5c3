/**
 * Checkpoint storage throughput: one stream of `storageBytes` written through
 * FsCheckpointStorage (1 MiB writes, as the snapshot code does) and read back with readFully
 * (CRC32C verified), on every storage of the test registry (@flowstate/test-registry) that the
 * benchmarks use: a local directory, S3 (s3rver) and HDFS (the WebHDFS test server of
 * packages/storage-hdfs). Both servers run in their own child processes (`separateProcess`), so
 * they do not share this process's event loop. Remote numbers are reported as ratios to local,
 * measured in the same run. All three are loopback: they measure client + protocol + server cost,
 * not a network.
 */
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsCheckpointStorage } from '@flowstate/core';
import { storagesFor, type RunningStorage } from '@flowstate/test-registry';
import type { Preset } from './config.js';
import { summarize, type Summary } from './stats.js';

/** A storage id of the test registry ('local' first: the other rows are ratios to it). */
export type StorageTarget = string;

export interface StorageResult {
  readonly target: StorageTarget;
  readonly description: string;
  readonly bytes: number;
  readonly uploadMs: Summary;
  readonly downloadMs: Summary;
  /** MB/s from the medians. */
  readonly uploadMBps: number;
  readonly downloadMBps: number;
  /** Throughput relative to local in the same run (local = 1; < 1 is slower). */
  readonly uploadRatioToLocal: number;
  readonly downloadRatioToLocal: number;
}

const MB = 1024 * 1024;
const CHUNK = 1 << 20;

async function measure(target: StorageTarget, description: string, storage: FsCheckpointStorage, p: Preset, log: (s: string) => void) {
  const chunk = randomFillSync(new Uint8Array(CHUNK));
  const up: number[] = [];
  const down: number[] = [];
  for (let s = 0; s < p.storageSamples; s++) {
    const id = s + 1;
    const loc = await storage.initializeLocationForCheckpoint(id);
    const t0 = performance.now();
    const out = loc.streamFactory.createCheckpointStateOutputStream('EXCLUSIVE');
    for (let left = p.storageBytes; left > 0; left -= CHUNK) await out.write(left >= CHUNK ? chunk : chunk.subarray(0, left));
    const handle = await out.closeAndGetHandle();
    const t1 = performance.now();
    const data = await storage.readFully(handle, id);
    const t2 = performance.now();
    if (data.length !== p.storageBytes) throw new Error(`${target}: read ${data.length} bytes, wrote ${p.storageBytes}`);
    await storage.discardStateHandle(handle);
    up.push(t1 - t0);
    down.push(t2 - t1);
    log(`  [storage/${target}] ${(p.storageBytes / MB).toFixed(0)} MiB: upload ${(t1 - t0).toFixed(0)} ms, download ${(t2 - t1).toFixed(0)} ms`);
  }
  return { target, description, uploadMs: summarize(up), downloadMs: summarize(down) };
}

export async function runStorageSuite(p: Preset, log: (s: string) => void): Promise<StorageResult[]> {
  const work = mkdtempSync(join(tmpdir(), 'flowstate-bench-storage-'));
  const running: RunningStorage[] = [];
  try {
    const rows: Array<Awaited<ReturnType<typeof measure>>> = [];
    for (const entry of storagesFor('bench')) {
      const storage = await entry.start({ workDirectory: work, separateProcess: true });
      running.push(storage);
      rows.push(await measure(entry.id, storage.description, new FsCheckpointStorage(storage.createFileSystem()), p, log));
    }
    if (rows[0]?.target !== 'local') throw new Error("the registry's first bench storage must be 'local' (the others are ratios to it)");

    const local = rows[0]!;
    const mbps = (ms: number) => p.storageBytes / MB / (ms / 1000);
    return rows.map((r) => ({
      ...r,
      bytes: p.storageBytes,
      uploadMBps: mbps(r.uploadMs.median),
      downloadMBps: mbps(r.downloadMs.median),
      uploadRatioToLocal: local.uploadMs.median / r.uploadMs.median,
      downloadRatioToLocal: local.downloadMs.median / r.downloadMs.median,
    }));
  } finally {
    for (const s of running.reverse()) await s.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
