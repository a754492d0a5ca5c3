import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CorruptCheckpointError,
  deserializeCheckpointMetadata,
  serializeCheckpointMetadata,
  FsCheckpointStorage,
  ListStateDescriptor,
  MemoryFileSystem,
  Serializers,
  ValueStateDescriptor,
  type CheckpointStorage,
  type ListState,
} from '@flowstate/core';
import { FsStateBackend } from '@flowstate/heap';
import { JobClient, sequenceLog, StopWithSavepointFailedError, type RuntimeHooks, StreamExecutionEnvironment, summarize, TwoPhaseCommitFileSink, type CheckpointingMode, type JobGraph, type ProcessFunction } from '../src/index.js';
import { runUntilSavepoint } from './scenarios.js';

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

const SUM = new ListStateDescriptor<number>('sum', Serializers.int32);
const SUM_RECORDS = 400;
const FULL_SUM = (SUM_RECORDS * (SUM_RECORDS - 1)) / 2;

/**
 * Sums its input in operator list state and emits `total <sum>` at the end of input, counting the
 * endInput calls; with `slowAndEchoing`, it yields before each record and passes it on as `record <v>`.
 */
function summing(endInputCalls: { n: number }, o: { slowAndEchoing: boolean }): ProcessFunction<number, string> {
  let state: ListState<number> | undefined;
  let sum = 0;
  return {
    initializeState(ctx) {
      state = ctx.getListState(SUM);
      sum = state.get().reduce((a, b) => a + b, 0);
    },
    snapshotState() {
      state!.update([sum]);
    },
    processElement: o.slowAndEchoing
      ? async (v, _ctx, out) => {
          await new Promise((resolve) => setImmediate(resolve));
          sum += v;
          out.collect(`record ${v}`);
        }
      : (v) => {
          sum += v;
        },
    endInput(out) {
      endInputCalls.n++;
      out.collect(`total ${sum}`);
    },
  };
}

/** Passes records through and emits their sum once, at the end of input (a bounded aggregate). */
function sumJob(sinkFs: MemoryFileSystem, endInputCalls: { n: number }): JobGraph {
  const env = new StreamExecutionEnvironment('sum', { parallelism: 1, bufferCapacity: 4 });
  env
    .fromLog('src', sequenceLog(1, SUM_RECORDS, (_p, o) => o))
    .process<string>('sum', () => summing(endInputCalls, { slowAndEchoing: true }))
    .sinkTo('sink', () => new TwoPhaseCommitFileSink<string>({ fs: sinkFs, directory: 'out', format: (s) => s }));
  return env.getJobGraph();
}

function expectedSumOutput(): string[] {
  return [...Array.from({ length: SUM_RECORDS }, (_, o) => `record ${o}`), `total ${FULL_SUM}`].sort();
}

test('restarting a finished job does not run endInput again: finished subtasks are restored as finished', async () => {
  const sinkFs = new MemoryFileSystem();
  const storage = new FsCheckpointStorage(new MemoryFileSystem());
  const calls = { n: 0 };
  const options = { stateBackend: new FsStateBackend(), checkpointStorage: storage, checkpointing: { mode: 'UNALIGNED' as const, retainedCheckpoints: 2 } };
  const first = await JobClient.execute(sumJob(sinkFs, calls), options);
  assert.equal((await first.result).status, 'FINISHED');
  assert.equal(calls.n, 1);
  const pointer = await latestRetained(storage);
  const second = await JobClient.execute(sumJob(sinkFs, calls), { ...options, restoreFrom: { storage, pointer } });
  assert.equal((await second.result).status, 'FINISHED');
  assert.equal(calls.n, 1, 'endInput ran once over both runs');
  assert.deepEqual((await TwoPhaseCommitFileSink.readCommitted(sinkFs, 'out')).sort(), expectedSumOutput());
  const md = deserializeCheckpointMetadata((await storage.resolveCheckpoint(pointer)).metadata, pointer);
  assert.ok(md.operators.every((o) => o.subtasks.every((s) => s.finished === true)), 'the final checkpoint marks every subtask finished');
});

test('stop-with-savepoint does not end the input (no endInput, nothing committed outside the savepoint); resuming finishes exactly once', async () => {
  const sinkFs = new MemoryFileSystem();
  const calls = { n: 0 };
  const options = { stateBackend: new FsStateBackend(), checkpointStorage: new FsCheckpointStorage(new MemoryFileSystem()), checkpointing: { mode: 'UNALIGNED' as const } };
  const { result: stopped, savepoints } = await runUntilSavepoint(sumJob(sinkFs, calls), options, { source: 'src', records: 100 });
  assert.equal(stopped.status, 'STOPPED');
  assert.equal(calls.n, 0, 'a stop without drain does not call endInput');
  const committed = await TwoPhaseCommitFileSink.readCommitted(sinkFs, 'out');
  assert.ok(committed.length > 0 && committed.length < SUM_RECORDS, `the stop committed a prefix (${committed.length} records)`);
  assert.ok(committed.every((l) => l.startsWith('record ')), 'no total was committed at the stop');
  const resumed = await JobClient.execute(sumJob(sinkFs, calls), { ...options, restoreFrom: { storage: savepoints, pointer: stopped.savepoint!.pointer } });
  assert.equal((await resumed.result).status, 'FINISHED');
  assert.equal(calls.n, 1);
  assert.deepEqual((await TwoPhaseCommitFileSink.readCommitted(sinkFs, 'out')).sort(), expectedSumOutput());
  assert.deepEqual(await sinkFs.list(TwoPhaseCommitFileSink.pendingDir('out')), []);
});

test('without checkpointing the two-phase-commit sink commits at finish (no final checkpoint will)', async () => {
  const sinkFs = new MemoryFileSystem();
  const calls = { n: 0 };
  const job = await JobClient.execute(sumJob(sinkFs, calls), { stateBackend: new FsStateBackend() });
  assert.equal((await job.result).status, 'FINISHED');
  assert.deepEqual((await TwoPhaseCommitFileSink.readCommitted(sinkFs, 'out')).sort(), expectedSumOutput());
  assert.deepEqual(await sinkFs.list(TwoPhaseCommitFileSink.pendingDir('out')), []);
});

test('a task failing after the stop-with-savepoint completed: the stop fails, the job restarts from the savepoint and runs on (no STOPPED result whose savepoint is stale)', async () => {
  const sinkFs = new MemoryFileSystem();
  const storage = new FsCheckpointStorage(new MemoryFileSystem());
  const savepoints = new FsCheckpointStorage(new MemoryFileSystem(), { layout: 'savepoint' });
  const calls = { n: 0 };
  let job: JobClient | undefined;
  let stopping: Promise<unknown> | undefined;
  let failed = false;
  const hooks: RuntimeHooks = {
    onRecord(t, n) {
      if (t.uid === 'src' && n === 100 && t.attempt === 0 && job !== undefined) {
        stopping = job.stopWithSavepoint(savepoints);
        stopping.catch(() => {}); // asserted below, once the job ended
      }
    },
    beforeNotifyComplete(t) {
      // The savepoint is complete; the sink fails before it commits.
      if (t.uid === 'sink' && stopping !== undefined && !failed) {
        failed = true;
        throw new Error('sink fails while committing the stop-with-savepoint');
      }
    },
  };
  job = await JobClient.execute(sumJob(sinkFs, calls), { stateBackend: new FsStateBackend(), checkpointStorage: storage, checkpointing: { mode: 'EXACTLY_ONCE' }, restartStrategy: { kind: 'fixed-delay', maxAttempts: 2, delayMs: 0 }, hooks });
  const result = await job.result;
  assert.ok(failed, 'the fault fired');
  await assert.rejects(stopping!, (e: unknown) => e instanceof StopWithSavepointFailedError && e.savepointPointer !== undefined);
  assert.equal(result.status, 'FINISHED', 'the job restarted from the savepoint and ran to the end');
  assert.equal(result.savepoint, undefined);
  assert.equal(calls.n, 1);
  assert.deepEqual((await TwoPhaseCommitFileSink.readCommitted(sinkFs, 'out')).sort(), expectedSumOutput());
});

test('metadata: finished must be a boolean, and a finished subtask carries no channel state (typed errors)', () => {
  const subtask = (extra: Record<string, unknown>) => ({ subtaskIndex: 0, keyed: [], operator: [], ...extra });
  const metadata = (st: Record<string, unknown>) =>
    serializeCheckpointMetadata({ checkpointId: 3, kind: 'CHECKPOINT', timestamp: 0, operators: [{ uid: 'a', parallelism: 1, maxParallelism: 1, subtasks: [st as never] }] });
  const channelState = [{ type: 'file', path: 'chk-3/in-flight', size: 10, checksum: 1 }];
  assert.equal(deserializeCheckpointMetadata(metadata(subtask({ finished: true })), 'ok').operators[0]!.subtasks[0]!.finished, true);
  assert.equal(deserializeCheckpointMetadata(metadata(subtask({ finished: false, channelState })), 'ok').operators[0]!.subtasks[0]!.finished, false);
  assert.throws(() => deserializeCheckpointMetadata(metadata(subtask({ finished: 'yes' })), 'f'), (e: unknown) => e instanceof CorruptCheckpointError && /finished/.test(e.message));
  assert.throws(() => deserializeCheckpointMetadata(metadata(subtask({ finished: true, channelState })), 'f'), (e: unknown) => e instanceof CorruptCheckpointError && /channelState/.test(e.message));
});

test('a failover restoring a checkpoint taken after part of the job finished does not run that part again', async () => {
  const sinkFs = new MemoryFileSystem();
  const storage = new FsCheckpointStorage(new MemoryFileSystem());
  const calls = { n: 0 };
  const LONG = 5_000;
  const env = new StreamExecutionEnvironment('partly-finished', { parallelism: 1, bufferCapacity: 8 });
  env
    .fromLog('short', sequenceLog(1, 50, (_p, o) => o))
    .process<string>('sum', () => summing(calls, { slowAndEchoing: false }))
    .sinkTo('sum-sink', () => new TwoPhaseCommitFileSink<string>({ fs: sinkFs, directory: 'sums', format: (s) => s }));
  env
    .fromLog('long', sequenceLog(1, LONG, (_p, o) => o))
    .process<string>('slow', () => ({
      // Slow in the first attempt only, so that attempt is still running when it is made to fail.
      async processElement(v, ctx, out) {
        if (ctx.attempt === 0) await new Promise((resolve) => setImmediate(resolve));
        out.collect(`record ${v}`);
      },
    }))
    .sinkTo('long-sink', () => new TwoPhaseCommitFileSink<string>({ fs: sinkFs, directory: 'long', format: (s) => s }));
  const job = await JobClient.execute(env.getJobGraph(), {
    stateBackend: new FsStateBackend(),
    checkpointStorage: storage,
    checkpointing: { mode: 'EXACTLY_ONCE' },
    restartStrategy: { kind: 'fixed-delay', maxAttempts: 1, delayMs: 0 },
  });
  while (calls.n === 0) await new Promise((r) => setImmediate(r));
  const cp = await job.triggerCheckpoint();
  const finished = new Map(cp.metadata.operators.map((o) => [o.uid, o.subtasks.every((s) => s.finished === true)]));
  assert.deepEqual(Object.fromEntries(finished), { short: true, sum: true, 'sum-sink': true, long: false, slow: false, 'long-sink': false });
  job.failTask(new Error('injected failure after part of the job finished'));
  const result = await job.result;
  assert.equal(result.status, 'FINISHED');
  assert.equal(result.attempts, 2);
  assert.equal(calls.n, 1, 'endInput of the finished pipeline did not run again');
  assert.deepEqual(await TwoPhaseCommitFileSink.readCommitted(sinkFs, 'sums'), [`total ${(50 * 49) / 2}`]);
  const long = (await TwoPhaseCommitFileSink.readCommitted(sinkFs, 'long')).sort();
  assert.deepEqual(long, Array.from({ length: LONG }, (_, o) => `record ${o}`).sort());
});
