import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FlinkSavepoint, formatFlinkInspect, inspectFlinkSavepoint, type DecodedKeyedEntry, type Timer } from '../src/index.js';
import { fixture, needsFixtures } from './fixtures.js';

const LONG_MIN = -(2n ** 63n);

async function timersOf(dir: string): Promise<Map<string, DecodedKeyedEntry[]>> {
  const sp = await FlinkSavepoint.load(fixture(dir));
  const out = new Map<string, DecodedKeyedEntry[]>();
  for (const op of sp.operators) {
    for (const info of await sp.keyedStreams(op)) {
      for (const e of sp.decodedRecords(info, op.maxParallelism)) {
        if (e.kind !== 'PRIORITY_QUEUE') continue;
        const k = `${op.uid === undefined || op.uid === '' ? op.operatorId : op.uid}/${e.state}`;
        out.set(k, [...(out.get(k) ?? []), e]);
      }
    }
  }
  return out;
}

/**
 * `_timer_state/*` priority queues decoded with TimerSerializer (timestamp, key, namespace) and
 * counted by inspect, whatever the format; the values the fixture README says the jobs registered.
 */
describe('Flink timers (PRIORITY_QUEUE states) are decoded and counted', needsFixtures, () => {
  const udf = [
    'new-stateful-udf-migration-itcase-flink2.3-rocksdb-savepoint', // canonical, from RocksDB
    'new-stateful-udf-migration-itcase-flink2.3-hashmap-savepoint', // canonical, from the HashMap backend
    'new-stateful-udf-migration-itcase-flink2.3-hashmap-checkpoint', // heap-native
    'new-stateful-udf-migration-itcase-flink1.8-savepoint', // heap-native, MetadataV2
  ];
  for (const dir of udf) {
    it(`${dir}: 4 event and 4 processing timers per timely operator, keys 0..3`, async () => {
      const sp = await FlinkSavepoint.load(fixture(dir));
      const timers = await timersOf(dir);
      const report = await inspectFlinkSavepoint(sp);
      const timelyIds = sp.operators.filter((o) => report.operators.find((r) => r.operatorId === o.operatorId)!.keyedStates.some((s) => s.kind === 'PRIORITY_QUEUE')).map((o) => o.operatorId);
      assert.equal(timelyIds.length, 2);
      for (const id of timelyIds) {
        const r = report.operators.find((o) => o.operatorId === id)!;
        const counts = Object.fromEntries(r.keyedStates.filter((s) => s.kind === 'PRIORITY_QUEUE').map((s) => [s.name, s.entries]));
        assert.deepEqual(counts, { '_timer_state/event_timer': 4, '_timer_state/processing_timer': 4 });
        const op = sp.operators.find((o) => o.operatorId === id)!;
        const name = op.uid === undefined || op.uid === '' ? op.operatorId : op.uid;
        const event = timers.get(`${name}/_timer_state/event_timer`)!.map((e) => e.value as Timer);
        // The watermark was Long.MIN_VALUE: the operator registered MIN + 10 for each key, namespace = key.
        assert.deepEqual(event.map((t) => [(t.key as bigint[])[0], t.namespace, t.timestamp]).sort((a, b) => Number((a[0] as bigint) - (b[0] as bigint))), [0n, 1n, 2n, 3n].map((k) => [k, k, LONG_MIN + 10n]));
        const processing = timers.get(`${name}/_timer_state/processing_timer`)!.map((e) => e.value as Timer);
        // Wall clock + 30 s when the job ran: after 2019 (Flink 1.8), not in the future.
        for (const t of processing) assert.ok(t.timestamp > 1546300800000n && t.timestamp < BigInt(Date.now()) + 60_000n, String(t.timestamp));
        assert.deepEqual(processing.map((t) => (t.key as bigint[])[0]).sort(), [0n, 1n, 2n, 3n]);
      }
    });
  }

  it('legacy-raw-state-heap-timers-rocks-db-1.12: one event timer (key 0 at 2, key group 94); empty processing timers count 0', async () => {
    const dir = 'legacy-raw-state-heap-timers-rocks-db-1.12';
    const timers = [...(await timersOf(dir)).values()].flat();
    assert.deepEqual(timers.map((e) => [e.state, e.keyGroup, (e.value as Timer).key, (e.value as Timer).namespace, (e.value as Timer).timestamp]), [['_timer_state/event_user-timers', 94, 0, null, 2n]]);
    const sp = await FlinkSavepoint.load(fixture(dir));
    const report = await inspectFlinkSavepoint(sp);
    const pq = report.operators.flatMap((o) => o.keyedStates.filter((s) => s.kind === 'PRIORITY_QUEUE').map((s) => [s.name, s.entries]));
    assert.deepEqual(pq.sort(), [['_timer_state/event_user-timers', 1], ['_timer_state/processing_user-timers', 0]]);
    assert.match(formatFlinkInspect(report, dir), /PRIORITY_QUEUE {3}_timer_state\/processing_user-timers: value Timer<Int, VoidNamespace>; 0 entries/);
  });

  it('broadcast jobs: the (empty) user-timer queues are shown with 0 entries', async () => {
    const report = await inspectFlinkSavepoint(await FlinkSavepoint.load(fixture('new-stateful-broadcast-udf-migration-itcase-flink2.3-hashmap-savepoint')));
    const pq = report.operators.flatMap((o) => o.keyedStates.filter((s) => s.kind === 'PRIORITY_QUEUE'));
    assert.ok(pq.length >= 2);
    for (const s of pq) assert.equal(s.entries, 0, s.name);
  });
});
