import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  GlobalWindow,
  GlobalWindowSerializer,
  MemoryFileSystem,
  ReducingStateDescriptor,
  Serializers,
  TimeWindow,
  TimeWindowSerializer,
  ValueStateDescriptor,
  type TimerSerializer,
} from '@flowstate/core';
import {
  canonicalSavepointProperties,
  encodeCanonicalStream,
  convertFlinkToFlowstate,
  convertFlowstateToFlink,
  FlinkSavepoint,
  FlinkSnapshots,
  javaLongHash,
  JavaDataOutput,
  keyGroupForHash,
  operatorIdFromUid,
  writeFlinkMetadata,
  type FlinkSerializerSnapshot,
  type StateMetaInfo,
} from '../src/index.js';
import { restoreConverted } from './restore-converted.js';

const MAX_PARALLELISM = 4;
/** key -> [window start, end, sum] of a 3 s tumbling window's ReducingState, as WindowOperatorMigrationTest expects. */
const WINDOWS: readonly [bigint, bigint, bigint, bigint][] = [
  [1n, 0n, 3000n, 3n],
  [2n, 0n, 3000n, 3n],
  [2n, 3000n, 6000n, 2n],
];

function bytesOf(s: FlinkSerializerSnapshot, v: unknown): Uint8Array {
  const o = new JavaDataOutput();
  s.serializer.serialize(v as never, o);
  return o.toBytes();
}

/**
 * A Flink canonical savepoint written by our own code: key Long, REDUCING "window-contents" with
 * TimeWindow namespaces, VALUE "global-count" with the GlobalWindow namespace and event-time
 * window timers (TimeWindow namespaces). Records are in RocksDB-canonical order (state, then key bytes).
 */
function writeWindowSavepoint(): string {
  const long = FlinkSnapshots.long();
  const tw = FlinkSnapshots.timeWindow();
  const gw = FlinkSnapshots.globalWindow();
  const states: StateMetaInfo[] = [
    { name: 'window-contents', backendStateType: 'KEY_VALUE', options: [['KEYED_STATE_TYPE', 'REDUCING']], serializers: [['NAMESPACE_SERIALIZER', tw], ['VALUE_SERIALIZER', long]] },
    { name: 'global-count', backendStateType: 'KEY_VALUE', options: [['KEYED_STATE_TYPE', 'VALUE']], serializers: [['NAMESPACE_SERIALIZER', gw], ['VALUE_SERIALIZER', long]] },
  ];
  const timer = FlinkSnapshots.timer(long, tw);
  states.push({ name: '_timer_state/event_window-timers', backendStateType: 'PRIORITY_QUEUE', options: [], serializers: [['VALUE_SERIALIZER', timer]] });
  const recordsOf = (kg: number) => {
    const here = WINDOWS.filter(([k]) => keyGroupForHash(javaLongHash(k), MAX_PARALLELISM) === kg);
    const prefix = (k: bigint, ns: Uint8Array): Uint8Array => Buffer.concat([Buffer.from([kg]), bytesOf(long, k), ns]);
    return [
      ...here.map(([k, start, end, sum]) => ({ stateId: 0, key: prefix(k, bytesOf(tw, { start, end })), value: bytesOf(long, sum) })),
      ...[...new Set(here.map(([k]) => k))].map((k) => ({ stateId: 1, key: prefix(k, bytesOf(gw, 'GlobalWindow')), value: bytesOf(long, k * 7n) })),
      ...here.map(([k, start, end]) => ({ stateId: 2, key: Buffer.concat([Buffer.from([kg]), bytesOf(timer, { timestamp: end - 1n, key: k, namespace: { start, end } })]), value: new Uint8Array(0) })),
    ].sort((a, b) => a.stateId - b.stateId || Buffer.compare(a.key, b.key));
  };
  return writeSavepoint(states, recordsOf);
}

/** A canonical savepoint of one operator 'window' (parallelism 1) holding these states and records. */
function writeSavepoint(states: StateMetaInfo[], recordsOf: (kg: number) => { stateId: number; key: Uint8Array; value: Uint8Array }[]): string {
  const { bytes: data, offsets } = encodeCanonicalStream({ version: 6, compression: false, keySerializer: FlinkSnapshots.long(), states }, 0, MAX_PARALLELISM, recordsOf);
  const dir = mkdtempSync(join(tmpdir(), 'flowstate-flink-windows-'));
  writeFileSync(join(dir, 'keyed-0'), data);
  const metadata = writeFlinkMetadata({
    version: 6, checkpointId: 5n, masterStates: [], propertiesBytes: canonicalSavepointProperties(),
    operators: [{
      name: 'window', uid: 'window', operatorId: operatorIdFromUid('window'), parallelism: 1, maxParallelism: MAX_PARALLELISM, coordinatorState: null, fullyFinished: false,
      subtasks: [{
        index: 0, finished: false, managedOperatorState: null, rawOperatorState: null,
        managedKeyedState: { type: 'key-groups', tag: 7, startKeyGroup: 0, offsets, stream: { type: 'relative-file', relativePath: 'keyed-0', size: data.length } },
        rawKeyedState: null, inputChannelState: [], resultSubpartitionState: [],
      }],
    }],
  });
  writeFileSync(join(dir, '_metadata'), metadata);
  return dir;
}

describe('Flink window namespaces convert natively into core TimeWindow / GlobalWindow', () => {
  it("TimeWindow and GlobalWindow state restores into a flowstate backend under the window operator's namespace serializers", async () => {
    const dir = writeWindowSavepoint();
    try {
      const fs = new MemoryFileSystem();
      const { skipped } = await convertFlinkToFlowstate(await FlinkSavepoint.load(dir), fs);
      assert.deepEqual(skipped, []);
      const { kb, header } = await restoreConverted(fs, 'window', Serializers.int64);
      const ns = Object.fromEntries(header.states.map((m) => [m.name, m.kind === 'PRIORITY_QUEUE' ? undefined : m.namespaceSerializerSnapshot.typeId]));
      assert.deepEqual(ns, { 'window-contents': 'time-window', 'global-count': 'global-window', '_timer_state/event_window-timers': undefined });
      const contents = new ReducingStateDescriptor<bigint>('window-contents', (a, b) => a + b, Serializers.int64);
      const global = new ValueStateDescriptor<bigint>('global-count', Serializers.int64);
      for (const [k, start, end, sum] of WINDOWS) {
        kb.setCurrentKey(k);
        assert.equal(kb.getPartitionedState(new TimeWindow(Number(start), Number(end)), TimeWindowSerializer.INSTANCE, contents).get(), sum, `key ${k} [${start}, ${end})`);
        assert.equal(kb.getPartitionedState(GlobalWindow.INSTANCE, GlobalWindowSerializer.INSTANCE, global).value(), k * 7n);
      }
      kb.setCurrentKey(1n);
      assert.equal(kb.getPartitionedState(new TimeWindow(3000, 6000), TimeWindowSerializer.INSTANCE, contents).get(), null);
      // Window timers: their namespaces are core TimeWindows too (what the window operator's timer service reads).
      const meta = header.states.find((m) => m.name === '_timer_state/event_window-timers')!;
      const serializer = meta.stateSerializerSnapshot.restoreSerializer() as TimerSerializer<unknown, unknown>;
      assert.equal(serializer.namespaceSerializer.typeId, 'time-window');
      const q = kb.createPriorityQueue(meta.name, { serializer, compare: (a, b) => a.timestamp - b.timestamp, keyOf: (t) => t.key as bigint });
      const polled = [];
      for (let t = q.poll(); t !== undefined; t = q.poll()) polled.push(t);
      assert.deepEqual(polled.map((t) => [t.key, t.timestamp, t.namespace instanceof TimeWindow ? t.namespace.id : t.namespace]).sort(), [[1n, 2999, '0:3000'], [2n, 2999, '0:3000'], [2n, 5999, '3000:6000']]);
      kb.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('Flink -> flowstate -> Flink writes the window state and window timers back byte-identical', async () => {
    const dir = writeWindowSavepoint();
    const out = mkdtempSync(join(tmpdir(), 'flowstate-flink-windows-back-'));
    try {
      const fs = new MemoryFileSystem();
      await convertFlinkToFlowstate(await FlinkSavepoint.load(dir), fs);
      const { files } = await convertFlowstateToFlink(fs, join(out, 'sp'), { metadataVersion: 6 });
      const keyed = files.filter((f) => f !== '_metadata');
      assert.equal(keyed.length, 1);
      assert.deepEqual(readFileSync(join(out, 'sp', keyed[0]!)), readFileSync(join(dir, 'keyed-0')));
      assert.deepEqual(readdirSync(join(out, 'sp')).sort(), [...files].sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('a TimeWindow bound beyond safe integers is a typed error naming the state', async () => {
    const tw = FlinkSnapshots.timeWindow();
    const long = FlinkSnapshots.long();
    const kg = keyGroupForHash(javaLongHash(1n), MAX_PARALLELISM);
    const state: StateMetaInfo = { name: 'w', backendStateType: 'KEY_VALUE', options: [['KEYED_STATE_TYPE', 'VALUE']], serializers: [['NAMESPACE_SERIALIZER', tw], ['VALUE_SERIALIZER', long]] };
    const key = Buffer.concat([Buffer.from([kg]), bytesOf(long, 1n), bytesOf(tw, { start: -(2n ** 63n), end: 0n })]);
    const dir = writeSavepoint([state], (g) => (g === kg ? [{ stateId: 0, key, value: bytesOf(long, 1n) }] : []));
    try {
      await assert.rejects(convertFlinkToFlowstate(await FlinkSavepoint.load(dir), new MemoryFileSystem()), (e: Error & { code?: string }) => e.code === 'FLINK_UNSUPPORTED' && e.message.includes(`'${join(dir, 'keyed-0')}'`) && e.message.includes("state 'w'") && /TimeWindow bound -9223372036854775808 is outside/.test(e.message));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
