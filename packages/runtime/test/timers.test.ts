import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assignToKeyGroup, computeKeyGroupRangeForOperatorIndex, DataOutputSerializer, FsCheckpointStorage, MemoryFileSystem, Serializers, ValueStateDescriptor } from '@flowstate/core';
import { MemoryStateBackend } from '@flowstate/heap';
import { backendById } from '@flowstate/test-registry';
import {
  arrayLog,
  JobClient,
  ManualClock,
  MAX_WATERMARK,
  OutputTag,
  SOURCE_IDLE,
  StreamExecutionEnvironment,
  WatermarkStrategy,
  type SourceFunction,
} from '../src/index.js';
import { committed, runUntilSavepoint, runWithCrash } from './scenarios.js';
import { SourceGate } from '../src/testing.js';
import { deadlineJob, expectedDeadlines, type DeadlineEvent, type DeadlineInput } from './timer-jobs.js';

const MAX_PARALLELISM = 32;

/** Fails the test when a timer fires on a subtask that does not own its key's key group. */
function ownerCheck(parallelism: number): (subtask: number, key: string) => void {
  const buf = new DataOutputSerializer(32);
  return (subtask, key) => {
    buf.clear();
    Serializers.string.serialize(key, buf);
    const kg = assignToKeyGroup(buf.bytesView(), MAX_PARALLELISM);
    assert.ok(computeKeyGroupRangeForOperatorIndex(MAX_PARALLELISM, parallelism, subtask).contains(kg), `timer of key ${key} fired on subtask ${subtask}`);
  };
}


for (const id of ['memory', 'rocksdb']) {
  test(`event-time timers (${id}): every event fires exactly once at its deadline, on the subtask owning its key`, async () => {
    const input: DeadlineInput = { partitions: 4, perPartition: 150 };
    const sinkFs = new MemoryFileSystem();
    const graph = deadlineJob({ name: 'deadlines', input, sinkFs, bufferCapacity: 8, deadlineParallelism: 3, onFire: ownerCheck(3) });
    const client = await JobClient.execute(graph, { stateBackend: backendById(id).create() });
    await client.result;
    assert.deepEqual(await committed(sinkFs), expectedDeadlines(input));
  });
}

test('crash mid-run and restore: timers are restored from the checkpoint and fire exactly once', async () => {
  const input: DeadlineInput = { partitions: 4, perPartition: 300 };
  const sinkFs = new MemoryFileSystem();
  // The input holds after 50 records per source subtask until two checkpoints completed: the
  // crash comes after them however fast the job runs, and the restore has pending timers to restore.
  const gate = new SourceGate(50);
  const graph = deadlineJob({ name: 'crash', input, sinkFs, bufferCapacity: 4, deadlineParallelism: 3, onFire: ownerCheck(3), gate });
  const result = await runWithCrash(graph, gate, 'events', 50, { operator: 'deadlines', subtask: 1, afterCheckpoints: 2, afterRecords: 100 });
  assert.equal(result.attempts, 2, 'the job failed over once');
  assert.deepEqual(await committed(sinkFs), expectedDeadlines(input));
});

for (const [from, to] of [
  [3, 2],
  [2, 3],
] as const) {
  test(`rescale ${from}→${to} from a savepoint: pending timers move with their key groups and fire once`, async () => {
    const input: DeadlineInput = { partitions: 4, perPartition: 300 };
    const sinkFs = new MemoryFileSystem();
    const seenInFirstRun = new Set<string>();
    const first = await runUntilSavepoint(
      deadlineJob({ name: 'rescale', input, sinkFs, bufferCapacity: 4, deadlineParallelism: from, onFire: ownerCheck(from), onEvent: (e: DeadlineEvent) => seenInFirstRun.add(e.id) }),
      { stateBackend: backendById('rocksdb').create(), checkpointStorage: new FsCheckpointStorage(new MemoryFileSystem()), checkpointing: { mode: 'EXACTLY_ONCE' } },
      { source: 'events', subtask: 0, records: 200 },
    );
    assert.equal(first.result.status, 'STOPPED');
    const afterFirst = await committed(sinkFs);
    const firedInFirst = new Set(afterFirst.map((l) => l.split(' ')[0]!));
    const pendingAtStop = [...seenInFirstRun].filter((id) => !firedInFirst.has(id));
    assert.ok(pendingAtStop.length > 0, 'the savepoint holds timers that had not fired');
    const second = await JobClient.execute(deadlineJob({ name: 'rescale', input, sinkFs, bufferCapacity: 4, deadlineParallelism: to, onFire: ownerCheck(to) }), {
      stateBackend: backendById('memory').create(),
      restoreFrom: { storage: first.savepoints, pointer: first.savepoint.pointer },
    });
    assert.equal((await second.result).status, 'FINISHED');
    const all = await committed(sinkFs);
    assert.deepEqual(all, expectedDeadlines(input), 'both runs together: every event exactly once');
    const firedInSecond = new Set(all.map((l) => l.split(' ')[0]!).filter((id) => !firedInFirst.has(id)));
    assert.ok(pendingAtStop.every((id) => firedInSecond.has(id)), 'the restored timers fired in the second run');
  });
}

const PINGS = new OutputTag<string>('pings');

test('processing-time timers on a manual clock, deleting timers, and a side output', async () => {
  const clock = new ManualClock(1000);
  const env = new StreamExecutionEnvironment('ptime', { parallelism: 1 });
  const fired: string[] = [];
  const pings: string[] = [];
  let emitted = 0;
  // Emits its records, waits (idle) until all four were processed (their side output arrived, so
  // their timers are registered: records travel in batches, so emitting is not processing), then
  // advances the clock past the timers and waits until every processing-time timer fired.
  const source = (): SourceFunction<string> => ({
    initializeState() {},
    snapshotState() {},
    pollNext() {
      if (emitted < 4) return ['a', 'b', 'a', 'c'][emitted++]!;
      if (pings.length < 4) return SOURCE_IDLE;
      if (emitted === 4) {
        emitted++;
        clock.advance(100);
      }
      return fired.length < 2 ? SOURCE_IDLE : undefined;
    },
  });
  const main = env
    .addSource('src', source)
    .keyBy((s) => s, Serializers.string)
    .process<string>('p', () => ({
      processElement(v, ctx, out) {
        const ts = ctx.timerService();
        // 'c' registers and deletes: it must never fire. 'a' registers twice: one timer.
        ts.registerProcessingTimeTimer(ts.currentProcessingTime() + 50);
        if (v === 'c') ts.deleteProcessingTimeTimer(ts.currentProcessingTime() + 50);
        ctx.output(PINGS, `ping ${v}`);
        out.collect(`got ${v}`);
      },
      onTimer(t, ctx, out) {
        assert.equal(ctx.timeDomain(), 'PROCESSING_TIME');
        assert.equal(ctx.timestamp(), undefined, 'processing-time output carries no timestamp');
        out.collect(`timer ${ctx.currentKey} ${t}`);
      },
    }));
  main.sinkTo('sink', () => ({
    invoke(v) {
      if (v.startsWith('timer')) fired.push(v);
    },
  }));
  main.getSideOutput(PINGS).sinkTo('pings', () => ({ invoke: (v) => void pings.push(v) }));
  const client = await JobClient.execute(env.getJobGraph(), { stateBackend: new MemoryStateBackend(), clock });
  await client.result;
  assert.deepEqual(fired.sort(), ['timer a 1050', 'timer b 1050']);
  assert.deepEqual(pings, ['ping a', 'ping b', 'ping a', 'ping c']);
});

test('event-time timers: deleted timers do not fire; output of a timer carries its timestamp; MAX_WATERMARK fires the rest at the end', async () => {
  const env = new StreamExecutionEnvironment('etime', { parallelism: 1 });
  const events = [
    { k: 'x', ts: 10 },
    { k: 'x', ts: 12 },
    { k: 'y', ts: 20 },
    { k: 'y', ts: 1000 },
  ];
  const out: Array<{ v: string; ts: number | undefined }> = [];
  env
    .fromLog('src', arrayLog([events]), { watermarks: WatermarkStrategy.forMonotonousTimestamps<{ k: string; ts: number }>().withTimestampAssigner((e) => e.ts) })
    .keyBy((e) => e.k, Serializers.string)
    .process<string>('p', () => ({
      processElement(e, ctx) {
        ctx.timerService().registerEventTimeTimer(e.ts + 5);
        // x's second event cancels its first timer (15 has not fired: the watermark is 9).
        if (e.k === 'x' && e.ts === 12) ctx.timerService().deleteEventTimeTimer(15);
        if (e.ts === 1000) ctx.timerService().registerEventTimeTimer(MAX_WATERMARK);
      },
      onTimer(t, ctx, c) {
        c.collect(`${ctx.currentKey}@${t} wm=${ctx.timerService().currentWatermark() === MAX_WATERMARK ? 'max' : ctx.timerService().currentWatermark()}`);
      },
    }))
    .process<string>('stamp', () => ({ processElement: (v, ctx) => void out.push({ v, ts: ctx.timestamp() }) }));
  const client = await JobClient.execute(env.getJobGraph(), { stateBackend: new MemoryStateBackend() });
  await client.result;
  assert.deepEqual(out, [
    { v: 'x@17 wm=19', ts: 17 },
    { v: 'y@25 wm=999', ts: 25 },
    { v: 'y@1005 wm=max', ts: 1005 },
    { v: `y@${MAX_WATERMARK} wm=max`, ts: MAX_WATERMARK },
  ]);
});

const CANCELLED = new ValueStateDescriptor<boolean>('cancelled', Serializers.boolean);

test('keyed co-process functions have timers too', async () => {
  const env = new StreamExecutionEnvironment('co-timers', { parallelism: 2 });
  const strategy = WatermarkStrategy.forMonotonousTimestamps<{ k: string; ts: number }>().withTimestampAssigner((e) => e.ts);
  const a = env.fromLog('a', arrayLog([[{ k: 'x', ts: 1 }, { k: 'y', ts: 2 }], [{ k: 'z', ts: 3 }]]), { watermarks: strategy });
  const b = env.fromLog('b', arrayLog([[{ k: 'y', ts: 4 }]]), { watermarks: strategy, parallelism: 1 });
  const fired: string[] = [];
  a.keyBy((e) => e.k, Serializers.string)
    .connect(b.keyBy((e) => e.k, Serializers.string))
    .process<string>('co', () => ({
      processElement1(e, ctx) {
        if (!ctx.getState(CANCELLED).value()) ctx.timerService().registerEventTimeTimer(e.ts + 100);
      },
      processElement2(_e, ctx) {
        // Input 2 cancels y, whichever input's record for y comes first.
        ctx.getState(CANCELLED).update(true);
        ctx.timerService().deleteEventTimeTimer(102);
      },
      onTimer(t, ctx, out) {
        if (ctx.getState(CANCELLED).value()) throw new Error(`cancelled timer of ${ctx.currentKey} fired`);
        out.collect(`${ctx.currentKey}@${t}`);
      },
    }))
    .sinkTo('sink', () => ({ invoke: (v) => void fired.push(v) }), { parallelism: 1 });
  await (await JobClient.execute(env.getJobGraph(), { stateBackend: new MemoryStateBackend() })).result;
  // The watermark reaches 102 only once input 2's watermark does, which follows its record for y.
  assert.deepEqual(fired.sort(), ['x@101', 'z@103']);
});

test('processing-time timers do not fire once the operator finished its input (no record after end of data)', async () => {
  const clock = new ManualClock(0);
  const env = new StreamExecutionEnvironment('quiesce', { parallelism: 1 });
  let onTimerCalls = 0;
  env
    .fromLog('src', arrayLog([['a', 'b']]))
    .keyBy((s) => s, Serializers.string)
    .process<string>('p', () => ({
      processElement(v, ctx, out) {
        ctx.timerService().registerProcessingTimeTimer(10);
        out.collect(v);
      },
      onTimer(_t, _ctx, out) {
        onTimerCalls++;
        out.collect('late');
      },
    }))
    .sinkTo('sink', () => ({
      invoke() {},
      // Runs after 'p' sent end of data, before the final checkpoint lets the tasks terminate.
      finish: () => clock.advance(100),
    }));
  const client = await JobClient.execute(env.getJobGraph(), {
    stateBackend: new MemoryStateBackend(),
    checkpointStorage: new FsCheckpointStorage(new MemoryFileSystem()),
    checkpointing: {},
    clock,
  });
  const result = await client.result;
  assert.equal(result.status, 'FINISHED');
  assert.equal(onTimerCalls, 0, 'Flink quiesces processing time when an operator finishes');
});
