import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { computeKeyGroupRangeForOperatorIndex, FsCheckpointStorage, MemoryFileSystem, Serializers, ValueStateDescriptor, VoidNamespace } from '@flowstate/core';
import { EmbeddedCheckpointCoordinator, subtaskRestoreState } from '@flowstate/coordinator';
import { ROCKSDB_NATIVE_METRICS } from '@flowstate/rocksdb';
import { BACKENDS } from '@flowstate/test-registry';
import { CheckpointMetrics, observeNativeMetrics, type NativeMetricsSource } from '../src/index.js';
import { AggregationTemporality } from '@opentelemetry/sdk-metrics';
import { inMemoryOtel } from './otel.js';

const work = mkdtempSync(join(tmpdir(), 'flowstate-metrics-cp-'));
after(() => rmSync(work, { recursive: true, force: true }));
const COUNT = new ValueStateDescriptor<number>('count', Serializers.int32, 0);
const range = computeKeyGroupRangeForOperatorIndex(128, 1, 0);

const value = (points: Map<string, Array<{ value: unknown; attributes: Record<string, unknown> }>>, name: string): number => {
  const p = points.get(name);
  assert.ok(p !== undefined && p.length === 1, `one data point for ${name}`);
  return p[0]!.value as number;
};

describe("Flink's checkpoint metrics through OpenTelemetry, after real checkpoints (every backend)", () => {
  for (const b of BACKENDS) {
    it(`${b.label}: completed checkpoints, sizes and the restore timestamp as the coordinator reports them`, async () => {
      const otel = inMemoryOtel();
      const metrics = new CheckpointMetrics(otel.meter, { job: 'counter' });
      const storage = new FsCheckpointStorage(new MemoryFileSystem());
      const backend = b.create({ localDirectory: work });
      const open = async () => {
        const coordinator = await EmbeddedCheckpointCoordinator.open({ storage, retainedCheckpoints: 2, restoreMode: 'CLAIM', listener: metrics });
        const keyed = await coordinator.restore(async (point) => {
          const r = subtaskRestoreState(point, 'counter', 0, 1);
          return backend.createKeyedStateBackend({ operatorIdentifier: 'counter#0', keySerializer: Serializers.int32, maxParallelism: 128, keyGroupRange: range, restoreState: r?.keyed ?? [], ...(r ? { stateHandleReader: r.reader } : {}) });
        });
        coordinator.register({ uid: 'counter', subtaskIndex: 0, parallelism: 1, maxParallelism: 128, keyed });
        return { coordinator, keyed };
      };
      const first = await open();
      const count = first.keyed.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT);
      let last;
      for (let round = 0; round < 3; round++) {
        for (let k = 0; k < 200; k++) (first.keyed.setCurrentKey(k), count.update((count.value() ?? 0) + 1));
        last = await first.coordinator.triggerCheckpoint();
      }
      let points = await otel.collect();
      assert.equal(value(points, 'numberOfCompletedCheckpoints'), 3);
      assert.equal(value(points, 'totalNumberOfCheckpoints'), 3);
      assert.equal(value(points, 'numberOfInProgressCheckpoints'), 0);
      assert.equal(value(points, 'numberOfFailedCheckpoints'), 0);
      assert.equal(value(points, 'lastCompletedCheckpointId'), last!.checkpointId);
      // The full size is the bytes of every file the last checkpoint references, inline handles
      // included (small files of native RocksDB checkpoints), whose bytes are in its _metadata.
      const files = await storage.fs.list(last!.pointer);
      const shared = (await storage.fs.list('shared')).map((f) => f.size);
      assert.ok(value(points, 'lastCheckpointFullSize') > 0);
      assert.ok(value(points, 'lastCheckpointFullSize') <= files.reduce((a, f) => a + f.size, 0) + shared.reduce((a, s) => a + s, 0));
      assert.ok(value(points, 'lastCheckpointSize') <= value(points, 'lastCheckpointFullSize'));
      assert.ok(value(points, 'lastCheckpointDuration') >= 0);
      assert.equal(value(points, 'lastCheckpointRestoreTimestamp'), -1, 'nothing restored yet');
      assert.equal(points.get('numberOfCompletedCheckpoints')![0]!.attributes['job'], 'counter');
      await first.coordinator.close();
      first.keyed.dispose();

      const before = Date.now();
      const second = await open();
      points = await otel.collect();
      assert.ok(value(points, 'lastCheckpointRestoreTimestamp') >= before, 'the restore is reported');
      second.keyed.setCurrentKey(7);
      assert.equal(second.keyed.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT).value(), 3);
      await second.coordinator.close();
      second.keyed.dispose();
      await otel.shutdown();
    });
  }

  it('RocksDB native metrics are observed as gauges while the backend lives', async () => {
    const otel = inMemoryOtel();
    const kb = await BACKENDS.find((b) => b.id === 'rocksdb')!.create({ localDirectory: work }).createKeyedStateBackend({ operatorIdentifier: 'native', keySerializer: Serializers.int32, maxParallelism: 128, keyGroupRange: range });
    const state = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT);
    for (let k = 0; k < 1000; k++) (kb.setCurrentKey(k), state.update(k));
    const stop = observeNativeMetrics(kb as unknown as NativeMetricsSource, ROCKSDB_NATIVE_METRICS, otel.meter, { operator: 'native' });
    const points = await otel.collect();
    for (const name of ROCKSDB_NATIVE_METRICS) assert.equal(points.get(name)?.length, 1, name);
    assert.ok(value(points, 'rocksdb.estimate-num-keys') >= 900, 'about 1000 keys (an estimate)');
    assert.ok(value(points, 'rocksdb.cur-size-all-mem-tables') > 0, 'the writes sit in the memtable');
    stop();
    kb.dispose();
    await otel.shutdown();
  });
});

describe("CheckpointMetrics' counts, as Flink's CheckpointStatsCounts keeps them", () => {
  const outcome = (checkpointId: number) => ({ checkpointId, durationMs: 5, checkpointedSize: 10, fullSize: 20 });

  it('a checkpoint that failed before it was triggered (TRIGGER_FAILED) counts as failed and total, and ends no other checkpoint in progress', () => {
    const m = new CheckpointMetrics(inMemoryOtel().meter);
    m.checkpointTriggered(1);
    m.checkpointFailed(outcome(2)); // the coordinator reports it without checkpointTriggered
    let s = m.snapshot();
    assert.equal(s.numberOfInProgressCheckpoints, 1, 'checkpoint 1 is still in progress');
    assert.equal(s.numberOfFailedCheckpoints, 1);
    assert.equal(s.totalNumberOfCheckpoints, 2);
    m.checkpointCompleted(outcome(1));
    s = m.snapshot();
    assert.equal(s.numberOfInProgressCheckpoints, 0);
    assert.equal(s.numberOfCompletedCheckpoints, 1);
    assert.equal(s.totalNumberOfCheckpoints, s.numberOfCompletedCheckpoints + s.numberOfFailedCheckpoints + s.numberOfInProgressCheckpoints);
  });
});

describe('CheckpointMetrics.close()', () => {
  const outcome = (checkpointId: number) => ({ checkpointId, durationMs: 5, checkpointedSize: 10, fullSize: 20 });

  it("removes its gauge callbacks: a collection reports only the instances still open, and a closed one's later events are ignored", async () => {
    const otel = inMemoryOtel(AggregationTemporality.DELTA);
    try {
      const earlier = new CheckpointMetrics(otel.meter, { run: 'earlier' });
      earlier.checkpointTriggered(1);
      earlier.checkpointCompleted(outcome(1));
      const runs = async (name: string) => (await otel.collect()).get(name)?.map((p) => p.attributes['run']) ?? [];
      assert.deepEqual(await runs('numberOfCompletedCheckpoints'), ['earlier']);

      earlier.close();
      earlier.close(); // idempotent
      const current = new CheckpointMetrics(otel.meter, { run: 'current' });
      current.checkpointTriggered(1);
      earlier.checkpointTriggered(2); // ignored once closed
      const points = await otel.collect();
      for (const name of ['numberOfCompletedCheckpoints', 'totalNumberOfCheckpoints', 'lastCompletedCheckpointId']) {
        assert.deepEqual(points.get(name)?.map((p) => p.attributes['run']), ['current'], `${name}: the closed instance's values are no longer exported`);
      }
      assert.equal(value(points, 'numberOfInProgressCheckpoints'), 1);
      assert.equal(earlier.snapshot().totalNumberOfCheckpoints, 1, 'the closed instance ignored the later trigger');
    } finally {
      await otel.shutdown();
    }
  });
});
