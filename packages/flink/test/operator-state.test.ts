import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildSnapshot,
  encodeOperatorStream,
  FlinkSavepoint,
  FlinkSnapshots,
  inspectFlinkSavepoint,
  JavaDataOutput,
  loadOperatorSnapshot,
  operatorIdFromUid,
  readOperatorStates,
  reencodeOperatorSnapshot,
  rescaleFlinkSavepoint,
  rewriteFlinkSavepoint,
  writeFlinkMetadata,
  writeFlinkSavepoint,
  type OperatorStateData,
  type StateMetaInfo,
} from '../src/index.js';
import { fixture, needsFixtures } from './fixtures.js';
import { withTempDir } from './own-savepoint.js';

/** KryoSerializerSnapshot v2 of `typeClass` with no registrations: values are opaque to flowstate. */
function kryo(typeClass: string): ReturnType<typeof FlinkSnapshots.long> {
  return buildSnapshot('org.apache.flink.api.java.typeutils.runtime.kryo.KryoSerializerSnapshot', 2, (o) => {
    o.writeUTF(typeClass);
    // Three empty LinkedOptionalMaps: registrations, default serializers, default serializer classes.
    for (let i = 0; i < 3; i++) {
      o.writeLong(0x4f2c69a3d70n);
      o.writeInt(0);
    }
  });
}

const bytes = (write: (o: JavaDataOutput) => void): Uint8Array => {
  const o = new JavaDataOutput();
  write(o);
  return o.toBytes();
};

/** A Kryo-written partition (opaque bytes) followed by a Long: an element of Tuple2<Kryo, Long>. */
const partitionOffset = (i: number): Uint8Array => bytes((o) => {
  o.writeBytes(Uint8Array.of(1, 0x80 + i, 0x74, 0x6f, 0x70, 0x69, 0xe3));
  o.writeLong(BigInt(100 + i));
});

/**
 * The operator state of FlinkKafkaConsumer's shape (`topic-partition-offset-states` is a UNION list
 * of Tuple2<KafkaTopicPartition (Kryo), Long>), a broadcast state whose value serializer is that
 * tuple too, and a plain SPLIT_DISTRIBUTE list of Longs, in `<dir>/_metadata` (inline stream).
 */
function writeKafkaShapedSavepoint(dir: string): void {
  const tuple = FlinkSnapshots.tuple('org.apache.flink.api.java.tuple.Tuple2', [kryo('org.apache.flink.streaming.connectors.kafka.internals.KafkaTopicPartition'), FlinkSnapshots.long()]);
  const list = (name: string, mode: string, value: typeof tuple): StateMetaInfo => ({ name, backendStateType: 'OPERATOR', options: [['OPERATOR_STATE_DISTRIBUTION_MODE', mode]], serializers: [['VALUE_SERIALIZER', value]] });
  const broadcast: StateMetaInfo = { name: 'rules', backendStateType: 'BROADCAST', options: [['OPERATOR_STATE_DISTRIBUTION_MODE', 'BROADCAST']], serializers: [['KEY_SERIALIZER', FlinkSnapshots.string()], ['VALUE_SERIALIZER', tuple]] };
  const data: OperatorStateData[] = [
    { name: 'topic-partition-offset-states', mode: 'UNION', elements: [0, 1, 2].map(partitionOffset) },
    { name: 'plain', mode: 'SPLIT_DISTRIBUTE', elements: [7n, 8n].map((v) => bytes((o) => o.writeLong(v))) },
    { name: 'rules', mode: 'BROADCAST', elements: [bytes((o) => {
      o.writeInt(1);
      o.writeBytes(Uint8Array.of(2, 0x61)); // StringValue "a"
      o.writeBytes(partitionOffset(9));
    })] },
  ];
  const header = { version: 6, compression: false, operatorStates: [list('topic-partition-offset-states', 'UNION', tuple), list('plain', 'SPLIT_DISTRIBUTE', FlinkSnapshots.long())], broadcastStates: [broadcast] };
  const { bytes: stream, offsets } = encodeOperatorStream(header, data);
  writeFileSync(join(dir, '_metadata'), writeFlinkMetadata({
    version: 3, checkpointId: 1n, masterStates: [],
    operators: [{
      operatorId: operatorIdFromUid('kafka-source'), parallelism: 1, maxParallelism: 128, coordinatorState: null, fullyFinished: false,
      subtasks: [{
        index: 0, finished: false, rawOperatorState: null, managedKeyedState: null, rawKeyedState: null, inputChannelState: [], resultSubpartitionState: [],
        managedOperatorState: {
          type: 'operator-stream', tag: 4,
          states: data.map((d) => ({ name: d.name, mode: d.mode, offsets: offsets.get(d.name)! })),
          stream: { type: 'byte-stream', name: 'op-state', data: stream, metadataOffset: 0 },
        },
      }],
    }],
  }));
}

async function operatorStates(dir: string): Promise<ReturnType<typeof readOperatorStates>['states']> {
  const sp = await FlinkSavepoint.load(dir);
  return (await Promise.all(sp.operators[0]!.subtasks.map(async (s) => {
    const h = s.managedOperatorState!;
    return readOperatorStates(h, await sp.resolve(h.stream!), sp.registry).states;
  }))).flat();
}

describe('operator state whose serializer is opaque only in part (Tuple2<Kryo, Long>)', () => {
  it('is read as raw bytes without values, other states decoded; write, drop and rescale carry it', async () => {
    await withTempDir('operator-state', async (tmp) => {
      const dir = join(tmp, 'sp');
      await withTempDir('operator-state-in', async (input) => {
        writeKafkaShapedSavepoint(input);
        const states = await operatorStates(input);
        const byName = new Map(states.map((s) => [s.name, s]));
        assert.equal(byName.get('topic-partition-offset-states')!.values, undefined);
        assert.deepEqual(byName.get('topic-partition-offset-states')!.raw.map((r) => Buffer.from(r)), [0, 1, 2].map((i) => Buffer.from(partitionOffset(i))));
        assert.equal(byName.get('rules')!.values, undefined);
        assert.deepEqual(byName.get('plain')!.values, [7n, 8n]);
        assert.deepEqual((await inspectFlinkSavepoint(await FlinkSavepoint.load(input))).operators[0]!.problems, []);

        await writeFlinkSavepoint(await FlinkSavepoint.load(input), dir);
        assert.deepEqual(readFileSync(join(dir, '_metadata')), readFileSync(join(input, '_metadata')));
        await rewriteFlinkSavepoint(await FlinkSavepoint.load(input), join(tmp, 'dropped'), { dropStates: [{ operator: operatorIdFromUid('kafka-source'), state: 'plain' }] });
        assert.deepEqual((await operatorStates(join(tmp, 'dropped'))).map((s) => [s.name, s.raw.length]), [['topic-partition-offset-states', 3], ['rules', 1]]);
        await rescaleFlinkSavepoint(await FlinkSavepoint.load(input), join(tmp, 'rescaled'), { parallelism: 2 });
        // UNION: every new subtask gets every element; the broadcast state is copied to each.
        const rescaled = (await operatorStates(join(tmp, 'rescaled'))).filter((s) => s.name !== 'plain');
        assert.deepEqual(rescaled.map((s) => [s.name, s.raw.length]), [['topic-partition-offset-states', 3], ['rules', 1], ['topic-partition-offset-states', 3], ['rules', 1]]);
      });
    });
  });
});

describe('operator state whose serializer is opaque only in part (Apache Flink fixtures)', needsFixtures, () => {
  for (const version of ['1.8', '1.20']) {
    it(`kafka-consumer-migration-test-flink${version}-snapshot (FlinkKafkaConsumer): re-encoded byte-identical and written as a savepoint`, async () => {
      const path = fixture(`apache-flink-connector-kafka/flink-connector-kafka/src/test/resources/kafka-consumer-migration-test-flink${version}-snapshot`);
      const { file, savepoint: sp } = await loadOperatorSnapshot(path);
      const h = sp.operators[0]!.subtasks[0]!.managedOperatorState!;
      const offsets = readOperatorStates(h, await sp.resolve(h.stream!), sp.registry).states.find((s) => s.name === 'topic-partition-offset-states')!;
      assert.equal(offsets.values, undefined);
      assert.equal(offsets.raw.length, 2);
      assert.deepEqual(await reencodeOperatorSnapshot(file, sp), new Uint8Array(readFileSync(path)));
      // The 1.8 file's own version (0) is no metadata version: it is written as MetadataV2 (it was written as version 0, unreadable).
      assert.equal(sp.metadata.version, version === '1.8' ? 2 : 3);
      await withTempDir('operator-state-kafka', async (tmp) => {
        await writeFlinkSavepoint(sp, join(tmp, 'sp'));
        const written = await FlinkSavepoint.load(join(tmp, 'sp'));
        const w = written.operators[0]!.subtasks[0]!.managedOperatorState!;
        const again = readOperatorStates(w, await written.resolve(w.stream!), written.registry).states.find((s) => s.name === 'topic-partition-offset-states')!;
        assert.deepEqual(again.raw.map((r) => Buffer.from(r)), offsets.raw.map((r) => Buffer.from(r)));
      });
    });
  }
});
