import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FsCheckpointStorage, MemoryFileSystem } from '@flowstate/core';
import { MemoryStateBackend } from '@flowstate/heap';
import {
  Channel,
  JobClient,
  ManualClock,
  MAX_WATERMARK,
  MIN_WATERMARK,
  sequenceLog,
  Signal,
  SOURCE_IDLE,
  StreamExecutionEnvironment,
  WatermarkStrategy,
  type DataStream,
  type OperatorEnvironment,
  type RecordMessage,
  type SourceFunction,
} from '../src/index.js';
import { runUntilSavepoint } from './scenarios.js';
import { decodeChannelState, encodeChannelState } from '../src/channel-state.js';
import { WatermarkValve } from '../src/time/watermark-valve.js';

test('watermark valve: minimum over channels, never backwards', () => {
  const v = new WatermarkValve(3);
  assert.equal(v.onWatermark(0, 10).watermark, undefined, 'two channels still at MIN');
  assert.equal(v.onWatermark(1, 20).watermark, undefined);
  assert.equal(v.onWatermark(2, 5).watermark, 5);
  assert.equal(v.onWatermark(2, 30).watermark, 10);
  assert.equal(v.onWatermark(0, 8).watermark, undefined, 'a lower watermark on a channel is ignored');
  assert.equal(v.onWatermark(0, 25).watermark, 20);
  assert.equal(v.currentWatermark, 20);
});

test('watermark valve: idle channels are left out; all idle goes downstream as idle; a late re-activation does not hold back', () => {
  const v = new WatermarkValve(2);
  v.onWatermark(0, 10);
  assert.equal(v.currentWatermark, MIN_WATERMARK);
  let o = v.onStatus(1, true);
  assert.equal(o.watermark, 10, 'the idle channel no longer holds the minimum back');
  assert.equal(o.idle, undefined, 'one channel is still active');
  assert.equal(v.onWatermark(0, 50).watermark, 50);
  o = v.onStatus(0, true);
  assert.equal(o.idle, true, 'every channel idle');
  o = v.onStatus(1, false);
  assert.equal(o.idle, false, 'active again');
  // Channel 1 (at MIN) is active again below 50: unaligned, left out until it catches up.
  assert.equal(v.onWatermark(1, 30).watermark, undefined, 'no active aligned channel');
  v.onStatus(0, false);
  assert.equal(v.onWatermark(0, 70).watermark, 70, 'the unaligned channel does not hold the others back (Flink)');
  assert.equal(v.onWatermark(1, 60).watermark, undefined, 'still behind');
  assert.equal(v.onWatermark(1, 75).watermark, undefined, 'aligned again; the minimum is still 70');
  assert.equal(v.onEndOfData(0).watermark, 75, 'end of data counts as MAX_WATERMARK');
  assert.equal(v.onEndOfData(1).watermark, MAX_WATERMARK);
});

test('channel state keeps record timestamps (version 2) and still reads version 1', async () => {
  const bytes = encodeChannelState([{ inputIndex: 1, records: [{ kind: 'record', value: 'a', timestamp: 7 }, { kind: 'record', value: { b: 1 }, timestamp: undefined }] }]);
  assert.deepEqual(decodeChannelState(bytes, 'f'), [{ inputIndex: 1, records: [{ kind: 'record', value: 'a', timestamp: 7 }, { kind: 'record', value: { b: 1 }, timestamp: undefined }] }]);
  const { serialize } = await import('node:v8');
  assert.deepEqual(decodeChannelState(serialize({ version: 1, inputs: [{ inputIndex: 0, records: ['x'] }] }), 'f'), [{ inputIndex: 0, records: [{ kind: 'record', value: 'x', timestamp: undefined }] }]);
});

interface Seen {
  ts: number | undefined;
  watermark: number;
}

/** A test operator that records each record's timestamp and the watermark when it arrives. */
function recordTime<T>(stream: DataStream<T>, uid: string, seen: Seen[], onOpen?: (env: OperatorEnvironment) => void, atEnd?: (wm: number) => void): void {
  const env = stream.env;
  env.addNode({
    uid,
    kind: 'operator',
    inputs: [stream.rebalance().edgeTo(1, 0)],
    parallelism: 1,
    createOperator: () => {
      let e: OperatorEnvironment;
      return {
        async open(x) {
          e = x;
          onOpen?.(x);
        },
        processElement() {
          seen.push({ ts: e.currentTimestamp(), watermark: e.currentWatermark() });
        },
        async endInput() {
          atEnd?.(e.currentWatermark());
        },
        async snapshotState() {},
        async notifyCheckpointComplete() {},
        async notifyCheckpointAborted() {},
        async finish() {},
        async close() {},
      };
    },
  });
}

test('sources stamp records and generate bounded-out-of-orderness watermarks; downstream sees the minimum over channels and MAX_WATERMARK at the end', async () => {
  const env = new StreamExecutionEnvironment('wm', { parallelism: 2, bufferCapacity: 4 });
  // Jitter of up to 6 within a partition and between the two partitions a subtask reads: below the bound of 10.
  const ts = (p: number, o: number) => o * 10 + ((p * 3 + o * 5) % 7);
  const src = env.fromLog('src', sequenceLog(4, 300, (p, o) => ({ p, o })), { watermarks: WatermarkStrategy.forBoundedOutOfOrderness<{ p: number; o: number }>(10).withTimestampAssigner((e) => ts(e.p, e.o)) });
  const seen: Seen[] = [];
  let endWatermark: number | undefined;
  recordTime(src, 'observe', seen, undefined, (wm) => (endWatermark = wm));
  const client = await JobClient.execute(env.getJobGraph(), { stateBackend: new MemoryStateBackend() });
  await client.result;
  assert.equal(seen.length, 1200);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.watermark >= seen[i - 1]!.watermark, 'watermarks never go back');
  assert.ok(seen.every((s) => s.ts !== undefined && s.ts > s.watermark), 'no record is late: the watermark is the minimum over both source subtasks');
  assert.ok(seen.some((s) => s.watermark > MIN_WATERMARK), 'watermarks reached the operator before the end');
  assert.equal(endWatermark, MAX_WATERMARK, 'end of input ends event time before endInput');
});

test('an idle source subtask (withIdleness, on a manual clock) stops holding back the watermark', async () => {
  const clock = new ManualClock(0);
  const env = new StreamExecutionEnvironment('idle', { parallelism: 2 });
  let operatorEnv: OperatorEnvironment | undefined;
  let busyDone = false;
  let watermarkWhileIdle: number | undefined;
  const factory = (): SourceFunction<number> => {
    let index = -1;
    let n = 0;
    let waits = 0;
    return {
      initializeState(ctx) {
        index = ctx.subtaskIndex;
      },
      snapshotState() {},
      pollNext() {
        if (index === 1) return busyDone ? undefined : SOURCE_IDLE;
        if (n === 10) {
          // Wait until the operator's watermark moved: only possible once subtask 1 counts as idle.
          const wm = operatorEnv?.currentWatermark() ?? MIN_WATERMARK;
          // Bounded, so that a broken idleness fails the assertion below instead of hanging.
          if (wm === MIN_WATERMARK && ++waits < 500) return SOURCE_IDLE;
          if (wm !== MIN_WATERMARK) watermarkWhileIdle = wm;
        }
        if (n === 9) clock.advance(1000);
        if (n === 20) {
          busyDone = true;
          return undefined;
        }
        return n++ * 100;
      },
    };
  };
  const src = env.addSource('src', factory, { watermarks: WatermarkStrategy.forMonotonousTimestamps<number>().withTimestampAssigner((v) => v).withIdleness(100) });
  const seen: Seen[] = [];
  recordTime(src, 'observe', seen, (e) => (operatorEnv = e));
  const client = await JobClient.execute(env.getJobGraph(), { stateBackend: new MemoryStateBackend(), clock });
  await client.result;
  assert.equal(watermarkWhileIdle, 899, 'the busy subtask alone sets the watermark (monotonous: last timestamp - 1)');
  assert.equal(seen.length, 20);
});

test('sources checkpoint their watermark: after a restore (at another parallelism) they start from the minimum of the saved ones', async () => {
  const strategy = WatermarkStrategy.forBoundedOutOfOrderness<{ p: number; o: number }>(10).withTimestampAssigner((e) => e.o * 10);
  const job = (parallelism: number, seen: Seen[]) => {
    const env = new StreamExecutionEnvironment('wm-restore', { parallelism, bufferCapacity: 2 });
    recordTime(env.fromLog('src', sequenceLog(4, 2000, (p, o) => ({ p, o })), { watermarks: strategy }), 'observe', seen);
    return env.getJobGraph();
  };
  const firstSeen: Seen[] = [];
  const { result, savepoint: sp, savepoints } = await runUntilSavepoint(
    job(2, firstSeen),
    { stateBackend: new MemoryStateBackend(), checkpointStorage: new FsCheckpointStorage(new MemoryFileSystem()), checkpointing: {} },
    { source: 'src', subtask: 0, records: 300 },
  );
  assert.equal(result.status, 'STOPPED');
  const lastBeforeStop = firstSeen.at(-1)!.watermark;
  assert.ok(lastBeforeStop > MIN_WATERMARK);
  const secondSeen: Seen[] = [];
  const second = await JobClient.execute(job(3, secondSeen), { stateBackend: new MemoryStateBackend(), restoreFrom: { storage: savepoints, pointer: sp.pointer } });
  await second.result;
  const firstAfter = secondSeen[0]!.watermark;
  assert.ok(firstAfter > MIN_WATERMARK, 'the restored watermark arrives before the first record');
  assert.ok(firstAfter >= lastBeforeStop - 20 && firstAfter <= secondSeen[0]!.ts!, `restored watermark ${firstAfter} is near the one before the stop (${lastBeforeStop}) and below the first record`);
});

test('a watermark a generator emits on an event follows that event (punctuated watermarks do not make their own record late)', async () => {
  const env = new StreamExecutionEnvironment('punctuated', { parallelism: 1 });
  const punctuated = WatermarkStrategy.forGenerator<number>(() => ({
    onEvent: (_e, ts, out) => out.emitWatermark(ts),
    onPeriodicEmit: () => {},
  })).withTimestampAssigner((v) => v);
  const seen: Seen[] = [];
  recordTime(env.fromLog('src', sequenceLog(1, 50, (_p, o) => o * 10), { watermarks: punctuated }), 'observe', seen);
  await (await JobClient.execute(env.getJobGraph(), { stateBackend: new MemoryStateBackend() })).result;
  assert.equal(seen.length, 50);
  assert.deepEqual(
    seen.filter((s) => s.ts! <= s.watermark),
    [],
    'no record arrives behind the watermark it caused',
  );
  assert.equal(seen[1]!.watermark, 0, 'the first record\'s watermark arrived before the second record');
});

test('an unaligned barrier overtakes records and watermarks without reordering them; only records become channel state', () => {
  const c = new Channel('a->b', 8, new Signal(), new Signal());
  const rec = (value: string, timestamp: number): RecordMessage => ({ kind: 'record', value, timestamp });
  c.add('r1', 5);
  c.push({ kind: 'watermark', timestamp: 6 });
  c.add('r2', 9);
  c.push({ kind: 'barrier', checkpointId: 1, timestamp: 0, savepoint: false, stop: false, unaligned: true });
  const ex = c.extractBarrier()!;
  assert.equal(ex.barrier.checkpointId, 1);
  assert.deepEqual(ex.overtaken, [rec('r1', 5), rec('r2', 9)], 'the overtaken records, with their timestamps, are the channel state');
  const order: string[] = [];
  for (let m = c.poll(); m !== undefined; m = c.poll()) order.push(m.kind === 'records' ? m.values.join('+') : m.kind === 'watermark' ? `wm${m.timestamp}` : m.kind);
  assert.deepEqual(order, ['r1', 'wm6', 'r2'], 'after the barrier left, the records and the watermark are still processed in their order');
});
