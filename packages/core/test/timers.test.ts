import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  DataInputDeserializer,
  DataOutputSerializer,
  defaultSerializerRegistry,
  IllegalStateUsageError,
  readSerializerSnapshot,
  Serializers,
  TimerSerializer,
  timerElementType,
  writeSerializerSnapshot,
  type InternalTimer,
} from '@flowstate/core';

const serializer = new TimerSerializer(Serializers.string, Serializers.int32);
const bytes = (t: InternalTimer<string, number>): Buffer => {
  const out = new DataOutputSerializer(32);
  serializer.serialize(t, out);
  return Buffer.from(out.toBytes());
};

describe('TimerSerializer', () => {
  it('writes the timestamp as a sign-flipped big-endian i64, then key and namespace (Flink layout)', () => {
    assert.equal(bytes({ timestamp: 0, key: '', namespace: 0 }).subarray(0, 8).toString('hex'), '8000000000000000');
    assert.equal(bytes({ timestamp: -1, key: '', namespace: 0 }).subarray(0, 8).toString('hex'), '7fffffffffffffff');
    assert.equal(bytes({ timestamp: 0x1_0000_0001, key: '', namespace: 0 }).subarray(0, 8).toString('hex'), '8000000100000001');
  });

  it('round-trips timestamps across the safe-integer range and refuses others', () => {
    for (const timestamp of [Number.MIN_SAFE_INTEGER, -(2 ** 32) - 5, -1, 0, 1, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
      const t = { timestamp, key: `k${timestamp}`, namespace: 7 };
      assert.deepEqual(serializer.deserialize(new DataInputDeserializer(bytes(t))), t);
    }
    assert.throws(() => bytes({ timestamp: 1.5, key: '', namespace: 0 }), IllegalStateUsageError);
    assert.throws(() => bytes({ timestamp: 2 ** 60, key: '', namespace: 0 }), IllegalStateUsageError);
  });

  it('timerElementType orders exactly as the bytes do (what KV stores sort by)', () => {
    const type = timerElementType(Serializers.string, Serializers.int32);
    const timers: Array<InternalTimer<string, number>> = [];
    for (const timestamp of [-(2 ** 40), -3, -1, 0, 1, 2, 2 ** 33]) for (const key of ['', 'a', 'ab', 'b']) for (const namespace of [-1, 0, 5]) timers.push({ timestamp, key, namespace });
    for (const a of timers) for (const b of timers) assert.equal(Math.sign(type.compare(a, b)), Math.sign(Buffer.compare(bytes(a), bytes(b))), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    assert.equal(type.keyOf(timers[5]!), timers[5]!.key);
  });

  it('its snapshot is read back through the default registry and accepts only the same key and namespace serializers', () => {
    const out = new DataOutputSerializer(64);
    writeSerializerSnapshot(out, serializer.snapshotConfiguration() as never);
    const snap = readSerializerSnapshot(new DataInputDeserializer(out.toBytes()), defaultSerializerRegistry);
    assert.equal(snap.resolveSchemaCompatibility(new TimerSerializer(Serializers.string, Serializers.int32) as never).type, 'COMPATIBLE_AS_IS');
    assert.equal(snap.resolveSchemaCompatibility(new TimerSerializer(Serializers.string, Serializers.string) as never).type, 'INCOMPATIBLE');
    assert.equal(snap.resolveSchemaCompatibility(Serializers.string as never).type, 'INCOMPATIBLE');
  });
});
