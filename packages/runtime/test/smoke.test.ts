import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FsCheckpointStorage, MemoryFileSystem, Serializers, ValueStateDescriptor } from '@flowstate/core';
import { FsStateBackend } from '@flowstate/heap';
import { JobClient, sequenceLog, StreamExecutionEnvironment, TwoPhaseCommitFileSink } from '../src/index.js';

const COUNT = new ValueStateDescriptor<number>('count', Serializers.int32, 0);

test('smoke: keyed count, exactly once, 2pc sink', async () => {
  const env = new StreamExecutionEnvironment('smoke', { parallelism: 2, maxParallelism: 16, bufferCapacity: 8 });
  const out = new MemoryFileSystem();
  env
    .fromLog('src', sequenceLog(3, 500, (p, o) => ({ id: `${p}-${o}`, key: `k${(p * 7 + o) % 13}` })))
    .keyBy((r) => r.key, Serializers.string)
    .process<{ id: string; key: string; count: number }>('count', () => ({
      processElement(r, ctx, col) {
        const s = ctx.getState(COUNT);
        const c = (s.value() ?? 0) + 1;
        s.update(c);
        col.collect({ ...r, count: c });
      },
    }))
    .sinkTo('sink', () => new TwoPhaseCommitFileSink({ fs: out, directory: 'out' }));
  const job = await JobClient.execute(env.getJobGraph(), {
    stateBackend: new FsStateBackend(),
    checkpointStorage: new FsCheckpointStorage(new MemoryFileSystem()),
    checkpointing: { intervalMs: 5 },
  });
  const res = await job.result;
  console.log(res, job.formatCheckpointStats());
  const lines = await TwoPhaseCommitFileSink.readCommitted(out, 'out');
  assert.equal(lines.length, 1500);
});
