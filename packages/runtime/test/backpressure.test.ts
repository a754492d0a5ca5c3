import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FsCheckpointStorage, MemoryFileSystem, Serializers } from '@flowstate/core';
import { FsStateBackend } from '@flowstate/heap';
import {
  JobClient,
  JobFailedError,
  sequenceLog,
  WatermarkStrategy,
  StreamExecutionEnvironment,
  summarize,
  TooManyFailedCheckpointsError,
  type CheckpointingMode,
  type CompletedCheckpoint,
  type RuntimeHooks,
} from '../src/index.js';
import { COUNT, Gate, heldCounter, quiesce, until } from './gates.js';


interface BackpressureObservation {
  readonly checkpoint: CompletedCheckpoint;
  /** Tasks of the map before the blocked operator that snapshotted while the gate was still closed. */
  readonly snapshotsBehindTheGate: number;
  /** Per subtask of the blocked operator: records it processed from the gate opening to its snapshot. */
  readonly processedBeforeSnapshot: readonly number[];
}

const CAPACITY = 32;

/**
 * A source into a map into a keyed operator held at a gate: the channels fill, the source stalls.
 * Then a checkpoint is triggered, the runtime is left to settle, and the gate opens. What each
 * task did before its snapshot shows whether the barrier overtook the buffered records.
 */
async function checkpointUnderBackpressure(mode: CheckpointingMode): Promise<BackpressureObservation> {
  const gate = new Gate();
  const processed = [0, 0];
  const atSnapshot: number[] = [];
  let emitted = 0;
  let snapshotsBehindTheGate = 0;
  let gateOpen = false;
  const env = new StreamExecutionEnvironment(`backpressure-${mode}`, { parallelism: 2, maxParallelism: 16, bufferCapacity: CAPACITY });
  env
    .fromLog('src', sequenceLog(2, 1_000_000, (p, o) => ({ key: `k${(p * 13 + o) % 50}`, payload: 'x'.repeat(64) })))
    .map('tag', (r) => ({ ...r, tagged: true }))
    .keyBy((r) => r.key, Serializers.string)
    .process<number>(
      'blocked-count',
      heldCounter(
        () => gate.wait(),
        (i) => processed[i]!++,
      ),
    )
    .sinkTo('discard', () => ({ invoke() {} }));
  const hooks: RuntimeHooks = {
    onEmit(t) {
      if (t.uid === 'src') emitted++;
    },
    beforeSnapshot(t) {
      if (t.uid === 'tag' && !gateOpen) snapshotsBehindTheGate++;
      if (t.uid === 'blocked-count') atSnapshot[t.subtaskIndex] = processed[t.subtaskIndex]!;
    },
  };
  const job = await JobClient.execute(env.getJobGraph(), {
    stateBackend: new FsStateBackend(),
    checkpointStorage: new FsCheckpointStorage(new MemoryFileSystem()),
    checkpointing: { mode, timeoutMs: 600_000 },
    hooks,
  });
  await quiesce(() => emitted);
  const triggered = job.triggerCheckpoint();
  await quiesce(() => emitted + snapshotsBehindTheGate);
  const before = [...processed];
  gateOpen = true;
  gate.open();
  const checkpoint = await triggered;
  job.cancel();
  assert.equal((await job.result).status, 'CANCELLED');
  return { checkpoint, snapshotsBehindTheGate, processedBeforeSnapshot: atSnapshot.map((n, i) => n - before[i]!) };
}

test('under backpressure an unaligned barrier overtakes the buffered records and persists them; an aligned one waits behind them', async () => {
  const unaligned = await checkpointUnderBackpressure('UNALIGNED');
  const aligned = await checkpointUnderBackpressure('EXACTLY_ONCE');
  const u = summarize(unaligned.checkpoint.stats);
  const a = summarize(aligned.checkpoint.stats);
  console.log(
    `under backpressure: unaligned persisted ${u.persistedInflightBytes} B in flight, its blocked operator processed ${unaligned.processedBeforeSnapshot.join('+')} record(s) before its snapshot; ` +
      `aligned processed ${aligned.processedBeforeSnapshot.join('+')} record(s) first (${a.processedInflightBytes} B during alignment)`,
  );
  assert.equal(unaligned.checkpoint.stats.status, 'COMPLETED');
  assert.ok(u.unaligned, 'the checkpoint ran unaligned');
  // The mechanism, not the clock: barriers passed a task that had no output credit, and reached
  // the blocked operator ahead of the records queued before them.
  assert.equal(unaligned.snapshotsBehindTheGate, 2, 'the unaligned barrier passed the backpressured map');
  assert.equal(aligned.snapshotsBehindTheGate, 0, 'the aligned barrier stayed queued behind records');
  for (const n of unaligned.processedBeforeSnapshot) assert.ok(n <= 1, `unaligned: at most the record in hand is processed before the snapshot (${n})`);
  const alignedTotal = aligned.processedBeforeSnapshot.reduce((x, y) => x + y, 0);
  assert.ok(alignedTotal >= CAPACITY, `aligned: the records queued ahead of the barrier (at least one full channel) are processed first (${alignedTotal})`);
  assert.ok(u.persistedInflightBytes > 0, 'in-flight records were persisted as channel state');
  assert.ok(unaligned.checkpoint.metadata.operators.some((o) => o.subtasks.some((s) => (s.channelState?.length ?? 0) > 0)), 'metadata references channel state');
  assert.equal(a.persistedInflightBytes, 0);
});

test('an unaligned checkpoint with channel state restores at another parallelism with exact counts', async () => {
  const { InMemoryUpsertTable, UpsertSink } = await import('../src/index.js');
  const table = new InMemoryUpsertTable<number>();
  const records = 1500;
  const gate = new Gate();
  let emitted = 0;
  const build = (parallelism: number, gated: boolean) => {
    const env = new StreamExecutionEnvironment('rescale-unaligned', { parallelism: 2, maxParallelism: 16, bufferCapacity: 32 });
    env
      .fromLog('src', sequenceLog(2, records, (p, o) => ({ key: `k${(p * 13 + o) % 40}` })))
      .map('tag', (r) => ({ ...r, tagged: true }))
      .keyBy((r) => r.key, Serializers.string)
      .process<[string, number]>(
        'count',
        () => ({
          async processElement(r, ctx, out) {
            if (gated) await gate.wait();
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
  const hooks: RuntimeHooks = {
    onEmit(t) {
      if (t.uid === 'src') emitted++;
    },
  };
  const first = await JobClient.execute(build(2, true), { stateBackend: new FsStateBackend(), checkpointStorage: storage, checkpointing: { mode: 'UNALIGNED' }, hooks });
  await quiesce(() => emitted);
  const triggered = first.triggerCheckpoint();
  await quiesce(() => emitted);
  gate.open();
  const cp = await triggered;
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
  let maxAhead = 0;
  const env = new StreamExecutionEnvironment('credit', { parallelism: 1, bufferCapacity: 8 });
  env
    .fromLog('src', sequenceLog(1, 1_000_000, (_p, o) => o))
    .map('a', (x) => x + 1)
    .map('b', (x) => x * 2)
    .sinkTo('slow', () => ({
      async invoke() {
        // Sampled where it matters: every time the sink takes a record.
        maxAhead = Math.max(maxAhead, emitted - sunk);
        await new Promise((r) => setImmediate(r));
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
  await until(() => sunk >= 500);
  job.cancel();
  await job.result;
  // Three channels of 8 credits, plus one record in hand per task: nothing else can be in flight.
  assert.ok(maxAhead <= 3 * 8 + 4, `in flight ${maxAhead} records exceeds the credits`);
  assert.ok(emitted - sunk <= 3 * 8 + 4, `the source was held to the sink's pace (emitted ${emitted}, sunk ${sunk})`);
});

/**
 * Runs `build`'s job with a sink held at a gate on a channel of `capacity` credits, until nothing
 * moves; `uid` is the operator before the sink. Returns the most records that were queued on its
 * channel when it added one, then opens the gate and returns what the sink got in the end.
 */
async function heldBehindSink(
  name: string,
  capacity: number,
  uid: string,
  build: (env: StreamExecutionEnvironment) => { sinkTo(uid: string, f: () => { invoke(v: unknown): Promise<void> | undefined }): void },
  whileHeld: () => void,
): Promise<{ maxQueued: number; sunk: number }> {
  const gate = new Gate();
  let sent = 0;
  let sunk = 0;
  let maxQueued = 0;
  const env = new StreamExecutionEnvironment(name, { parallelism: 1, bufferCapacity: capacity });
  build(env).sinkTo('held', () => ({
    invoke() {
      return gate.wait();
    },
  }));
  const job = await JobClient.execute(env.getJobGraph(), {
    stateBackend: new FsStateBackend(),
    hooks: {
      onEmit(t) {
        // Sampled before every record `uid` sends: what is queued on its only channel.
        if (t.uid === uid) maxQueued = Math.max(maxQueued, sent++ - sunk);
      },
      onRecord(t) {
        if (t.uid === 'held') sunk++;
      },
    },
  });
  await quiesce(() => sent);
  assert.equal(sunk, 1, 'the sink holds its first record at the gate');
  whileHeld();
  gate.open();
  assert.equal((await job.result).status, 'FINISHED');
  return { maxQueued, sunk };
}

test('fan-out: a task reads its next input record only while every output channel has credit', async () => {
  const capacity = 8;
  const fanOut = 5;
  const records = 200;
  let fanned = 0;
  const { maxQueued, sunk } = await heldBehindSink('fan-out', capacity, 'fan', (env) =>
    env.fromLog('src', sequenceLog(1, records, (_p, o) => o)).flatMap<number>('fan', (x, out) => {
      fanned++;
      for (let i = 0; i < fanOut; i++) out.collect(x);
    }),
    () => assert.ok(fanned * fanOut >= capacity, `the channel filled (${fanned} records fanned out)`),
  );
  // A record's output is never split (Flink's overdraft): the last record read with one credit
  // left adds fanOut records, so the channel holds at most capacity - 1 + fanOut.
  assert.ok(maxQueued < capacity - 1 + fanOut, `${maxQueued + 1} records queued on a channel of ${capacity} credits with fan-out ${fanOut}`);
  assert.equal(sunk, records * fanOut);
});

test('event-time timers fired by one watermark fire only while the output has credit', async () => {
  const capacity = 8;
  const events = 200;
  let fired = 0;
  const { maxQueued, sunk } = await heldBehindSink('timers', capacity, 'timers', (env) =>
    env
      .fromLog('src', sequenceLog(1, events, (_p, o) => o), { watermarks: WatermarkStrategy.forMonotonousTimestamps<number>().withTimestampAssigner((o) => o) })
      .keyBy((o) => o % 10, Serializers.int32)
      .process<number>('timers', () => ({
        // Every timer is due only at the end of input: one watermark (MAX) fires all of them.
        processElement(o, ctx) {
          ctx.timerService().registerEventTimeTimer(events + 1000 + o);
        },
        onTimer(t, _ctx, out) {
          fired++;
          out.collect(t);
        },
      })),
    () => assert.ok(fired <= capacity + 1, `${fired} timers fired behind a held sink with ${capacity} credits`),
  );
  assert.ok(maxQueued < capacity, `${maxQueued + 1} records queued on a channel of ${capacity} credits`);
  assert.equal(fired, events, 'the watermark fired the rest of its timers once credit returned');
  assert.equal(sunk, events);
});

test('endInput starts only while every output channel has credit', async () => {
  const capacity = 8;
  const atEnd = 20;
  let ended = false;
  // 'pre' sends its endInput records after its MAX watermark (Flink's order), so 'ends' reads them
  // with credit, the last one taking its last credit right before its own end of input:
  // capacity + 1 records fill its channel (the sink holds one).
  const fromSource = 4;
  const fromPre = capacity + 1 - fromSource;
  const { maxQueued, sunk } = await heldBehindSink('end-input', capacity, 'ends', (env) =>
    env
      .fromLog('src', sequenceLog(1, fromSource, (_p, o) => o))
      .process<number>('pre', () => ({
        processElement(o, _ctx, out) {
          out.collect(o);
        },
        endInput(out) {
          for (let i = 0; i < fromPre; i++) out.collect(100 + i);
        },
      }))
      .process<number>('ends', () => ({
        processElement(o, _ctx, out) {
          out.collect(o);
        },
        endInput(out) {
          ended = true;
          for (let i = 0; i < atEnd; i++) out.collect(-i);
        },
      })),
    () => assert.equal(ended, false, 'endInput waits for credit behind a held sink'),
  );
  // endInput's output is one input record's: never split, so at most capacity - 1 + atEnd queued.
  assert.ok(maxQueued < capacity - 1 + atEnd, `${maxQueued + 1} records queued on a channel of ${capacity} credits`);
  assert.equal(sunk, fromSource + fromPre + atEnd);
});

test('expired checkpoints fail and are tolerated up to tolerableFailedCheckpoints', async (t) => {
  const env = new StreamExecutionEnvironment('expire', { parallelism: 1, bufferCapacity: 64 });
  const gate = new Gate();
  env
    .fromLog('src', sequenceLog(1, 1_000_000, (_p, o) => ({ k: `k${o % 5}` })))
    .map('tag', (r) => r)
    .keyBy((r) => r.k, Serializers.string)
    .process<number>('blocked', () => ({
      async processElement(_r, _c, out) {
        await gate.wait();
        out.collect(1);
      },
    }))
    .sinkTo('discard', () => ({ invoke() {} }));
  const job = await JobClient.execute(env.getJobGraph(), {
    stateBackend: new FsStateBackend(),
    checkpointStorage: new FsCheckpointStorage(new MemoryFileSystem()),
    // The gate stays closed: the aligned barrier is queued behind records that cannot move, so
    // these checkpoints can never complete, however fast or slow the machine is.
    checkpointing: { mode: 'EXACTLY_ONCE', timeoutMs: 20, tolerableFailedCheckpoints: 1 },
  });
  // The runtime's timers are unref'd and a stalled job schedules nothing: keep the process alive for the expiry.
  const keepAlive = setInterval(() => {}, 1000);
  t.after(() => clearInterval(keepAlive));
  let ended = false;
  const result = job.result.finally(() => (ended = true));
  result.catch(() => {});
  await assert.rejects(job.triggerCheckpoint(), (e: unknown) => e instanceof Error && /EXPIRED/.test(e.message));
  assert.equal(ended, false, 'one expired checkpoint is tolerated');
  await assert.rejects(job.triggerCheckpoint(), (e: unknown) => e instanceof Error && /EXPIRED/.test(e.message));
  // The second consecutive failure exceeds the tolerance: the job fails over (no restarts left).
  gate.open();
  await assert.rejects(result, (e: unknown) => e instanceof JobFailedError && e.cause instanceof TooManyFailedCheckpointsError);
  const stats = job.checkpointStats;
  assert.deepEqual(stats.map((s) => s.status), ['FAILED', 'FAILED']);
  for (const s of stats) assert.match(s.failureReason ?? '', /EXPIRED/);
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
  await until(() => job.checkpointStats.filter((s) => s.status === 'COMPLETED').length >= 3);
  job.cancel();
  await job.result;
  const done = job.checkpointStats.filter((s) => s.status === 'COMPLETED');
  // The pause is the feature under test: the coordinator's own timestamps show it was kept. Load
  // can only lengthen a gap, never shorten it, so this holds on any machine.
  for (let i = 1; i < done.length; i++) {
    const prev = done[i - 1]!;
    const gap = done[i]!.triggerTimestamp - (prev.triggerTimestamp + prev.durationMs);
    assert.ok(gap >= 59, `checkpoint ${done[i]!.checkpointId} triggered ${gap} ms after the previous completion`);
  }
});
