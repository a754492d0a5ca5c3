import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FlowstateError } from '@flowstate/core';
import {
  FlinkSavepoint,
  keyGroupForHash,
  LongSerializer,
  operatorIdFromUid,
  readOperatorStates,
  defaultFlinkSerializers,
  type DecodedKeyedEntry,
  type FlinkTypeSerializer,
} from '../src/index.js';
import { fixture, metadataFiles, needsFixtures, prng } from './fixtures.js';
import { writeOwnSavepoint } from './own-savepoint.js';

async function decodeAll(sp: FlinkSavepoint): Promise<Map<string, DecodedKeyedEntry[]>> {
  const out = new Map<string, DecodedKeyedEntry[]>();
  for (const op of sp.operators) {
    const label = op.uid !== undefined && op.uid !== '' ? op.uid : op.operatorId;
    for (const info of await sp.keyedStreams(op)) {
      if (info.format !== 'canonical' && info.format !== 'heap-native') continue;
      for (const e of sp.decodedRecords(info, op.maxParallelism)) out.set(label, [...(out.get(label) ?? []), e]);
    }
  }
  return out;
}

function keyHash(sp: FlinkSavepoint, info: Awaited<ReturnType<FlinkSavepoint['keyedStreams']>>[number], key: unknown): number | undefined {
  const s: FlinkTypeSerializer = info.header!.keySerializer.serializer;
  return s.hashCode?.(key);
}

describe('Flink keyed state (own fixtures)', () => {
  for (const compression of [false, true]) {
    it(`canonical stream written by our code decodes completely${compression ? ' (Snappy-compressed key groups)' : ''}`, async () => {
      const dir = writeOwnSavepoint(25, compression);
      try {
        const sp = await FlinkSavepoint.load(dir);
        const op = sp.operators[0]!;
        assert.equal(op.operatorId, operatorIdFromUid('own-op'));
        const [info] = await sp.keyedStreams(op);
        assert.equal(info!.format, 'canonical');
        assert.equal(info!.header!.compression, compression);
        const all = [...sp.decodedRecords(info!, op.maxParallelism)];
        const by = (s: string) => all.filter((e) => e.state === s);
        assert.equal(by('count').length, 25);
        assert.equal(by('names').length, 25);
        assert.equal(by('attrs').length, 25);
        assert.equal(by('_timer_state/event_t').length, 25);
        for (const e of by('count')) assert.equal(e.value, (e.key as bigint) * 10n);
        for (const e of by('names')) assert.deepEqual(e.value, [`a${e.key}`, `b${e.key}`]);
        for (const e of by('attrs')) assert.deepEqual([e.userKey, e.value], [`k${e.key}`, e.key]);
        for (const e of by('_timer_state/event_t')) assert.equal((e.value as { timestamp: bigint }).timestamp, (e.key as bigint) * 100n);
        for (const e of all) assert.equal(e.keyGroup, keyGroupForHash(LongSerializer.hashCode!(e.key as bigint), 4));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('mutated keyed streams fail with typed errors only', async () => {
    const dir = writeOwnSavepoint(12, false);
    try {
      const good = readFileSync(join(dir, 'keyed-0'));
      const rnd = prng(3);
      const iterations = Number(process.env['FLOWSTATE_FUZZ_ITERATIONS'] ?? 400);
      for (let i = 0; i < iterations; i++) {
        const b = Buffer.from(good);
        for (let k = 0; k < 1 + Math.floor(rnd() * 3); k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
        writeFileSync(join(dir, 'keyed-0'), b);
        try {
          const sp = await FlinkSavepoint.load(dir);
          for (const info of await sp.keyedStreams(sp.operators[0]!)) for (const _ of sp.decodedRecords(info, 4)) void _;
        } catch (e) {
          assert.ok(e instanceof FlowstateError, `mutation ${i}: ${(e as Error).stack}`);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Flink keyed and operator state (Apache Flink fixtures)', needsFixtures, () => {
  const plugin = defaultFlinkSerializers.extend().register('org.apache.flink.test.migration.TypeSerializerSnapshotMigrationITCase$TestSerializerSnapshot', (ctx) => {
    ctx.input.readUTF(); // the test's "configPayload"
    return { serializer: { ...LongSerializer, serializerClass: 'TestSerializer' } };
  });

  it('every keyed stream of every _metadata is walked; canonical and heap-native ones decode completely', async () => {
    const counts = { canonical: 0, 'heap-native': 0, 'rocksdb-native': 0, other: 0, entries: 0, keysChecked: 0, keysWithoutJavaHash: 0 };
    for (const f of metadataFiles()) {
      const sp = await FlinkSavepoint.load(f, { registry: plugin });
      for (const op of sp.operators) {
        for (const info of await sp.keyedStreams(op)) {
          if (info.format === 'canonical' || info.format === 'heap-native') {
            counts[info.format]++;
            if (info.format === 'canonical') for (const _ of sp.canonicalRecords(info)) void _;
            for (const e of sp.decodedRecords(info, op.maxParallelism)) {
              counts.entries++;
              const h = keyHash(sp, info, e.key);
              if (h === undefined) counts.keysWithoutJavaHash++;
              else {
                assert.equal(keyGroupForHash(h, op.maxParallelism), e.keyGroup, `${f}: key ${String(e.key)}`);
                counts.keysChecked++;
              }
            }
          } else if (info.format === 'rocksdb-native') {
            // No RocksDB binding is injected here (this package has no native dependency): only the header is read.
            assert.equal(sp.readsRecords(info), false);
            assert.ok(info.header !== undefined, `${f}: RocksDB-native header`);
            counts['rocksdb-native']++;
          }
          else counts.other++;
        }
      }
    }
    console.log(`# keyed streams: ${counts.canonical} canonical + ${counts['heap-native']} heap-native decoded completely (${counts.entries} records); ${counts['rocksdb-native']} RocksDB-native (header only here, no RocksDB binding injected; their records are decoded through the binding in packages/cli/test/flink-rocksdb-native.test.ts); keys in Flink's key group: ${counts.keysChecked} (no Java hashCode known: ${counts.keysWithoutJavaHash})`);
    assert.ok(counts.canonical >= 100 && counts['heap-native'] >= 10);
    assert.equal(counts.other, 0);
    assert.equal(counts.keysWithoutJavaHash, 0);
  });

  it('values match the fixture README', async () => {
    const sp = await FlinkSavepoint.load(fixture('new-stateful-udf-migration-itcase-flink2.3-rocksdb-savepoint'));
    const all = await decodeAll(sp);
    for (const uid of ['CheckpointingKeyedStateFlatMap1', 'CheckpointingKeyedStateFlatMap2']) {
      const e = all.get(uid)!;
      assert.deepEqual(e.map((x) => [(x.key as bigint[])[0], x.value]).sort((a, b) => Number((a[0] as bigint) - (b[0] as bigint))), [[0n, 0n], [1n, 1n], [2n, 2n], [3n, 3n]]);
    }
    const timely = all.get('CheckpointingTimelyStatefulOperator1')!;
    assert.equal(timely.filter((x) => x.state === '_timer_state/event_timer').length, 4);
    assert.equal(timely.filter((x) => x.state === '_timer_state/processing_timer').length, 4);
    for (const x of timely.filter((y) => y.state === '_timer_state/event_timer')) assert.equal((x.value as { timestamp: bigint }).timestamp, -(2n ** 63n) + 10n);
    for (const x of timely.filter((y) => y.state === 'state-name')) assert.equal(x.namespace, (x.key as bigint[])[0]);

    const legacy = await decodeAll(await FlinkSavepoint.load(fixture('legacy-raw-state-heap-timers-rocks-db-1.12')));
    const timers = [...legacy.values()].flat();
    assert.equal(timers.length, 1);
    assert.deepEqual([timers[0]!.keyGroup, timers[0]!.key, (timers[0]!.value as { timestamp: bigint }).timestamp], [94, 0, 2n]);

    for (const v of ['1.8', '1.15', '2.3']) {
      const keyed = [...(await decodeAll(await FlinkSavepoint.load(fixture(`operatorstate/complexKeyed-flink${v}`)))).values()].flat().filter((x) => x.state === 'values');
      assert.deepEqual(keyed.map((x) => [(x.key as number[])[0], x.value]).sort((a, b) => (a[0] as number) - (b[0] as number)), Array.from({ length: 10 }, (_, i) => [i, [i]]), v);
    }

    const table = (await decodeAll(await FlinkSavepoint.load(fixture('snuyanzin-flink/flink-libraries/flink-state-processing-api/src/test/resources/table-state')))).get('keyed-state-process-uid')!;
    assert.equal(table.filter((x) => x.state === 'KeyedPrimitiveValue').length, 10);
    for (const x of table.filter((y) => y.state === 'KeyedPojoValue')) assert.deepEqual(x.value, { privateLong: 1n, publicLong: 1n });
    for (const x of table.filter((y) => y.state === 'KeyedGenericAvroValue' || y.state === 'KeyedSpecificAvroValue')) assert.deepEqual(x.value, { longData: 1n });
    for (const x of table.filter((y) => y.state === 'KeyedPrimitiveValueList')) assert.deepEqual(x.value, [x.key]);

    const agg = [...(await decodeAll(await FlinkSavepoint.load(fixture('snuyanzin-flink/flink-table/flink-table-planner/src/test/resources/restore-tests/stream-exec-group-aggregate_1/group-aggregate-simple/savepoint')))).values()].flat();
    assert.deepEqual(agg.map((x) => [x.key, x.value]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))).map(([k, v]) => [(k as { fields: unknown[] }).fields[0], (v as { fields: unknown[] }).fields]).sort((a, b) => Number((a[0] as bigint) - (b[0] as bigint))), [
      [1n, [1n, 0n, 0n, 'Hi']],
      [2n, [2n, 4n, 2n, 'Hello']],
    ]);

    const custom = await decodeAll(await FlinkSavepoint.load(fixture('type-serializer-snapshot-migration-itcase-flink1.16-rocksdb-savepoint'), { registry: plugin }));
    const test = [...custom.values()].flat();
    assert.deepEqual(test.map((x) => [(x.key as bigint[])[0], x.value]).sort((a, b) => Number((a[0] as bigint) - (b[0] as bigint))), [[0n, 0n], [1n, 1n], [2n, 2n], [3n, 3n]]);
  });

  it('the user snapshot class without a plug-in is carried opaquely: decoding is a typed error naming state and class', async () => {
    const sp = await FlinkSavepoint.load(fixture('type-serializer-snapshot-migration-itcase-flink1.16-hashmap-savepoint'));
    const op = sp.operators.find((o) => o.subtasks.some((s) => s.managedKeyedState !== null))!;
    const [info] = await sp.keyedStreams(op);
    assert.throws(() => [...sp.decodedRecords(info!, 1)], (e: Error & { code?: string }) => e.code === 'FLINK_OPAQUE_SERIALIZER' && e.message.includes("'testState'") && e.message.includes('TestSerializerSnapshot'));
  });

  it('operator states: split, union, broadcast, opaque Java-serialized', async () => {
    const read = async (rel: string) => {
      const sp = await FlinkSavepoint.load(fixture(rel));
      const out: { op: string; name: string; mode: string; values?: unknown[]; raw: number }[] = [];
      for (const op of sp.operators) for (const s of op.subtasks) {
        const h = s.managedOperatorState;
        if (h === null || h.stream === null) continue;
        for (const st of readOperatorStates(h, await sp.resolve(h.stream), sp.registry).states) out.push({ op: op.uid ?? op.operatorId, name: st.name, mode: st.mode, ...(st.values === undefined ? {} : { values: st.values }), raw: st.raw.length });
      }
      return out;
    };
    const dragons = ['Here be dragons!', 'Here be more dragons!', 'Here be yet more dragons!', 'Here be the mostest dragons!'];
    const udf = await read('new-stateful-broadcast-udf-migration-itcase-flink2.3-hashmap-savepoint');
    // Every source's state, in the order of the operators in _metadata (one subtask each).
    assert.deepEqual(udf.filter((s) => s.name === 'source-state').map((s) => [s.op, s.mode, s.values]), [
      ['CheckpointingSource2', 'UNION', dragons],
      ['BrCheckpointingSource1', 'SPLIT_DISTRIBUTE', dragons],
      ['CheckpointingSource1', 'SPLIT_DISTRIBUTE', dragons],
      ['BrCheckpointingSource2', 'UNION', dragons],
    ]);
    const b3 = udf.filter((s) => s.name === 'broadcast-state-3');
    assert.equal(b3.length, 4);
    for (const s of b3) assert.deepEqual(s.values, [[0n, '0'], [1n, '1'], [2n, '2'], [3n, '3']]);
    const legacy = (await read('operatorstate/nonKeyed-flink2.3')).filter((s) => s.name === '_default_');
    // JavaSerializer elements are carried opaque: one raw element in each of the 4 subtasks of the 3 operators.
    assert.deepEqual(legacy.map((s) => [s.op, s.values, s.raw]), ['second', 'first', 'third'].flatMap((op) => Array(4).fill([op, undefined, 1])));
    const sink = (await read('snuyanzin-flink/flink-table/flink-table-planner/src/test/resources/restore-tests/stream-exec-group-aggregate_1/group-aggregate-simple/savepoint')).find((s) => s.name === 'sink-results')!;
    assert.deepEqual((sink.values as { kind: string; fields: unknown[] }[]).map((r) => [r.kind, ...r.fields]), [['+I', 1n, 1n, null, 'Hi'], ['+I', 2n, 1n, 2, 'Hello'], ['+U', 2n, 2n, 2, 'Hello']]);
  });
});

