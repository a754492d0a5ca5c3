import assert from 'node:assert/strict';
import {
  CHECKPOINT,
  RecordSerializer,
  IllegalStateUsageError,
  MapStateDescriptor,
  SAVEPOINT,
  Serializers,
  StateMigrationError,
  ValueStateDescriptor,
  type KeyedStateBackend,
  type StateTtlConfig,
  ManualTtlClock,
} from '@flowstate/core';
import { checkpointKeyed } from '../harness/checkpoint.js';
import { expectThrows } from '../harness/expect.js';
import type { Fixture } from '../harness/fixture.js';
import { restoreKeyed } from '../harness/restore.js';
import { listContents, mapContents, VOID_NS, VOID_NS_SERIALIZER } from '../harness/state-checks.js';
import { NEVER_RETURN, ttlConfig, ttlList, ttlSumAggregating, ttlSumReducing, ttlValue } from '../harness/ttl.js';
import { asMerging } from '../harness/merging.js';
import { conformanceGroup } from '../registry.js';

export const ttlCleanupGroup = conformanceGroup('state TTL: snapshots and cleanup', [
  { name: 'timestamps survive checkpoints and savepoints: expiry continues after restore, also with another TTL', run: expiryAcrossRestore },
  { name: 'cleanup in full snapshots: expired entries, map entries and list elements are not written', run: fullSnapshotCleanup },
  { name: 'incremental cleanup examines at most cleanupSize entries per state access, and per record when asked', run: incrementalCleanup },
  { name: 'restore rules: TTL switched on or off fails naming the state; a different TTL is fine', run: restoreRules },
  { name: 'merging namespaces drops expired parts; serializer migration keeps the timestamps', requires: ['serializerMigration'], run: mergeAndMigrate },
]);

const valueDesc = (name: string, cfg?: StateTtlConfig) => {
  return cfg === undefined ? new ValueStateDescriptor<string>(name, Serializers.string) : ttlValue(name, cfg);
};
const listDesc = (cfg: StateTtlConfig) => ttlList('list', cfg);
const mapDesc = (cfg: StateTtlConfig) => new MapStateDescriptor<string, number>('map', Serializers.string, Serializers.float64).enableTimeToLive(cfg);

const KEYS = Array.from({ length: 20 }, (_, i) => `key-${i}`);

async function expiryAcrossRestore(fx: Fixture): Promise<void> {
  const clock = new ManualTtlClock(0);
  const kb = await fx.keyed({ keySerializer: Serializers.string, ttlTimeProvider: clock });
  const cfg = ttlConfig(NEVER_RETURN);
  const value = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, valueDesc('value', cfg));
  const list = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, listDesc(cfg));
  for (const key of KEYS) {
    kb.setCurrentKey(key);
    value.update(`v-${key}`);
    list.add('early');
  }
  clock.now = 50;
  for (const key of KEYS) {
    kb.setCurrentKey(key);
    list.add('late');
  }
  for (const options of [CHECKPOINT, SAVEPOINT]) {
    const cp = await checkpointKeyed(fx, [kb], { options });
    const what = options.checkpointType;
    for (const ttlMs of [100, 1000]) {
      const restoredClock = new ManualTtlClock(99);
      const restored = await restoreKeyed(fx, cp, { keySerializer: Serializers.string, ttlTimeProvider: restoredClock });
      const c = ttlConfig(NEVER_RETURN, {}, ttlMs);
      const rv = restored.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, valueDesc('value', c));
      const rl = restored.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, listDesc(c));
      const check = (now: number, value: (k: string) => string | null, elements: string[]) => {
        restoredClock.now = now;
        for (const key of KEYS) {
          restored.setCurrentKey(key);
          assert.equal(rv.value(), value(key), `${what}, ttl ${ttlMs}, at ${now}: value of ${key}`);
          assert.deepStrictEqual(listContents(rl, key), elements, `${what}, ttl ${ttlMs}, at ${now}: list of ${key}`);
        }
      };
      check(ttlMs - 1, (k) => `v-${k}`, ['early', 'late']);
      check(ttlMs, () => null, ['late']);
      check(ttlMs + 50, () => null, []);
    }
  }
}

async function fullSnapshotCleanup(fx: Fixture): Promise<void> {
  const clock = new ManualTtlClock(0);
  const kb = await fx.keyed({ keySerializer: Serializers.string, ttlTimeProvider: clock });
  const cleaned = ttlConfig(NEVER_RETURN, { fullSnapshot: true });
  const value = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, valueDesc('value', cleaned));
  const control = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, valueDesc('control', ttlConfig(NEVER_RETURN)));
  const list = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, listDesc(cleaned));
  const map = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, mapDesc(cleaned));
  // float64 user keys: heap backends keep [key, value] tuples for them, string keys they do not.
  const tupledDesc = () => new MapStateDescriptor<number, string>('map-float-keys', Serializers.float64, Serializers.string).enableTimeToLive(cleaned);
  const tupled = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, tupledDesc());
  const early = KEYS.slice(0, 10);
  const late = KEYS.slice(10);
  for (const [time, keys] of [[0, early], [80, late]] as const) {
    clock.now = time;
    for (const key of keys) {
      kb.setCurrentKey(key);
      value.update(`v-${time}`);
      control.update(`c-${time}`);
    }
    kb.setCurrentKey('collections');
    list.add(`e-${time}`);
    map.put(`u-${time}`, time);
    tupled.put(time + 0.5, `t-${time}`);
  }
  // At 150, what was written at 0 has expired (0 + 100 <= 150) and what was written at 80 has not.
  clock.now = 150;
  const cp = await checkpointKeyed(fx, [kb], { options: SAVEPOINT });
  // A restored backend whose clock is back at 0 shows exactly what the savepoint contains.
  const restored = await restoreKeyed(fx, cp, { keySerializer: Serializers.string, ttlTimeProvider: new ManualTtlClock(0) });
  assert.equal(restored.getKeysAndNamespaces('value').length, late.length, 'only the unexpired value entries were written');
  assert.equal(restored.getKeysAndNamespaces('control').length, KEYS.length, 'a state without cleanupFullSnapshot keeps its expired entries');
  const rv = restored.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, valueDesc('value', cleaned));
  for (const key of KEYS) {
    restored.setCurrentKey(key);
    assert.equal(rv.value(), early.includes(key) ? null : 'v-80', `value of ${key}`);
  }
  restored.setCurrentKey('collections');
  assert.deepStrictEqual(listContents(restored.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, listDesc(cleaned)), 'list'), ['e-80'], 'expired list elements were not written');
  assert.deepStrictEqual([...mapContents(restored.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, mapDesc(cleaned)))], [['u-80', 80]], 'expired map entries were not written');
  assert.deepStrictEqual([...mapContents(restored.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, tupledDesc()))], [[80.5, 't-80']], 'expired map entries (float64 keys) were not written');
  // The snapshot did not clean the live state: the source still returns its expired entries once.
  const visible = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, valueDesc('value', { ...cleaned, stateVisibility: 'ReturnExpiredIfNotCleanedUp' }));
  kb.setCurrentKey(early[0]!);
  assert.equal(visible.value(), 'v-0', 'the live state still holds the expired entry after the snapshot');
}

/** Live entries of one state, as the backend counts them. */
const entriesOf = (kb: KeyedStateBackend<string>, name: string): number => kb.getKeysAndNamespaces(name).length;

async function incrementalCleanup(fx: Fixture): Promise<void> {
  const clock = new ManualTtlClock(0);
  const kb = await fx.keyed({ keySerializer: Serializers.string, ttlTimeProvider: clock });
  const size = 3;
  const perAccess = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, valueDesc('per-access', ttlConfig(NEVER_RETURN, { incremental: { cleanupSize: size, runCleanupForEveryRecord: false } })));
  const perRecord = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, valueDesc('per-record', ttlConfig(NEVER_RETURN, { incremental: { cleanupSize: size, runCleanupForEveryRecord: true } })));
  const expiredKeys = Array.from({ length: 40 }, (_, i) => `old-${i}`);
  for (const key of expiredKeys) {
    kb.setCurrentKey(key);
    perAccess.update('old');
    perRecord.update('old');
  }
  clock.now = 200;
  kb.setCurrentKey('live');
  perAccess.update('live');
  const total = expiredKeys.length + 1;
  // Entries removed alone cannot show the bound (an access may examine many and remove few): the
  // counter of examined entries can, so a backend must report it.
  const statistics = kb.ttlCleanupStatistics?.bind(kb);
  assert.ok(statistics !== undefined, 'the backend reports ttlCleanupStatistics, which this bound is checked on');
  const stats = () => statistics().incrementalEntriesExamined;

  // Per state access: at most `size` entries examined (and so removed), until only the live one is left.
  let entries = entriesOf(kb, 'per-access');
  let accesses = 0;
  while (entries > 1) {
    assert.ok(accesses < 4 * Math.ceil(total / size), `incremental cleanup finished within ${accesses} accesses (${entries} entries left)`);
    const before = stats();
    assert.equal(perAccess.value(), 'live');
    accesses++;
    const after = entriesOf(kb, 'per-access');
    assert.ok(entries - after <= size, `access ${accesses} removed ${entries - after} entries, more than cleanupSize ${size}`);
    assert.ok(stats() - before <= size, `access ${accesses} examined ${stats() - before} entries, more than cleanupSize ${size}`);
    entries = after;
  }
  assert.equal(entriesOf(kb, 'per-record'), expiredKeys.length, 'accesses of another state leave this one alone');

  // Per record: the runtime's hook runs the cleanup of states that ask for it, with the same bound.
  assert.equal(typeof kb.runIncrementalTtlCleanup, 'function', 'the backend offers runIncrementalTtlCleanup');
  let left = entriesOf(kb, 'per-record');
  let records = 0;
  while (left > 0) {
    assert.ok(records < 4 * Math.ceil(expiredKeys.length / size), `per-record cleanup finished within ${records} records (${left} left)`);
    kb.runIncrementalTtlCleanup!();
    records++;
    const after = entriesOf(kb, 'per-record');
    assert.ok(left - after <= size, `record ${records} removed ${left - after} entries, more than cleanupSize ${size}`);
    left = after;
  }
  assert.equal(entriesOf(kb, 'per-access'), 1, 'per-record cleanup leaves states without runCleanupForEveryRecord alone');
}

async function restoreRules(fx: Fixture): Promise<void> {
  const clock = new ManualTtlClock(0);
  const kb = await fx.keyed({ keySerializer: Serializers.string, ttlTimeProvider: clock });
  const cfg = ttlConfig(NEVER_RETURN);
  const withTtl = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, valueDesc('was-ttl', cfg));
  const without = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, valueDesc('was-plain'));
  kb.setCurrentKey('k');
  withTtl.update('a');
  without.update('b');
  // Live: switching TTL on or off for a registered state is refused as well.
  for (const [name, d] of [['was-ttl', valueDesc('was-ttl')], ['was-plain', valueDesc('was-plain', cfg)]] as const) {
    const e = expectThrows(`re-registering '${name}' with TTL switched`, IllegalStateUsageError, () => kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, d));
    assert.equal(e.stateName, name);
  }
  const cp = await checkpointKeyed(fx, [kb], { options: SAVEPOINT });
  for (const [name, d] of [['was-ttl', valueDesc('was-ttl')], ['was-plain', valueDesc('was-plain', cfg)]] as const) {
    const restored = await restoreKeyed(fx, cp, { keySerializer: Serializers.string, ttlTimeProvider: clock });
    const e = expectThrows(`restoring '${name}' with TTL switched`, StateMigrationError, () => restored.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, d));
    assert.equal(e.stateName, name, 'the error names the state');
    assert.match(e.message, /TTL/);
  }
  const restored = await restoreKeyed(fx, cp, { keySerializer: Serializers.string, ttlTimeProvider: clock });
  const longer = restored.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, valueDesc('was-ttl', { ...cfg, ttlMs: 5_000 }));
  restored.setCurrentKey('k');
  clock.now = 4_999;
  assert.equal(longer.value(), 'a', 'a longer TTL after restore applies to the restored timestamps');
  const eventTime = await restoreKeyed(fx, cp, { keySerializer: Serializers.string, ttlTimeProvider: clock, ttlWatermarkProvider: clock });
  expectThrows('restoring processing-time TTL as event-time TTL', StateMigrationError, () =>
    eventTime.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, valueDesc('was-ttl', { ...cfg, timeCharacteristic: 'EventTime' })),
  );
}

type RecordV1 = { id: number; legacy: string };
type RecordV2 = { id: number; score: number };
const RECORD_V1 = new RecordSerializer<RecordV1>('TtlRecord', [
  { name: 'id', serializer: Serializers.int32 },
  { name: 'legacy', serializer: Serializers.string },
]);
const RECORD_V2 = new RecordSerializer<RecordV2>('TtlRecord', [
  { name: 'id', serializer: Serializers.int32 },
  { name: 'score', serializer: Serializers.float64, defaultValue: 0.5 },
]);

async function mergeAndMigrate(fx: Fixture): Promise<void> {
  const clock = new ManualTtlClock(0);
  const kb = await fx.keyed({ keySerializer: Serializers.string, ttlTimeProvider: clock });
  const cfg = ttlConfig(NEVER_RETURN);
  const ns = Serializers.string;
  const reducing = asMerging(kb.getOrCreateKeyedState(ns, ttlSumReducing('reducing', cfg)), 'TTL reducing');
  const aggregating = asMerging(kb.getOrCreateKeyedState(ns, ttlSumAggregating('aggregating', cfg)), 'TTL aggregating');
  const list = asMerging(kb.getOrCreateKeyedState(ns, listDesc(cfg)), 'TTL list');
  kb.setCurrentKey('k');
  // ns-old is written at 0 (expired at 150), ns-new at 100, the target ns-target never.
  for (const [time, namespace, n] of [[0, 'ns-old', 1], [100, 'ns-new', 10]] as const) {
    clock.now = time;
    for (const s of [reducing, aggregating, list]) s.setCurrentNamespace(namespace);
    reducing.add(n);
    aggregating.add(n);
    list.add(`e${n}`);
  }
  clock.now = 150;
  for (const s of [reducing, aggregating, list]) {
    s.mergeNamespaces('ns-target', ['ns-old', 'ns-new']);
    s.setCurrentNamespace('ns-target');
  }
  assert.equal(reducing.get(), 10, 'reducing merge drops the expired accumulator');
  assert.equal(aggregating.get(), 'sum=10', 'aggregating merge drops the expired accumulator');
  assert.deepStrictEqual(listContents(list, 'merged list'), ['e10'], 'merged list elements keep their own timestamps');

  // Migration: V1 values written at 0 and 80 restore as V2 with their timestamps.
  const v1 = new ValueStateDescriptor<RecordV1>('record', RECORD_V1).enableTimeToLive(cfg);
  const record = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, v1);
  for (const [time, key] of [[0, 'early'], [80, 'late']] as const) {
    clock.now = time;
    kb.setCurrentKey(key);
    record.update({ id: time, legacy: 'x' });
  }
  const cp = await checkpointKeyed(fx, [kb], { options: SAVEPOINT });
  const restoredClock = new ManualTtlClock(99);
  const restored = await restoreKeyed(fx, cp, { keySerializer: Serializers.string, ttlTimeProvider: restoredClock });
  const v2 = restored.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, new ValueStateDescriptor<RecordV2>('record', RECORD_V2).enableTimeToLive(cfg));
  restored.setCurrentKey('late');
  assert.deepStrictEqual(v2.value(), { id: 80, score: 0.5 }, 'migrated to V2');
  restoredClock.now = 100;
  restored.setCurrentKey('early');
  assert.equal(v2.value(), null, 'the value written at 0 expires at 100 after the migration');
  restoredClock.now = 179;
  restored.setCurrentKey('late');
  assert.deepStrictEqual(v2.value(), { id: 80, score: 0.5 }, 'the value written at 80 lives until 180');
}
