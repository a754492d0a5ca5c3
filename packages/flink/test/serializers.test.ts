import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  avroSerializer,
  BooleanSerializer,
  BytePrimitiveArraySerializer,
  ByteSerializer,
  CharSerializer,
  DoubleSerializer,
  flinkMurmurHash,
  FlinkSnapshots,
  FloatSerializer,
  IntPrimitiveArraySerializer,
  IntSerializer,
  JavaDataInput,
  JavaDataOutput,
  javaStringHash,
  LongSerializer,
  pojoSerializer,
  rowDataSerializer,
  ShortSerializer,
  StringSerializer,
  TimeWindowSerializer,
  tupleSerializer,
  type FlinkTypeSerializer,
} from '../src/index.js';

function roundTrip<T>(s: FlinkTypeSerializer<T>, v: T, expectedHex?: string): void {
  const o = new JavaDataOutput();
  s.serialize(v, o);
  const b = o.toBytes();
  if (expectedHex !== undefined) assert.equal(Buffer.from(b).toString('hex'), expectedHex, s.serializerClass);
  const i = new JavaDataInput(b, 'rt');
  assert.deepEqual(s.deserialize(i), v);
  assert.equal(i.remaining, 0);
  // Flink declares 0 for VoidNamespace although it writes one byte, so composite lengths are not checked here.
  if (s.length > 0 && !s.serializerClass.includes("Timer")) assert.equal(b.length, s.length);
}

describe('Flink serializers (decode and encode)', () => {
  it('primitives with Flink bytes', () => {
    roundTrip(LongSerializer, -2n, 'fffffffffffffffe');
    roundTrip(IntSerializer, 123456, '0001e240');
    roundTrip(ShortSerializer, -3, 'fffd');
    roundTrip(ByteSerializer, -1, 'ff');
    roundTrip(BooleanSerializer, true, '01');
    roundTrip(DoubleSerializer, 1.5, '3ff8000000000000');
    roundTrip(FloatSerializer, 1.5, '3fc00000');
    roundTrip(CharSerializer, 'é', '00e9');
    roundTrip(BytePrimitiveArraySerializer, Uint8Array.from([1, 2]), '000000020102');
    roundTrip(IntPrimitiveArraySerializer, [1, -1], '0000000200000001ffffffff');
    roundTrip(TimeWindowSerializer, { start: 0n, end: 3000n }, '00000000000000000000000000000bb8');
  });

  it("String uses Flink's StringValue encoding (length + 1, UTF-16 units as 7-bit groups)", () => {
    roundTrip(StringSerializer, null, '00');
    roundTrip(StringSerializer, 'ab', '036162');
    // 'é' = 0xE9 -> e9 01; '€' = 0x20AC -> ac 41; surrogates encoded unit by unit.
    roundTrip(StringSerializer, 'é€😀', computeExpected('é€😀'));
    assert.equal(computeExpected('é€'), '03e901ac41');
  });

  it('composites, enum, POJO, Avro, RowData', () => {
    const long = FlinkSnapshots.long().serializer;
    const str = FlinkSnapshots.string().serializer;
    roundTrip(FlinkSnapshots.list(FlinkSnapshots.string()).serializer, ['x', 'y']);
    roundTrip(FlinkSnapshots.map(FlinkSnapshots.string(), FlinkSnapshots.long()).serializer, new Map<unknown, unknown>([['a', 1n], ['b', null]]));
    roundTrip(tupleSerializer([long, str], 'org.apache.flink.api.java.tuple.Tuple2'), [5n, 'z']);
    roundTrip(FlinkSnapshots.timer(FlinkSnapshots.long(), FlinkSnapshots.voidNamespace()).serializer, { timestamp: -5n, key: 1n, namespace: null });
    roundTrip(FlinkSnapshots.enum('Color', ['RED', 'BLUE']).serializer, 'BLUE', '00000001');
    roundTrip(pojoSerializer('P', [{ name: 'age', serializer: IntSerializer }, { name: 'name', serializer: str }]), { age: 27, name: 'Gordon' });
    roundTrip(pojoSerializer('P', [{ name: 'age', serializer: IntSerializer }]), null, '01');
    roundTrip(avroSerializer('{"type":"record","name":"R","fields":[{"name":"l","type":"long"},{"name":"s","type":["null","string"]},{"name":"a","type":{"type":"array","items":"int"}}]}', 'R'), { l: 1n, s: 'hi', a: [1, 2] });
    roundTrip(rowDataSerializer(['BIGINT', 'VARCHAR', 'INTEGER', 'VARCHAR']), { kind: '+U', fields: [2n, 'Hello', null, 'a longer string than seven'] });
  });

  it("Flink's key-group hashing (MathUtils.murmurHash over Java hashCode)", () => {
    assert.equal(javaStringHash('hello'), 99162322);
    assert.equal(LongSerializer.hashCode!(-1n), 0);
    assert.ok(flinkMurmurHash(-123) >= 0);
    assert.equal(flinkMurmurHash(0), flinkMurmurHash(0));
  });
});

function computeExpected(s: string): string {
  const out: number[] = [];
  const put = (v: number): void => {
    while (v >= 0x80) {
      out.push((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    out.push(v);
  };
  put(s.length + 1);
  for (let i = 0; i < s.length; i++) put(s.charCodeAt(i));
  return Buffer.from(out).toString('hex');
}

describe('JavaDataOutput writes NaN as Java does', () => {
  it('writeDouble and writeFloat write every NaN, whatever its bits in JS, as the canonical NaN (doubleToLongBits, floatToIntBits)', () => {
    const payload = new DataView(new ArrayBuffer(8));
    payload.setUint32(0, 0xfff80000);
    payload.setUint32(4, 1);
    for (const nan of [NaN, payload.getFloat64(0)]) {
      const o = new JavaDataOutput();
      o.writeDouble(nan);
      o.writeFloat(nan);
      assert.deepEqual([...o.toBytes()], [0x7f, 0xf8, 0, 0, 0, 0, 0, 0, 0x7f, 0xc0, 0, 0]);
    }
  });
});
