import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FsCheckpointStorage, MemoryFileSystem, Serializers, ValueStateDescriptor } from '@flowstate/core';
import { FsStateBackend } from '@flowstate/heap';
import { JobClient, sequenceLog, StreamExecutionEnvironment, summarize, type CheckpointingMode, type CompletedCheckpoint } from '../src/index.js';

const COUNT = new ValueStateDescriptor<number>('count', Serializers.int32, 0);

/** A fast source into a slow operator (1 ms per record): every channel upstream of it stays full. */
async function checkpointUnderBackpressure(mode: CheckpointingMode): Promise<CompletedCheckpoint> {
  const env = new StreamExecutionEnvironment(`backpressure-${mode}`, { parallelism: 2, maxParallelism: 16, bufferCapacity: 32 });
  env
    .fromLog('src', sequenceLog(2, 1_000_000, (p, o) => ({ key: `k${(p * 13 + o) % 50}`, payload: 'x'.repeat(64) })))
    .map('tag', (r) => ({ ...r, tagged: true }))
    .keyBy((r) => r.key, Serializers.string)
    .process<number>('slow-count', () => ({
      async processElement(_r, ctx, out) {
        await new Promise((resolve) => setTimeout(resolve, 1));
        const s = ctx.getState(COUNT);
        s.update((s.value() ?? 0) + 1);
        out.collect(s.value() ?? 0);
      },
    }))
    .sinkTo('discard', () => ({ invoke() {} }));
  const job = await JobClient.execute(env.getJobGraph(), {
    stateBackend: new FsStateBackend(),
    checkpointStorage: new FsCheckpointStorage(new MemoryFileSystem()),
    checkpointing: { mode, timeoutMs: 30_000 },
  });
  // Let the buffers fill up before the checkpoint.
  await new Promise((r) => setTimeout(r, 150));
  const cp = await job.triggerCheckpoint();
  job.cancel();
  const res = await job.result;
  assert.equal(res.status, 'CANCELLED');
  return cp;
}

test('unaligned checkpoints complete under backpressure with in-flight data persisted; aligned ones wait for alignment', async () => {
  const unaligned = await checkpointUnderBackpressure('UNALIGNED');
  const aligned = await checkpointUnderBackpressure('EXACTLY_ONCE');
  const u = summarize(unaligned.stats);
  const a = summarize(aligned.stats);
  console.log(
    `under backpressure: unaligned ${unaligned.stats.durationMs} ms (persisted in-flight ${u.persistedInflightBytes} B, alignment ${u.maxAlignmentMs} ms); ` +
      `aligned ${aligned.stats.durationMs} ms (alignment ${a.maxAlignmentMs} ms, processed during alignment ${a.processedInflightBytes} B)`,
  );
  assert.equal(unaligned.stats.status, 'COMPLETED');
  assert.ok(u.unaligned, 'the checkpoint ran unaligned');
  assert.ok(u.persistedInflightBytes > 0, 'in-flight records were persisted as channel state');
  assert.ok(unaligned.metadata.operators.some((o) => o.subtasks.some((s) => (s.channelState?.length ?? 0) > 0)), 'metadata references channel state');
  assert.equal(a.persistedInflightBytes, 0);
  // 32 queued records per channel at 1 ms each: alignment cannot be shorter than the queue drains.
  assert.ok(a.maxAlignmentMs >= 10 || aligned.stats.durationMs >= 30, `aligned checkpoint shows the alignment wait (${a.maxAlignmentMs} ms)`);
  assert.ok(unaligned.stats.durationMs < aligned.stats.durationMs, 'unaligned is faster than aligned under backpressure');
});

test('an unaligned checkpoint with channel state restores at another parallelism with exact counts', async () => {
  const { InMemoryUpsertTable, UpsertSink } = await import('../src/index.js');
  const table = new InMemoryUpsertTable<number>();
  const records = 1500;
  const build = (parallelism: number, slow: boolean) => {
    const env = new StreamExecutionEnvironment('rescale-unaligned', { parallelism: 2, maxParallelism: 16, bufferCapacity: 32 });
    env
      .fromLog('src', sequenceLog(2, records, (p, o) => ({ key: `k${(p * 13 + o) % 40}` })))
      .map('tag', (r) => ({ ...r, tagged: true }))
      .keyBy((r) => r.key, Serializers.string)
      .process<[string, number]>(
        'count',
        () => ({
          async processElement(r, ctx, out) {
            if (slow) await new Promise((resolve) => setTimeout(resolve, 1));
            const s = ctx.getState(COUNT);
            const c = (s.value() ?? 0) + 1;
            s.update(c);
            out.collect([r.key, c]);
          },
        }),
        { parallelism },
      )
      .sinkTo('upsert', () => new UpsertSink<[string, number], number>(table, (r) => r[0], (r) => r[1]), { parallelism });
    return env.getJobGraph();
  };
  const storage = new FsCheckpointStorage(new MemoryFileSystem());
  const first = await JobClient.execute(build(2, true), { stateBackend: new FsStateBackend(), checkpointStorage: storage, checkpointing: { mode: 'UNALIGNED' } });
  await new Promise((r) => setTimeout(r, 120));
  const cp = await first.triggerCheckpoint();
  first.cancel();
  await first.result;
  assert.ok(summarize(cp.stats).persistedInflightBytes > 0, 'the checkpoint holds in-flight records');
  const second = await JobClient.execute(build(3, false), {
    stateBackend: new FsStateBackend(),
    checkpointStorage: storage,
    checkpointing: { mode: 'UNALIGNED' },
    restoreFrom: { storage, pointer: cp.pointer },
  });
  assert.equal((await second.result).status, 'FINISHED');
  const expected = new Map<string, number>();
  for (let p = 0; p < 2; p++) for (let o = 0; o < records; o++) expected.set(`k${(p * 13 + o) % 40}`, (expected.get(`k${(p * 13 + o) % 40}`) ?? 0) + 1);
  assert.deepEqual(new Map([...table.rows].sort()), new Map([...expected].sort()));
});

test('credit-based backpressure: a slow sink bounds what the source has emitted ahead of it', async () => {
  let emitted = 0;
  let sunk = 0;
  const env = new StreamExecutionEnvironment('credit', { parallelism: 1, bufferCapacity: 8 });
  env
    .fromLog('src', sequenceLog(1, 1_000_000, (_p, o) => o))
    .map('a', (x) => x + 1)
    .map('b', (x) => x * 2)
    .sinkTo('slow', () => ({
      async invoke() {
        await new Promise((r) => setTimeout(r, 2));
        sunk++;
      },
    }));
  const job = await JobClient.execute(env.getJobGraph(), {
    stateBackend: new FsStateBackend(),
    hooks: {
      onEmit(t) {
        if (t.uid === 'src') emitted++;
      },
    },
  });
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 40));
    samples.push(emitted - sunk);
  }
  job.cancel();
  await job.result;
  // Three channels of 8 credits, plus one record in hand per task: nothing else can be in flight.
  for (const s of samples) assert.ok(s <= 3 * 8 + 4, `in flight ${s} records exceeds the credits`);
  assert.ok(sunk > 0 && emitted < 1000, `the source was slowed to the sink's pace (emitted ${emitted}, sunk ${sunk})`);
});

test('expired checkpoints fail and are tolerated up to tolerableFailedCheckpoints', async () => {
  const env = new StreamExecutionEnvironment('expire', { parallelism: 1, bufferCapacity: 64 });
  let slow = true;
  env
    .fromLog('src', sequenceLog(1, 1_000_000, (_p, o) => ({ k: `k${o % 5}` })))
    .keyBy((r) => r.k, Serializers.string)
    .process<number>('slow', () => ({
      async processElement(_r, _c, out) {
        if (slow) await new Promise((r) => setTimeout(r, 2));
        out.collect(1);
      },
    }))
    .sinkTo('discard', () => ({ invoke() {} }));
  const job = await JobClient.execute(env.getJobGraph(), {
    stateBackend: new FsStateBackend(),
    checkpointStorage: new FsCheckpointStorage(new MemoryFileSystem()),
    // 64 queued records at 2 ms each cannot align in 20 ms.
    checkpointing: { mode: 'EXACTLY_ONCE', timeoutMs: 20, tolerableFailedCheckpoints: 5, minPauseBetweenCheckpointsMs: 50 },
  });
  await new Promise((r) => setTimeout(r, 100));
  await assert.rejects(job.triggerCheckpoint(), (e: unknown) => e instanceof Error && /EXPIRED/.test(e.message));
  slow = false;
  const ok1 = await job.triggerCheckpoint();
  job.cancel();
  const res = await job.result;
  assert.equal(res.attempts, 1, 'a tolerated failure does not fail the job over');
  const stats = job.checkpointStats;
  assert.equal(stats[0]!.status, 'FAILED');
  assert.match(stats[0]!.failureReason ?? '', /EXPIRED/);
  assert.equal(ok1.stats.status, 'COMPLETED');
});

test('periodic checkpoints keep the minimum pause after each completion', async () => {
  const env = new StreamExecutionEnvironment('pause', { parallelism: 2, maxParallelism: 16 });
  env
    .fromLog('src', sequenceLog(2, 1_000_000, (_p, o) => ({ k: `k${o % 7}` })))
    .keyBy((r) => r.k, Serializers.string)
    .process<number>('count', () => ({
      processElement(_r, ctx, out) {
        const s = ctx.getState(COUNT);
        s.update((s.value() ?? 0) + 1);
        out.collect(1);
      },
    }))
    .sinkTo('discard', () => ({ invoke() {} }));
  const job = await JobClient.execute(env.getJobGraph(), {
    stateBackend: new FsStateBackend(),
    checkpointStorage: new FsCheckpointStorage(new MemoryFileSystem()),
    checkpointing: { intervalMs: 5, minPauseBetweenCheckpointsMs: 60 },
  });
  await new Promise((r) => setTimeout(r, 400));
  job.cancel();
  await job.result;
  const done = job.checkpointStats.filter((s) => s.status === 'COMPLETED');
  assert.ok(done.length >= 2, `${done.length} checkpoints completed`);
  for (let i = 1; i < done.length; i++) {
    const prev = done[i - 1]!;
    const gap = done[i]!.triggerTimestamp - (prev.triggerTimestamp + prev.durationMs);
    assert.ok(gap >= 59, `checkpoint ${done[i]!.checkpointId} triggered ${gap} ms after the previous completion`);
  }
});
