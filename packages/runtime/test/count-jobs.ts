/** Keyed-count jobs that several runtime test files run (one definition, so that they stay alike). */
import { Serializers, ValueStateDescriptor } from '@flowstate/core';
import { sequenceLog, StreamExecutionEnvironment, UpsertSink, type InMemoryUpsertTable, type JobGraph } from '../src/index.js';
import type { SourceGate } from '../src/testing.js';

export const COUNT = new ValueStateDescriptor<number>('count', Serializers.int32, 0);

const yieldToCheckpoints = () => new Promise((r) => setImmediate(r));

/** Counts records per key (`k0`..`k6`) with a yield per record, so that checkpoints interleave; discards its output. */
export function discardingCountJob(name: string, parallelism: number): JobGraph {
  const env = new StreamExecutionEnvironment(name, { parallelism, maxParallelism: 16 });
  env
    .fromLog('src', sequenceLog(parallelism, 1_000_000, (_p, o) => ({ k: `k${o % 7}` })))
    .keyBy((r) => r.k, Serializers.string)
    .process<number>('count', () => ({
      async processElement(_r, ctx, out) {
        await yieldToCheckpoints();
        const s = ctx.getState(COUNT);
        s.update((s.value() ?? 0) + 1);
        out.collect(1);
      },
    }))
    .sinkTo('discard', () => ({ invoke() {} }));
  return env.getJobGraph();
}

export interface UpsertCountJob {
  name: string;
  parallelism: number;
  maxParallelism: number;
  bufferCapacity: number;
  /** Source partitions, each of `records` records keyed `k<partition>-<offset % keysPerPartition>`. */
  partitions: number;
  keysPerPartition: number;
  records: number;
  table: InMemoryUpsertTable<number>;
  /** Whether to yield (so that checkpoints interleave) before counting a record, given the key's count so far. */
  yieldBefore: (count: number) => boolean;
  /** Holds the input mid-run until the test opens it (see SourceGate). */
  gate?: SourceGate;
}

/** Keyed count whose output is the final count per key (upsert by key): replays do not change it. */
export function upsertCountJob(j: UpsertCountJob): JobGraph {
  const env = new StreamExecutionEnvironment(j.name, { parallelism: j.parallelism, maxParallelism: j.maxParallelism, bufferCapacity: j.bufferCapacity });
  const log = sequenceLog(j.partitions, j.records, (p, o) => ({ key: `k${p}-${o % j.keysPerPartition}` }));
  (j.gate ? env.addSource('src', j.gate.logSource(log)) : env.fromLog('src', log))
    .keyBy((e) => e.key, Serializers.string)
    .process<[string, number]>('count', () => ({
      async processElement(e, ctx, out) {
        const s = ctx.getState(COUNT);
        if (j.yieldBefore(s.value() ?? 0)) await yieldToCheckpoints();
        const c = (s.value() ?? 0) + 1;
        s.update(c);
        out.collect([e.key, c]);
      },
    }))
    .sinkTo('upsert', () => new UpsertSink<[string, number], number>(j.table, (r) => r[0], (r) => r[1]));
  return env.getJobGraph();
}

/** The final counts `upsertCountJob` writes for the same partitions, keys and records, sorted by key. */
export function expectedUpsertCounts(partitions: number, keysPerPartition: number, records: number): Map<string, number> {
  const m = new Map<string, number>();
  for (let p = 0; p < partitions; p++) for (let o = 0; o < records; o++) m.set(`k${p}-${o % keysPerPartition}`, (m.get(`k${p}-${o % keysPerPartition}`) ?? 0) + 1);
  return new Map([...m].sort());
}
