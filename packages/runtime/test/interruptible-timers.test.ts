/**
 * Timers fire in steps that the task interleaves with mail and barriers (Flink 1.20's
 * interruptible timers, FLIP-443): a checkpoint completes while a watermark's timer backlog waits
 * behind a slow sink, snapshots the timers not fired yet, and a restore fires each exactly once.
 * Every assertion is about the mechanism (what had fired when the snapshot was taken), never time.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FsCheckpointStorage, KeyGroupRange, MemoryFileSystem, Serializers, VoidNamespace } from '@flowstate/core';
import { MemoryStateBackend } from '@flowstate/heap';
import {
  JobClient,
  ManualClock,
  sequenceLog,
  SOURCE_IDLE,
  StreamExecutionEnvironment,
  summarize,
  WatermarkStrategy,
  type ChannelMessage,
  type CheckpointingMode,
  type JobGraph,
  type RuntimeHooks,
  type SinkFunction,
  type SourceFunction,
} from '../src/index.js';
import { SourceGate } from '../src/testing.js';
import { OperatorTime } from '../src/time/operator-time.js';
import { Gate, quiesce, until } from './gates.js';

const CAPACITY = 4;
/** Timers one watermark makes due: far more than the channels before the held sink can take. */
const BACKLOG = 300;
const A_TIMER = 10;
const B_TIMER = 1_000_000;

interface Ev {
  readonly key: string;
  readonly ts: number;
}

/**
 * `a` events register a timer at 10; the first `b` event (timestamp 1000) brings the watermark
 * (monotonous: 999) that makes all of them due. `b` events register timers due only at the end.
 */
const event = (o: number): Ev => (o < BACKLOG ? { key: `a${o}`, ts: A_TIMER } : { key: `b${o - BACKLOG}`, ts: 1000 + o - BACKLOG });

interface Run {
  readonly gate: SourceGate;
  readonly sink: Gate | undefined;
  readonly fired: string[];
  /** Per record the sink got: the watermark it had seen then. */
  readonly sinkWatermarks: Map<string, number>;
}

function timersJob(events: number, run: Run): JobGraph {
  const env = new StreamExecutionEnvironment('interruptible', { parallelism: 1, bufferCapacity: CAPACITY });
  const watermarks = WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner((e) => e.ts);
  env
    .addSource('events', run.gate.logSource(sequenceLog(1, events, (_p, o) => event(o))), { watermarks })
    .keyBy((e) => e.key, Serializers.string)
    .process<string>('timers', () => ({
      processElement(e, ctx) {
        ctx.timerService().registerEventTimeTimer(e.key.startsWith('a') ? A_TIMER : B_TIMER);
      },
      onTimer(_t, ctx, out) {
        run.fired.push(ctx.currentKey);
        out.collect(ctx.currentKey);
      },
    }))
    .keyBy(() => 0, Serializers.int32)
    .process<never>('held', () => ({
      async processElement(key, ctx) {
        run.sinkWatermarks.set(key, ctx.timerService().currentWatermark());
        await run.sink?.wait();
      },
    }));
  return env.getJobGraph();
}

/**
 * Runs the job with the sink held until the backlog stalls, triggers a checkpoint (or a
 * savepoint), lets the runtime settle, and only then opens the sink. Restores a second run from it.
 */
async function checkpointMidFiring(mode: CheckpointingMode, bEvents: number, kind: 'checkpoint' | 'savepoint') {
  const events = BACKLOG + bEvents;
  const storage = new FsCheckpointStorage(new MemoryFileSystem());
  const savepoints = new FsCheckpointStorage(new MemoryFileSystem(), { layout: 'savepoint' });
  const first: Run = { gate: new SourceGate(events), sink: new Gate(), fired: [], sinkWatermarks: new Map() };
  let records = 0;
  let firedAtSnapshot: string[] | undefined;
  let sourceSnapshotTaken = false;
  const job = await JobClient.execute(timersJob(events, first), {
    stateBackend: new MemoryStateBackend(),
    checkpointStorage: storage,
    checkpointing: { mode, timeoutMs: 600_000 },
    hooks: {
      onRecord: () => void records++,
      beforeSnapshot(t) {
        if (t.uid === 'events') sourceSnapshotTaken = true;
        if (t.uid === 'timers') firedAtSnapshot ??= [...first.fired];
      },
    },
  });
  await quiesce(() => records + first.fired.length);
  const stalled = first.fired.length;
  const triggered = kind === 'savepoint' ? job.triggerSavepoint(savepoints) : job.triggerCheckpoint();
  // The trigger prepares its storage asynchronously first: the barrier is on its way once the source snapshotted.
  await until(() => sourceSnapshotTaken);
  await quiesce(() => records + first.fired.length + (firedAtSnapshot === undefined ? 0 : 1));
  const snapshotWhileHeld = firedAtSnapshot !== undefined;
  first.sink!.open();
  const checkpoint = await triggered;
  job.cancel();
  assert.equal((await job.result).status, 'CANCELLED');

  const second: Run = { gate: new SourceGate(0), sink: undefined, fired: [], sinkWatermarks: new Map() };
  second.gate.open();
  const restored = await JobClient.execute(timersJob(events, second), { stateBackend: new MemoryStateBackend(), restoreFrom: { storage: kind === 'savepoint' ? savepoints : storage, pointer: checkpoint.pointer } });
  assert.equal((await restored.result).status, 'FINISHED');
  return { stalled, snapshotWhileHeld, firedAtSnapshot: firedAtSnapshot ?? [], checkpoint, first, second, events };
}

// A plain savepoint is taken between two steps like an aligned checkpoint: only a stop waits for the backlog.
for (const [mode, bEvents, kind] of [
  ['EXACTLY_ONCE', 1, 'checkpoint'],
  ['UNALIGNED', 6, 'checkpoint'],
  ['EXACTLY_ONCE', 1, 'savepoint'],
] as const) {
  test(`${mode}: a ${kind} completes while a watermark's timers wait behind a slow sink; the unfired ones fire once after a restore`, async () => {
    const r = await checkpointMidFiring(mode, bEvents, kind);
    assert.ok(r.stalled < BACKLOG, `the held sink stalls the backlog (${r.stalled} of ${BACKLOG} fired)`);
    assert.ok(r.snapshotWhileHeld, 'the operator took the barrier between two steps of firing, while the sink was still held');
    const unfired = BACKLOG - r.firedAtSnapshot.length;
    assert.ok(unfired > 0, `timers were left unfired at the snapshot (${r.firedAtSnapshot.length} of ${BACKLOG} fired)`);
    assert.equal(r.checkpoint.stats.status, 'COMPLETED');
    const s = summarize(r.checkpoint.stats);
    if (mode === 'UNALIGNED') assert.ok(s.persistedInflightBytes > 0, 'the barrier overtook the records queued behind the watermark');
    else assert.equal(s.persistedInflightBytes, 0);
    // Exactly once: what fired before the snapshot plus what fired after the restore is every timer, once.
    const all = Array.from({ length: r.events }, (_, o) => event(o).key).sort();
    assert.deepEqual([...r.firedAtSnapshot, ...r.second.fired].sort(), all);
    assert.equal(r.second.fired.filter((k) => k.startsWith('a')).length, unfired, 'the snapshot held the timers not fired yet; they fired after the restore');
    // The watermark went downstream only after all of its timers fired, in both runs.
    for (const run of [r.first, r.second]) {
      for (const [key, wm] of run.sinkWatermarks) if (key.startsWith('a')) assert.ok(wm < A_TIMER, `timer output ${key} reached the sink after watermark ${wm}`);
    }
  });
}

test('a stop-with-savepoint barrier is not taken between steps: it waits for the backlog, so nothing follows it', async () => {
  const events = BACKLOG + 1;
  const run: Run = { gate: new SourceGate(events), sink: new Gate(), fired: [], sinkWatermarks: new Map() };
  let records = 0;
  let firedAtSnapshot: number | undefined;
  const job = await JobClient.execute(timersJob(events, run), {
    stateBackend: new MemoryStateBackend(),
    checkpointStorage: new FsCheckpointStorage(new MemoryFileSystem()),
    checkpointing: { mode: 'EXACTLY_ONCE', timeoutMs: 600_000 },
    hooks: {
      onRecord: () => void records++,
      beforeSnapshot(t) {
        if (t.uid === 'timers') firedAtSnapshot ??= run.fired.length;
      },
    },
  });
  await quiesce(() => records + run.fired.length);
  const stopping = job.stopWithSavepoint(new FsCheckpointStorage(new MemoryFileSystem(), { layout: 'savepoint' }));
  await quiesce(() => records + run.fired.length + (firedAtSnapshot === undefined ? 0 : 1));
  assert.equal(firedAtSnapshot, undefined, 'the savepoint barrier waits behind the due timers');
  run.sink!.open();
  await stopping;
  assert.equal((await job.result).status, 'STOPPED');
  assert.equal(firedAtSnapshot, BACKLOG, 'every due timer fired before the savepoint barrier passed');
});

const PROCESSING_TIMERS = 50;

/**
 * A source of `limit()` keys (idle after them until `done`) -> each key registers a
 * processing-time timer at 100, whose firing emits -> `sink`. `fired` counts the firings,
 * `emitted` the source's records; `atAbort` is what each had counted when told of the first abort.
 */
function processingTimersJob(name: string, done: () => boolean, sink: () => SinkFunction<number>, limit: () => number = () => PROCESSING_TIMERS) {
  const counts = { fired: 0, records: 0, emitted: 0, atAbort: {} as { emitted?: number; fired?: number } };
  const env = new StreamExecutionEnvironment(name, { parallelism: 1, bufferCapacity: CAPACITY });
  const source = (): SourceFunction<number> => ({
    initializeState() {},
    snapshotState() {},
    notifyCheckpointComplete() {},
    notifyCheckpointAborted: () => void (counts.atAbort.emitted ??= counts.emitted),
    pollNext: () => (counts.emitted < limit() ? counts.emitted++ : done() ? undefined : SOURCE_IDLE),
  });
  env
    .addSource('src', source)
    .keyBy((k) => k, Serializers.int32)
    .process<number>('ptimers', () => ({
      processElement(_k, ctx) {
        ctx.timerService().registerProcessingTimeTimer(100);
      },
      onTimer(t, _ctx, out) {
        counts.fired++;
        out.collect(t);
      },
      notifyCheckpointAborted: () => void (counts.atAbort.fired ??= counts.fired),
    }))
    .sinkTo('sink', sink);
  return { graph: env.getJobGraph(), counts };
}

test('processing-time timers fire only while the output has credit, and all of them once it returns', async () => {
  const clock = new ManualClock(0);
  const held = new Gate();
  let done = false;
  const { graph, counts } = processingTimersJob('ptime-credit', () => done, () => ({ invoke: () => held.wait() }));
  const job = await JobClient.execute(graph, { stateBackend: new MemoryStateBackend(), clock, hooks: { onRecord: () => void counts.records++ } });
  await quiesce(() => counts.records);
  assert.equal(counts.records, 2 * PROCESSING_TIMERS, 'every record registered its timer');
  clock.advance(200);
  await quiesce(() => counts.fired);
  // One record in the sink's hand, a channel of CAPACITY credits, one timer's output never split.
  assert.ok(counts.fired <= CAPACITY + 1, `${counts.fired} processing-time timers fired behind a held sink with ${CAPACITY} credits`);
  held.open();
  await until(() => counts.fired === PROCESSING_TIMERS);
  done = true;
  assert.equal((await job.result).status, 'FINISHED');
  assert.equal(counts.fired, PROCESSING_TIMERS);
});

/**
 * Runs the processing-timers job and stops it with a savepoint once every record went through;
 * `hooks` make the timers due while the job stops (`clock` moves only when they say).
 */
async function stopProcessingTimersJob(name: string, clock: ManualClock, hooks: (counts: { fired: number; records: number }) => RuntimeHooks, invoke: () => void = () => {}) {
  const { graph, counts } = processingTimersJob(name, () => false, () => ({ invoke }));
  const job = await JobClient.execute(graph, {
    stateBackend: new MemoryStateBackend(),
    checkpointStorage: new FsCheckpointStorage(new MemoryFileSystem()),
    checkpointing: { mode: 'EXACTLY_ONCE', timeoutMs: 600_000 },
    clock,
    hooks: { onRecord: () => void counts.records++, ...hooks(counts) },
  });
  await quiesce(() => counts.records);
  await job.stopWithSavepoint(new FsCheckpointStorage(new MemoryFileSystem(), { layout: 'savepoint' }));
  assert.equal((await job.result).status, 'STOPPED');
  return counts;
}

test('processing-time timers due once a stop-with-savepoint completed stay unfired: the task terminates', async () => {
  const clock = new ManualClock(0);
  // The timers come due while the job ends: their wake-up mail follows the notification.
  const counts = await stopProcessingTimersJob('ptime-stop', clock, () => ({ beforeNotifyComplete: (t) => void (t.uid === 'ptimers' && clock.advance(200)) }));
  assert.equal(counts.fired, 0, 'no timer fired after the savepoint that ended the job');
});

test('processing-time timers due once a stop-with-savepoint snapshot was taken stay unfired: nothing follows the barrier', async () => {
  const clock = new ManualClock(0);
  let sinkRecords = 0;
  let sinkAtSnapshot: number | undefined;
  let firedAtSnapshot: number | undefined;
  // The timers come due while the operator snapshots: their wake-up mail runs right after the barrier went.
  const hooks = (counts: { fired: number }): RuntimeHooks => ({
    beforeSnapshot(t) {
      if (t.uid === 'sink') sinkAtSnapshot ??= sinkRecords;
      if (t.uid !== 'ptimers') return;
      firedAtSnapshot ??= counts.fired;
      clock.advance(200);
    },
  });
  const counts = await stopProcessingTimersJob('ptime-stop-snapshot', clock, hooks, () => void sinkRecords++);
  assert.equal(firedAtSnapshot, 0);
  assert.equal(counts.fired, 0, 'no timer fired after the stop-with-savepoint snapshot');
  assert.equal(sinkRecords, sinkAtSnapshot, 'the sink got no record after its snapshot');
});

test('a stop-with-savepoint that fails after the snapshots: the source emits again and the due timers fire', async () => {
  const clock = new ManualClock(0);
  const sinkSnapshot = new Gate();
  let limit = PROCESSING_TIMERS;
  let done = false;
  const { graph, counts } = processingTimersJob(
    'ptime-failed-stop',
    () => done,
    // The sink's pre-commit hangs: the stop expires (is aborted) after the source and the timers operator snapshotted.
    () => ({ invoke() {}, snapshotState: (ctx) => (ctx.savepoint ? sinkSnapshot.wait() : undefined) }),
    () => limit,
  );
  const job = await JobClient.execute(graph, {
    stateBackend: new MemoryStateBackend(),
    checkpointStorage: new FsCheckpointStorage(new MemoryFileSystem()),
    // The stop must expire only after the source and the timers operator snapshotted (their hooks
    // below): 1 s leaves a loaded machine room; the wait is for the expiry, not a timing assertion.
    checkpointing: { mode: 'EXACTLY_ONCE', timeoutMs: 1000, tolerableFailedCheckpoints: 3 },
    clock,
    hooks: {
      onRecord: () => void counts.records++,
      beforeSnapshot(t) {
        // More input while the stop is pending, and the timers come due once the barrier passed.
        if (t.uid === 'src') limit = 2 * PROCESSING_TIMERS;
        if (t.uid === 'ptimers') clock.advance(200);
      },
    },
  });
  await quiesce(() => counts.records);
  const stopping = job.stopWithSavepoint(new FsCheckpointStorage(new MemoryFileSystem(), { layout: 'savepoint' }));
  const failed = assert.rejects(stopping);
  // Polling keeps the process alive until the (unref'd) expiry timer aborts the stop.
  await until(() => counts.atAbort.fired !== undefined && counts.atAbort.emitted !== undefined);
  await failed;
  sinkSnapshot.open();
  await until(() => counts.fired >= PROCESSING_TIMERS && counts.emitted === 2 * PROCESSING_TIMERS);
  done = true;
  assert.equal((await job.result).status, 'FINISHED');
  assert.deepEqual(counts.atAbort, { emitted: PROCESSING_TIMERS, fired: 0 }, 'while the stop was pending the source emitted nothing and no due timer fired');
});

test('a timer service created after watermarks arrived fires its due timers in steps after the call, within credit', async () => {
  const keyed = await new MemoryStateBackend().createKeyedStateBackend({
    operatorIdentifier: 'lazy#0',
    keySerializer: Serializers.string,
    maxParallelism: 128,
    keyGroupRange: KeyGroupRange.of(0, 127),
    restoreState: [],
  });
  let credit = 0;
  const out: string[] = [];
  const sent: ChannelMessage[] = [];
  const output = {
    timestamp: undefined as number | undefined,
    collect(v: unknown) {
      out.push(String(v));
      credit--;
    },
    hasCredit: () => credit > 0,
  };
  const host = { output, post: (fn: () => void) => fn(), broadcast: (m: ChannelMessage) => void sent.push(m) };
  const triggerable = { onEventTime: (t: { key: unknown }, o: { collect(v: unknown): void }) => o.collect(t.key), onProcessingTime() {} };
  // Timers registered through one OperatorTime stay in the backend's queue: a second one over the
  // same backend finds them when it asks for the service by name, as after a restore.
  const before = new OperatorTime(1, keyed, new ManualClock(0), host).getInternalTimerService('lazy', Serializers.voidNamespace, triggerable);
  for (let k = 0; k < 10; k++) {
    keyed.setCurrentKey(`k${k}`);
    before.registerEventTimeTimer(VoidNamespace, 5);
  }
  const time = new OperatorTime(1, keyed, new ManualClock(0), host);
  time.onWatermark(0, 100);
  assert.equal(time.fireStep(256), 0);
  assert.deepEqual(sent, [{ kind: 'watermark', timestamp: 100 }]);
  const lazy = time.getInternalTimerService('lazy', Serializers.voidNamespace, triggerable);
  assert.equal(out.length, 0, 'nothing fires within the call that created the service');
  assert.equal(lazy.currentWatermark(), 100, 'the service starts where event time is');
  assert.ok(time.firing);
  assert.equal(time.fireStep(256), 0, 'no credit: no timer fires');
  credit = 3;
  assert.equal(time.fireStep(256), 3, 'as many as the credit allows');
  credit = 100;
  assert.equal(time.fireStep(4), 4, 'at most a step');
  assert.equal(time.fireStep(256), 3);
  assert.equal(time.firing, false);
  assert.equal(out.length, 10);
  assert.equal(sent.length, 1, 'the watermark had already gone downstream: it is not sent again');
});
