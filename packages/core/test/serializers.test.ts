import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  CorruptCheckpointError,
  CorruptDataError,
  DataInputDeserializer,
  DataOutputSerializer,
  defaultSerializerRegistry,
  deserializeCheckpointMetadata,
  deserializesIntoOwnMemory,
  StringSerializer,
  VoidNamespaceSerializer,
  ListSerializer,
  MapSerializer,
  readSerializerSnapshot,
  RecordSerializer,
  Serializers,
  serializeCheckpointMetadata,
  UnknownFormatVersionError,
  UnknownSerializerError,
  writeSerializerSnapshot,
  type TypeSerializer,
} from '@flowstate/core';

function roundTrip<T>(s: TypeSerializer<T>, v: T): T {
  const out = new DataOutputSerializer(4);
  s.serialize(v, out);
  const input = new DataInputDeserializer(out.toBytes());
  const r = s.deserialize(input);
  assert.equal(input.remaining, 0);
  return r;
}

function snapshotRoundTrip<T>(s: TypeSerializer<T>) {
  const out = new DataOutputSerializer();
  writeSerializerSnapshot(out, s.snapshotConfiguration() as never);
  return readSerializerSnapshot(new DataInputDeserializer(out.toBytes()), defaultSerializerRegistry);
}

describe('serializers', () => {
  it('primitives round-trip', () => {
    assert.equal(roundTrip(Serializers.string, 'héllo wörld ✓'), 'héllo wörld ✓');
    assert.equal(roundTrip(Serializers.string, 'x'.repeat(70000)).length, 70000);
    assert.equal(roundTrip(Serializers.int32, -123456), -123456);
    assert.equal(roundTrip(Serializers.int64, -(2n ** 63n)), -(2n ** 63n));
    assert.equal(roundTrip(Serializers.float64, Math.PI), Math.PI);
    assert.equal(roundTrip(Serializers.boolean, true), true);
    assert.deepEqual(roundTrip(Serializers.bytes, new Uint8Array([1, 2, 3])), new Uint8Array([1, 2, 3]));
    assert.deepEqual(roundTrip(Serializers.msgpack, { a: [1, 'two', null], b: { c: true } }), { a: [1, 'two', null], b: { c: true } });
  });

  it('deserializesIntoOwnMemory: primitives, bytes and lists of them yes; MessagePack (binaries are views), subclasses and unknown serializers no', () => {
    for (const s of [Serializers.string, Serializers.int32, Serializers.bytes, VoidNamespaceSerializer.INSTANCE, new ListSerializer(Serializers.string), new ListSerializer(new ListSerializer(Serializers.bytes))]) {
      assert.equal(deserializesIntoOwnMemory(s as TypeSerializer<unknown>), true, s.typeId);
    }
    // The reason MessagePack is excluded: its binaries alias the input.
    const input = new DataOutputSerializer();
    Serializers.msgpack.serialize({ b: new Uint8Array([1, 2]) }, input);
    const bytes = input.toBytes();
    assert.equal((Serializers.msgpack.deserialize(new DataInputDeserializer(bytes)) as { b: Uint8Array }).b.buffer, bytes.buffer);
    class Custom extends StringSerializer {}
    for (const s of [Serializers.msgpack, new ListSerializer(Serializers.msgpack), new MapSerializer(Serializers.string, Serializers.string), new Custom()]) {
      assert.equal(deserializesIntoOwnMemory(s as TypeSerializer<unknown>), false, s.constructor.name);
    }
  });

  it('int32 rejects non-integers instead of truncating', () => {
    assert.throws(() => roundTrip(Serializers.int32, 1.5), { code: 'ILLEGAL_STATE_USAGE' });
  });

  it('collections round-trip and snapshot their element serializers', () => {
    const ls = new ListSerializer(Serializers.string);
    assert.deepEqual(roundTrip(ls, ['a', 'b']), ['a', 'b']);
    const ms = new MapSerializer(Serializers.string, Serializers.int32);
    assert.deepEqual([...roundTrip(ms, new Map([['a', 1], ['b', null]]))], [['a', 1], ['b', null]]);
    const snap = snapshotRoundTrip(ms);
    assert.equal(snap.resolveSchemaCompatibility(ms as never).type, 'COMPATIBLE_AS_IS');
    assert.equal(snap.resolveSchemaCompatibility(new MapSerializer(Serializers.string, Serializers.string) as never).type, 'INCOMPATIBLE');
  });

  it('record V1 -> V2 migrates: field added with default, field removed', () => {
    const v1 = new RecordSerializer('Person', [
      { name: 'name', serializer: Serializers.string },
      { name: 'age', serializer: Serializers.int32 },
      { name: 'nickname', serializer: Serializers.string },
    ]);
    const v2 = new RecordSerializer('Person', [
      { name: 'name', serializer: Serializers.string },
      { name: 'age', serializer: Serializers.int32 },
      { name: 'email', serializer: Serializers.string, defaultValue: 'unknown' },
    ]);
    const snap = snapshotRoundTrip(v1);
    const compat = snap.resolveSchemaCompatibility(v2 as never);
    assert.equal(compat.type, 'COMPATIBLE_AFTER_MIGRATION');
    const old = roundTrip(snap.restoreSerializer(), { name: 'Ada', age: 36, nickname: 'A' });
    assert.ok(compat.type === 'COMPATIBLE_AFTER_MIGRATION');
    assert.deepEqual(compat.migrate(old), { name: 'Ada', age: 36, email: 'unknown' });
    // A field added without a default cannot be filled in.
    const v3 = new RecordSerializer('Person', [
      { name: 'name', serializer: Serializers.string },
      { name: 'phone', serializer: Serializers.string },
    ]);
    assert.equal(snap.resolveSchemaCompatibility(v3 as never).type, 'INCOMPATIBLE');
    // Changing a field's type is incompatible.
    const v4 = new RecordSerializer('Person', [{ name: 'name', serializer: Serializers.int32 }]);
    assert.equal(snap.resolveSchemaCompatibility(v4 as never).type, 'INCOMPATIBLE');
    assert.equal(snap.resolveSchemaCompatibility(v1 as never).type, 'COMPATIBLE_AS_IS');
  });

  it('unknown serializer types and versions give typed errors', () => {
    const out = new DataOutputSerializer();
    out.writeString('no-such-type');
    out.writeVarUint(1);
    out.writeVarUint(0);
    assert.throws(() => readSerializerSnapshot(new DataInputDeserializer(out.toBytes()), defaultSerializerRegistry), UnknownSerializerError);
    const out2 = new DataOutputSerializer();
    out2.writeString('string');
    out2.writeVarUint(99);
    out2.writeVarUint(0);
    assert.throws(() => readSerializerSnapshot(new DataInputDeserializer(out2.toBytes()), defaultSerializerRegistry), UnknownFormatVersionError);
  });

  it('never trusts a length prefix beyond the input', () => {
    const out = new DataOutputSerializer();
    out.writeVarUint(0xfffffff0);
    assert.throws(() => new DataInputDeserializer(out.toBytes()).readLengthPrefixed(), CorruptDataError);
    assert.throws(() => new ListSerializer(Serializers.int32).deserialize(new DataInputDeserializer(out.toBytes())), CorruptDataError);
  });
});

describe('checkpoint metadata', () => {
  const meta = {
    checkpointId: 7,
    kind: 'CHECKPOINT' as const,
    timestamp: 1700000000000,
    operators: [{ uid: 'counter', parallelism: 2, maxParallelism: 128, subtasks: [] }],
  };

  it('round-trips', () => {
    assert.deepEqual(deserializeCheckpointMetadata(serializeCheckpointMetadata(meta), 'chk-7/_metadata'), meta);
  });

  it('detects every single bit flip and every truncation', () => {
    const bytes = serializeCheckpointMetadata(meta);
    for (let i = 0; i < bytes.length * 8; i++) {
      const copy = bytes.slice();
      copy[i >> 3]! ^= 1 << (i & 7);
      assert.throws(() => deserializeCheckpointMetadata(copy, 'chk-7/_metadata'), (e: Error) => {
        return (e instanceof CorruptCheckpointError || e instanceof UnknownFormatVersionError) && e.message.includes('chk-7/_metadata');
      });
    }
    for (let n = 0; n < bytes.length; n++) {
      assert.throws(() => deserializeCheckpointMetadata(bytes.subarray(0, n), 'chk-7/_metadata'), CorruptCheckpointError);
    }
  });
});
