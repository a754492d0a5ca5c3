#!/usr/bin/env node
// Runtime benchmark (not a test). Prints two ratios:
//  1. throughput with checkpoints every 1 s / throughput with checkpointing off   (goal >= 0.8)
//  2. unaligned / aligned checkpoint duration under backpressure                 (goal <= 0.1)
// Usage: npx tsc -b packages/runtime && node packages/runtime/scripts/bench-runtime.mjs [--records N]
import { FsCheckpointStorage, MemoryFileSystem, Serializers, ValueStateDescriptor } from '@flowstate/core';
import { FsStateBackend } from '@flowstate/heap';
import { localCheckpointStorage } from '@flowstate/storage-local';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobClient, sequenceLog, StreamExecutionEnvironment, summarize } from '../dist/src/index.js';

const argIdx = process.argv.indexOf('--records');
const RECORDS = argIdx > 0 ? Number(process.argv[argIdx + 1]) : 2_000_000;
const COUNT = new ValueStateDescriptor('count', Serializers.int32, 0);

function throughputJob(records) {
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

async function throughput(checkpointing) {
  const dir = mkdtempSync(join(tmpdir(), 'flowstate-bench-runtime-'));
  const t0 = performance.now();
  const job = await JobClient.execute(throughputJob(RECORDS), {
    stateBackend: new FsStateBackend(),
    ...(checkpointing ? { checkpointStorage: localCheckpointStorage(dir), checkpointing: { intervalMs: 1000 } } : {}),
  });
  await job.result;
  const secs = (performance.now() - t0) / 1000;
  const completed = job.checkpointStats.filter((s) => s.status === 'COMPLETED').length;
  rmSync(dir, { recursive: true, force: true });
  return { rate: RECORDS / secs, secs, completed };
}

async function checkpointUnderBackpressure(mode) {
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
  await new Promise((r) => setTimeout(r, 300));
  const durations = [];
  let persisted = 0;
  let alignment = 0;
  for (let i = 0; i < 3; i++) {
    const cp = await job.triggerCheckpoint();
    durations.push(cp.stats.durationMs);
    const s = summarize(cp.stats);
    persisted += s.persistedInflightBytes;
    alignment = Math.max(alignment, s.maxAlignmentMs);
    await new Promise((r) => setTimeout(r, 100));
  }
  job.cancel();
  await job.result;
  durations.sort((a, b) => a - b);
  return { median: durations[1], durations, persisted, alignment };
}

console.log(`flowstate runtime bench (node ${process.version}), ${RECORDS} records, Fs backend, local checkpoint storage`);
// Warm up the JIT once so that the first measured run is not penalized.
await throughput(false);
const off = [];
const on = [];
for (let i = 0; i < 2; i++) {
  off.push(await throughput(false));
  on.push(await throughput(true));
}
const best = (xs) => xs.reduce((a, b) => (b.rate > a.rate ? b : a));
const bOff = best(off);
const bOn = best(on);
console.log(`checkpointing off:        ${Math.round(bOff.rate).toLocaleString('en')} records/s (${bOff.secs.toFixed(2)} s)`);
console.log(`checkpoints every 1 s:    ${Math.round(bOn.rate).toLocaleString('en')} records/s (${bOn.secs.toFixed(2)} s, ${bOn.completed} checkpoints)`);
const aligned = await checkpointUnderBackpressure('EXACTLY_ONCE');
const unaligned = await checkpointUnderBackpressure('UNALIGNED');
console.log(`aligned under backpressure:   median ${aligned.median} ms (${aligned.durations.join(', ')} ms), max alignment ${aligned.alignment} ms`);
console.log(`unaligned under backpressure: median ${unaligned.median} ms (${unaligned.durations.join(', ')} ms), persisted in-flight ${unaligned.persisted} B`);
const r1 = bOn.rate / bOff.rate;
const r2 = unaligned.median / aligned.median;
console.log(`\nratio throughput (checkpoints 1 s / off):          ${r1.toFixed(3)}  (goal >= 0.8: ${r1 >= 0.8 ? 'met' : 'NOT met'})`);
console.log(`ratio checkpoint duration (unaligned / aligned):  ${r2.toFixed(3)}  (goal <= 0.1: ${r2 <= 0.1 ? 'met' : 'NOT met'})`);
