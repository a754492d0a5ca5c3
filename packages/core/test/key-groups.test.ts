import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  assignToKeyGroup,
  computeKeyGroupRangeForOperatorIndex,
  computeOperatorIndexForKeyGroup,
  computeDefaultMaxParallelism,
  DataOutputSerializer,
  KeyGroupRange,
  mulberry32,
  murmur3_32,
  NOT_HANDLED,
  primitiveKeyGroupFor,
  primitiveKeyHashFor,
  Serializers,
  type TypeSerializer,
} from '@flowstate/core';

/**
 * Pinned key-group test vectors (also published in docs/key-groups.md). These are part of the
 * on-disk format forever: if this test fails, existing checkpoints would restore keys into the
 * wrong key groups. Columns: label, key bytes (hex), murmur3_32 seed 0, key group at
 * maxParallelism 128, key group at maxParallelism 32768, and the key as a value of a primitive type
 * where the primitive-key fast paths hash it without serializing it.
 */
type PrimitiveKey = readonly [typeId: string, value: unknown];
const VECTORS: ReadonlyArray<readonly [string, string, number, number, number, PrimitiveKey?]> = [
  ["raw empty", '', 0, 0, 0],
  ["string \"\"", '00', 1364076727, 55, 10423, ['string', '']],
  ["string \"a\"", '0161', 3889858547, 115, 2035, ['string', 'a']],
  ["string \"hello\"", '0568656c6c6f', 1198958599, 7, 10247, ['string', 'hello']],
  ["string \"flowstate\"", '09666c6f777374617465', 3334902926, 14, 5262, ['string', 'flowstate']],
  ["string \"key-42\"", '066b65792d3432', 1897931554, 34, 8994, ['string', 'key-42']],
  ["string \"\u00fcn\u00efc\u00f8d\u00e9\"", '0bc3bc6ec3af63c3b864c3a9', 326826267, 27, 31003],
  ["int32 0", '00000000', 593689054, 94, 31198, ['int32', 0]],
  ["int32 1", '00000001', 854115492, 36, 17572, ['int32', 1]],
  ["int32 -1", 'ffffffff', 1982413648, 80, 15184, ['int32', -1]],
  ["int32 42", '0000002a', 356355534, 78, 3534, ['int32', 42]],
  ["int32 2147483647", '7fffffff', 1792945001, 105, 11113, ['int32', 2147483647]],
  ["int64 1234567890123n", '0000011f71fb04cb', 2177037221, 37, 29605, ['int64', 1234567890123n]],
  ["float64 NaN", '7ff8000000000000', 3401342381, 45, 23981, ['float64', NaN]],
];

/** A float64 of the given bits (high word, low word); DataView keeps a NaN's bits both ways. */
function float64OfBits(high: number, low: number): number {
  const v = new DataView(new ArrayBuffer(8));
  v.setUint32(0, high);
  v.setUint32(4, low);
  return v.getFloat64(0);
}

/** NaNs that are not the canonical 0x7ff8000000000000: with a payload, negative (x86's default NaN), signalling, all ones. */
const OTHER_NANS = [float64OfBits(0x7ff80000, 1), float64OfBits(0xfff80000, 0), float64OfBits(0x7ff00000, 1), float64OfBits(0xffffffff, 0xffffffff)];

describe('key groups', () => {
  it('murmur3_32 matches the reference implementation on public vectors', () => {
    const enc = new TextEncoder();
    assert.equal(murmur3_32(enc.encode(''), 0), 0);
    assert.equal(murmur3_32(enc.encode(''), 1), 0x514e28b7);
    assert.equal(murmur3_32(enc.encode('hello'), 0), 0x248bfa47);
    assert.equal(murmur3_32(enc.encode('The quick brown fox jumps over the lazy dog'), 0), 0x2e4ff723);
  });

  it('pinned vectors: key bytes -> hash -> key group', () => {
    for (const [label, hex, hash, kg128, kg32768] of VECTORS) {
      const bytes = Buffer.from(hex, 'hex');
      assert.equal(murmur3_32(bytes, 0), hash, label);
      assert.equal(assignToKeyGroup(bytes, 128), kg128, label);
      assert.equal(assignToKeyGroup(bytes, 32768), kg32768, label);
    }
  });

  it('serializers produce the pinned key bytes', () => {
    const bytesOf = <T>(s: { serialize(v: T, o: DataOutputSerializer): void }, v: T) => {
      const o = new DataOutputSerializer();
      s.serialize(v, o);
      return Buffer.from(o.toBytes()).toString('hex');
    };
    assert.equal(bytesOf(Serializers.string, 'hello'), '0568656c6c6f');
    assert.equal(bytesOf(Serializers.string, 'ünïcødé'), '0bc3bc6ec3af63c3b864c3a9');
    assert.equal(bytesOf(Serializers.int32, -1), 'ffffffff');
    assert.equal(bytesOf(Serializers.int64, 1234567890123n), '0000011f71fb04cb');
  });

  // The primitive-key fast paths (primitive-key-groups.ts) hash keys without serializing them; they
  // must give exactly the hash, and so the key group, of the serialized bytes, forever.
  it('primitive-key fast paths reproduce the pinned vectors', () => {
    let checked = 0;
    for (const [label, , hash, kg128, kg32768, key] of VECTORS) {
      if (key === undefined) continue; // raw bytes; non-ASCII strings are checked below
      const [typeId, value] = key;
      assert.equal(primitiveKeyHashFor(typeId)!(value), hash, label);
      assert.equal(primitiveKeyGroupFor(typeId)!(value, 128), kg128, label);
      assert.equal(primitiveKeyGroupFor(typeId)!(value, 32768), kg32768, label);
      checked++;
    }
    assert.equal(checked, 12);
    // Non-ASCII strings are left to the general path (which gives the pinned value).
    assert.equal(primitiveKeyHashFor('string')!('ünïcødé'), NOT_HANDLED);
    assert.equal(primitiveKeyHashFor('bytes'), undefined);
  });

  // Flink's DoubleSerializer writes Double.doubleToLongBits, which maps every NaN to the canonical
  // one. A DataView write keeps a NaN's bits: NaNs with other bits were other keys, in other key
  // groups, on the general path and the fast path alike.
  it('every float64 NaN, whatever its bits, serializes and hashes as the canonical NaN, on the fast path too', () => {
    const out = new DataOutputSerializer();
    const [, hex, hash, kg128, kg32768] = VECTORS.find(([label]) => label === 'float64 NaN')!;
    for (const [i, nan] of OTHER_NANS.entries()) {
      out.clear();
      Serializers.float64.serialize(nan, out);
      assert.equal(Buffer.from(out.toBytes()).toString('hex'), hex, `NaN ${i}: the canonical bytes`);
      assert.equal(primitiveKeyHashFor('float64')!(nan), hash, `NaN ${i}: fast hash`);
      assert.equal(primitiveKeyGroupFor('float64')!(nan, 128), kg128, `NaN ${i}: fast key group @128`);
      assert.equal(primitiveKeyGroupFor('float64')!(nan, 32768), kg32768, `NaN ${i}: fast key group @32768`);
    }
  });

  it('primitive-key fast paths equal murmur3 of the serialized key on random keys (seeded)', () => {
    const r = mulberry32(16);
    const int = () => (Math.floor(r() * 2 ** 32) | 0);
    const asciiString = (len: number) => String.fromCharCode(...Array.from({ length: len }, () => Math.floor(r() * 128)));
    const cases: ReadonlyArray<readonly [TypeSerializer<never>, () => unknown]> = [
      [Serializers.int32 as TypeSerializer<never>, () => (r() < 0.1 ? [0, -0, 1, -1, 0x7fffffff, -0x80000000][Math.floor(r() * 6)] : int())],
      [Serializers.int64 as TypeSerializer<never>, () => BigInt.asIntN(64, (BigInt(int() >>> 0) << 32n) | BigInt(int() >>> 0))],
      [Serializers.float64 as TypeSerializer<never>, () => (r() < 0.1 ? [0, -0, NaN, ...OTHER_NANS, Infinity, -Infinity, Number.MIN_VALUE][Math.floor(r() * 10)] : (r() - 0.5) * 10 ** Math.floor(r() * 40 - 20))],
      [Serializers.boolean as TypeSerializer<never>, () => r() < 0.5],
      // Lengths across the varuint prefix's 1- and 2-byte forms (127 / 128) and every block remainder.
      [Serializers.string as TypeSerializer<never>, () => asciiString(r() < 0.2 ? 120 + Math.floor(r() * 20) : Math.floor(r() * 40))],
    ];
    const out = new DataOutputSerializer();
    for (const [serializer, gen] of cases) {
      const hash = primitiveKeyHashFor(serializer.typeId)!;
      const keyGroup = primitiveKeyGroupFor(serializer.typeId)!;
      for (let i = 0; i < 2000; i++) {
        const key = gen();
        out.clear();
        serializer.serialize(key as never, out);
        const bytes = out.toBytes();
        const label = `${serializer.typeId} ${String(key)}`;
        assert.equal(hash(key), murmur3_32(bytes, 0), label);
        for (const m of [1, 7, 128, 1000, 32768]) assert.equal(keyGroup(key, m), assignToKeyGroup(bytes, m), `${label} at maxParallelism ${m}`);
      }
    }
    // Values the serializers reject or the fast paths do not cover go to the general path.
    assert.equal(primitiveKeyHashFor('int32')!(1.5), NOT_HANDLED);
    assert.equal(primitiveKeyHashFor('int32')!(2 ** 31), NOT_HANDLED);
    assert.equal(primitiveKeyHashFor('int64')!(2n ** 63n), NOT_HANDLED);
    assert.equal(primitiveKeyHashFor('string')!('a\u{1F600}'), NOT_HANDLED);
    assert.equal(primitiveKeyGroupFor('int32')!('1', 128), NOT_HANDLED);
  });

  it('operator ranges partition the key groups, and agree with computeOperatorIndexForKeyGroup', () => {
    for (const [maxParallelism, p] of [[128, 1], [128, 2], [128, 15], [128, 77], [128, 128], [32768, 7], [10, 3]] as const) {
      let next = 0;
      for (let i = 0; i < p; i++) {
        const r = computeKeyGroupRangeForOperatorIndex(maxParallelism, p, i);
        assert.equal(r.startKeyGroup, next, `contiguous at ${maxParallelism}/${p}/${i}`);
        for (const g of [r.startKeyGroup, r.endKeyGroup]) assert.equal(computeOperatorIndexForKeyGroup(maxParallelism, p, g), i);
        next = r.endKeyGroup + 1;
      }
      assert.equal(next, maxParallelism);
    }
    // Flink's own example: maxParallelism 128, parallelism 3 -> [0,42], [43,85], [86,127].
    assert.deepEqual([0, 1, 2].map((i) => computeKeyGroupRangeForOperatorIndex(128, 3, i).toJSON()), [
      { start: 0, end: 42 },
      { start: 43, end: 85 },
      { start: 86, end: 127 },
    ]);
  });

  it('default max parallelism and range algebra', () => {
    assert.equal(computeDefaultMaxParallelism(1), 128);
    assert.equal(computeDefaultMaxParallelism(100), 256);
    assert.equal(computeDefaultMaxParallelism(30000), 32768);
    const a = new KeyGroupRange(10, 20);
    assert.deepEqual(a.intersection(new KeyGroupRange(15, 30)).toJSON(), { start: 15, end: 20 });
    assert.ok(a.intersection(new KeyGroupRange(21, 30)).isEmpty);
    assert.equal([...a].length, 11);
  });
});
