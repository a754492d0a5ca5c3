/**
 * Window benchmark: the throughput of a windowed job vs the same job without windows, same run.
 * Both read the same out-of-order, event-time source (watermarks with a bounded out-of-orderness)
 * and key it by user; the plain job keeps a running count per key in value state, the windowed
 * jobs count per key in tumbling windows (aggregating state in a TimeWindow namespace, an
 * event-time timer per window) or in session windows (merging: a merging window set per key,
 * namespaces merged through mergeNamespaces). Runs are interleaved after one untimed warm-up.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Serializers, ValueStateDescriptor, type AggregateFunction, type StateBackend } from '@flowstate/core';
import { FsStateBackend } from '@flowstate/heap';
import { RocksDBStateBackend } from '@flowstate/rocksdb';
import { JobClient, sequenceLog, SessionWindows, StreamExecutionEnvironment, TumblingWindows, WatermarkStrategy, type KeyedStream } from '@flowstate/runtime';
import type { Preset } from './config.js';
import { summarize, type Summary } from './stats.js';

export type WindowVariant = 'plain' | 'tumbling' | 'session';
const VARIANTS: readonly WindowVariant[] = ['plain', 'tumbling', 'session'];

export interface WindowRun {
  readonly backend: string;
  readonly variant: WindowVariant;
  readonly recordsPerSec: number;
  readonly secs: number;
  readonly emitted: number;
}

export interface WindowBackendResult {
  readonly backend: string;
  readonly recordsPerSec: Record<WindowVariant, Summary>;
  /** median(windowed) / median(plain). */
  readonly tumblingRatio: number;
  readonly sessionRatio: number;
}

export interface WindowsResult {
  readonly records: number;
  readonly keys: number;
  readonly runs: readonly WindowRun[];
  readonly backends: readonly WindowBackendResult[];
}

interface Event {
  readonly key: string;
  readonly ts: number;
}

const KEYS = 1000;
const TUMBLE_MS = 1000;
const SESSION_GAP_MS = 500;
const COUNT = new ValueStateDescriptor<number>('count', Serializers.int32, 0);
const COUNTING: AggregateFunction<Event, number, number> = { createAccumulator: () => 0, add: (_e, n) => n + 1, getResult: (n) => n, merge: (a, b) => a + b };

/** 1 ms of event time per record and partition, up to 50 ms out of order; each key bursts (sessions end). */
function event(p: number, o: number): Event {
  const burst = Math.floor(o / 2000);
  return { key: `k${(o * 31 + p * 17 + burst * 7) % KEYS}`, ts: o + ((o * 13 + p * 7) % 50) };
}

function keyed(env: StreamExecutionEnvironment, records: number): KeyedStream<string, Event> {
  return env
    .fromLog('src', sequenceLog(4, records / 4, event), { watermarks: WatermarkStrategy.forBoundedOutOfOrderness<Event>(50).withTimestampAssigner((e) => e.ts).withPeriodicEmitEvery(64) })
    .keyBy((e) => e.key, Serializers.string);
}

function job(variant: WindowVariant, records: number, emitted: { n: number }) {
  const env = new StreamExecutionEnvironment(`bench-windows-${variant}`, { parallelism: 2, maxParallelism: 128, bufferCapacity: 256 });
  const k = keyed(env, records);
  const sink = () => ({ invoke: () => void emitted.n++ });
  if (variant === 'plain') {
    k.process<number>('count', () => ({
      processElement(_e, ctx, out) {
        const s = ctx.getState(COUNT);
        const c = (s.value() ?? 0) + 1;
        s.update(c);
        // A record per 100 inputs: about what the windowed jobs emit, so the sink's share is alike.
        if (c % 100 === 0) out.collect(c);
      },
    })).sinkTo('sink', sink);
  } else {
    const assigner = variant === 'tumbling' ? TumblingWindows.eventTime<Event>(TUMBLE_MS) : SessionWindows.eventTime<Event>(SESSION_GAP_MS);
    k.window(assigner).aggregate<number, number>('count', COUNTING, Serializers.float64).sinkTo('sink', sink);
  }
  return env.getJobGraph();
}

async function run(backendId: string, create: (dir: string) => StateBackend, variant: WindowVariant, records: number): Promise<WindowRun> {
  const dir = mkdtempSync(join(tmpdir(), 'flowstate-bench-windows-'));
  try {
    const emitted = { n: 0 };
    const t0 = performance.now();
    const client = await JobClient.execute(job(variant, records, emitted), { stateBackend: create(dir) });
    await client.result;
    const secs = (performance.now() - t0) / 1000;
    return { backend: backendId, variant, recordsPerSec: records / secs, secs, emitted: emitted.n };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const BACKENDS: ReadonlyArray<{ id: string; create: (dir: string) => StateBackend }> = [
  { id: 'fs', create: () => new FsStateBackend() },
  { id: 'rocksdb', create: (dir) => new RocksDBStateBackend({ localDirectory: dir }) },
];

/** A record count the 4 source partitions share evenly. */
const partitionsOf = (n: number): number => Math.max(4, Math.round(n / 4) * 4);

export async function runWindowsSuite(p: Preset, log: (s: string) => void): Promise<WindowsResult> {
  const records = p.windowRecords;
  const runs: WindowRun[] = [];
  const backends: WindowBackendResult[] = [];
  for (const b of BACKENDS) {
    // RocksDB runs a tenth of the records: it is an order of magnitude slower per access.
    const n = b.id === 'rocksdb' ? partitionsOf(records / 10) : records;
    for (const v of VARIANTS) await run(b.id, b.create, v, partitionsOf(n / 10)); // warm-up (JIT), untimed
    const mine: WindowRun[] = [];
    for (let i = 0; i < p.windowSamples; i++) {
      for (const v of VARIANTS) {
        const r = await run(b.id, b.create, v, n);
        mine.push(r);
        log(`  [windows] ${b.id} ${v}: ${n} records, ${Math.round(r.recordsPerSec)} records/s (${r.secs.toFixed(2)} s, ${r.emitted} results)`);
      }
    }
    runs.push(...mine);
    const per = (v: WindowVariant) => summarize(mine.filter((r) => r.variant === v).map((r) => r.recordsPerSec));
    const recordsPerSec = { plain: per('plain'), tumbling: per('tumbling'), session: per('session') };
    backends.push({ backend: b.id, recordsPerSec, tumblingRatio: recordsPerSec.tumbling.median / recordsPerSec.plain.median, sessionRatio: recordsPerSec.session.median / recordsPerSec.plain.median });
  }
  return { records, keys: KEYS, runs, backends };
}
