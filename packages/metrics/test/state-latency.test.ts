import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { computeKeyGroupRangeForOperatorIndex, ListStateDescriptor, MapStateDescriptor, Serializers, ValueStateDescriptor, VoidNamespace } from '@flowstate/core';
import { BACKENDS } from '@flowstate/test-registry';
import { OtelStateAccessRecorder } from '../src/index.js';
import { inMemoryOtel } from './otel.js';

const work = mkdtempSync(join(tmpdir(), 'flowstate-metrics-'));
after(() => rmSync(work, { recursive: true, force: true }));

describe('state access latency tracking through OpenTelemetry (every backend)', () => {
  for (const b of BACKENDS) {
    it(`${b.label}: every 10th call per method is recorded under Flink's metric name, labelled with the state`, async () => {
      const otel = inMemoryOtel();
      const kb = await b.create({ localDirectory: work }).createKeyedStateBackend({
        operatorIdentifier: 'op',
        keySerializer: Serializers.int32,
        maxParallelism: 128,
        keyGroupRange: computeKeyGroupRangeForOperatorIndex(128, 1, 0),
        stateLatencyTracking: { recorder: new OtelStateAccessRecorder(otel.meter, { backend: b.id }), sampleInterval: 10 },
      });
      try {
        const count = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ValueStateDescriptor('count', Serializers.int32));
        const seen = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ListStateDescriptor('seen', Serializers.int32));
        const index = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new MapStateDescriptor('index', Serializers.int32, Serializers.int32));
        for (let k = 0; k < 100; k++) {
          kb.setCurrentKey(k);
          count.update((count.value() ?? 0) + 1);
          seen.add(k);
          index.put(k, k * 2);
        }
        // The values went through the wrapper unchanged.
        kb.setCurrentKey(42);
        assert.equal(count.value(), 1);
        assert.deepEqual([...seen.get()], [42]);
        assert.equal(index.get(42), 84);

        const points = await otel.collect();
        const countOf = (metric: string, state: string) => {
          const p = points.get(metric)?.find((x) => x.attributes['state'] === state);
          return (p?.value as { count: number } | undefined)?.count ?? 0;
        };
        assert.equal(countOf('valueStateUpdateLatency', 'count'), 10, '100 updates, one in 10 sampled');
        assert.equal(countOf('valueStateValueLatency', 'count'), 10, '101 reads: the 10th, 20th, ... 100th are sampled');
        assert.equal(countOf('listStateAddLatency', 'seen'), 10);
        assert.equal(countOf('mapStatePutLatency', 'index'), 10);
        assert.equal(points.get('valueStateUpdateLatency')![0]!.attributes['backend'], b.id);
        assert.equal(points.has('valueStateSetCurrentNamespaceLatency'), false, 'namespace switching is not an access');
      } finally {
        kb.dispose();
        await otel.shutdown();
      }
    });
  }

  it('without tracking, the backend hands out its own state objects (no wrapper, no cost)', async () => {
    const b = BACKENDS[0]!;
    const kb = await b.create().createKeyedStateBackend({ operatorIdentifier: 'op', keySerializer: Serializers.int32, maxParallelism: 128, keyGroupRange: computeKeyGroupRangeForOperatorIndex(128, 1, 0) });
    const d = new ValueStateDescriptor('count', Serializers.int32);
    const s = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, d);
    assert.equal(Object.getPrototypeOf(s) === Object.prototype, false, 'a backend state class, not a plain wrapper object');
    kb.dispose();
  });
});

describe('latency histograms in nanoseconds', () => {
  it('resolve microsecond and millisecond latencies (the default buckets end at 10000, i.e. 10 µs)', async () => {
    const otel = inMemoryOtel();
    try {
      const recorder = new OtelStateAccessRecorder(otel.meter);
      // A RocksDB get of 40 µs and a slow one of 3 ms.
      recorder.recordLatency('count', 'valueStateValueLatency', 40_000);
      recorder.recordLatency('count', 'valueStateValueLatency', 3_000_000);
      const p = (await otel.collect()).get('valueStateValueLatency')![0]!.value as { buckets: { boundaries: number[]; counts: number[] } };
      const { boundaries, counts } = p.buckets;
      const bucketOf = (ns: number) => boundaries.findIndex((b) => ns <= b);
      assert.ok(bucketOf(40_000) >= 0 && bucketOf(3_000_000) >= 0, `both below the last boundary (${boundaries.at(-1)} ns)`);
      assert.notEqual(bucketOf(40_000), bucketOf(3_000_000), 'a 40 µs and a 3 ms access fall in different buckets');
      assert.equal(counts[bucketOf(40_000)], 1);
      assert.ok(boundaries[0]! <= 1_000, 'sub-microsecond heap accesses are resolved too');
    } finally {
      await otel.shutdown();
    }
  });
});
