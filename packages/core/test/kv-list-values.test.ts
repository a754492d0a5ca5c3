import assert from 'node:assert/strict';
import { it } from 'node:test';
import { CorruptDataError, DataInputDeserializer, DataOutputSerializer, decodeKvList, deserializeExact, deserializeKvList, encodeKvList, Serializers, type TypeSerializer } from '../src/index.js';

/** A value's bytes as its serializer writes them. */
function ser<T>(s: TypeSerializer<T>, v: T): Uint8Array {
  const o = new DataOutputSerializer(16);
  s.serialize(v, o);
  return o.toBytes();
}

const input = () => new DataInputDeserializer(new Uint8Array(0));

it('deserializeKvList decodes what decodeKvList + deserializeExact decode, with one reused deserializer', () => {
  const strings = ['', 'a', 'flowstate', 'x'.repeat(300)];
  const stored = encodeKvList(strings.map((v) => ser(Serializers.string, v)));
  const expected = decodeKvList(stored).map((e) => deserializeExact(Serializers.string, e, 'list element'));
  const reused = input();
  assert.deepEqual(deserializeKvList(stored, Serializers.string, reused), expected);
  // The narrowed limit does not leak into the next use of the same deserializer.
  const floats = encodeKvList([1.5, -2, 3e300].map((v) => ser(Serializers.float64, v)));
  assert.deepEqual(deserializeKvList(floats, Serializers.float64, reused), [1.5, -2, 3e300]);
  assert.deepEqual(deserializeKvList(new Uint8Array(0), Serializers.float64, reused), []);
});

it('deserializeKvList: an element is read as if it were the whole input (no reading into the next one), and must consume exactly its bytes', () => {
  const one = ser(Serializers.float64, 1);
  // An int32 element read as float64 would borrow 4 bytes of the next element's header without the limit.
  const short = encodeKvList([ser(Serializers.int32, 7), one]);
  assert.throws(() => deserializeKvList(short, Serializers.float64, input()), (e) => e instanceof CorruptDataError && /truncated input: need 8 bytes for float64, 4 left/.test(e.message));
  const long = encodeKvList([new Uint8Array(12), one]);
  assert.throws(() => deserializeKvList(long, Serializers.float64, input()), (e) => e instanceof CorruptDataError && /list element has 4 trailing bytes/.test(e.message));
  const stored = encodeKvList([one, one]);
  // 12 bytes of the first element, then a second header that promises 8 bytes with 2 left.
  assert.throws(() => deserializeKvList(stored.subarray(0, 18), Serializers.float64, input()), (e) => e instanceof CorruptDataError && /truncated list element$/.test(e.message.split(' (')[0]!));
  assert.throws(() => deserializeKvList(Uint8Array.of(0, 0, 0), Serializers.float64, input()), (e) => e instanceof CorruptDataError && /truncated list element header/.test(e.message));
});

it('decodeKvList and deserializeKvList frame a stored list alike: the same errors, at the same offsets', () => {
  const one = ser(Serializers.float64, 1);
  const stored = encodeKvList([one, one]);
  const thrown = (f: () => unknown): CorruptDataError => {
    try {
      f();
    } catch (e) {
      assert.ok(e instanceof CorruptDataError, String(e));
      return e;
    }
    assert.fail('no error');
  };
  for (const bad of [stored.subarray(0, 18), stored.subarray(0, 14), Uint8Array.of(0, 0, 0), Uint8Array.of(0, 0, 0, 9, 1)]) {
    const decoded = thrown(() => decodeKvList(bad));
    const deserialized = thrown(() => deserializeKvList(bad, Serializers.float64, input()));
    assert.equal(decoded.message, deserialized.message);
    assert.equal(decoded.offset, deserialized.offset);
  }
  assert.deepEqual(decodeKvList(stored), [one, one]);
});
