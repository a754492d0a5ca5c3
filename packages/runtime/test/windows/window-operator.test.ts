/**
 * The window operator, case by case, in the manner of Flink's WindowOperatorTest: elements,
 * watermarks and processing time are driven by hand; what fires, with which timestamp, and what
 * state and timers are left afterwards is asserted.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { IllegalStateUsageError, Serializers, TimeWindow, ValueStateDescriptor, type Window } from '@flowstate/core';
import {
  CountTrigger,
  EventTimeTrigger,
  GlobalWindows,
  InvalidWindowConfigError,
  MissingTimestampError,
  NeverTrigger,
  OutputTag,
  PurgingTrigger,
  SessionWindows,
  SlidingWindows,
  TumblingWindows,
  type ProcessWindowFunction,
} from '../../src/index.js';
import { WindowHarness } from './harness.js';
import { aggregateSpec, processSpec, reduceSpec, type KV } from './specs.js';

const kv = (k: string, n = 1): KV => ({ k, n });

/** Elements as [key, timestamp, n]: the record { k: key, n } at that timestamp. */
type Elements = ReadonlyArray<readonly [string, number, number]>;

function feed(h: WindowHarness<KV, Window>, elements: Elements): void {
  for (const [k, t, n] of elements) h.element(k, kv(k, n), t);
}

/** Elements of key 'a' arriving by processing time: [time, n]. */
function arriving(h: WindowHarness<KV, Window>, arrivals: ReadonlyArray<readonly [number, number]>): void {
  for (const [time, n] of arrivals) {
    h.processingTime(time);
    h.element('a', kv('a', n));
  }
}

/** What fires once `elements` went in and the input ended. */
function firedAtEnd(h: WindowHarness<KV, Window>, elements: Elements): Array<{ value: unknown; timestamp: number | undefined }> {
  feed(h, elements);
  h.endOfInput();
  return h.takeOutput();
}

describe('window operator: tumbling and sliding event-time windows', () => {
  it('tumbling: fires each window once when the watermark passes its end, then cleans up', async () => {
    const h = await WindowHarness.create(reduceSpec(TumblingWindows.eventTime<KV>(10)));
    h.element('a', kv('a', 1), 1);
    h.element('a', kv('a', 2), 5);
    h.element('a', kv('a', 3), 12);
    h.element('b', kv('b', 10), 3);
    h.watermark(8);
    assert.deepEqual(h.takeOutput(), []);
    h.watermark(9);
    assert.deepEqual(h.takeOutput(), [
      { value: kv('a', 3), timestamp: 9 },
      { value: kv('b', 10), timestamp: 9 },
    ]);
    assert.equal(h.stateEntries(), 1, 'only the window [10, 20) of a is left');
    h.watermark(19);
    assert.deepEqual(h.takeOutput(), [{ value: kv('a', 3), timestamp: 19 }]);
    assert.equal(h.stateEntries(), 0);
    assert.equal(h.timerCount(), 0);
  });

  it('sliding (size 3000, slide 1000): every element counted in each of its three windows, across a snapshot and restore', async () => {
    const spec = reduceSpec(SlidingWindows.eventTime<KV>(3000, 1000));
    let h = await WindowHarness.create(spec);
    for (const t of [3999, 3000, 20, 0, 999]) h.element('key2', kv('key2'), t);
    for (const t of [1998, 1999, 1000]) h.element('key1', kv('key1'), t);
    const at = (wm: number) => {
      h.watermark(wm);
      // Keys whose timers share a timestamp fire in no specified order.
      return h.takeOutput().map((e) => `${(e.value as KV).k}=${(e.value as KV).n}@${e.timestamp}`).sort();
    };
    assert.deepEqual(at(999), ['key2=3@999']);
    assert.deepEqual(at(1999), ['key1=3@1999', 'key2=3@1999']);
    assert.deepEqual(at(2999), ['key1=3@2999', 'key2=3@2999']);
    // Contents and timers of the open windows survive a snapshot (Flink's test does the same).
    h = await WindowHarness.create(spec, await h.snapshot());
    assert.deepEqual(at(3999), ['key1=3@3999', 'key2=2@3999']);
    assert.deepEqual(at(4999), ['key2=2@4999']);
    assert.deepEqual(at(5999), ['key2=2@5999']);
    assert.deepEqual(at(7999), []);
    assert.equal(h.stateEntries(), 0);
    assert.equal(h.timerCount(), 0);
  });

  it('offsets shift tumbling windows', async () => {
    const h = await WindowHarness.create(processSpec(TumblingWindows.eventTime<KV>(10, 3)));
    assert.deepEqual(firedAtEnd(h, [['a', 2, 1], ['a', 3, 1]]).map((e) => e.value), ['a:-7-3=1', 'a:3-13=1']);
  });

  it('aggregate: the aggregate result is emitted, accumulators are state', async () => {
    const h = await WindowHarness.create(aggregateSpec(TumblingWindows.eventTime<KV>(10)));
    assert.deepEqual(firedAtEnd(h, [['a', 1, 1], ['a', 2, 4]]), [{ value: 2.5, timestamp: 9 }]);
    assert.equal(h.stateEntries(), 0);
  });
});

describe('window operator: lateness', () => {
  it('within the allowed lateness a late element fires its window again; after it, it goes to the side output', async () => {
    const late = new OutputTag<KV>('late');
    const h = await WindowHarness.create(reduceSpec(TumblingWindows.eventTime<KV>(10), { allowedLateness: 5, lateDataTag: late }));
    h.element('a', kv('a', 1), 1);
    h.watermark(9);
    assert.deepEqual(h.takeOutput(), [{ value: kv('a', 1), timestamp: 9 }]);
    h.element('a', kv('a', 1), 3);
    assert.deepEqual(h.takeOutput(), [{ value: kv('a', 2), timestamp: 9 }], 'late firing with everything so far');
    h.watermark(14);
    assert.equal(h.stateEntries(), 0, 'cleaned up at max timestamp + allowed lateness');
    h.element('a', kv('a', 7), 4);
    assert.deepEqual(h.takeOutput(), []);
    assert.deepEqual(h.sideOutput, [{ tag: 'late', value: kv('a', 7), timestamp: 4 }]);
    assert.equal(h.stateEntries(), 0, 'a dropped element leaves no state behind');
    assert.equal(h.timerCount(), 0);
  });

  it('without a side output late elements are counted and dropped', async () => {
    const h = await WindowHarness.create(reduceSpec(TumblingWindows.eventTime<KV>(10)));
    h.watermark(100);
    h.element('a', kv('a'), 50);
    h.element('a', kv('a'), 101);
    assert.equal(h.operator.numLateRecordsDropped, 1);
    assert.equal(h.sideOutput.length, 0);
    h.endOfInput();
    assert.deepEqual(h.takeOutput(), [{ value: kv('a'), timestamp: 109 }]);
  });

  it('an element in one live and one expired sliding window is not late', async () => {
    const late = new OutputTag<KV>('late');
    const h = await WindowHarness.create(reduceSpec(SlidingWindows.eventTime<KV>(20, 10), { lateDataTag: late }));
    h.watermark(19);
    h.element('a', kv('a'), 15); // windows [0, 20) (expired) and [10, 30) (live)
    assert.deepEqual(h.sideOutput, []);
    h.endOfInput();
    assert.deepEqual(h.takeOutput(), [{ value: kv('a'), timestamp: 29 }]);
  });
});

describe('window operator: merging (session) windows', () => {
  it('merges three sessions into one when an element bridges them, and fires the merged session once', async () => {
    const h = await WindowHarness.create(processSpec(SessionWindows.eventTime<KV>(3)));
    for (const [t, n] of [[0, 1], [1, 2], [10, 4], [4, 8], [8, 16]] as const) h.element('a', kv('a', n), t);
    h.element('b', kv('b', 100), 2);
    h.watermark(5);
    assert.deepEqual(h.takeOutput(), [{ value: 'b:2-5=100', timestamp: 4 }]);
    h.element('a', kv('a', 32), 7); // [7, 10) joins [0, 7) and [8, 13)
    h.watermark(12);
    assert.deepEqual(h.takeOutput(), [{ value: 'a:0-13=63', timestamp: 12 }]);
    assert.equal(h.stateEntries(), 0, 'contents, trigger state and the merging window set are gone');
    assert.equal(h.timerCount(), 0, 'timers of the windows that merged away were deleted');
  });

  it('reducing and aggregating contents merge through mergeNamespaces', async () => {
    const r = await WindowHarness.create(reduceSpec(SessionWindows.eventTime<KV>(5)));
    const a = await WindowHarness.create(aggregateSpec(SessionWindows.eventTime<KV>(5)));
    for (const [t, n] of [[0, 1], [20, 2], [10, 3], [4, 4], [16, 5]] as const) {
      r.element('a', kv('a', n), t);
      a.element('a', kv('a', n), t);
    }
    r.endOfInput();
    a.endOfInput();
    // Sessions [0, 9), [10, 15) and [16, 25): 4 bridged nothing, 16 joined 20.
    assert.deepEqual(r.takeOutput(), [
      { value: kv('a', 5), timestamp: 8 },
      { value: kv('a', 3), timestamp: 14 },
      { value: kv('a', 7), timestamp: 24 },
    ]);
    assert.deepEqual(a.takeOutput().map((e) => e.value), [2.5, 3, 3.5]);
    assert.equal(r.stateEntries() + a.stateEntries(), 0);
  });

  it('a late element within the allowed lateness merges into a fired session and fires it again', async () => {
    const h = await WindowHarness.create(processSpec(SessionWindows.eventTime<KV>(3), { allowedLateness: 10 }));
    h.element('a', kv('a', 1), 0);
    h.watermark(5);
    assert.deepEqual(h.takeOutput(), [{ value: 'a:0-3=1', timestamp: 2 }]);
    h.element('a', kv('a', 2), 1);
    assert.deepEqual(h.takeOutput(), [{ value: 'a:0-4=3', timestamp: 3 }]);
    h.watermark(13);
    assert.equal(h.stateEntries(), 0);
    assert.equal(h.timerCount(), 0);
  });

  it('a count trigger merges its count state with the sessions', async () => {
    const h = await WindowHarness.create(processSpec(SessionWindows.eventTime<KV>(10), { trigger: CountTrigger.of<TimeWindow>(3) }));
    h.element('a', kv('a', 1), 0);
    h.element('a', kv('a', 2), 18);
    assert.deepEqual(h.takeOutput(), []);
    h.element('a', kv('a', 4), 9); // bridges [0, 10) and [18, 28): merged count 2, plus this element
    assert.deepEqual(h.takeOutput(), [{ value: 'a:0-28=7', timestamp: 27 }]);
  });

  it('point sessions with equal timestamps do not merge into anything else', async () => {
    const h = await WindowHarness.create(processSpec(SessionWindows.eventTime<KV>(3)));
    assert.deepEqual(firedAtEnd(h, [['a', 0, 1], ['a', 0, 2], ['a', 3, 4], ['a', 7, 8]]).map((e) => e.value), ['a:0-6=7', 'a:7-10=8']);
  });

  it('dynamic gaps come from the element', async () => {
    const h = await WindowHarness.create(processSpec(SessionWindows.eventTimeWithDynamicGap<KV>((e) => e.n)));
    assert.deepEqual(firedAtEnd(h, [['a', 0, 10], ['a', 9, 1], ['a', 12, 1]]).map((e) => e.value), ['a:0-10=11', 'a:12-13=1']);
  });

  it('restores the merging window set, contents and timers from a snapshot taken mid-session', async () => {
    const input: Elements = [['a', 0, 1], ['a', 5, 2], ['b', 1, 4], ['a', 2, 8], ['b', 20, 16], ['a', 9, 32], ['b', 12, 64], ['a', 30, 128]];
    const expected = firedAtEnd(await WindowHarness.create(processSpec(SessionWindows.eventTime<KV>(4))), input);

    const first = await WindowHarness.create(processSpec(SessionWindows.eventTime<KV>(4)));
    feed(first, input.slice(0, 4));
    const snap = await first.snapshot();
    feed(first, input.slice(4).map(([k, t, n]) => [k, t, n + 1000] as const)); // lost with the failure
    const second = await WindowHarness.create(processSpec(SessionWindows.eventTime<KV>(4)), snap);
    assert.deepEqual(firedAtEnd(second, input.slice(4)), expected);
    assert.equal(second.stateEntries(), 0);
  });
});

describe('window operator: global windows and count triggers', () => {
  it('a purging count trigger fires every n elements with just those n', async () => {
    const h = await WindowHarness.create(reduceSpec(GlobalWindows.create<KV>(), { trigger: PurgingTrigger.of(CountTrigger.of(3)) }));
    for (let i = 1; i <= 7; i++) h.element('a', kv('a', i));
    h.element('b', kv('b', 1));
    assert.deepEqual(h.takeOutput().map((e) => e.value), [kv('a', 6), kv('a', 15)]);
    h.endOfInput();
    assert.deepEqual(h.takeOutput(), [], 'global windows never end: the rest stays');
    assert.equal(h.timerCount(), 0, 'no cleanup timer at the end of time');
  });

  it('a count trigger without purging fires the contents so far', async () => {
    const h = await WindowHarness.create(reduceSpec(GlobalWindows.create<KV>(), { trigger: CountTrigger.of(2) }));
    for (let i = 1; i <= 5; i++) h.element('a', kv('a', i));
    assert.deepEqual(h.takeOutput().map((e) => (e.value as KV).n), [3, 10]);
  });

  it('the default trigger of global windows never fires', async () => {
    const h = await WindowHarness.create(reduceSpec(GlobalWindows.create<KV>()));
    h.element('a', kv('a'));
    h.endOfInput();
    assert.deepEqual(h.takeOutput(), []);
  });
});

describe('window operator: processing time', () => {
  it('tumbling processing-time windows fire and clean up on the same timer', async () => {
    const h = await WindowHarness.create(reduceSpec(TumblingWindows.processingTime<KV>(10)));
    arriving(h, [[3, 1], [7, 2], [11, 4]]);
    assert.deepEqual(h.takeOutput(), [{ value: kv('a', 3), timestamp: 9 }]);
    h.processingTime(19);
    assert.deepEqual(h.takeOutput(), [{ value: kv('a', 4), timestamp: 19 }]);
    assert.equal(h.stateEntries(), 0);
    assert.equal(h.timerCount(), 0);
  });

  it('sliding processing-time windows', async () => {
    const h = await WindowHarness.create(reduceSpec(SlidingWindows.processingTime<KV>(10, 5)));
    arriving(h, [[7, 1]]);
    h.processingTime(100);
    assert.deepEqual(h.takeOutput().map((e) => e.timestamp), [9, 14]);
  });

  it('processing-time sessions merge by arrival time', async () => {
    const h = await WindowHarness.create(processSpec(SessionWindows.processingTime<KV>(5)));
    arriving(h, [[0, 1], [3, 2]]);
    h.processingTime(6);
    assert.deepEqual(h.takeOutput(), []);
    h.processingTime(7);
    assert.deepEqual(h.takeOutput(), [{ value: 'a:0-8=3', timestamp: 7 }]);
    assert.equal(h.stateEntries(), 0);
    assert.equal(h.timerCount(), 0);
  });
});

describe('window operator: process window function context and purging', () => {
  it('per-window and global state, side outputs, and clear() at cleanup', async () => {
    const FIRINGS = new ValueStateDescriptor<number>('firings', Serializers.int32, 0);
    const TOTAL = new ValueStateDescriptor<number>('total', Serializers.int32, 0);
    const info = new OutputTag<string>('info');
    let cleared = 0;
    const fn: ProcessWindowFunction<KV, string, string, TimeWindow> = {
      process(key, ctx, elements, out) {
        const firings = ctx.windowState().getState(FIRINGS);
        firings.update((firings.value() ?? 0) + 1);
        const total = ctx.globalState().getState(TOTAL);
        total.update((total.value() ?? 0) + elements.length);
        out.collect(`${key}:${ctx.window.start} firing ${firings.value()} total ${total.value()} wm ${ctx.currentWatermark()}`);
        ctx.output(info, `side ${ctx.window.start}`);
      },
      clear(ctx) {
        cleared++;
        ctx.windowState().getState(FIRINGS).clear();
      },
    };
    const h = await WindowHarness.create(processSpec(TumblingWindows.eventTime<KV>(10), { allowedLateness: 100 }, fn));
    h.element('a', kv('a'), 1);
    h.watermark(9);
    h.element('a', kv('a'), 2);
    h.element('a', kv('a'), 15);
    h.watermark(200);
    assert.deepEqual(h.takeOutput().map((e) => e.value), ['a:0 firing 1 total 1 wm 9', 'a:0 firing 2 total 3 wm 9', 'a:10 firing 1 total 4 wm 200']);
    assert.deepEqual(h.sideOutput.map((s) => [s.tag, s.value, s.timestamp]), [['info', 'side 0', 9], ['info', 'side 0', 9], ['info', 'side 10', 19]]);
    assert.equal(cleared, 2);
    assert.equal(h.stateEntries(), 1, 'only the global total is left');
  });

  it('a window purged by its trigger does not fire empty at its end', async () => {
    const h = await WindowHarness.create(reduceSpec(TumblingWindows.eventTime<KV>(10), { trigger: PurgingTrigger.of(CountTrigger.of<TimeWindow>(1)) }));
    h.element('a', kv('a', 1), 1);
    h.element('a', kv('a', 2), 2);
    h.endOfInput();
    assert.deepEqual(h.takeOutput().map((e) => (e.value as KV).n), [1, 2]);
    assert.equal(h.stateEntries(), 0);
    assert.equal(h.timerCount(), 0);
  });

  it('a purging event-time trigger fires once and leaves nothing behind', async () => {
    const h = await WindowHarness.create(reduceSpec(TumblingWindows.eventTime<KV>(10), { trigger: PurgingTrigger.of(new EventTimeTrigger<TimeWindow>()), allowedLateness: 20 }));
    h.element('a', kv('a', 1), 1);
    h.watermark(9);
    assert.deepEqual(h.takeOutput(), [{ value: kv('a', 1), timestamp: 9 }]);
    h.element('a', kv('a', 5), 3);
    assert.deepEqual(h.takeOutput(), [{ value: kv('a', 5), timestamp: 9 }], 'the late firing holds only what came after the purge');
  });
});

describe('window operator: configuration and input errors', () => {
  it('refuses an event-time record without a timestamp with a typed error', async () => {
    const h = await WindowHarness.create(reduceSpec(TumblingWindows.eventTime<KV>(10)));
    assert.throws(() => h.element('a', kv('a')), MissingTimestampError);
  });

  it('refuses merging assigners with triggers that cannot merge, negative lateness and lateness on processing time', async () => {
    await assert.rejects(async () => WindowHarness.create(reduceSpec(SessionWindows.eventTime<KV>(3), { trigger: new NeverTrigger() })), InvalidWindowConfigError);
    await assert.rejects(async () => WindowHarness.create(reduceSpec(TumblingWindows.eventTime<KV>(3), { allowedLateness: -1 })), InvalidWindowConfigError);
    await assert.rejects(async () => WindowHarness.create(reduceSpec(TumblingWindows.processingTime<KV>(3), { allowedLateness: 5 })), InvalidWindowConfigError);
  });

  it('a trigger that merges value state gets a typed error naming it', async () => {
    const VALUE = new ValueStateDescriptor<number>('seen', Serializers.int32);
    const trigger = new (class extends EventTimeTrigger<TimeWindow> {
      override onMerge(window: TimeWindow, ctx: Parameters<EventTimeTrigger<TimeWindow>['onMerge']>[1]): void {
        ctx.mergePartitionedState(VALUE);
        super.onMerge(window, ctx);
      }
    })();
    const h = await WindowHarness.create(reduceSpec(SessionWindows.eventTime<KV>(3), { trigger }));
    h.element('a', kv('a'), 0);
    assert.throws(() => h.element('a', kv('a'), 1), (e: unknown) => e instanceof IllegalStateUsageError && /seen/.test(e.message));
  });
});
