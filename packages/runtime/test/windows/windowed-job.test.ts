/**
 * Window operators in running jobs: the fired windows equal a batch computation over the input,
 * on every backend, after a crash and restore, and after rescaling from a savepoint.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FsCheckpointStorage, MemoryFileSystem, MsgpackSerializer, Serializers } from '@flowstate/core';
import { backendById } from '@flowstate/test-registry';
import {
  arrayLog,
  JobClient,
  ManualClock,
  OutputTag,
  SessionWindows,
  SOURCE_IDLE,
  StreamExecutionEnvironment,
  WatermarkStrategy,
  type SourceFunction,
} from '../../src/index.js';
import { committed, runUntilSavepoint, runWithCrash } from '../scenarios.js';
import { SourceGate } from '../../src/testing.js';
import { batchWindows, clickJob, clicks, type Click, type ClickInput } from './window-jobs.js';


for (const id of ['memory', 'fs', 'rocksdb']) {
  test(`windowed job (${id}): sessions and tumbling windows equal the batch computation`, async () => {
    const input: ClickInput = { partitions: 4, perPartition: 150 };
    const sinkFs = new MemoryFileSystem();
    const late: Click[] = [];
    const client = await JobClient.execute(clickJob({ name: 'clicks', input, windowParallelism: 3, sinkFs, late: () => ({ invoke: (c) => void late.push(c) }) }), { stateBackend: backendById(id).create() });
    await client.result;
    assert.deepEqual(await committed(sinkFs), batchWindows(clicks(input)));
    assert.deepEqual(late, [], 'the watermark bound covers the jitter: nothing is late');
  });
}

test('crash mid-run and restore: every window fires exactly once with its batch value', async () => {
  const input: ClickInput = { partitions: 4, perPartition: 300 };
  const sinkFs = new MemoryFileSystem();
  // The input holds after 40 records per source subtask until a checkpoint completed: the crash
  // comes after it however fast the job runs, and the restore has open windows and timers.
  const gate = new SourceGate(40);
  const job = clickJob({ name: 'crash', input, windowParallelism: 3, sinkFs, bufferCapacity: 4, gate });
  const result = await runWithCrash(job, gate, 'clicks', 40, { operator: 'sessions', afterCheckpoints: 1, afterRecords: 50 });
  assert.equal(result.attempts, 2, 'the job failed over once');
  assert.deepEqual(await committed(sinkFs), batchWindows(clicks(input)));
});

test('rescale 3→2 from a savepoint taken mid-run: open sessions and windows move with their key groups', async () => {
  const input: ClickInput = { partitions: 4, perPartition: 300 };
  const sinkFs = new MemoryFileSystem();
  const first = await runUntilSavepoint(
    clickJob({ name: 'rescale', input, windowParallelism: 3, sinkFs, bufferCapacity: 4 }),
    { stateBackend: backendById('rocksdb').create(), checkpointStorage: new FsCheckpointStorage(new MemoryFileSystem()), checkpointing: { mode: 'EXACTLY_ONCE' } },
    { source: 'clicks', subtask: 0, records: 250 },
  );
  assert.equal(first.result.status, 'STOPPED');
  const firstRun = await committed(sinkFs);
  assert.ok(firstRun.length > 0 && firstRun.length < batchWindows(clicks(input)).length, 'the savepoint was taken mid-run');
  const second = await JobClient.execute(clickJob({ name: 'rescale', input, windowParallelism: 2, sinkFs }), {
    stateBackend: backendById('memory').create(),
    restoreFrom: { storage: first.savepoints, pointer: first.savepoint.pointer },
  });
  assert.equal((await second.result).status, 'FINISHED');
  assert.deepEqual(await committed(sinkFs), batchWindows(clicks(input)), 'both runs together: every window exactly once');
});

test('late data: elements behind the watermark by more than the allowed lateness reach the side output', async () => {
  // One source subtask with one partition and monotonous watermarks: which element is late is deterministic.
  const ts = [0, 5, 30, 2, 31, 100, 29, 101, 60, 103];
  const late = new OutputTag<{ ts: number }>('late');
  const env = new StreamExecutionEnvironment('late', { parallelism: 1 });
  const fired: string[] = [];
  const dropped: number[] = [];
  const windowed = env
    .fromLog('src', arrayLog([ts.map((t) => ({ ts: t }))]), { watermarks: WatermarkStrategy.forMonotonousTimestamps<{ ts: number }>().withTimestampAssigner((e) => e.ts) })
    .keyBy(() => 'k', Serializers.string)
    .window(SessionWindows.eventTime<{ ts: number }>(10))
    .allowedLateness(5)
    .sideOutputLateData(late)
    .process<string>('sessions', {
      process: (_k, ctx, els, out) => out.collect(`${ctx.window.start}-${ctx.window.end}:${els.map((e) => e.ts).join(',')}`),
    }, new MsgpackSerializer<{ ts: number }>());
  windowed.sinkTo('fired', () => ({ invoke: (s: string) => void fired.push(s) }));
  windowed.getSideOutput(late).sinkTo('dropped', () => ({ invoke: (e: { ts: number }) => void dropped.push(e.ts) }));
  await (await JobClient.execute(env.getJobGraph(), { stateBackend: backendById('memory').create() })).result;
  // Watermark = max timestamp - 1. 2 arrives at watermark 29: its session [0, 15) was cleaned up at 14 + 5 -> late.
  // 29 arrives at watermark 100: [29, 39) ends before 100 - 5 -> late. 60 likewise.
  assert.deepEqual(dropped, [2, 29, 60]);
  assert.deepEqual(fired, ['0-15:0,5', '30-41:30,31', '100-113:100,101,103']);
});

test('processing-time sessions on a manual clock: they fire from the clock, results carry the window max timestamp', async () => {
  const clock = new ManualClock(1000);
  const env = new StreamExecutionEnvironment('ptime-sessions', { parallelism: 1 });
  const fired: string[] = [];
  const script: Array<string | number> = ['a', 'b', 30, 'a', 100];
  let i = 0;
  let emitted = 0;
  let windowed = 0;
  // Emits letters and moves the clock by the numbers once the window operator processed every
  // letter so far (processing time is the operator's, not the source's), then idles until both sessions fired.
  const source = (): SourceFunction<string> => ({
    initializeState() {},
    snapshotState() {},
    pollNext() {
      while (i < script.length) {
        const step = script[i]!;
        if (typeof step === 'string') {
          i++;
          emitted++;
          return step;
        }
        if (windowed < emitted) return SOURCE_IDLE;
        i++;
        clock.advance(step);
      }
      return fired.length < 2 ? SOURCE_IDLE : undefined;
    },
  });
  env
    .addSource('src', source)
    .keyBy((s) => s, Serializers.string)
    .window(SessionWindows.processingTime<string>(50))
    .process<string>('sessions', { process: (key, ctx, els, out) => out.collect(`${key} ${ctx.window.start}-${ctx.window.end} x${els.length}`) }, Serializers.string)
    .process<string>('stamp', () => ({ processElement: (v, ctx, out) => out.collect(`${v} @${ctx.timestamp()}`) }))
    .sinkTo('sink', () => ({ invoke: (v) => void fired.push(v) }));
  const hooks = { onRecord: (t: { uid: string }) => void (t.uid === 'sessions' && windowed++) };
  await (await JobClient.execute(env.getJobGraph(), { stateBackend: backendById('memory').create(), clock, hooks })).result;
  assert.deepEqual(fired.sort(), ['a 1000-1080 x2 @1079', 'b 1000-1050 x1 @1049']);
});
