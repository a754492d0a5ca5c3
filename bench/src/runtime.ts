/**
 * Runtime benchmark:
 *  1. job throughput with checkpoints every 1 s vs checkpointing off, and the same work staged in
 *     batches without a runtime (runtime-baseline.ts); runs interleaved baseline / off / on after
 *     one untimed warm-up run of each;
 *  2. under backpressure (a keyed operator that awaits a 1 ms timer per record, 64-record channel
 *     buffers), the duration of unaligned vs aligned (EXACTLY_ONCE) checkpoints of the same job.
 * Fs (heap) state backend; checkpoints of (1) go to a local directory, those of (2) to an
 * in-memory file system so that only the barrier path is measured.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsCheckpointStorage, MemoryFileSystem, Serializers, ValueStateDescriptor } from '@flowstate/core';
import { FsStateBackend } from '@flowstate/heap';
import { JobClient, sequenceLog, StreamExecutionEnvironment, summarize as summarizeCheckpoint, type CheckpointingMode } from '@flowstate/runtime';
import { localCheckpointStorage } from '@flowstate/storage-local';
import type { Preset } from './config.js';
import { runStagedBaseline } from './runtime-baseline.js';
import { summarize, type Summary } from './stats.js';

export interface RuntimeThroughputRun {
  readonly checkpointing: boolean;
  /** Records per second of the process's CPU time (user + system, every thread): the machine is shared, so wall time mostly measures the neighbours. */
  readonly recordsPerSec: number;
  readonly secs: number;
  readonly cpuSecs: number;
  readonly completedCheckpoints: number;
  /** Completed checkpoints the interval triggered: all but the final one (FLIP-147) a finished job with checkpointing takes. Absent in results written before session 33. */
  readonly periodicCheckpoints?: number;
  /** Checkpoints triggered and not completed (failed, timed out, aborted); absent in results written before session 33. */
  readonly failedCheckpoints?: number;
}

export interface BackpressureResult {
  readonly mode: CheckpointingMode;
  readonly durationsMs: readonly number[];
  readonly durationMs: Summary;
  readonly persistedInflightBytes: number;
  readonly maxAlignmentMs: number;
}

export interface RuntimeResult {
  readonly records: number;
  readonly intervalMs: number;
  readonly runs: readonly RuntimeThroughputRun[];
  readonly offRecordsPerSec: Summary;
  readonly onRecordsPerSec: Summary;
  /** The median over samples of on / off, each sample's two runs adjacent (their order alternating). */
  readonly throughputRatio: number;
  /** The fewest periodic checkpoints of any run with checkpointing: below MIN_PERIODIC_CHECKPOINTS (runtime-goals.ts) the ratio measures no periodic checkpointing. */
  readonly minPeriodicCheckpoints?: number;
  /** Checkpoints that did not complete, over every run with checkpointing: any fails the checkpointing goal. */
  readonly failedCheckpoints?: number;
  /** The same work staged in batches of 256 on one thread, no runtime (runtime-baseline.ts), interleaved with the job runs. */
  readonly baselineRecordsPerSec: Summary;
  /** The median over samples of off / baseline (each sample runs the baseline first, then off and on in alternating order). */
  readonly baselineRatio: number;
  readonly aligned: BackpressureResult;
  readonly unaligned: BackpressureResult;
  /** median(unaligned) / median(aligned). */
  readonly durationRatio: number;
  /** Warm-up jobs kept reachable through the timed runs (warmUpThroughputJobs); absent in results written before session 37, whose timed runs recompiled their hot loops. */
  readonly warmUpJobsKept?: number;
}

export function cpuSecondsSince(c0: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e6;
}

const COUNT = new ValueStateDescriptor('count', Serializers.int32, 0);
const INTERVAL_MS = 1000;
/** Records of the untimed warm-up runs without checkpointing: enough to compile their paths. */
const WARMUP_RECORDS = 1_000_000;
/** Records of the untimed warm-up run with checkpointing: ~1.3 s, so a periodic checkpoint and its mid-stream barriers are compiled too. */
const CHECKPOINTING_WARMUP_RECORDS = 3_000_000;

function throughputJob(records: number) {
  const env = new StreamExecutionEnvironment('bench-throughput', { parallelism: 2, maxParallelism: 128, bufferCapacity: 256 });
  env
    .fromLog('src', sequenceLog(4, records / 4, (p, o) => ({ key: `k${(o * 31 + p) % 10_000}`, v: o })))
    .map('enrich', (r) => ({ key: r.key, v: r.v + 1 }))
    .keyBy((r) => r.key, Serializers.string)
    .process('count', () => ({
      processElement(r, ctx, out) {
        const s = ctx.getState(COUNT);
        s.update((s.value() ?? 0) + 1);
        out.collect(r.v);
      },
    }))
    .sinkTo('discard', () => ({ invoke() {} }));
  return env.getJobGraph();
}

/**
 * Runs the throughput job once. `keepAlive`, when given, gets the finished job (and through it its
 * tasks, channels and backends): see warmUpThroughputJobs.
 */
export async function runThroughput(records: number, checkpointing: boolean, keepAlive?: unknown[]): Promise<RuntimeThroughputRun> {
  const dir = mkdtempSync(join(tmpdir(), 'flowstate-bench-runtime-'));
  try {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const job = await JobClient.execute(throughputJob(records), {
      stateBackend: new FsStateBackend(),
      ...(checkpointing ? { checkpointStorage: localCheckpointStorage(dir), checkpointing: { intervalMs: INTERVAL_MS } } : {}),
    });
    await job.result;
    keepAlive?.push(job);
    const secs = (performance.now() - t0) / 1000;
    const cpuSecs = cpuSecondsSince(c0);
    const completedCheckpoints = job.checkpointStats.filter((s) => s.status === 'COMPLETED').length;
    // A finished job with checkpointing ends with its final checkpoint; the others were periodic.
    const periodicCheckpoints = checkpointing ? Math.max(0, completedCheckpoints - 1) : 0;
    const failedCheckpoints = job.checkpointStats.filter((s) => s.status !== 'COMPLETED').length;
    return { checkpointing, recordsPerSec: records / cpuSecs, secs, cpuSecs, completedCheckpoints, periodicCheckpoints, failedCheckpoints };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function checkpointUnderBackpressure(mode: CheckpointingMode, checkpoints: number): Promise<BackpressureResult> {
  const env = new StreamExecutionEnvironment(`bench-bp-${mode}`, { parallelism: 2, maxParallelism: 16, bufferCapacity: 64 });
  env
    .fromLog('src', sequenceLog(2, 10_000_000, (p, o) => ({ key: `k${(p * 13 + o) % 100}`, payload: 'x'.repeat(100) })))
    .map('tag', (r) => r)
    .keyBy((r) => r.key, Serializers.string)
    .process('slow', () => ({
      async processElement(_r, ctx, out) {
        await new Promise((resolve) => setTimeout(resolve, 1));
        const s = ctx.getState(COUNT);
        s.update((s.value() ?? 0) + 1);
        out.collect(1);
      },
    }))
    .sinkTo('discard', () => ({ invoke() {} }));
  const job = await JobClient.execute(env.getJobGraph(), {
    stateBackend: new FsStateBackend(),
    checkpointStorage: new FsCheckpointStorage(new MemoryFileSystem()),
    checkpointing: { mode, timeoutMs: 120_000 },
  });
  // Let the buffers fill up (backpressure) before the first barrier.
  await new Promise((r) => setTimeout(r, 300));
  const durationsMs: number[] = [];
  let persistedInflightBytes = 0;
  let maxAlignmentMs = 0;
  for (let i = 0; i < checkpoints; i++) {
    const cp = await job.triggerCheckpoint();
    durationsMs.push(cp.stats.durationMs);
    const s = summarizeCheckpoint(cp.stats);
    persistedInflightBytes += s.persistedInflightBytes;
    maxAlignmentMs = Math.max(maxAlignmentMs, s.maxAlignmentMs);
    await new Promise((r) => setTimeout(r, 100));
  }
  job.cancel();
  await job.result.catch(() => {});
  return { mode, durationsMs, durationMs: summarize(durationsMs), persistedInflightBytes, maxAlignmentMs };
}

/**
 * The untimed warm-up (JIT) of every timed path: one run without checkpointing, one with. The
 * checkpointing run too: its first run compiled the coordinator, snapshot and storage code (~45%
 * more CPU than the runs after it), and with few samples that one run moved the median of "on" by
 * ~10% (issue 16, session 18).
 *
 * Returns the two finished jobs, for the caller to keep reachable until its timed runs end. The
 * full GC before each timed run otherwise collected them, and with them the last objects of the
 * hidden classes (maps) the compiled code and its inline caches were specialized to: V8 clears
 * the feedback of dead maps, so every timed run deoptimized its hot loop again (5–15 bailouts per
 * run, `node --trace-deopt`), and a run with checkpointing did so at its first checkpoint, whose
 * copy-on-write and barrier paths were new to the code then (runSource, runOperator,
 * processBatch, pollInput and the state accessors recompiled: ~120 ms of CPU in a 2.3 s run).
 * With the warm-up kept reachable the timed runs had no bailout (issue 16, session 37;
 * runtime-warmup.test.ts pins it). A job that runs for hours pays that recompilation once.
 */
export async function warmUpThroughputJobs(records: number): Promise<unknown[]> {
  const kept: unknown[] = [];
  await runThroughput(Math.min(records, WARMUP_RECORDS), false, kept);
  await runThroughput(Math.min(records, CHECKPOINTING_WARMUP_RECORDS), true, kept);
  return kept;
}

export async function runRuntimeSuite(p: Preset, log: (s: string) => void): Promise<RuntimeResult> {
  const records = p.runtimeRecords;
  // Untimed warm-up, then off / on interleaved so drift hits both alike.
  const warmedUp = await warmUpThroughputJobs(records);
  const warmup = Math.min(records, WARMUP_RECORDS);
  await runStagedBaseline(warmup);
  const runs: RuntimeThroughputRun[] = [];
  const baseline: number[] = [];
  // A full GC before every timed run, so that none pays for the garbage of the one before it.
  const collect = (globalThis as { gc?: () => void }).gc ?? (() => {});
  for (let i = 0; i < p.runtimeSamples; i++) {
    collect();
    const b = await runStagedBaseline(records);
    baseline.push(records / b.cpuSecs);
    log(`  [runtime] ${records} records, staged batched baseline (no runtime): ${Math.round(records / b.cpuSecs)} records/CPU-s (${b.cpuSecs.toFixed(2)} CPU s, ${b.secs.toFixed(2)} s)`);
    // Off first in even samples, on first in odd ones: neither always runs after the other.
    for (const on of i % 2 === 0 ? [false, true] : [true, false]) {
      collect();
      const r = await runThroughput(records, on);
      runs.push(r);
      log(`  [runtime] ${records} records, checkpointing ${on ? `every ${INTERVAL_MS} ms` : 'off'}: ${Math.round(r.recordsPerSec)} records/CPU-s (${r.cpuSecs.toFixed(2)} CPU s, ${r.secs.toFixed(2)} s${on ? `, ${r.completedCheckpoints} checkpoints, ${r.periodicCheckpoints} periodic` : ''})`);
    }
  }
  const offRates = runs.filter((r) => !r.checkpointing).map((r) => r.recordsPerSec);
  const onRates = runs.filter((r) => r.checkpointing).map((r) => r.recordsPerSec);
  const off = summarize(offRates);
  const onS = summarize(onRates);
  const baselineRecordsPerSec = summarize(baseline);
  const aligned = await checkpointUnderBackpressure('EXACTLY_ONCE', p.runtimeBackpressureCheckpoints);
  const unaligned = await checkpointUnderBackpressure('UNALIGNED', p.runtimeBackpressureCheckpoints);
  log(`  [runtime] under backpressure: aligned ${aligned.durationsMs.join(', ')} ms (max alignment ${aligned.maxAlignmentMs} ms); unaligned ${unaligned.durationsMs.join(', ')} ms (persisted in-flight ${unaligned.persistedInflightBytes} B)`);
  return {
    records,
    intervalMs: INTERVAL_MS,
    runs,
    offRecordsPerSec: off,
    onRecordsPerSec: onS,
    // Per sample, then the median: load from neighbours drifts over a suite's half minute, and each
    // sample's runs are adjacent (a ratio of medians could pair a quiet run with a loaded one).
    throughputRatio: summarize(onRates.map((on, i) => on / offRates[i]!)).median,
    minPeriodicCheckpoints: Math.min(...runs.filter((r) => r.checkpointing).map((r) => r.periodicCheckpoints ?? 0)),
    failedCheckpoints: runs.reduce((n, r) => n + (r.failedCheckpoints ?? 0), 0),
    baselineRecordsPerSec,
    baselineRatio: summarize(offRates.map((o, i) => o / baseline[i]!)).median,
    aligned,
    unaligned,
    durationRatio: unaligned.durationMs.median / aligned.durationMs.median,
    // Read here, after the timed runs: the warm-up jobs stay reachable until then.
    warmUpJobsKept: warmedUp.length,
  };
}
