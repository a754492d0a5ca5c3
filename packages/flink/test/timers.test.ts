import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  computeKeyGroupRangeForOperatorIndex,
  defaultSerializerRegistry,
  deserializeCheckpointMetadata,
  FsCheckpointStorage,
  MemoryFileSystem,
  MinimalKvStateBackend,
  readKeyedStateHeader,
  TimerSerializer,
  type InternalTimer,
  type KeyGroupsStateHandle,
  type PriorityQueueElementType,
} from '@flowstate/core';
import { convertFlinkToFlowstate, FlinkSavepoint, formatFlinkInspect, inspectFlinkSavepoint, type DecodedKeyedEntry, type Timer } from '../src/index.js';
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

/** Restores every subtask of `uid` of a converted savepoint into MinimalKvStateBackends and polls the queue `name`, per subtask. */
async function pollConverted(fs: MemoryFileSystem, uid: string, name: string): Promise<Array<Array<InternalTimer<unknown, unknown>>>> {
  const storage = new FsCheckpointStorage(fs, { layout: 'savepoint' });
  const md = deserializeCheckpointMetadata((await storage.resolveCheckpoint('')).metadata, '_metadata');
  const op = md.operators.find((o) => o.uid === uid)!;
  const handles = op.subtasks.flatMap((s) => s.keyed) as KeyGroupsStateHandle[];
  const header = await readKeyedStateHeader(storage, handles[0]!, defaultSerializerRegistry);
  const meta = header.states.find((m) => m.name === name)!;
  assert.equal(meta.kind, 'PRIORITY_QUEUE');
  const serializer = meta.stateSerializerSnapshot.restoreSerializer() as TimerSerializer<unknown, unknown>;
  const type: PriorityQueueElementType<unknown, InternalTimer<unknown, unknown>> = {
    serializer,
    compare: (a, b) => a.timestamp - b.timestamp,
    keyOf: (t) => t.key,
  };
  const out: Array<Array<InternalTimer<unknown, unknown>>> = [];
  for (let i = 0; i < op.parallelism; i++) {
    const polled: Array<InternalTimer<unknown, unknown>> = [];
    const kb = await new MinimalKvStateBackend().createKeyedStateBackend({
      operatorIdentifier: uid,
      keySerializer: serializer.keySerializer,
      maxParallelism: op.maxParallelism,
      keyGroupRange: computeKeyGroupRangeForOperatorIndex(op.maxParallelism, op.parallelism, i),
      restoreState: handles,
      stateHandleReader: storage,
    });
    const q = kb.createPriorityQueue(name, type);
    for (let t = q.poll(); t !== undefined; t = q.poll()) polled.push(t);
    out.push(polled);
    kb.dispose();
  }
  return out;
}

describe('Flink timers convert into flowstate priority-queue state', needsFixtures, () => {
  it('new-stateful-udf-migration-itcase-flink2.3-hashmap-savepoint: both timer queues of both timely operators restore into a KV backend and poll in order', async () => {
    const dir = 'new-stateful-udf-migration-itcase-flink2.3-hashmap-savepoint';
    const fs = new MemoryFileSystem();
    const { metadata, skipped } = await convertFlinkToFlowstate(await FlinkSavepoint.load(fixture(dir)), fs);
    assert.deepEqual(skipped.filter((s) => s.includes('_timer_state')), [], 'no timer state skipped');
    const timely = metadata.operators.filter((o) => o.subtasks.some((s) => s.keyed.length > 0));
    let queues = 0;
    for (const op of timely) {
      const storage = new FsCheckpointStorage(fs, { layout: 'savepoint' });
      const header = await readKeyedStateHeader(storage, op.subtasks.flatMap((s) => s.keyed)[0] as KeyGroupsStateHandle, defaultSerializerRegistry);
      if (!header.states.some((m) => m.name === '_timer_state/event_timer')) continue;
      queues++;
      const event = (await pollConverted(fs, op.uid, '_timer_state/event_timer')).flat();
      // Long.MIN_VALUE + 10 for keys 0..3 (namespace = key), clamped to the smallest safe integer.
      assert.equal(event.length, 4);
      for (const t of event) assert.equal(t.timestamp, -Number.MAX_SAFE_INTEGER);
      const perSubtask = await pollConverted(fs, op.uid, '_timer_state/processing_timer');
      assert.equal(perSubtask.flat().length, 4);
      for (const polled of perSubtask) {
        const ts = polled.map((t) => t.timestamp);
        assert.deepEqual(ts, [...ts].sort((a, b) => a - b), 'each subtask polls in timestamp order');
        for (const t of ts) assert.ok(t > 1546300800000 && t < Date.now() + 60_000, String(t));
      }
    }
    assert.equal(queues, 2, 'two timely operators');
  });
});
