import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FlowstateError, MemoryFileSystem, ReducingStateDescriptor, Serializers, TimeWindow, TimeWindowSerializer, UnknownFormatVersionError } from '@flowstate/core';
import { convertFlinkToFlowstate, FlinkSavepoint, loadOperatorSnapshot, readFlinkMetadata, readOperatorSnapshotFile, readOperatorStates, reencodeOperatorSnapshot, writeFlinkMetadata, writeFlinkSavepoint, writeOperatorSnapshotFile, type DecodedKeyedEntry, type TimeWindow as FlinkTimeWindow, type Timer } from '../src/index.js';
import { allFixtureFiles, needsFixtures, prng } from './fixtures.js';
import { writeOwnSavepoint } from './own-savepoint.js';
import { restoreConverted } from './restore-converted.js';

const snapshotFiles = (): string[] => allFixtureFiles().filter((f) => /-snapshot$/.test(f));
const winOp = (variant: string): string => snapshotFiles().find((f) => f.endsWith(`win-op-migration-test-${variant}-flink2.3-snapshot`))!;

async function records(path: string): Promise<DecodedKeyedEntry[]> {
  const { savepoint: sp } = await loadOperatorSnapshot(path);
  const op = sp.operators[0]!;
  const out: DecodedKeyedEntry[] = [];
  for (const info of await sp.keyedStreams(op)) out.push(...sp.decodedRecords(info, op.maxParallelism));
  return out;
}

const windowOf = (ns: unknown): string => `${(ns as FlinkTimeWindow).start}:${(ns as FlinkTimeWindow).end}`;

describe('OperatorSnapshotUtil files (Flink migration tests: win-op-migration-test-*, Kafka legacy snapshots)', () => {
  it('every such fixture parses to its last byte and is written back byte-identical', needsFixtures, async () => {
    const files = snapshotFiles().filter((f) => !f.endsWith('/serializer-snapshot'));
    assert.equal(files.length, 5);
    for (const f of files) {
      const bytes = readFileSync(f);
      assert.deepEqual(writeOperatorSnapshotFile(readOperatorSnapshotFile(bytes, f)), new Uint8Array(bytes), f);
    }
    console.log(`# OperatorSnapshotUtil files parsed and written back byte-identical: ${files.length}`);
  });

  it('win-op-migration-test-reduce-event-time: window contents and event-time timers as WindowOperatorMigrationTest wrote them', needsFixtures, async () => {
    const { savepoint: sp } = await loadOperatorSnapshot(winOp('reduce-event-time'));
    const info = (await sp.keyedStreams(sp.operators[0]!))[0]!;
    assert.equal(info.format, 'heap-native');
    assert.deepEqual(info.header!.states.map((s) => s.name), ['window-contents', '_timer_state/processing_window-timers', '_timer_state/event_window-timers']);
    const all = await records(winOp('reduce-event-time'));
    const contents = all.filter((e) => e.state === 'window-contents').map((e) => [e.key, windowOf(e.namespace), e.value]);
    assert.deepEqual(contents.sort(), [['key1', '0:3000', ['key1', 3]], ['key2', '0:3000', ['key2', 3]], ['key2', '3000:6000', ['key2', 2]]]);
    const timers = all.filter((e) => e.state === '_timer_state/event_window-timers').map((e) => e.value as Timer);
    assert.deepEqual(timers.map((t) => [t.key, t.timestamp, windowOf(t.namespace)]).sort(), [['key1', 2999n, '0:3000'], ['key2', 2999n, '0:3000'], ['key2', 5999n, '3000:6000']]);
    assert.equal(all.filter((e) => e.state === '_timer_state/processing_window-timers').length, 0);
  });

  it('win-op-migration-test-reduce-event-time re-encoded through its serializers is byte-identical to Flink\'s file', needsFixtures, async () => {
    const path = winOp('reduce-event-time');
    const { file, savepoint } = await loadOperatorSnapshot(path);
    assert.deepEqual(await reencodeOperatorSnapshot(file, savepoint), new Uint8Array(readFileSync(path)));
  });

  it('win-op-migration-test-reduce-event-time converts to flowstate: the window operator reads its TimeWindow state', needsFixtures, async () => {
    const fs = new MemoryFileSystem();
    const { savepoint } = await loadOperatorSnapshot(winOp('reduce-event-time'));
    const { metadata, skipped } = await convertFlinkToFlowstate(savepoint, fs);
    assert.deepEqual(skipped, []);
    assert.equal(metadata.operators.length, 1);
    const { kb, header } = await restoreConverted(fs, metadata.operators[0]!.uid, Serializers.string);
    const meta = header.states.find((m) => m.name === 'window-contents')!;
    assert.equal(meta.namespaceSerializerSnapshot.typeId, 'time-window');
    const d = new ReducingStateDescriptor<unknown>('window-contents', (a) => a, Serializers.msgpack);
    kb.setCurrentKey('key2');
    assert.deepEqual(kb.getPartitionedState(new TimeWindow(3000, 6000), TimeWindowSerializer.INSTANCE, d).get(), ['key2', 2]);
    kb.setCurrentKey('key1');
    assert.deepEqual(kb.getPartitionedState(new TimeWindow(0, 3000), TimeWindowSerializer.INSTANCE, d).get(), ['key1', 3]);
    kb.dispose();
  });

  it('win-op-migration-test-kryo-serialized-key: header read; decoding the Kryo keys is a typed error naming the Java serializer', needsFixtures, async () => {
    const { savepoint: sp } = await loadOperatorSnapshot(winOp('kryo-serialized-key'));
    const info = (await sp.keyedStreams(sp.operators[0]!))[0]!;
    assert.equal(info.header!.keySerializer.className, 'org.apache.flink.api.java.typeutils.runtime.kryo.KryoSerializerSnapshot');
    assert.deepEqual(info.header!.states.map((s) => s.name), ['window-contents', '_timer_state/processing_window-timers', '_timer_state/event_window-timers']);
    await assert.rejects(records(winOp('kryo-serialized-key')), (e: Error & { code?: string }) => e.code === 'FLINK_OPAQUE_SERIALIZER' && e.message.includes('KryoSerializer'));
  });

  it('kafka-migration-kafka-producer-flink-1.20: TwoPhaseCommitSinkFunction state header parses to its last byte (outer snapshot v4 = one supportsNullTransaction boolean) and re-encodes byte-identical', needsFixtures, async () => {
    const path = snapshotFiles().find((f) => f.endsWith('/kafka-migration-kafka-producer-flink-1.20-snapshot'))!;
    const { file, savepoint: sp } = await loadOperatorSnapshot(path);
    const h = sp.operators[0]!.subtasks[0]!.managedOperatorState!;
    const stream = await sp.resolve(h.stream!);
    const { header, states } = readOperatorStates(h, stream, sp.registry);
    // The header ends exactly where the first state's data starts: nothing of it is left unread.
    assert.equal(header.length, Math.min(...h.states.flatMap((s) => s.offsets)));
    assert.deepEqual(states.map((s) => [s.name, s.mode, s.raw.length]), [['next-transactional-id-hint-v2', 'UNION', 1], ['state', 'SPLIT_DISTRIBUTE', 1]]);
    const twoPhase = header.operatorStates.find((m) => m.name === 'state')!.serializers[0]![1];
    assert.equal(twoPhase.className, 'org.apache.flink.streaming.api.functions.sink.TwoPhaseCommitSinkFunction$StateSerializerSnapshot');
    assert.deepEqual(twoPhase.config, { supportsNullTransaction: true, outerVersion: 4 });
    assert.deepEqual(twoPhase.nested.map((n) => n.className.replace(/.*\$/, '')), ['TransactionStateSerializerSnapshot', 'ContextStateSerializerSnapshot']);
    assert.equal(twoPhase.serializer.opaque, true);
    assert.deepEqual(await reencodeOperatorSnapshot(file, sp), new Uint8Array(readFileSync(path)));
  });

  it('a file of version 0 (before Flink 1.11) opens as MetadataV2 and is written as a savepoint that reads back; a model of a version Flink metadata lacks is refused', async () => {
    const dir = writeOwnSavepoint(6, false);
    try {
      const sp = await FlinkSavepoint.load(dir);
      const h = sp.operators[0]!.subtasks[0]!.managedKeyedState!;
      const inline = { ...h, stream: { type: 'byte-stream' as const, name: 'own', data: readFileSync(join(dir, 'keyed-0')), metadataOffset: 0 } };
      const path = join(dir, 'v0-snapshot');
      writeFileSync(path, writeOperatorSnapshotFile({ version: 0, rawOperatorState: null, managedOperatorState: [], rawKeyedState: [], managedKeyedState: [inline], inputChannelState: [], resultSubpartitionState: [] }));
      const { savepoint } = await loadOperatorSnapshot(path, { maxParallelism: 4 });
      assert.equal(savepoint.metadata.version, 2, 'the file version (0) is no metadata version');
      await writeFlinkSavepoint(savepoint, join(dir, 'written'));
      const back = await FlinkSavepoint.load(join(dir, 'written'));
      assert.equal(back.metadata.version, 2);
      assert.equal([...back.decodedRecords((await back.keyedStreams(back.operators[0]!))[0]!, 4)].length, 6 * 4);
      assert.throws(() => writeFlinkMetadata({ ...savepoint.metadata, version: 0 }), UnknownFormatVersionError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('our own file (a canonical stream inline) reads back with its records; mutations give typed errors only', async () => {
    const dir = writeOwnSavepoint(6, false);
    try {
      const sp = await FlinkSavepoint.load(dir);
      const subtask = sp.operators[0]!.subtasks[0]!;
      const h = subtask.managedKeyedState!;
      assert.equal(h.type, 'key-groups');
      const inline = { ...h, stream: { type: 'byte-stream' as const, name: 'own', data: readFileSync(join(dir, 'keyed-0')), metadataOffset: 0 } };
      const bytes = writeOperatorSnapshotFile({ version: 3, rawOperatorState: null, managedOperatorState: [], rawKeyedState: [], managedKeyedState: [inline], inputChannelState: [], resultSubpartitionState: [] });
      const path = join(dir, 'own-snapshot');
      writeFileSync(path, bytes);
      const { savepoint } = await loadOperatorSnapshot(path, { maxParallelism: 4 });
      const expected = (await FlinkSavepoint.load(dir)).operators[0]!;
      const fromFile = [...savepoint.decodedRecords((await savepoint.keyedStreams(savepoint.operators[0]!))[0]!, 4)];
      const fromSavepoint = [...sp.decodedRecords((await sp.keyedStreams(expected))[0]!, 4)];
      assert.equal(fromFile.length, 6 * 4);
      assert.deepEqual(fromFile, fromSavepoint);
      const rand = prng(20261203);
      for (let i = 0; i < 200; i++) {
        const m = Buffer.from(bytes);
        const cut = rand() < 0.3;
        if (cut) writeFileSync(path, m.subarray(0, Math.floor(rand() * m.length)));
        else {
          for (let j = 0; j < 3; j++) m[Math.floor(rand() * 64)] = Math.floor(rand() * 256);
          writeFileSync(path, m);
        }
        try {
          await loadOperatorSnapshot(path);
        } catch (e) {
          assert.ok(e instanceof FlowstateError, `mutation ${i}: ${String(e)}`);
        }
      }
      // Not a `_metadata`: no magic number, so the metadata reader refuses it with a typed error.
      assert.throws(() => readFlinkMetadata(bytes, path), FlowstateError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
