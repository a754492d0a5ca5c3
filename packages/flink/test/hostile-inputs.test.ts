import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorruptCheckpointError, MemoryFileSystem, StorageError } from '@flowstate/core';
import {
  avroSerializer,
  buildSnapshot,
  ByteSerializer,
  convertFlinkToFlowstate,
  defaultFlinkSerializers,
  encodeCanonicalStream,
  encodeOperatorStream,
  FlinkSavepoint,
  FlinkSnapshots,
  IntSerializer,
  isFlinkSavepoint,
  JavaDataInput,
  JavaDataOutput,
  listSerializer,
  loadOperatorSnapshot,
  LongSerializer,
  mapSerializer,
  operatorIdFromUid,
  readJavaSerializationStream,
  rewriteFlinkSavepoint,
  validateFlinkSavepoint,
  writeFlinkMetadata,
  writeKeyedHeader,
  writeStringValue,
  writeVersionedSnapshot,
  type CanonicalRecord,
  type FlinkSerializerSnapshot,
  type FlinkValidationProblem,
  type FlinkTypeSerializer,
  type KeyedStateHandle,
  type OperatorStreamHandle,
  type StateMetaInfo,
  type SubtaskState,
} from '../src/index.js';

/**
 * Crafted inputs that once escaped the package's typed errors: out of memory, stack overflow,
 * TypeErrors, or a stream read in the wrong format. Each is built here, byte by byte.
 */

const BASE = 'org.apache.flink.api.common.typeutils.base.';
const AVRO_SNAPSHOT = 'org.apache.flink.formats.avro.typeutils.AvroSerializerSnapshot';

function bytesOf(s: FlinkTypeSerializer, v: unknown): Uint8Array {
  const o = new JavaDataOutput();
  s.serialize(v as never, o);
  return o.toBytes();
}

function assertCorrupt(f: () => unknown, detail: RegExp, offset?: number): CorruptCheckpointError {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof CorruptCheckpointError, `expected CorruptCheckpointError, got ${String(caught)}`);
  assert.match(caught.message, detail);
  if (offset !== undefined) assert.equal(caught.offset, offset);
  return caught;
}

/** Blocks of n items, n = the bytes left after the count (all a per-block check sees): ~bytes^2/6 items of no bytes. */
function avroBlockBomb(size: number): Uint8Array {
  const parts: number[] = [];
  for (let left = size; left > 3; left -= 3) {
    const n = left - 3;
    parts.push(0x80 | (n & 0x7f), 0x80 | ((n >> 7) & 0x7f), (n >> 14) & 0x7f);
  }
  while (parts.length < size) parts.push(0);
  return Uint8Array.from(parts);
}

/** Records R0..R{depth-1}, each with two fields of the next, the last two nulls: 2^depth nulls from no bytes. */
function avroNullTree(depth: number): string {
  const record = (k: number): unknown => ({
    type: 'record',
    name: `R${k}`,
    fields: [{ name: 'a', type: k === depth - 1 ? 'null' : record(k + 1) }, { name: 'b', type: k === depth - 1 ? 'null' : `R${k + 1}` }],
  });
  return JSON.stringify(record(0));
}

describe('hostile inputs: decoding stays linear in the bytes', () => {
  it('Avro blocks of items of no bytes cannot claim the bytes left again at every block', () => {
    const ser = avroSerializer('{"type":"array","items":"null"}', 'org.apache.avro.generic.GenericData$Array');
    // Each block count passes the per-block check; together they were 1.5 million nulls from 3 KB.
    assertCorrupt(() => ser.deserialize(new JavaDataInput(avroBlockBomb(3000), 'v')), /items from 3000 bytes/);
    // Real arrays, and a few items of no bytes, still decode.
    const ints = avroSerializer('{"type":"array","items":"boolean"}', 'A');
    const o = new JavaDataOutput();
    ints.serialize(Array.from({ length: 5000 }, (_, i) => i % 2 === 0), o);
    assert.equal((ints.deserialize(new JavaDataInput(o.toBytes(), 'v')) as unknown[]).length, 5000);
    assert.deepEqual(ser.deserialize(new JavaDataInput(Uint8Array.of(1, 0), 'v')), [null]);
  });

  it('an Avro record reaching nulls through many fields is bounded too (2^16 nulls from no bytes)', () => {
    const ser = avroSerializer(avroNullTree(16), 'R0');
    assertCorrupt(() => ser.deserialize(new JavaDataInput(new Uint8Array(0), 'v')), /Avro values of no bytes/);
    assert.deepEqual(avroSerializer(avroNullTree(3), 'R0').deserialize(new JavaDataInput(new Uint8Array(0), 'v')), {
      a: { a: { a: null, b: null }, b: { a: null, b: null } },
      b: { a: { a: null, b: null }, b: { a: null, b: null } },
    });
  });

  it('records of bytes and nulls decode at any count: a null is claimed once, its record not besides it', () => {
    // As many nulls as bytes per item (the most the budget allows): its array, list or map counted
    // the item on top of its nulls, and refused such valid data past about a thousand items.
    const record = (nulls: number) => JSON.stringify({ type: 'record', name: 'R', fields: [{ name: 'id', type: 'int' }, ...Array.from({ length: nulls }, (_, k) => ({ name: `n${k}`, type: 'null' }))] });
    const value = (id: number, nulls: number) => Object.fromEntries([['id', id], ...Array.from({ length: nulls }, (_, k) => [`n${k}`, null])]);
    const n = 3000;
    // Array and list items of 4 bytes (the int) and four nulls.
    const items = Array.from({ length: n }, (_, id) => value(id, 4));
    const array = avroSerializer(`{"type":"array","items":${record(4)}}`, 'org.apache.avro.generic.GenericData$Array');
    assert.deepEqual(array.deserialize(new JavaDataInput(bytesOf(array, items), 'v')), items);
    const list = listSerializer(avroSerializer(record(4), 'R'));
    assert.deepEqual(list.deserialize(new JavaDataInput(bytesOf(list, items), 'v')), items);
    // Map entries of 9 bytes (key, null flag, the int) and nine nulls.
    const map = mapSerializer(IntSerializer, avroSerializer(record(9), 'R'));
    const entries = new Map(Array.from({ length: n }, (_, id) => [id, value(id, 9)]));
    assert.deepEqual(map.deserialize(new JavaDataInput(bytesOf(map, entries), 'v')), entries);
  });

  it('nested Flink lists of values of no bytes cannot each claim the bytes left', () => {
    // A serializer of no bytes, as a plug-in may register (Flink's own take a byte at least; Avro's claim their own).
    const nothing: FlinkTypeSerializer = { serializerClass: 'user.Nothing', length: -1, deserialize: () => null, serialize: () => {} };
    const lists = listSerializer(listSerializer(nothing));
    // 1000 inner lists, each of as many values as there are bytes after its count: 3.5 million values from 4 KB.
    const size = 4004;
    const v = new DataView(new ArrayBuffer(size));
    v.setInt32(0, 1000);
    for (let k = 0; k < 1000; k++) v.setInt32(4 + 4 * k, size - 8 - 4 * k);
    assertCorrupt(() => lists.deserialize(new JavaDataInput(new Uint8Array(v.buffer), 'v')), /list size: \d+ items from 4004 bytes/);
    const maps = mapSerializer(IntSerializer, mapSerializer(IntSerializer, nothing));
    assert.deepEqual(maps.deserialize(new JavaDataInput(Uint8Array.of(0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0), 'v')), new Map([[7, new Map([[1, null]])]]));
  });

  it('a TupleSerializerSnapshot without fields (Tuple0Serializer has its own) or beyond Tuple25 is corrupt', () => {
    const long = FlinkSnapshots.long();
    assert.equal(FlinkSnapshots.tuple('org.apache.flink.api.java.tuple.Tuple2', [long, long]).nested.length, 2);
    for (const n of [0, 26]) {
      const { bytes, countAt } = compositeBytes('org.apache.flink.api.java.typeutils.runtime.TupleSerializerSnapshot', (o) => o.writeUTF('T'), Array(n).fill(long));
      assertCorrupt(() => defaultFlinkSerializers.readVersioned(new JavaDataInput(bytes, 'snap')), new RegExp(`TupleSerializerSnapshot with ${n} nested .*1 to 25`), countAt);
    }
  });
});

/** A CompositeTypeSerializerSnapshot v3 of `cls` and where its nested count sits. */
function compositeBytes(cls: string, outer: (o: JavaDataOutput) => void, nested: readonly FlinkSerializerSnapshot[], outerVersion = 1): { bytes: Uint8Array; countAt: number } {
  const o = new JavaDataOutput();
  o.writeUTF(cls);
  o.writeInt(3);
  o.writeInt(911108);
  o.writeInt(outerVersion);
  outer(o);
  o.writeInt(1333245);
  o.writeInt(1);
  const countAt = o.length;
  o.writeInt(nested.length);
  for (const n of nested) writeVersionedSnapshot(o, n);
  return { bytes: o.toBytes(), countAt };
}

/** A Java serialization stream of one null: what ExternalSerializer's outer snapshot needs to parse. */
function javaNull(o: JavaDataOutput): void {
  o.writeShort(0xaced);
  o.writeShort(5);
  o.writeByte(0x70);
}

describe('hostile inputs: composite snapshots carry the nested serializers their class has', () => {
  const long = FlinkSnapshots.long();
  const cases: [cls: string, expected: string, outer: (o: JavaDataOutput) => void, outerVersion: number, wrong: number[]][] = [
    [`${BASE}ListSerializerSnapshot`, '1', () => {}, 1, [0, 2]],
    [`${BASE}MapSerializerSnapshot`, '2', () => {}, 1, [0, 1, 3]],
    [`${BASE}GenericArraySerializerSnapshot`, '1', (o) => o.writeUTF('java.lang.Long'), 1, [0, 2]],
    ['org.apache.flink.streaming.api.operators.TimerSerializerSnapshot', '2', () => {}, 2, [0, 1, 3]],
    ['org.apache.flink.api.java.typeutils.runtime.NullableSerializer$NullableSerializerSnapshot', '1', (o) => o.writeInt(0), 1, [0, 2]],
    ['org.apache.flink.runtime.state.ttl.TtlStateFactory$TtlSerializerSnapshot', '2', () => {}, 2, [0, 1, 3]],
    ['org.apache.flink.streaming.api.functions.sink.TwoPhaseCommitSinkFunction$StateSerializerSnapshot', '2', (o) => o.writeBoolean(true), 4, [0, 1, 3]],
    ['org.apache.flink.table.runtime.typeutils.ExternalSerializer$ExternalSerializerSnapshot', '1', (o) => (javaNull(o), o.writeBoolean(false)), 1, [0, 2]],
  ];
  for (const [cls, expected, outer, outerVersion, wrong] of cases) {
    it(`${cls.replace(/^.*\./, '')}: exactly ${expected}, else corrupt at the count (not a TypeError later)`, () => {
      const right = compositeBytes(cls, outer, Array(Number(expected)).fill(long), outerVersion);
      assert.equal(defaultFlinkSerializers.readVersioned(new JavaDataInput(right.bytes, 'snap')).nested.length, Number(expected));
      for (const n of wrong) {
        const { bytes, countAt } = compositeBytes(cls, outer, Array(n).fill(long), outerVersion);
        assertCorrupt(() => {
          // Reading alone, or a value through it: either must be the typed error.
          const s = defaultFlinkSerializers.readVersioned(new JavaDataInput(bytes, 'snap'));
          s.serializer.deserialize(new JavaDataInput(new Uint8Array(64), 'v'));
        }, new RegExp(`with ${n} nested serializer snapshots \\(Flink writes ${expected}\\)`), countAt);
      }
    });
  }

  it('RowDataSerializerSnapshot: one nested serializer per field type', () => {
    const o = new JavaDataOutput();
    o.writeUTF('org.apache.flink.table.runtime.typeutils.RowDataSerializer$RowDataSerializerSnapshot');
    o.writeInt(3);
    o.writeInt(0); // no field types
    o.writeInt(1333245);
    o.writeInt(1);
    const countAt = o.length;
    o.writeInt(1);
    writeVersionedSnapshot(o, long);
    assertCorrupt(() => defaultFlinkSerializers.readVersioned(new JavaDataInput(o.toBytes(), 'snap')), /with 1 nested serializer snapshots \(Flink writes 0\)/, countAt);
  });
});

describe('hostile inputs: Java serialization', () => {
  it('a long run of TC_RESET is read in a loop, not one call per reset (no stack overflow)', () => {
    const resets = 200_000;
    const b = new Uint8Array(4 + resets + 1);
    b.set([0xac, 0xed, 0, 5]);
    b.fill(0x79, 4, 4 + resets);
    b[4 + resets] = 0x70;
    assert.deepEqual(readJavaSerializationStream(b, 'f'), [null]);
    // Resets with nothing after them: truncated, typed.
    assertCorrupt(() => readJavaSerializationStream(b.subarray(0, 4 + resets), 'f'), /truncated/, 4 + resets);
  });
});

describe('hostile inputs: AvroSerializerSnapshot versions', () => {
  const schema = '{"type":"record","name":"AvroRecord","namespace":"com.example","fields":[{"name":"longData","type":"long"}]}';
  const read = (version: number, payload: (o: JavaDataOutput) => void): { snap: FlinkSerializerSnapshot; next: string } => {
    const o = new JavaDataOutput();
    o.writeUTF(AVRO_SNAPSHOT);
    o.writeInt(version);
    payload(o);
    o.writeUTF('NEXT');
    const i = new JavaDataInput(o.toBytes(), 'snap');
    return { snap: defaultFlinkSerializers.readVersioned(i), next: i.readUTF() };
  };
  const value = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 7);

  it('v2 (Flink 1.x) is two writeUTF: runtime class, schema', () => {
    const { snap, next } = read(2, (o) => (o.writeUTF('org.apache.avro.generic.GenericRecord'), o.writeUTF(schema)));
    assert.equal(next, 'NEXT');
    assert.deepEqual(snap.config, { typeName: 'Avro(GenericRecord)', runtimeClass: 'org.apache.avro.generic.GenericRecord', schema });
    assert.deepEqual(snap.serializer.deserialize(new JavaDataInput(value, 'v')), { longData: 7n });
  });

  it("v1 is one writeUTF schema; the runtime class is the schema's full name", () => {
    const { snap, next } = read(1, (o) => o.writeUTF(schema));
    assert.equal(next, 'NEXT');
    assert.equal(snap.config['runtimeClass'], 'com.example.AvroRecord');
    assert.deepEqual(snap.serializer.deserialize(new JavaDataInput(value, 'v')), { longData: 7n });
  });

  it('v3 is two StringValues; other versions are corrupt', () => {
    const { snap, next } = read(3, (o) => (writeStringValue(o, 'com.example.AvroRecord'), writeStringValue(o, schema)));
    assert.equal(next, 'NEXT');
    assert.equal(snap.config['schema'], schema);
    assertCorrupt(() => read(4, (o) => o.writeUTF(schema)), /AvroSerializerSnapshot version 4 is not supported/);
  });
});

const VOID = FlinkSnapshots.voidNamespace();

function valueState(name: string, value: FlinkSerializerSnapshot, kind = 'VALUE'): StateMetaInfo {
  return { name, backendStateType: 'KEY_VALUE', options: [['KEYED_STATE_TYPE', kind]], serializers: [['NAMESPACE_SERIALIZER', VOID], ['VALUE_SERIALIZER', value]] };
}

interface OwnSavepoint {
  readonly keyed?: { readonly bytes: Uint8Array; readonly handle: (stream: { type: 'relative-file'; relativePath: string; size: number }) => KeyedStateHandle };
  readonly operator?: { readonly bytes: Uint8Array; readonly states: OperatorStreamHandle['states'] };
  readonly maxParallelism: number;
}

/** One operator ("own-op", parallelism 1) with the keyed and operator streams given, as files. */
function writeSavepoint(s: OwnSavepoint): string {
  const dir = mkdtempSync(join(tmpdir(), 'flowstate-flink-hostile-'));
  const file = (name: string, bytes: Uint8Array) => {
    writeFileSync(join(dir, name), bytes);
    return { type: 'relative-file' as const, relativePath: name, size: bytes.length };
  };
  const subtask: SubtaskState = {
    index: 0, finished: false, rawOperatorState: null, rawKeyedState: null, inputChannelState: [], resultSubpartitionState: [],
    managedKeyedState: s.keyed === undefined ? null : s.keyed.handle(file('keyed', s.keyed.bytes)),
    managedOperatorState: s.operator === undefined ? null : { type: 'operator-stream', tag: 4, states: s.operator.states, stream: file('operator', s.operator.bytes) },
  };
  const operators = [{ operatorId: operatorIdFromUid('own-op'), parallelism: 1, maxParallelism: s.maxParallelism, coordinatorState: null, fullyFinished: false, subtasks: [subtask] }];
  writeFileSync(join(dir, '_metadata'), writeFlinkMetadata({ version: 3, checkpointId: 1n, masterStates: [], operators }));
  return dir;
}

/** A keyed stream of key group 0 only, under a KeyGroupsStateHandle with id (tag 12), as RocksDB full checkpoints write canonical blocks. */
function keyGroupZero(bytes: Uint8Array, offset: number): OwnSavepoint['keyed'] {
  return { bytes, handle: (stream) => ({ type: 'key-groups', tag: 12, startKeyGroup: 0, offsets: [offset], stream, stateHandleId: 'h' }) };
}

async function decodedValues(dir: string): Promise<{ format: string; values: unknown[] }> {
  const sp = await FlinkSavepoint.load(dir);
  const op = sp.operators[0]!;
  const [info] = await sp.keyedStreams(op);
  return { format: info!.format, values: [...sp.decodedRecords(info!, op.maxParallelism)].map((e) => [e.state, e.key, e.value]) };
}

describe('hostile inputs: canonical blocks under tag 3/12 covering key group 0', () => {
  const states = ['a', 'b', 'c', 'd'].map((n) => valueState(n, FlinkSnapshots.long()));

  it('a canonical block of key group 0 is not taken for heap-native (its first int is 0 like the key group)', async () => {
    const key = FlinkSnapshots.long();
    // Key length 10 (prefix, long, namespace): as a heap-native state id it is outside the 4 states.
    const records: CanonicalRecord[] = [0, 1].map((id) => ({ stateId: id, key: Buffer.concat([Uint8Array.of(0), bytesOf(LongSerializer, 5n), Uint8Array.of(0)]), value: bytesOf(LongSerializer, BigInt(id)) }));
    const enc = encodeCanonicalStream({ version: 6, compression: false, keySerializer: key, states }, 0, 1, () => records);
    const dir = writeSavepoint({ keyed: keyGroupZero(enc.bytes, enc.offsets[0]!), maxParallelism: 1 });
    try {
      assert.deepEqual(await decodedValues(dir), { format: 'canonical', values: [['a', 5n, 0n], ['b', 5n, 1n]] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('also when its key length reads as a valid state id: the block is walked as canonical to tell', async () => {
    const key = FlinkSnapshots.simple(`${BASE}ByteSerializer`);
    // Key length 3 (prefix, byte, namespace) < 4 states: the block starts 00 00 | 00 00 00 03, a heap-native start.
    const records: CanonicalRecord[] = [0, 1, 2].map((id) => ({ stateId: id, key: Uint8Array.of(0, 9, 0), value: bytesOf(LongSerializer, BigInt(id)) }));
    const enc = encodeCanonicalStream({ version: 6, compression: false, keySerializer: key, states }, 0, 1, () => records);
    const dir = writeSavepoint({ keyed: keyGroupZero(enc.bytes, enc.offsets[0]!), maxParallelism: 1 });
    try {
      assert.deepEqual(await decodedValues(dir), { format: 'canonical', values: [['a', 9, 0n], ['b', 9, 1n], ['c', 9, 2n]] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a heap-native block of key group 0 is still heap-native', async () => {
    const o = new JavaDataOutput();
    writeKeyedHeader(o, { version: 6, compression: false, keySerializer: FlinkSnapshots.simple(`${BASE}ByteSerializer`), states });
    const offset = o.length;
    o.writeInt(0);
    for (let id = 0; id < states.length; id++) {
      o.writeShort(id);
      o.writeInt(1);
      o.writeByte(0); // namespace
      ByteSerializer.serialize(9, o);
      LongSerializer.serialize(BigInt(id), o);
    }
    const dir = writeSavepoint({ keyed: keyGroupZero(o.toBytes(), offset), maxParallelism: 1 });
    try {
      assert.deepEqual(await decodedValues(dir), { format: 'heap-native', values: states.map((m, id) => [m.name, 9, BigInt(id)]) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The one problem validateFlinkSavepoint reports for a stream of the "own-op" operator whose header is corrupt at byte 0. */
function headerProblem(file: string, detail: string): FlinkValidationProblem {
  return { severity: 'error', code: 'CORRUPT_CHECKPOINT', message: `corrupt checkpoint data in '${file}' at byte 0: ${detail}`, file, offset: 0, operator: operatorIdFromUid('own-op') };
}

const ATTRS_NOT_A_MAP = `keyed state header: state 'attrs' is a MAP state but its VALUE_SERIALIZER is ${BASE}LongSerializer$LongSerializerSnapshot, not MapSerializerSnapshot`;

describe('hostile inputs: meta infos that contradict themselves', () => {
  it('an operator state without VALUE_SERIALIZER: convert is a typed error naming the stream, not a TypeError; validate reports it', async () => {
    const meta: StateMetaInfo = { name: 'ops', backendStateType: 'OPERATOR', options: [['OPERATOR_STATE_DISTRIBUTION_MODE', 'SPLIT_DISTRIBUTE']], serializers: [] };
    const enc = encodeOperatorStream({ version: 6, compression: false, operatorStates: [meta], broadcastStates: [] }, [{ name: 'ops', mode: 'SPLIT_DISTRIBUTE', elements: [bytesOf(LongSerializer, 1n)] }]);
    const dir = writeSavepoint({ operator: { bytes: enc.bytes, states: [{ name: 'ops', mode: 'SPLIT_DISTRIBUTE', offsets: enc.offsets.get('ops')! }] }, maxParallelism: 1 });
    try {
      const sp = await FlinkSavepoint.load(dir);
      await assert.rejects(convertFlinkToFlowstate(sp, new MemoryFileSystem()), (e: unknown) => {
        assert.ok(e instanceof CorruptCheckpointError, String(e));
        assert.equal(e.file, join(dir, 'operator'));
        assert.equal(e.offset, 0);
        assert.match(e.message, /the meta info of 'ops' has no VALUE_SERIALIZER/);
        return true;
      });
      // Flink's restore refuses it: validation must not call the savepoint fine (session 36 left it so).
      const report = await validateFlinkSavepoint(dir);
      assert.equal(report.ok, false);
      assert.deepEqual(report.problems, [headerProblem(join(dir, 'operator'), "operator state header: the meta info of 'ops' has no VALUE_SERIALIZER")]);
      // Surgery can still drop that state: what is left restores in Flink (written beside the input: never inside it).
      await rewriteFlinkSavepoint(sp, `${dir}-dropped`, { dropStates: [{ operator: sp.operators[0]!.operatorId, state: 'ops' }] });
      assert.equal((await validateFlinkSavepoint(`${dir}-dropped`)).ok, true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(`${dir}-dropped`, { recursive: true, force: true });
    }
  });

  it('a MAP state whose VALUE_SERIALIZER is no MapSerializer: decode, validate and convert report corrupt state', async () => {
    const header = { version: 6, compression: false, keySerializer: FlinkSnapshots.long(), states: [valueState('attrs', FlinkSnapshots.long(), 'MAP')] };
    const record: CanonicalRecord = { stateId: 0, key: Buffer.concat([Uint8Array.of(0), bytesOf(LongSerializer, 1n), Uint8Array.of(0)]), value: bytesOf(LongSerializer, 2n) };
    const enc = encodeCanonicalStream(header, 0, 1, () => [record]);
    const dir = writeSavepoint({ keyed: { bytes: enc.bytes, handle: (stream) => ({ type: 'key-groups', tag: 7, startKeyGroup: 0, offsets: enc.offsets, stream }) }, maxParallelism: 1 });
    const mismatch = /state 'attrs' is a MAP state but its VALUE_SERIALIZER is .*LongSerializerSnapshot, not MapSerializerSnapshot/;
    try {
      const sp = await FlinkSavepoint.load(dir);
      const op = sp.operators[0]!;
      const [info] = await sp.keyedStreams(op);
      assertCorrupt(() => [...sp.decodedRecords(info!, op.maxParallelism)], mismatch, enc.offsets[0]! + 2);
      const report = await validateFlinkSavepoint(dir);
      assert.equal(report.ok, false);
      assert.deepEqual(report.problems, [headerProblem(join(dir, 'keyed'), ATTRS_NOT_A_MAP)]);
      await assert.rejects(convertFlinkToFlowstate(sp, new MemoryFileSystem()), (e: unknown) => e instanceof CorruptCheckpointError && mismatch.test(e.message) && e.file === join(dir, 'keyed'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('hostile inputs: a contradicted state without records', () => {
  it('validate reports it as convert does (the decoder only sees states with records)', async () => {
    const header = { version: 6, compression: false, keySerializer: FlinkSnapshots.long(), states: [valueState('plain', FlinkSnapshots.long(), 'VALUE'), valueState('attrs', FlinkSnapshots.long(), 'MAP')] };
    const record: CanonicalRecord = { stateId: 0, key: Buffer.concat([Uint8Array.of(0), bytesOf(LongSerializer, 1n), Uint8Array.of(0)]), value: bytesOf(LongSerializer, 2n) };
    const enc = encodeCanonicalStream(header, 0, 1, () => [record]);
    const dir = writeSavepoint({ keyed: { bytes: enc.bytes, handle: (stream) => ({ type: 'key-groups', tag: 7, startKeyGroup: 0, offsets: enc.offsets, stream }) }, maxParallelism: 1 });
    const mismatch = /state 'attrs' is a MAP state but its VALUE_SERIALIZER is .*LongSerializerSnapshot, not MapSerializerSnapshot/;
    try {
      const report = await validateFlinkSavepoint(dir);
      assert.equal(report.ok, false);
      assert.deepEqual(report.problems, [headerProblem(join(dir, 'keyed'), ATTRS_NOT_A_MAP)]);
      await assert.rejects(convertFlinkToFlowstate(await FlinkSavepoint.load(dir), new MemoryFileSystem()), (e: unknown) => e instanceof CorruptCheckpointError && mismatch.test(e.message) && e.file === join(dir, 'keyed'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('hostile inputs: snapshots carried opaquely', () => {
  it('a timer queue whose TimerSerializerSnapshot nests a class without reader is skipped by convert, not a TypeError', async () => {
    // The whole timer snapshot is carried as bytes (readOrCarry): its class is Timer's, its nested list empty.
    const o = new JavaDataOutput();
    for (const x of [911108, 2, 1333245, 1, 2]) o.writeInt(x);
    writeVersionedSnapshot(o, FlinkSnapshots.long());
    o.writeUTF('user.UnknownSerializerSnapshot');
    o.writeInt(1);
    o.writeUTF('x');
    const timer: FlinkSerializerSnapshot = { className: 'org.apache.flink.streaming.api.operators.TimerSerializerSnapshot', version: 3, payload: o.toBytes(), nested: [], config: {}, serializer: LongSerializer };
    const queue: StateMetaInfo = { name: '_timer_state/event_t', backendStateType: 'PRIORITY_QUEUE', options: [], serializers: [['VALUE_SERIALIZER', timer]] };
    const record: CanonicalRecord = { stateId: 0, key: Buffer.concat([Uint8Array.of(0), bytesOf(LongSerializer, 1n), bytesOf(LongSerializer, 2n), Uint8Array.of(3)]), value: new Uint8Array(0) };
    const enc = encodeCanonicalStream({ version: 6, compression: false, keySerializer: FlinkSnapshots.long(), states: [queue] }, 0, 1, () => [record]);
    const dir = writeSavepoint({ keyed: { bytes: enc.bytes, handle: (stream) => ({ type: 'key-groups', tag: 7, startKeyGroup: 0, offsets: enc.offsets, stream }) }, maxParallelism: 1 });
    try {
      const sp = await FlinkSavepoint.load(dir);
      const [info] = await sp.keyedStreams(sp.operators[0]!);
      assert.equal(info!.header!.states[0]!.serializers[0]![1].serializer.opaque, true);
      const { skipped } = await convertFlinkToFlowstate(sp, new MemoryFileSystem());
      assert.deepEqual(skipped, [`${operatorIdFromUid('own-op')}/_timer_state/event_t: priority queue of org.apache.flink.streaming.api.operators.TimerSerializerSnapshot elements, not Flink timers with a namespace flowstate can read`]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('hostile inputs: a directory where a file should be', () => {
  it('_metadata or an operator snapshot file that is a directory is a typed storage error naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flowstate-flink-eisdir-'));
    mkdirSync(join(dir, '_metadata'));
    try {
      for (const load of [() => FlinkSavepoint.load(dir), () => loadOperatorSnapshot(join(dir, '_metadata'))]) {
        await assert.rejects(load(), (e: unknown) => {
          assert.ok(e instanceof StorageError, String(e));
          assert.equal(e.path, join(dir, '_metadata'));
          assert.match(e.message, /EISDIR/);
          return true;
        });
      }
      const report = await validateFlinkSavepoint(dir);
      assert.equal(report.ok, false);
      assert.equal(report.problems[0]?.code, 'STORAGE_ERROR');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('hostile inputs: telling a Flink savepoint apart', () => {
  it('isFlinkSavepoint reads the first four bytes of _metadata only, and takes a FIFO planted as _metadata for none (without opening it)', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flowstate-is-flink-'));
    try {
      // A Flink magic number followed by garbage: only the head decides.
      const sp = join(dir, 'sp');
      mkdirSync(sp);
      const head = Buffer.alloc(8);
      head.writeUInt32BE(0x4960672d, 0);
      writeFileSync(join(sp, '_metadata'), head);
      assert.equal(await isFlinkSavepoint(sp), true);
      writeFileSync(join(sp, '_metadata'), head.subarray(0, 3));
      assert.equal(await isFlinkSavepoint(sp), false, 'a file shorter than the magic number');
      // Reading a FIFO with no writer would block a thread-pool thread forever (the test would time out).
      const fifo = join(dir, 'fifo');
      mkdirSync(fifo);
      execFileSync('mkfifo', [join(fifo, '_metadata')]);
      assert.equal(await isFlinkSavepoint(fifo), false);
      assert.equal(await isFlinkSavepoint(join(fifo, '_metadata')), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
