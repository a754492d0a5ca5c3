import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  ByteSerializer,
  defaultFlinkSerializers,
  encodeOperatorStream,
  FlinkSavepoint,
  FlinkSnapshots,
  JavaDataOutput,
  LongSerializer,
  operatorIdFromUid,
  readOperatorStates,
  rescaleFlinkSavepoint,
  rewriteFlinkSavepoint,
  writeFlinkSavepoint,
  writeKeyedHeader,
  type OperatorState,
  type OperatorStreamHandle,
} from '../src/index.js';
import { withOwnSavepoint, withTempDir } from './own-savepoint.js';

// Counts, never timings: the work a quadratic step does shows as a count of array elements visited,
// the same on any machine. Array.prototype is patched only while one call runs (tests in a file run one at a time).

type IteratorOwner = { [Symbol.iterator]: (this: unknown[]) => Iterator<unknown> };

/**
 * Elements stepped through by array iterators while `fn` runs: a spread copy of an n-element list
 * steps n times, so a key group's list copied once per record shows as steps quadratic in records.
 */
async function arrayIteratorSteps(fn: () => Promise<unknown>): Promise<number> {
  const proto = Array.prototype as unknown as IteratorOwner;
  const original = proto[Symbol.iterator];
  let steps = 0;
  proto[Symbol.iterator] = function (this: unknown[]): Iterator<unknown> {
    const it = original.call(this);
    const counted: IterableIterator<unknown> = { next: () => (steps++, it.next()), [Symbol.iterator]: () => counted };
    return counted;
  };
  try {
    await fn();
  } finally {
    proto[Symbol.iterator] = original;
  }
  return steps;
}

/** Predicate calls of Array.prototype.find while `fn` runs: a search of all offsets per element shows as calls quadratic in elements. */
function findPredicateCalls(fn: () => void): number {
  const original = Array.prototype.find;
  let calls = 0;
  Array.prototype.find = function (this: unknown[], predicate: (v: unknown, i: number, a: unknown[]) => unknown, thisArg?: unknown) {
    return original.call(this, (v, i, a) => (calls++, predicate.call(thisArg, v, i, a)));
  } as typeof Array.prototype.find;
  try {
    fn();
  } finally {
    Array.prototype.find = original;
  }
  return calls;
}

/** Keys of the own savepoint: 4 records each (value, list, map, timer) in 4 key groups, about 2000 records per key group. */
const KEYS = 2000;
const RECORDS = 4 * KEYS;

describe('work per record of writing and dropping is linear (counts, not timings)', () => {
  const cases = [
    { name: 'writeFlinkSavepoint', run: (sp: FlinkSavepoint, out: string) => writeFlinkSavepoint(sp, out) },
    { name: 'rewriteFlinkSavepoint dropping a state', run: (sp: FlinkSavepoint, out: string) => rewriteFlinkSavepoint(sp, out, { dropStates: [{ operator: operatorIdFromUid('own-op'), state: 'names' }] }) },
    { name: 'rescaleFlinkSavepoint', run: (sp: FlinkSavepoint, out: string) => rescaleFlinkSavepoint(sp, out, { parallelism: 2 }) },
  ];
  for (const c of cases) {
    it(`${c.name}: records are grouped by key group without copying a group's list per record`, async () => {
      await withOwnSavepoint(KEYS, async (dir) => {
        await withTempDir('work-bounds', async (tmp) => {
          const sp = await FlinkSavepoint.load(dir);
          const steps = await arrayIteratorSteps(() => c.run(sp, join(tmp, 'out')));
          // A few passes over the records at most; a copy per record would step about RECORDS * 2000 / 2 times.
          assert.ok(steps < 5 * RECORDS, `${steps} array iterator steps for ${RECORDS} records`);
        });
      });
    });
  }
});

describe('work per element of reading operator state is linear (counts, not timings)', () => {
  it('readOperatorStates finds where each list element ends without searching every offset', () => {
    const n = 2000;
    const meta = { name: 'buffer', backendStateType: 'OPERATOR' as const, options: [['OPERATOR_STATE_DISTRIBUTION_MODE', 'SPLIT_DISTRIBUTE'] as const], serializers: [['VALUE_SERIALIZER', FlinkSnapshots.long()] as const] };
    const elements = Array.from({ length: n }, (_, i) => {
      const o = new JavaDataOutput(8);
      o.writeLong(BigInt(i));
      return o.toBytes();
    });
    const { bytes, offsets } = encodeOperatorStream({ version: 6, compression: false, operatorStates: [meta], broadcastStates: [] }, [{ name: 'buffer', mode: 'SPLIT_DISTRIBUTE', elements }]);
    const handle: OperatorStreamHandle = { type: 'operator-stream', tag: 4, states: [{ name: 'buffer', mode: 'SPLIT_DISTRIBUTE', offsets: offsets.get('buffer')! }], stream: null };
    let values: unknown[] | undefined;
    const calls = findPredicateCalls(() => {
      values = readOperatorStates(handle, { bytes, file: 'buffer', baseOffset: 0 }, defaultFlinkSerializers).states[0]!.values;
    });
    assert.deepEqual(values, elements.map((_, i) => BigInt(i)));
    // A search of the offsets per element would call its predicate about n * n / 2 times.
    assert.ok(calls < n, `${calls} find predicate calls for ${n} elements`);
  });
});

/**
 * One operator of one subtask whose keyed state is an inline heap-native stream (tag 12) of
 * `keyGroups` key groups, one value (key 9, the key group as a long) in each.
 */
function heapNativeOperator(keyGroups: number): OperatorState {
  const o = new JavaDataOutput();
  writeKeyedHeader(o, {
    version: 6, compression: false, keySerializer: FlinkSnapshots.simple('org.apache.flink.api.common.typeutils.base.ByteSerializer'),
    states: [{ name: 'v', backendStateType: 'KEY_VALUE', options: [['KEYED_STATE_TYPE', 'VALUE']], serializers: [['NAMESPACE_SERIALIZER', FlinkSnapshots.voidNamespace()], ['VALUE_SERIALIZER', FlinkSnapshots.long()]] }],
  });
  const offsets: number[] = [];
  for (let kg = 0; kg < keyGroups; kg++) {
    offsets.push(o.length);
    o.writeInt(kg);
    o.writeShort(0); // state id
    o.writeInt(1); // entries
    o.writeByte(0); // namespace
    ByteSerializer.serialize(9, o);
    LongSerializer.serialize(BigInt(kg), o);
  }
  const stream = { type: 'byte-stream' as const, name: 'keyed', data: o.toBytes(), metadataOffset: 0 };
  const subtask = { index: 0, finished: false, managedOperatorState: null, rawOperatorState: null, rawKeyedState: null, inputChannelState: [], resultSubpartitionState: [], managedKeyedState: { type: 'key-groups' as const, tag: 12 as const, startKeyGroup: 0, offsets, stream, stateHandleId: 'h' } };
  return { operatorId: operatorIdFromUid('heap-op'), parallelism: 1, maxParallelism: keyGroups, coordinatorState: null, fullyFinished: false, subtasks: [subtask] };
}

describe('work of telling a keyed stream\'s format is that of one key group (counts, not timings)', () => {
  it('the probe of a tag-12 stream walks its first key-group block without building the others', async () => {
    const keyGroups = 4096;
    const op = heapNativeOperator(keyGroups);
    const sp = FlinkSavepoint.fromModel('/nonexistent', 'inline', { version: 3, checkpointId: 1n, masterStates: [], operators: [op] });
    let format: string | undefined;
    const steps = await arrayIteratorSteps(async () => {
      format = (await sp.keyedStreams(op))[0]!.format;
    });
    assert.equal(format, 'heap-native');
    // Building every block (sorted by offset, then by key group) to walk the first stepped 5 times per key group.
    assert.ok(steps < 100, `${steps} array iterator steps to tell the format of ${keyGroups} key groups`);
    // The blocks are all there for the readers.
    const [info] = await sp.keyedStreams(op);
    const values = [...sp.decodedRecords(info!, keyGroups)].map((e) => e.value);
    assert.deepEqual(values, Array.from({ length: keyGroups }, (_, kg) => BigInt(kg)));
  });
});
