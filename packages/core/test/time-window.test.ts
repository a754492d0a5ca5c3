import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  CorruptDataError,
  DataInputDeserializer,
  DataOutputSerializer,
  defaultSerializerRegistry,
  deserializeExact,
  GlobalWindow,
  readSerializerSnapshot,
  Serializers,
  TimeWindow,
  writeSerializerSnapshot,
} from '@flowstate/core';

function bytes(w: TimeWindow): Uint8Array {
  const out = new DataOutputSerializer(16);
  Serializers.timeWindow.serialize(w, out);
  return out.toBytes();
}

describe('TimeWindow', () => {
  it('has max timestamp end - 1 and an id equal for equal windows', () => {
    const w = new TimeWindow(0, 10);
    assert.equal(w.maxTimestamp(), 9);
    assert.equal(w.id, new TimeWindow(0, 10).id);
    assert.notEqual(w.id, new TimeWindow(0, 11).id);
    assert.ok(Object.isFrozen(w));
  });

  it('intersects overlapping and adjacent windows, covers both', () => {
    const a = new TimeWindow(0, 10);
    assert.ok(a.intersects(new TimeWindow(10, 20)), 'adjacent windows merge, as in Flink');
    assert.ok(a.intersects(new TimeWindow(5, 7)));
    assert.ok(!a.intersects(new TimeWindow(11, 20)));
    assert.deepEqual(a.cover(new TimeWindow(5, 30)), new TimeWindow(0, 30));
  });

  it('aligns window starts with offsets, negative timestamps included', () => {
    assert.equal(TimeWindow.getWindowStartWithOffset(7, 0, 5), 5);
    assert.equal(TimeWindow.getWindowStartWithOffset(7, 3, 5), 3);
    assert.equal(TimeWindow.getWindowStartWithOffset(-1, 0, 5), -5);
    assert.equal(TimeWindow.getWindowStartWithOffset(-5, 0, 5), -5);
    assert.equal(TimeWindow.getWindowStartWithOffset(2, -2, 5), -2);
  });

  it('merges runs of intersecting windows and reports only runs of two or more', () => {
    const merges: Array<[string[], string]> = [];
    const ws = [new TimeWindow(0, 3), new TimeWindow(20, 25), new TimeWindow(2, 6), new TimeWindow(6, 8), new TimeWindow(10, 12)];
    TimeWindow.mergeWindows(ws, (group, result) => merges.push([group.map((w) => w.id), result.id]));
    assert.deepEqual(merges, [[['0:3', '2:6', '6:8'], '0:8']]);
  });

  it('serializes as two big-endian longs, like Flink, for negative and large bounds', () => {
    assert.deepEqual([...bytes(new TimeWindow(1, 2))], [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2]);
    assert.deepEqual([...bytes(new TimeWindow(-1, 0)).subarray(0, 8)], [255, 255, 255, 255, 255, 255, 255, 255]);
    for (const w of [new TimeWindow(-5_000_000_000_123, 7), new TimeWindow(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER), new TimeWindow(1_700_000_000_000, 1_700_000_060_000)]) {
      assert.deepEqual(deserializeExact(Serializers.timeWindow, bytes(w), 'window'), w);
    }
  });

  it('rejects longs outside the safe integer range as corrupt data', () => {
    const b = new Uint8Array(16).fill(0x7f);
    assert.throws(() => Serializers.timeWindow.deserialize(new DataInputDeserializer(b)), CorruptDataError);
    assert.throws(() => Serializers.timeWindow.deserialize(new DataInputDeserializer(new Uint8Array(9))), CorruptDataError);
  });

  it('global window: one zero byte, and anything else is corrupt', () => {
    const out = new DataOutputSerializer(1);
    Serializers.globalWindow.serialize(GlobalWindow.INSTANCE, out);
    assert.deepEqual([...out.toBytes()], [0]);
    assert.equal(Serializers.globalWindow.deserialize(new DataInputDeserializer(new Uint8Array([0]))), GlobalWindow.INSTANCE);
    assert.throws(() => Serializers.globalWindow.deserialize(new DataInputDeserializer(new Uint8Array([1]))), CorruptDataError);
  });

  it('both serializer snapshots are known to the default registry (checkpoints with window state restore)', () => {
    for (const s of [Serializers.timeWindow, Serializers.globalWindow]) {
      const out = new DataOutputSerializer(32);
      writeSerializerSnapshot(out, s.snapshotConfiguration());
      const snap = readSerializerSnapshot(new DataInputDeserializer(out.toBytes()), defaultSerializerRegistry);
      assert.equal(snap.resolveSchemaCompatibility(s as never).type, 'COMPATIBLE_AS_IS');
    }
  });
});
