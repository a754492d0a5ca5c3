import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deserializeCheckpointMetadata, FsCheckpointStorage, MemoryFileSystem, Serializers, ValueStateDescriptor, type CheckpointStorage } from '@flowstate/core';
import { FsStateBackend } from '@flowstate/heap';
import { JobClient, sequenceLog, StreamExecutionEnvironment, summarize, TwoPhaseCommitFileSink, type CheckpointingMode, type JobGraph } from '../src/index.js';

const COUNT = new ValueStateDescriptor<number>('count', Serializers.int32, 0);
const RECORDS_PER_PARTITION = 750;

/** source -> map -> keyBy -> (slow) count -> 2PC file sink: the channels into `count` stay full. */
function slowCountJob(sinkFs: MemoryFileSystem): JobGraph {
  const env = new StreamExecutionEnvironment('end-of-job', { parallelism: 2, maxParallelism: 16, bufferCapacity: 8 });
  env
    .fromLog('src', sequenceLog(2, RECORDS_PER_PARTITION, (p, o) => ({ id: `${p}:${o}`, key: `k${(p * 13 + o) % 23}` })))
    .map('tag', (r) => ({ ...r }))
    .keyBy((r) => r.key, Serializers.string)
    .process<string>('count', () => ({
      async processElement(r, ctx, out) {
        await new Promise((resolve) => setImmediate(resolve));
        const s = ctx.getState(COUNT);
        s.update((s.value() ?? 0) + 1);
        out.collect(`${r.id} ${r.key} ${s.value()}`);
      },
    }))
    .sinkTo('sink', () => new TwoPhaseCommitFileSink<string>({ fs: sinkFs, directory: 'out', format: (s) => s }));
  return env.getJobGraph();
}

function expectedLines(): string[] {
  const counts = new Map<string, number>();
  const out: string[] = [];
  for (let o = 0; o < RECORDS_PER_PARTITION; o++) {
    for (let p = 0; p < 2; p++) {
      const key = `k${(p * 13 + o) % 23}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  // Per key, counts are 1..n in some order of ids; compare as a multiset of (id) and of (key, count).
  for (let p = 0; p < 2; p++) for (let o = 0; o < RECORDS_PER_PARTITION; o++) out.push(`${p}:${o}`);
  return out.sort();
}

async function latestRetained(storage: CheckpointStorage): Promise<string> {
  const all = await storage.listCompletedCheckpoints();
  assert.ok(all.length > 0, 'a checkpoint is retained');
  return all[all.length - 1]!;
}

for (const mode of ['UNALIGNED', 'EXACTLY_ONCE', 'AT_LEAST_ONCE'] as CheckpointingMode[]) {
  test(`${mode}: restarting a finished job from its latest retained checkpoint commits nothing twice (issue 10 §4)`, async () => {
    const sinkFs = new MemoryFileSystem();
    const storage = new FsCheckpointStorage(new MemoryFileSystem());
    const options = { stateBackend: new FsStateBackend(), checkpointStorage: storage, checkpointing: { mode, retainedCheckpoints: 2 } };
    const first = await JobClient.execute(slowCountJob(sinkFs), options);
    // A checkpoint under backpressure shows that records are in flight while the job runs.
    const mid = await first.triggerCheckpoint();
    if (mode === 'UNALIGNED') assert.ok(summarize(mid.stats).persistedInflightBytes > 0, 'records were in flight');
    assert.equal((await first.result).status, 'FINISHED');
    const pointer = await latestRetained(storage);
    const afterFirst = await TwoPhaseCommitFileSink.readCommitted(sinkFs, 'out');
    assert.deepEqual(afterFirst.map((l) => l.split(' ')[0]!).sort(), expectedLines(), 'the first run committed every record once');

    const second = await JobClient.execute(slowCountJob(sinkFs), { ...options, restoreFrom: { storage, pointer } });
    assert.equal((await second.result).status, 'FINISHED');
    const ids = (await TwoPhaseCommitFileSink.readCommitted(sinkFs, 'out')).map((l) => l.split(' ')[0]!).sort();
    assert.equal(ids.length, expectedLines().length, `${ids.length - expectedLines().length} records committed twice`);
    assert.deepEqual(ids, expectedLines());
    assert.deepEqual(await sinkFs.list(TwoPhaseCommitFileSink.pendingDir('out')), [], 'no pending transaction is left');
    const md = deserializeCheckpointMetadata((await storage.resolveCheckpoint(pointer)).metadata, pointer);
    const channelState = md.operators.flatMap((o) => o.subtasks.flatMap((s) => s.channelState ?? []));
    assert.deepEqual(channelState, [], 'the final checkpoint of a finished job holds no in-flight records');
  });
}
