import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AssertionError,
  assignRangeToKeyGroup,
  assignToKeyGroup,
  BlockField,
  BytesSerializer,
  CorruptDataError,
  DataInputDeserializer,
  DataOutputSerializer,
  decodeBlock,
  ExactDeserializer,
  KeyGroupRange,
  KeyGroupRecordFields,
  KeyedStateStreamEncoder,
  ListSerializer,
  murmur3_32,
  murmur3_32Range,
  Serializers,
  VoidNamespaceSerializer,
  type KeyedStateMetaInfo,
  type KeyedStateStreamHeader,
  type KeyedStateRecord,
  type SnapshotStateKind,
  type TypeSerializer,
  type TypeSerializerSnapshot,
} from '../src/index.js';

/** n deterministic bytes for `seed` (a multiplicative hash of seed and index). */
const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => Math.imul(seed * 7919 + i, 2654435761) >>> 24);

/** The outcome of a decode: its value, or its error's class, message and offset. */
function outcome(f: () => unknown): unknown {
  try {
    return { value: f() };
  } catch (e) {
    return { error: (e as Error).constructor.name, message: (e as Error).message, offset: (e as CorruptDataError).offset };
  }
}

/**
 * The general path the in-place parse replaced (the block decoder before issue 16's read work):
 * a record object with a view per field, read with readLengthPrefixed. The oracle of the tests below.
 */
function referenceRecords(block: Uint8Array, offset: number, g: number, kinds: readonly SnapshotStateKind[]): KeyedStateRecord[] {
  const input: DataInputDeserializer = new DataInputDeserializer(block, offset);
  const out: KeyedStateRecord[] = [];
  const k = input.readUint32();
  if (k !== g) input.fail(`block holds key group ${k}, expected ${g}`);
  for (;;) {
    const ref = input.readVarUint();
    if (ref === 0) break;
    const kind = kinds[ref - 1];
    if (kind === undefined) input.fail(`record refers to state #${ref - 1}, the header has ${kinds.length}`);
    const key = input.readLengthPrefixed();
    const namespace = input.readLengthPrefixed();
    if (kind === 'MAP') {
      const userKey = input.readLengthPrefixed();
      const value = input.readBoolean() ? input.readLengthPrefixed() : null;
      out.push({ stateIndex: ref - 1, key, namespace, value, userKey });
    } else {
      out.push({ stateIndex: ref - 1, key, namespace, value: input.readLengthPrefixed(), userKey: undefined });
    }
  }
  if (input.remaining !== 0) input.fail(`${input.remaining} trailing bytes after key group ${k}`);
  return out;
}

const KINDS: readonly SnapshotStateKind[] = ['VALUE', 'MAP', 'LIST'];

/** The records the SPI's decodeBlock visits for block `b` of key group 5 at stream offset `offset`, read after 3 bytes of something else. */
function viaDecodeBlock(b: Uint8Array, offset: number): KeyedStateRecord[] {
  const input = new DataInputDeserializer(Uint8Array.from([9, 9, 9, ...b]), offset - 3);
  input.skip(3);
  // decodeBlock reads only the kinds of the header's states.
  const header = { states: KINDS.map((kind) => ({ kind })) } as unknown as KeyedStateStreamHeader;
  const out: KeyedStateRecord[] = [];
  decodeBlock(input, 5, header, (g, r) => {
    assert.equal(g, 5);
    out.push(r);
  });
  assert.equal(input.remaining, 0, 'decodeBlock consumes the block');
  return out;
}

/** Asserts that `f` fails an assertion (a programmer error), not with any other error. */
function assertProgrammerError(f: () => unknown, what: string): void {
  assert.throws(f, AssertionError, what);
}

/** One block of key group 5 with records of a VALUE, a MAP (null user values too) and a LIST state, empty fields included. */
function block(): Uint8Array {
  const snap = (s: TypeSerializer<unknown>) => s.snapshotConfiguration() as TypeSerializerSnapshot<unknown>;
  const states: KeyedStateMetaInfo[] = KINDS.map((kind, i) => ({ name: `s${i}`, kind, namespaceSerializerSnapshot: snap(VoidNamespaceSerializer.INSTANCE as TypeSerializer<unknown>), stateSerializerSnapshot: snap(BytesSerializer.INSTANCE as TypeSerializer<unknown>) }));
  const enc = new KeyedStateStreamEncoder(KeyGroupRange.of(5, 5), snap(Serializers.string as TypeSerializer<unknown>), states);
  enc.encodeHeader();
  enc.beginKeyGroup(5);
  for (let i = 0; i < 40; i++) {
    const key = bytes(i % 7, i);
    const ns = bytes(i % 3, i + 100);
    if (i % 3 === 1) enc.writeMapEntry(1, key, ns, bytes(i % 5, i + 200), i % 4 === 0 ? null : bytes((i * 37) % 300, i + 300));
    else enc.writeEntry(i % 3, key, ns, bytes((i * 53) % 700, i + 400));
  }
  return enc.endKeyGroup();
}

describe('key-group blocks parsed in place (KeyGroupRecordFields)', () => {
  it('gives exactly the records of the general decoder, as views and as positions', () => {
    const b = block();
    assert.deepEqual(viaDecodeBlock(b, 1000), referenceRecords(b, 1000, 5, KINDS), 'decodeBlock (SPI) visits the same records');
    const fields = KeyGroupRecordFields.parse(b, 1000, 5, KINDS.map((kind) => ({ kind })));
    const expected = referenceRecords(b, 1000, 5, KINDS);
    assert.equal(fields.count, expected.length);
    for (let j = 0; j < fields.count; j++) {
      const r = fields.record(j);
      assert.deepEqual(r, expected[j], `record ${j}`);
      assert.equal(r.key.buffer, b.buffer, 'fields are views into the block');
      assert.deepEqual(b.subarray(fields.start(j, BlockField.key), fields.end(j, BlockField.key)), expected[j]!.key);
      assert.deepEqual(b.subarray(fields.start(j, BlockField.namespace), fields.end(j, BlockField.namespace)), expected[j]!.namespace);
      const value = expected[j]!.value;
      assert.deepEqual(fields.start(j, BlockField.value) < 0 ? null : b.subarray(fields.start(j, BlockField.value), fields.end(j, BlockField.value)), value);
      assert.equal(fields.recordOffset(j), 1000 + (expected[j]!.key.byteOffset - b.byteOffset));
    }
  });

  it('fails every damaged block as the general decoder does: same message, same offset (seeded mutations)', () => {
    const good = block();
    const states = KINDS.map((kind) => ({ kind }));
    let x = 7;
    const next = (n: number) => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8) % n;
    let failures = 0;
    for (let round = 0; round < 300; round++) {
      let b = good.slice();
      // A flipped byte, a cut block, or bytes appended.
      const how = round % 3;
      if (how === 0) {
        const at = next(b.length);
        b[at] = b[at]! ^ (1 << next(8));
      }
      else if (how === 1) b = b.subarray(0, next(b.length));
      else b = Uint8Array.from([...b, ...bytes(1 + next(4), round)]);
      const general = outcome(() => referenceRecords(b, 64, 5, KINDS));
      const inPlace = outcome(() => {
        const f = KeyGroupRecordFields.parse(b, 64, 5, states);
        return Array.from({ length: f.count }, (_, j) => f.record(j));
      });
      assert.deepEqual(inPlace, general, `round ${round}`);
      assert.deepEqual(outcome(() => viaDecodeBlock(b, 64)), general, `decodeBlock, round ${round}`);
      if ((general as { error?: string }).error !== undefined) failures++;
    }
    assert.ok(failures > 150, `most mutations are caught (${failures})`);
  });

  it('ExactDeserializer.decodeRange decodes a field in place as decode does its view: same value, same errors', () => {
    const d = new ExactDeserializer();
    const out = new DataOutputSerializer();
    const list = new ListSerializer(Serializers.string);
    const cases: Array<[TypeSerializer<unknown>, unknown]> = [
      [Serializers.string as TypeSerializer<unknown>, 'ünïcødé key'],
      [Serializers.int32 as TypeSerializer<unknown>, -7],
      [BytesSerializer.INSTANCE as TypeSerializer<unknown>, bytes(33, 3)],
      [list as TypeSerializer<unknown>, ['a', '', 'ccc']],
    ];
    for (const [serializer, value] of cases) {
      out.clear();
      out.writeBytes(bytes(11, 1));
      const from = out.length;
      serializer.serialize(value, out);
      const to = out.length;
      out.writeBytes(bytes(5, 2));
      const all = out.toBytes();
      // The field, cut one short, and one too long (a trailing byte).
      for (const [a, z] of [[from, to], [from, to - 1], [from, to + 1], [from + 1, to]] as const) {
        for (const view of [false, true]) {
          const general = outcome(() => d.decode(serializer, all.subarray(a, z), 'field', 500, view));
          const inPlace = outcome(() => d.decodeRange(serializer, all, a, z, 'field', 500, view));
          assert.deepEqual(inPlace, general, `${serializer.constructor.name} [${a - from}, ${z - from}) view ${view}`);
        }
      }
    }
  });

  it('assignRangeToKeyGroup over a range of a buffer is that of the range copied out (murmur3 in place)', () => {
    const all = bytes(4096, 9);
    for (let i = 0; i < 500; i++) {
      const from = (i * 131) % 4000;
      const to = from + (i % 67);
      for (const maxParallelism of [1, 128, 32768]) {
        assert.equal(assignRangeToKeyGroup(all, from, to, maxParallelism), assignToKeyGroup(all.slice(from, to), maxParallelism), `[${from}, ${to}) of ${maxParallelism}`);
      }
    }
  });

  it('record(j) asserts j in [0, count) (it built a record of undefined positions: the whole block as its key)', () => {
    const fields = KeyGroupRecordFields.parse(block(), 0, 5, KINDS.map((kind) => ({ kind })));
    fields.record(fields.count - 1);
    for (const j of [fields.count, fields.count + 9, -1, 0.5, Number.NaN]) assertProgrammerError(() => fields.record(j), `record(${j})`);
  });

  it('murmur3_32Range and assignRangeToKeyGroup assert 0 <= start <= end <= length, integers (they hashed missing bytes as zeros, or looped ~2^30 times)', () => {
    const all = bytes(64, 4);
    assert.equal(murmur3_32Range(all, 0, 64, 0), murmur3_32(all), 'the whole buffer is a valid range');
    assert.equal(murmur3_32Range(all, 64, 64, 0), murmur3_32(new Uint8Array(0)), 'so is an empty one at its end');
    for (const [from, to] of [[0, 65], [60, 70], [-1, 3], [1, 0], [2.5, 4], [0, Number.NaN]] as const) {
      assertProgrammerError(() => murmur3_32Range(all, from, to, 0), `murmur3_32Range [${from}, ${to})`);
      assertProgrammerError(() => assignRangeToKeyGroup(all, from, to, 128), `assignRangeToKeyGroup [${from}, ${to})`);
    }
  });

  it('after resetRange, limitTo cannot widen reads past the range (into the next field\'s bytes)', () => {
    const all = bytes(32, 5);
    const input = new DataInputDeserializer(new Uint8Array(0));
    input.resetRange(all, 8, 16, 100);
    assert.equal(input.position, 8, 'position is an index into the whole buffer, not bytes consumed');
    input.limitTo(12);
    input.readUint32();
    input.limitTo(16);
    assert.equal(input.remaining, 4, 'limitTo may widen back to the range end');
    assertProgrammerError(() => input.limitTo(17), 'limitTo past the range');
    assertProgrammerError(() => input.limitTo(32), 'limitTo to the buffer end');
    input.reset(all);
    input.limitTo(32);
    assert.equal(input.remaining, 32, 'after reset the whole buffer is the range again');
  });
});
