import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  CHECKPOINT,
  DataOutputSerializer,
  FsCheckpointStorage,
  IllegalStateUsageError,
  KeyGroupRange,
  KvKeyedStateBackend,
  ListStateDescriptor,
  MapStateDescriptor,
  MemoryFileSystem,
  MinimalKvStore,
  Serializers,
  StateTtlConfigBuilder,
  TtlConfigError,
  validateTtlConfig,
  ValueStateDescriptor,
  VoidNamespace,
  type KvKeySpace,
  type KvKeySpaceOptions,
  type KvTtlLayout,
  type StateTtlConfig,
  ManualTtlClock,
} from '@flowstate/core';

/** MinimalKvStore that records how key spaces are opened and what TTL time it is told. */
class RecordingStore extends MinimalKvStore {
  readonly opened: Array<[string, KvTtlLayout | undefined]> = [];
  readonly ttlTimes: number[] = [];
  override keySpace(name: string, options?: KvKeySpaceOptions): KvKeySpace {
    this.opened.push([name, options?.ttl]);
    return super.keySpace(name);
  }
  setTtlTime(timestamp: number): void {
    this.ttlTimes.push(timestamp);
  }
}

const NS = Serializers.voidNamespace;

async function kvBackend(store: MinimalKvStore, clock: ManualTtlClock): Promise<KvKeyedStateBackend<string>> {
  return KvKeyedStateBackend.open<string>(
    { operatorIdentifier: 'op', keySerializer: Serializers.string, maxParallelism: 128, keyGroupRange: KeyGroupRange.of(0, 127), ttlTimeProvider: clock },
    store,
  );
}

function config(): StateTtlConfig {
  return new StateTtlConfigBuilder(100).build();
}

/** The only row's value of a key space. */
function onlyValue(store: MinimalKvStore, name: string): Uint8Array {
  const rows = store.keySpace(name).scan(new Uint8Array(0), new Uint8Array([0xff, 0xff, 0xff]), 10);
  assert.equal(rows.length, 1, `one row in ${name}`);
  return rows[0]![1];
}

const i64 = (ts: number) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigInt64(0, BigInt(ts));
  return [...b];
};

describe('StateTtlConfig', () => {
  it('the builder has Flink defaults and validates', () => {
    const c = StateTtlConfigBuilder.newBuilder(1000).build();
    assert.deepStrictEqual(
      { ...c, cleanup: { ...c.cleanup } },
      { ttlMs: 1000, updateType: 'OnCreateAndWrite', stateVisibility: 'NeverReturnExpired', timeCharacteristic: 'ProcessingTime', cleanup: {} },
    );
    const full = StateTtlConfigBuilder.newBuilder(5).updateTtlOnReadAndWrite().returnExpiredIfNotCleanedUp().useEventTime().cleanupFullSnapshot().cleanupIncrementally(7, true).cleanupByPeriodicSweep(100, 1000).build();
    assert.deepStrictEqual(full.cleanup.incremental, { cleanupSize: 7, runCleanupForEveryRecord: true });
    assert.equal(full.timeCharacteristic, 'EventTime');
    assert.ok(Object.isFrozen(full) && Object.isFrozen(full.cleanup));
  });

  it('bad configs are TtlConfigErrors naming the state', () => {
    const good = StateTtlConfigBuilder.newBuilder(10).build();
    const bad: Array<[string, unknown]> = [
      ['ttlMs 0', { ...good, ttlMs: 0 }],
      ['ttlMs fractional', { ...good, ttlMs: 1.5 }],
      ['update type', { ...good, updateType: 'OnRead' }],
      ['visibility', { ...good, stateVisibility: 'Sometimes' }],
      ['characteristic', { ...good, timeCharacteristic: 'IngestionTime' }],
      ['cleanup size', { ...good, cleanup: { incremental: { cleanupSize: 0, runCleanupForEveryRecord: false } } }],
      ['sweep interval', { ...good, cleanup: { periodicSweep: { entriesPerSweep: 10, intervalMs: -1 } } }],
      ['compaction filter', { ...good, cleanup: { compactionFilter: { queryTimeAfterNumEntries: 0 } } }],
    ];
    for (const [what, c] of bad) {
      assert.throws(() => new ValueStateDescriptor('s', Serializers.string).enableTimeToLive(c as StateTtlConfig), (e: unknown) => e instanceof TtlConfigError && e.stateName === 's', what);
    }
    assert.throws(() => validateTtlConfig({ ...good, ttlMs: -5 }), TtlConfigError);
    assert.throws(() => new ValueStateDescriptor('d', Serializers.string, 'default').enableTimeToLive(good), TtlConfigError, 'a default value and TTL are not compatible (Flink)');
  });
});

describe('TTL time', () => {
  it('a watermark of -Infinity (none yet) or a fractional time stamps a valid i64, and NaN is refused', async () => {
    const watermark = new ManualTtlClock(-Infinity);
    const kb = await KvKeyedStateBackend.open<string>(
      { operatorIdentifier: 'op', keySerializer: Serializers.string, maxParallelism: 128, keyGroupRange: KeyGroupRange.of(0, 127), ttlWatermarkProvider: watermark },
      new MinimalKvStore(),
    );
    const cfg = { ...config(), timeCharacteristic: 'EventTime' as const };
    const s = kb.getPartitionedState(VoidNamespace, NS, new ValueStateDescriptor<string>('e', Serializers.string).enableTimeToLive(cfg));
    kb.setCurrentKey('k');
    s.update('before any watermark');
    assert.equal(s.value(), 'before any watermark', 'nothing expires while the watermark is -Infinity');
    watermark.now = 12.75;
    assert.equal(s.value(), null, 'stamped with the smallest timestamp: expired by the first watermark');
    s.update('fractional');
    watermark.now = 111;
    assert.equal(s.value(), 'fractional', 'stamped 12 (12.75 truncated): alive at 111');
    watermark.now = 112;
    assert.equal(s.value(), null, 'expired at 12 + 100');
    watermark.now = NaN;
    assert.throws(() => s.update('x'), IllegalStateUsageError);
    kb.dispose();
  });
});

describe('TTL over a KvStore', () => {
  it('values follow KvTtlLayout byte for byte, and key spaces are opened with the layout', async () => {
    const store = new RecordingStore();
    const clock = new ManualTtlClock(0x0102030405);
    const kb = await kvBackend(store, clock);
    const cfg = config();
    kb.setCurrentKey('k');
    kb.getPartitionedState(VoidNamespace, NS, new ValueStateDescriptor<string>('value', Serializers.string).enableTimeToLive(cfg)).update('v');
    const list = kb.getPartitionedState(VoidNamespace, NS, new ListStateDescriptor<string>('list', Serializers.string).enableTimeToLive(cfg));
    list.add('a');
    clock.now += 1;
    list.add('bc');
    const map = kb.getPartitionedState(VoidNamespace, NS, new MapStateDescriptor<string, string>('map', Serializers.string, Serializers.string).enableTimeToLive(cfg));
    map.put('uk', 'w');

    const ser = (s: string) => {
      const out = new DataOutputSerializer(16);
      Serializers.string.serialize(s, out);
      return [...out.toBytes()];
    };
    const t0 = 0x0102030405;
    assert.deepStrictEqual([...onlyValue(store, 'value')], [...i64(t0), ...ser('v')], 'VALUE: [i64 ts][value]');
    const e1 = [...i64(t0), ...ser('a')];
    const e2 = [...i64(t0 + 1), ...ser('bc')];
    const u32 = (n: number) => [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
    assert.deepStrictEqual([...onlyValue(store, 'list')], [...u32(e1.length), ...e1, ...u32(e2.length), ...e2], 'LIST: ([u32 len][i64 ts][element])*');
    assert.deepStrictEqual([...onlyValue(store, 'map')], [1, ...i64(t0 + 1), 1, ...ser('w')], 'MAP: [1][i64 ts][u8 presence][value]');
    map.put('null', null);
    const rows = store.keySpace('map').scan(new Uint8Array(0), new Uint8Array([0xff, 0xff, 0xff]), 10);
    assert.ok(rows.some(([, v]) => v.length === 10 && v[0] === 1 && v[9] === 0), 'MAP: a null user value is [1][ts][0]');

    const layouts = new Map(store.opened.filter(([, l]) => l !== undefined));
    assert.deepStrictEqual(layouts.get('value'), { layout: 'VALUE', ttlMs: 100, timeCharacteristic: 'ProcessingTime' });
    assert.deepStrictEqual(layouts.get('list'), { layout: 'LIST', ttlMs: 100, timeCharacteristic: 'ProcessingTime' });
    assert.deepStrictEqual(layouts.get('map'), { layout: 'MAP', ttlMs: 100, timeCharacteristic: 'ProcessingTime' });

    // The store learns the TTL time (what a compaction filter compares against) before each TTL'd
    // key space is opened (value, list at t0; map after the clock moved), then before a snapshot.
    clock.now = 777;
    const storage = new FsCheckpointStorage(new MemoryFileSystem());
    const loc = await storage.initializeLocationForCheckpoint(1);
    await kb.snapshot(1, 0, loc.streamFactory, CHECKPOINT).result;
    assert.deepStrictEqual(store.ttlTimes, [t0, t0, t0 + 1, 777]);
    kb.dispose();
  });

  it('on the wall clock the store is not told a time when a TTL state is registered (it would stand still until the first snapshot)', async () => {
    const store = new RecordingStore();
    const kb = await KvKeyedStateBackend.open<string>({ operatorIdentifier: 'op', keySerializer: Serializers.string, maxParallelism: 128, keyGroupRange: KeyGroupRange.of(0, 127) }, store);
    kb.getPartitionedState(VoidNamespace, NS, new ValueStateDescriptor<string>('value', Serializers.string).enableTimeToLive(config()));
    assert.ok(store.opened.some(([name, layout]) => name === 'value' && layout !== undefined), 'opened with its TTL layout');
    assert.deepStrictEqual(store.ttlTimes, [], 'the store keeps comparing against the wall clock');
    kb.dispose();
  });

  it('the periodic sweep examines at most entriesPerSweep rows per run, and its timer is unref-ed and stopped on dispose', async () => {
    const store = new MinimalKvStore();
    const clock = new ManualTtlClock(0);
    const kb = await kvBackend(store, clock);
    const cfg = { ...config(), cleanup: { periodicSweep: { entriesPerSweep: 4, intervalMs: 3_600_000 } } };
    const s = kb.getPartitionedState(VoidNamespace, NS, new ValueStateDescriptor<string>('swept', Serializers.string).enableTimeToLive(cfg));
    for (let i = 0; i < 10; i++) {
      kb.setCurrentKey(`k${i}`);
      s.update('v');
    }
    clock.now = 100;
    const counts: number[] = [];
    for (let i = 0; i < 4; i++) {
      const examined = kb.runTtlSweep();
      assert.ok(examined <= 4, `run ${i} examined ${examined} rows`);
      counts.push(kb.getKeysAndNamespaces('swept').length);
    }
    assert.deepStrictEqual(counts, [6, 2, 0, 0]);
    assert.deepStrictEqual(kb.ttlCleanupStatistics(), { incrementalEntriesExamined: 0, sweepEntriesExamined: 10, expiredRemoved: 10 });
    // The hour-long interval timer does not keep this test alive (unref), and dispose stops it.
    kb.dispose();
    assert.equal(kb.runTtlSweep(), 0, 'no sweep is left after dispose');
  });
});
