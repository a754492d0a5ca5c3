/**
 * The edges record batches introduce on channels (issue 16): where a batch ends, what an
 * unaligned barrier overtakes when a batch is half consumed, what the credit counts, and that a
 * watermark between records still fires timers before the records behind it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Serializers } from '@flowstate/core';
import { MemoryStateBackend } from '@flowstate/heap';
import { Channel, JobClient, sequenceLog, Signal, StreamExecutionEnvironment, WatermarkStrategy, type ChannelMessage, type RecordBatch } from '../src/index.js';

const barrier = (checkpointId: number): ChannelMessage => ({ kind: 'barrier', checkpointId, timestamp: 0, savepoint: false, stop: false, unaligned: true });

function describe(m: ChannelMessage): string {
  if (m.kind === 'records') return `[${m.values.slice(m.pos).join(',')}]`;
  return m.kind === 'watermark' ? `wm${m.timestamp}` : m.kind;
}

test('an unaligned barrier overtaking a half-consumed batch takes only the records after the cursor as channel state', () => {
  const c = new Channel('a->b', 16, new Signal(), new Signal());
  for (const v of ['r1', 'r2', 'r3', 'r4']) c.add(v, undefined);
  c.push(barrier(1));
  c.add('r5', undefined);
  const head = c.peek() as RecordBatch;
  assert.equal(head.kind, 'records');
  c.consume(head, 2);
  assert.equal(c.queuedRecords, 3, 'r1 and r2 are taken (processed before the snapshot); r3, r4 and the open r5 count');
  const ex = c.extractBarrier()!;
  assert.deepEqual(
    ex.overtaken.map((r) => r.value),
    ['r3', 'r4'],
    'the batch is split at the cursor: what was processed is in the snapshot, what follows is channel state, what follows the barrier is neither',
  );
  c.flush();
  const rest: string[] = [];
  for (let m = c.peek(); m !== undefined; m = c.peek()) {
    rest.push(describe(m));
    if (m.kind === 'records') c.consume(m, m.values.length - m.pos);
    else c.poll();
  }
  assert.deepEqual(rest, ['[r3,r4]', '[r5]'], 'the overtaken records are still processed after the barrier, in order');
  assert.equal(c.queuedRecords, 0);
});

test('records travel in batches: an event ends the open batch; an open batch leaves at the producer\'s next await', async () => {
  const consumer = new Signal();
  const c = new Channel('a->b', 16, consumer, new Signal());
  c.add('r1', 1);
  c.add('r2', 2);
  assert.equal(c.peek(), undefined, 'the open batch is not sent while the producer keeps the thread');
  c.push({ kind: 'watermark', timestamp: 2 });
  c.add('r3', 3);
  const sync: string[] = [];
  for (let m = c.peek(); m !== undefined; m = c.peek()) {
    sync.push(describe(m));
    c.poll();
  }
  assert.deepEqual(sync, ['[r1,r2]', 'wm2'], 'the watermark follows exactly the records added before it');
  await Promise.resolve();
  const after = c.poll();
  assert.ok(after !== undefined && after.kind === 'records');
  assert.deepEqual([after.values, after.timestamps], [['r3'], [3]], 'flushed by the microtask, with its timestamp');
});

test('credit counts the records of the open batch; a full batch is sent at once', () => {
  const producer = new Signal();
  const c = new Channel('a->b', 4, new Signal(), producer);
  c.add(1, undefined);
  c.add(2, undefined);
  c.add(3, undefined);
  assert.equal(c.credit, 1, 'unsent records use credit: batching cannot run ahead of the consumer');
  assert.equal(c.peek(), undefined);
  c.add(4, undefined);
  assert.equal(c.hasCredit, false);
  const b = c.peek() as RecordBatch;
  assert.deepEqual(b.values, [1, 2, 3, 4], 'a batch is at most the channel capacity');
  let woken = false;
  void producer.wait().then(() => (woken = true));
  c.consume(b, 1);
  assert.equal(c.credit, 1, 'credit returns per consumed record, not per batch');
  return Promise.resolve().then(() => assert.ok(woken, 'the producer without credit is woken by the first credit returned'));
});

test('a watermark between records of one producer fires event-time timers before the records behind it', async () => {
  const env = new StreamExecutionEnvironment('batch-watermarks', { parallelism: 1, bufferCapacity: 256 });
  const punctuated = WatermarkStrategy.forGenerator<number>(() => ({
    onEvent: (_e, ts, out) => out.emitWatermark(ts),
    onPeriodicEmit: () => {},
  })).withTimestampAssigner((v) => v);
  const log: string[] = [];
  env
    .fromLog('src', sequenceLog(1, 20, (_p, o) => o * 10), { watermarks: punctuated })
    .keyBy(() => 'k', Serializers.string)
    .process<number>('timers', () => ({
      processElement(v, ctx) {
        log.push(`r${v}`);
        ctx.timerService().registerEventTimeTimer(v + 5);
      },
      onTimer(t) {
        log.push(`t${t}`);
      },
    }))
    .sinkTo('discard', () => ({ invoke() {} }));
  await (await JobClient.execute(env.getJobGraph(), { stateBackend: new MemoryStateBackend() })).result;
  // Record v's watermark (v) fires the timer of the record before it (v - 5), before record v + 10 is processed.
  const expected: string[] = [];
  for (let v = 0; v < 200; v += 10) {
    expected.push(`r${v}`);
    if (v > 0) expected.push(`t${v - 5}`);
  }
  expected.push('t195');
  assert.deepEqual(log, expected);
});
