/** Window assigners and the merging window set, after Flink's *WindowsTest and MergingWindowSetTest. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { GlobalWindow, KeyGroupRange, ListSerializer, Serializers, TimeWindow, ValueStateDescriptor, VoidNamespace, type ValueState } from '@flowstate/core';
import { MemoryStateBackend } from '@flowstate/heap';
import {
  CountTrigger,
  EventTimeTrigger,
  GlobalWindows,
  InvalidWindowConfigError,
  MergingWindowSet,
  MissingTimestampError,
  NeverTrigger,
  ProcessingTimeTrigger,
  PurgingTrigger,
  SessionWindows,
  SlidingWindows,
  TumblingWindows,
} from '../../src/index.js';

const ctx = (now: number) => ({ currentProcessingTime: () => now });
const ids = (ws: readonly { id: string }[]) => ws.map((w) => w.id);

describe('window assigners', () => {
  it('tumbling event time: one aligned window, offsets, negative timestamps', () => {
    const a = TumblingWindows.eventTime(5000);
    assert.deepEqual(ids(a.assignWindows(null, 0, ctx(0))), ['0:5000']);
    assert.deepEqual(ids(a.assignWindows(null, 4999, ctx(0))), ['0:5000']);
    assert.deepEqual(ids(a.assignWindows(null, 5000, ctx(0))), ['5000:10000']);
    assert.deepEqual(ids(a.assignWindows(null, -1, ctx(0))), ['-5000:0']);
    assert.deepEqual(ids(TumblingWindows.eventTime(5000, 100).assignWindows(null, 50, ctx(0))), ['-4900:100']);
    assert.ok(a.isEventTime);
    assert.ok(a.defaultTrigger() instanceof EventTimeTrigger);
    assert.throws(() => a.assignWindows(null, undefined, ctx(0)), MissingTimestampError);
  });

  it('tumbling processing time uses the clock, not the record', () => {
    const a = TumblingWindows.processingTime(10);
    assert.deepEqual(ids(a.assignWindows(null, 999, ctx(23))), ['20:30']);
    assert.ok(!a.isEventTime);
    assert.ok(a.defaultTrigger() instanceof ProcessingTimeTrigger);
  });

  it('sliding: size/slide windows per element, newest first, with offset', () => {
    const a = SlidingWindows.eventTime(5000, 1000);
    assert.deepEqual(ids(a.assignWindows(null, 0, ctx(0))), ['0:5000', '-1000:4000', '-2000:3000', '-3000:2000', '-4000:1000']);
    assert.deepEqual(ids(a.assignWindows(null, 5999, ctx(0))), ['5000:10000', '4000:9000', '3000:8000', '2000:7000', '1000:6000']);
    assert.deepEqual(ids(SlidingWindows.eventTime(5000, 1000, 100).assignWindows(null, 150, ctx(0))), ['100:5100', '-900:4100', '-1900:3100', '-2900:2100', '-3900:1100']);
    // Non-divisible slides: 3 or 4 windows per element.
    assert.deepEqual(ids(SlidingWindows.eventTime(10, 3).assignWindows(null, 7, ctx(0))), ['6:16', '3:13', '0:10']);
    assert.deepEqual(ids(SlidingWindows.eventTime(10, 3).assignWindows(null, 0, ctx(0))), ['0:10', '-3:7', '-6:4', '-9:1']);
    assert.deepEqual(ids(SlidingWindows.processingTime(10, 5).assignWindows(null, undefined, ctx(12))), ['10:20', '5:15']);
  });

  it('sessions: [t, t + gap) per element, merged by the assigner', () => {
    const a = SessionWindows.eventTime(3000);
    assert.deepEqual(ids(a.assignWindows(null, 5000, ctx(0))), ['5000:8000']);
    const merges: string[] = [];
    a.mergeWindows([new TimeWindow(0, 3000), new TimeWindow(2000, 5000), new TimeWindow(9000, 12000)], (g, r) => merges.push(`${ids(g)}->${r.id}`));
    assert.deepEqual(merges, ['0:3000,2000:5000->0:5000']);
    assert.deepEqual(ids(SessionWindows.processingTime(10).assignWindows(null, undefined, ctx(7))), ['7:17']);
    assert.throws(() => SessionWindows.eventTimeWithDynamicGap<number>((n) => n).assignWindows(0, 1, ctx(0)), InvalidWindowConfigError);
  });

  it('global windows: the one window, a never trigger, not event time', () => {
    const a = GlobalWindows.create();
    assert.deepEqual(a.assignWindows(), [GlobalWindow.INSTANCE]);
    assert.ok(a.defaultTrigger() instanceof NeverTrigger);
    assert.ok(!a.isEventTime);
  });

  it('bad sizes, slides, offsets, gaps and counts are typed errors', () => {
    for (const f of [
      () => TumblingWindows.eventTime(0),
      () => TumblingWindows.eventTime(10, 10),
      () => TumblingWindows.eventTime(10, -10),
      () => TumblingWindows.eventTime(1.5),
      () => SlidingWindows.eventTime(10, 0),
      () => SlidingWindows.eventTime(10, 5, 5),
      () => SessionWindows.eventTime(-1),
      () => CountTrigger.of(0),
    ]) {
      assert.throws(f, InvalidWindowConfigError);
    }
  });

  it('only triggers that implement onMerge say they can merge', () => {
    assert.ok(new EventTimeTrigger().canMerge());
    assert.ok(CountTrigger.of(2).canMerge());
    assert.ok(PurgingTrigger.of(new ProcessingTimeTrigger()).canMerge());
    assert.ok(!new NeverTrigger().canMerge());
  });
});

async function windowSetState(): Promise<ValueState<TimeWindow[][]>> {
  const kb = await new MemoryStateBackend().createKeyedStateBackend({ operatorIdentifier: 'mws', keySerializer: Serializers.string, maxParallelism: 128, keyGroupRange: KeyGroupRange.of(0, 127) });
  kb.setCurrentKey('k');
  return kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ValueStateDescriptor('set', new ListSerializer(new ListSerializer(Serializers.timeWindow))));
}

describe('MergingWindowSet', () => {
  const sessions = SessionWindows.eventTime(1);
  type Merge = [string, string[], string, string[]];
  const recorder = (into: Merge[]) => (r: TimeWindow, m: readonly TimeWindow[], s: TimeWindow, ms: readonly TimeWindow[]) => into.push([r.id, ids(m), s.id, ids(ms)]);

  it('merges incrementally: the result keeps one state window, the new window is never among the merged', async () => {
    const state = await windowSetState();
    const set = new MergingWindowSet(sessions, state);
    const merges: Merge[] = [];
    assert.equal(set.addWindow(new TimeWindow(0, 4), recorder(merges)).id, '0:4');
    assert.equal(set.addWindow(new TimeWindow(6, 9), recorder(merges)).id, '6:9');
    assert.deepEqual(merges, []);
    assert.equal(set.addWindow(new TimeWindow(2, 5), recorder(merges)).id, '0:5');
    assert.deepEqual(merges, [['0:5', ['0:4'], '0:4', []]], 'the new window joins without a state merge');
    assert.equal(set.getStateWindow(new TimeWindow(0, 5))!.id, '0:4');
    assert.equal(set.addWindow(new TimeWindow(5, 6), recorder(merges)).id, '0:9');
    assert.deepEqual(merges[1], ['0:9', ['0:5', '6:9'], '0:4', ['6:9']]);
    assert.equal(set.getStateWindow(new TimeWindow(0, 5)), undefined);
  });

  it('a window inside an in-flight one returns the in-flight one without any merge callback', async () => {
    const set = new MergingWindowSet(sessions, await windowSetState());
    const merges: Merge[] = [];
    set.addWindow(new TimeWindow(0, 10), recorder(merges));
    assert.equal(set.addWindow(new TimeWindow(2, 5), recorder(merges)).id, '0:10');
    assert.equal(set.addWindow(new TimeWindow(0, 10), recorder(merges)).id, '0:10');
    assert.deepEqual(merges, []);
  });

  it('persists only on change, restores from state, and refuses to retire unknown windows', async () => {
    const state = await windowSetState();
    const set = new MergingWindowSet(sessions, state);
    set.addWindow(new TimeWindow(0, 4), () => {});
    set.addWindow(new TimeWindow(3, 8), () => {});
    assert.equal(state.value(), null, 'nothing written before persist()');
    set.persist();
    const again = new MergingWindowSet(sessions, state);
    assert.equal(again.getStateWindow(new TimeWindow(0, 8))!.id, '0:4');
    again.retireWindow(new TimeWindow(0, 8));
    assert.throws(() => again.retireWindow(new TimeWindow(0, 8)), /not in the in-flight window set/);
    again.persist();
    assert.equal(state.value(), null, 'an empty set leaves no state');
  });
});
