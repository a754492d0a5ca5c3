import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  assignToKeyGroup,
  IllegalStateUsageError,
  DataOutputSerializer,
  defaultSerializerRegistry,
  deserializeCheckpointMetadata,
  FsCheckpointStorage,
  KeyedStateStreamEncoder,
  KeyGroupRange,
  ListStateDescriptor,
  MapStateDescriptor,
  MemoryFileSystem,
  MinimalKvStateBackend,
  queueMetaInfo,
  readKeyedStateHeader,
  serializeCheckpointMetadata,
  Serializers,
  StateTtlConfigBuilder,
  TimerSerializer,
  TtlSerializer,
  TtlSerializerSnapshot,
  ValueStateDescriptor,
  VoidNamespace,
  type KeyedStateMetaInfo,
  type KeyGroupsStateHandle,
  type TypeSerializer,
  type ListState,
  type MapState,
  type ValueState,
} from '@flowstate/core';
import {
  convertFlinkToFlowstate,
  convertFlowstateToFlink,
  FLINK_OPERATOR_ID_PROPERTY,
  encodeCanonicalStream,
  FlinkSavepoint,
  FlinkSnapshots,
  JavaDataOutput,
  javaLongHash,
  KeyedEntryDecoder,
  keyGroupForHash,
  operatorIdFromUid,
  validateFlinkSavepoint,
  writeFlinkMetadata,
  writeStateMetaInfo,
  type CanonicalRecord,
  type StateMetaInfo,
} from '../src/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'flowstate-flink-ttl-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const MAX_PARALLELISM = 8;
const N = 10;
/** Last access of key k: 1_000_000 + k * 1000. */
const stamp = (k: bigint): bigint => 1_000_000n + k * 1000n;

/**
 * A Flink canonical savepoint with TTL states as Flink's TtlStateFactory registers them (value
 * serializer TtlSerializer(Long, user); list elements and map values wrapped), written by our
 * writer: Long keys 0..N-1, 'seen' = key * 7, 'events' = ["e<key>", "f<key>"], 'attrs' = {"a" -> key}.
 */
function flinkTtlSavepoint(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const long = FlinkSnapshots.long();
  const str = FlinkSnapshots.string();
  const vns = FlinkSnapshots.voidNamespace();
  const kv = (name: string, kind: string, value: ReturnType<typeof FlinkSnapshots.long>): StateMetaInfo => ({
    name, backendStateType: 'KEY_VALUE', options: [['KEYED_STATE_TYPE', kind]], serializers: [['NAMESPACE_SERIALIZER', vns], ['VALUE_SERIALIZER', value]],
  });
  const states = [kv('seen', 'VALUE', FlinkSnapshots.ttl(long)), kv('events', 'LIST', FlinkSnapshots.list(FlinkSnapshots.ttl(str))), kv('attrs', 'MAP', FlinkSnapshots.map(str, FlinkSnapshots.ttl(long)))];
  const header = { version: 6, compression: false, keySerializer: long, states };
  const enc = new KeyedEntryDecoder({ ...header, length: 0 }, MAX_PARALLELISM);
  const byKg = new Map<number, CanonicalRecord[]>();
  for (let k = 0n; k < BigInt(N); k++) {
    const keyGroup = keyGroupForHash(javaLongHash(k), MAX_PARALLELISM);
    const base = { keyGroup, key: k, namespace: null };
    const ttl = (value: unknown): unknown => ({ lastAccessTimestamp: stamp(k), value });
    const recs = [
      ...enc.encode({ ...base, state: 'seen', kind: 'VALUE', value: ttl(k * 7n) }, 0),
      ...enc.encode({ ...base, state: 'events', kind: 'LIST', value: [ttl(`e${k}`), ttl(`f${k}`)] }, 1),
      ...enc.encode({ ...base, state: 'attrs', kind: 'MAP', userKey: 'a', value: ttl(k) }, 2),
    ];
    byKg.set(keyGroup, [...(byKg.get(keyGroup) ?? []), ...recs]);
  }
  for (const l of byKg.values()) l.sort((a, b) => a.stateId - b.stateId || Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
  const out = encodeCanonicalStream(header, 0, MAX_PARALLELISM, (kg) => byKg.get(kg) ?? []);
  writeFileSync(join(dir, 'k0'), out.bytes);
  writeFileSync(join(dir, '_metadata'), writeFlinkMetadata({
    version: 6, checkpointId: 3n, masterStates: [], propertiesBytes: new Uint8Array([0xac, 0xed, 0, 5, 0x70]),
    operators: [{ name: 'ttl', uid: 'ttl-op', operatorId: operatorIdFromUid('ttl-op'), parallelism: 1, maxParallelism: MAX_PARALLELISM, coordinatorState: null, fullyFinished: false,
      subtasks: [{ index: 0, finished: false, managedOperatorState: null, rawOperatorState: null, managedKeyedState: { type: 'key-groups', tag: 7, startKeyGroup: 0, offsets: out.offsets, stream: { type: 'relative-file', relativePath: 'k0', size: out.bytes.length } }, rawKeyedState: null, inputChannelState: [], resultSubpartitionState: [] }] }],
  }));
}

async function rawRecords(dir: string): Promise<{ metas: string[]; records: string[] }> {
  const sp = await FlinkSavepoint.load(dir);
  const records: string[] = [];
  const metas: string[] = [];
  for (const op of sp.operators) {
    for (const info of await sp.keyedStreams(op)) {
      for (const m of info.header!.states) {
        const o = new JavaDataOutput();
        writeStateMetaInfo(o, m);
        metas.push(Buffer.from(o.toBytes()).toString('hex'));
      }
      for (const r of sp.canonicalRecords(info)) records.push(`${r.keyGroup}/${r.stateId}/${Buffer.from(r.key).toString('hex')}:${Buffer.from(r.value).toString('hex')}`);
    }
  }
  return { metas, records };
}

describe('TTL states between Flink and flowstate (own savepoint)', () => {
  const flink = join(tmp, 'flink');
  flinkTtlSavepoint(flink);

  it('Flink TTL states become flowstate TTL states with their timestamps: they expire in a flowstate backend ttlMs after them', async () => {
    const fs = new MemoryFileSystem();
    const { skipped } = await convertFlinkToFlowstate(await FlinkSavepoint.load(flink), fs);
    assert.deepEqual(skipped, []);
    const storage = new FsCheckpointStorage(fs, { layout: 'savepoint' });
    const md = deserializeCheckpointMetadata((await storage.resolveCheckpoint('')).metadata, '_metadata');
    const handles = md.operators[0]!.subtasks.flatMap((s) => s.keyed) as KeyGroupsStateHandle[];
    const header = await readKeyedStateHeader(storage, handles[0]!, defaultSerializerRegistry);
    const seen = header.states.find((m) => m.name === 'seen')!.stateSerializerSnapshot;
    assert.ok(seen instanceof TtlSerializerSnapshot);
    assert.equal((seen as TtlSerializerSnapshot<unknown>).info.timeCharacteristic, 'ProcessingTime');

    const clock = { now: 0, currentTimestamp(): number { return this.now; } };
    const kb = await new MinimalKvStateBackend().createKeyedStateBackend({
      operatorIdentifier: 'ttl-op', keySerializer: Serializers.int64, maxParallelism: MAX_PARALLELISM, keyGroupRange: KeyGroupRange.of(0, MAX_PARALLELISM - 1),
      restoreState: handles, stateHandleReader: storage, ttlTimeProvider: clock,
    });
    const ttl = StateTtlConfigBuilder.newBuilder(500).build();
    const ns = Serializers.voidNamespace;
    const v = kb.getPartitionedState(VoidNamespace, ns, new ValueStateDescriptor('seen', Serializers.int64).enableTimeToLive(ttl)) as ValueState<bigint>;
    const l = kb.getPartitionedState(VoidNamespace, ns, new ListStateDescriptor('events', Serializers.string).enableTimeToLive(ttl)) as ListState<string>;
    const m = kb.getPartitionedState(VoidNamespace, ns, new MapStateDescriptor('attrs', Serializers.string, Serializers.int64).enableTimeToLive(ttl)) as MapState<string, bigint>;
    for (let k = 0n; k < BigInt(N); k++) {
      kb.setCurrentKey(k);
      clock.now = Number(stamp(k)) + 499;
      assert.equal(v.value(), k * 7n);
      assert.deepEqual([...(l.get() ?? [])], [`e${k}`, `f${k}`]);
      assert.equal(m.get('a'), k);
      clock.now = Number(stamp(k)) + 500;
      assert.equal(v.value(), null, `key ${k} expires 500 ms after its Flink timestamp`);
      assert.deepEqual([...(l.get() ?? [])], []);
      assert.equal(m.get('a') ?? null, null);
    }
    kb.dispose();
  });

  for (const strip of [false, true]) {
    it(`Flink -> flowstate -> Flink gives the same TTL records and meta infos${strip ? ' (Flink types not recorded: TtlSerializerSnapshot synthesized)' : ''}`, async () => {
      const fs = new MemoryFileSystem();
      await convertFlinkToFlowstate(await FlinkSavepoint.load(flink), fs);
      if (strip) {
        const storage = new FsCheckpointStorage(fs, { layout: 'savepoint' });
        const md = deserializeCheckpointMetadata((await storage.resolveCheckpoint('')).metadata, '_metadata');
        fs.overwriteForTest('_metadata', serializeCheckpointMetadata({ ...md, properties: {} }));
      }
      const out = join(tmp, `back-${strip}`);
      const { skipped } = await convertFlowstateToFlink(fs, out);
      assert.deepEqual(skipped, []);
      assert.equal((await validateFlinkSavepoint(out)).ok, true);
      assert.deepEqual(await rawRecords(out), await rawRecords(flink));
    });
  }
});

/**
 * A flowstate canonical savepoint written with core's stream encoder: int64 keys 0..3, one record
 * per key in each state, operator 'native' (parallelism 1, maxParallelism 8).
 */
async function flowstateSavepoint(fs: MemoryFileSystem, states: { meta: KeyedStateMetaInfo; value: (k: bigint) => Uint8Array }[]): Promise<void> {
  const location = await new FsCheckpointStorage(fs, { layout: 'savepoint' }).initializeLocationForCheckpoint(1);
  const range = KeyGroupRange.of(0, MAX_PARALLELISM - 1);
  const enc = new KeyedStateStreamEncoder(range, Serializers.int64.snapshotConfiguration(), states.map((s) => s.meta));
  const out = location.streamFactory.createCheckpointStateOutputStream('EXCLUSIVE');
  await out.write(enc.encodeHeader());
  const keys = [0n, 1n, 2n, 3n].map((k) => ({ k, bytes: bytesOf(Serializers.int64, k) }));
  for (const kg of range) {
    enc.beginKeyGroup(kg);
    states.forEach((s, i) => {
      for (const { k, bytes } of keys) {
        if (assignToKeyGroup(bytes, MAX_PARALLELISM) !== kg) continue;
        const ns = s.meta.kind === 'PRIORITY_QUEUE' ? new Uint8Array(0) : bytesOf(Serializers.voidNamespace, VoidNamespace);
        enc.writeEntry(i, bytes, ns, s.value(k));
      }
    });
    await enc.endKeyGroupTo(out);
  }
  const handle = enc.finish(await out.closeAndGetHandle());
  await location.finalizeCheckpoint(serializeCheckpointMetadata({
    checkpointId: 1, kind: 'SAVEPOINT', timestamp: 0, properties: {},
    operators: [{ uid: 'native', parallelism: 1, maxParallelism: MAX_PARALLELISM, subtasks: [{ subtaskIndex: 0, keyed: [handle], operator: [] }] }],
  }));
}

function bytesOf<T>(s: TypeSerializer<T>, v: T): Uint8Array {
  const o = new DataOutputSerializer(32);
  s.serialize(v, o);
  return o.toBytes();
}

describe('flowstate states Flink has no twin for are listed as skipped, the rest converts', () => {
  it('event-time TTL and a priority queue of non-timers are skipped with their reason; timers and processing-time TTL convert', async () => {
    const fs = new MemoryFileSystem();
    const ttl = (tc: 'ProcessingTime' | 'EventTime'): TtlSerializer<bigint> => new TtlSerializer(Serializers.int64, { ttlMs: 1000, timeCharacteristic: tc, nullableUserValue: false });
    const value = (name: string, s: TypeSerializer<unknown>): KeyedStateMetaInfo => ({ name, kind: 'VALUE', namespaceSerializerSnapshot: Serializers.voidNamespace.snapshotConfiguration(), stateSerializerSnapshot: s.snapshotConfiguration() });
    const timers = new TimerSerializer(Serializers.int64, Serializers.voidNamespace);
    await flowstateSavepoint(fs, [
      { meta: value('event-ttl', ttl('EventTime') as TypeSerializer<unknown>), value: (k) => bytesOf(ttl('EventTime'), { userValue: k, lastAccessTimestamp: 5 }) },
      { meta: queueMetaInfo('numbers', Serializers.int64.snapshotConfiguration()), value: (k) => bytesOf(Serializers.int64, k) },
      { meta: queueMetaInfo('_timer_state/event_w', timers.snapshotConfiguration()), value: (k) => bytesOf(timers, { timestamp: k === 0n ? -Number.MAX_SAFE_INTEGER : Number(k) * 10, key: k, namespace: VoidNamespace }) },
      { meta: value('proc-ttl', ttl('ProcessingTime') as TypeSerializer<unknown>), value: (k) => bytesOf(ttl('ProcessingTime'), { userValue: k * 2n, lastAccessTimestamp: 7 }) },
    ]);
    const out = join(tmp, 'native');
    const { skipped } = await convertFlowstateToFlink(fs, out);
    assert.deepEqual(skipped, [
      "native/event-ttl: event-time TTL: Flink's TTL is processing time only, and the watermark stamps would be read as wall-clock times",
      "native/numbers: priority queue of 'int64' elements: Flink keeps only timers (TimerSerializer) in keyed priority-queue state",
    ]);
    assert.equal((await validateFlinkSavepoint(out)).ok, true);
    const sp = await FlinkSavepoint.load(out);
    const got: Record<string, unknown[]> = {};
    for (const info of await sp.keyedStreams(sp.operators[0]!)) {
      assert.deepEqual(info.header!.states.map((m) => [m.name, m.backendStateType]), [['_timer_state/event_w', 'PRIORITY_QUEUE'], ['proc-ttl', 'KEY_VALUE']]);
      for (const e of sp.decodedRecords(info, MAX_PARALLELISM)) {
        assert.equal(e.keyGroup, keyGroupForHash(javaLongHash(e.key as bigint), MAX_PARALLELISM));
        (got[e.state] ??= []).push(e.value);
      }
    }
    const sortBy = (f: (v: never) => bigint) => (a: unknown, b: unknown): number => Number(f(a as never) - f(b as never));
    // No original was recorded for the clamped timer: it goes to Flink as -(2^53 - 1).
    assert.deepEqual(got['_timer_state/event_w']!.sort(sortBy((t: { key: bigint }) => t.key)), [
      { timestamp: -BigInt(Number.MAX_SAFE_INTEGER), key: 0n, namespace: null }, { timestamp: 10n, key: 1n, namespace: null }, { timestamp: 20n, key: 2n, namespace: null }, { timestamp: 30n, key: 3n, namespace: null },
    ]);
    assert.deepEqual(got['proc-ttl']!.sort(sortBy((v: { value: bigint }) => v.value)), [0n, 2n, 4n, 6n].map((value) => ({ lastAccessTimestamp: 7n, value })));
  });
});

describe('convertFlowstateToFlink uid map', () => {
  it("a uid such as 'constructor' or 'toString' is not looked up on Object.prototype of a plain uid map", async () => {
    const fs = new MemoryFileSystem();
    const location = await new FsCheckpointStorage(fs, { layout: 'savepoint' }).initializeLocationForCheckpoint(1);
    const uids = ['constructor', 'toString', '__proto__', 'renamed-from'];
    await location.finalizeCheckpoint(serializeCheckpointMetadata({
      checkpointId: 1, kind: 'SAVEPOINT', timestamp: 0, properties: {},
      operators: uids.map((uid) => ({ uid, parallelism: 1, maxParallelism: MAX_PARALLELISM, subtasks: [] })),
    }));
    const out = join(tmp, 'uid-map');
    await convertFlowstateToFlink(fs, out, { uids: { 'renamed-from': 'renamed-to' } });
    const sp = await FlinkSavepoint.load(out);
    assert.deepEqual(sp.operators.map((op) => [op.uid, op.operatorId]), [...uids.slice(0, 3), 'renamed-to'].map((uid) => [uid, operatorIdFromUid(uid)]));
  });

  it('refuses, before writing anything, a map naming no operator and two operators under one Flink operator ID (mapped, or recorded from Flink)', async () => {
    const fs = new MemoryFileSystem();
    const location = await new FsCheckpointStorage(fs, { layout: 'savepoint' }).initializeLocationForCheckpoint(1);
    await location.finalizeCheckpoint(serializeCheckpointMetadata({
      checkpointId: 1, kind: 'SAVEPOINT', timestamp: 0,
      // 'c' was converted from Flink with the operator ID 'a' gets from its uid.
      properties: { [`${FLINK_OPERATOR_ID_PROPERTY}c`]: operatorIdFromUid('a') },
      operators: ['a', 'b', 'c'].map((uid) => ({ uid, parallelism: 1, maxParallelism: MAX_PARALLELISM, subtasks: [] })),
    }));
    const cases: ReadonlyArray<readonly [Record<string, string>, RegExp]> = [
      [{ nope: 'x', c: 'c2' }, /uid map: the savepoint has no operator with uid 'nope' \(it has: a, b, c\)/],
      [{ b: 'a', c: 'c2' }, /operators 'a' and 'b' would get one Flink operator ID \(uid 'a'\)/],
      [{}, /operators 'a' and 'c' would get one Flink operator ID \(uid 'c'\)/],
    ];
    for (const [uids, message] of cases) {
      const out = join(tmp, `uid-map-refused-${Object.keys(uids).join('-')}`);
      await assert.rejects(convertFlowstateToFlink(fs, out, { uids }), (e: unknown) => e instanceof IllegalStateUsageError && message.test(e.message));
      assert.equal(existsSync(out), false, 'nothing is written');
    }
  });
});
