import assert from 'node:assert/strict';
import {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  RecordSerializer,
  ReducingStateDescriptor,
  Serializers,
  StateMigrationError,
  ValueStateDescriptor,
  type KeyedStateBackend,
  type State,
  type StateDescriptor,
} from '@flowstate/core';
import { checkpointKeyed } from '../harness/checkpoint.js';
import { expectRejects, expectThrows } from '../harness/expect.js';
import type { Fixture } from '../harness/fixture.js';
import { restoreKeyed, snapshotAndRestoreOne } from '../harness/restore.js';
import { assertListState, assertMapState, assertValueState, VOID_NS, VOID_NS_SERIALIZER } from '../harness/state-checks.js';
import { conformanceGroup, type ConformanceCase } from '../registry.js';

type Backend = KeyedStateBackend<string>;
const KEYS = ['alpha', 'beta', 'gamma'];

/** One state kind restored and then registered with a serializer its snapshot cannot accept. */
interface IncompatibleScenario {
  readonly label: string;
  readonly stateName: string;
  /** Registers the state with its original serializer and writes KEYS. */
  write(kb: Backend): void;
  registerIncompatible(kb: Backend): void;
  /** Registers with the original serializer again and checks the data survived the failed attempt. */
  verifyIntact(kb: Backend): void;
}

const sum = (a: number, b: number): number => a + b;
const concat = (a: string, b: string): string => a + b;
const counting = {
  createAccumulator: () => 0,
  add: (v: number, acc: number) => acc + v,
  getResult: (acc: number) => acc,
  merge: (a: number, b: number) => a + b,
};
const countingAsText = {
  createAccumulator: () => '',
  add: (v: number, acc: string) => acc + String(v),
  getResult: (acc: string) => acc.length,
  merge: (a: string, b: string) => a + b,
};

type PersonV1 = { id: number; name: string; legacy: string };
type PersonV2 = { id: number; name: string; score: number };
const PERSON_V1 = new RecordSerializer<PersonV1>('Person', [
  { name: 'id', serializer: Serializers.int32 },
  { name: 'name', serializer: Serializers.string },
  { name: 'legacy', serializer: Serializers.string },
]);
/** V2 drops 'legacy' and adds 'score' with a default: old state migrates. */
const PERSON_V2 = new RecordSerializer<PersonV2>('Person', [
  { name: 'id', serializer: Serializers.int32 },
  { name: 'name', serializer: Serializers.string },
  { name: 'score', serializer: Serializers.float64, defaultValue: 0.5 },
]);
/** A field added without a default cannot be filled in for old state. */
const PERSON_WITHOUT_DEFAULT = new RecordSerializer<PersonV1 & { age: number }>('Person', [
  ...PERSON_V1.fields,
  { name: 'age', serializer: Serializers.int32 },
]);

/**
 * A scenario over one state: `original` is registered and written for every key, `incompatible`
 * (same name, a serializer the restored snapshot cannot accept) must be refused, and `original`
 * must still read `expected` afterwards.
 */
function scenario<S extends State, T>(
  label: string,
  original: StateDescriptor<S, unknown>,
  io: { write(state: S, key: string): void; read(state: S): T },
  incompatible: StateDescriptor<State, unknown>,
  expected: (key: string) => T,
): IncompatibleScenario {
  const state = (kb: Backend, d: StateDescriptor<S, unknown>): S => kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, d);
  const forEachKey = (kb: Backend, fn: (s: S, key: string) => void) => {
    for (const key of KEYS) {
      kb.setCurrentKey(key);
      fn(state(kb, original), key);
    }
  };
  return {
    label,
    stateName: original.name,
    write: (kb) => forEachKey(kb, io.write),
    registerIncompatible: (kb) => void kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, incompatible),
    verifyIntact: (kb) => forEachKey(kb, (s, key) => assert.deepStrictEqual(io.read(s), expected(key), `${label}: '${key}' is intact after the failed registration`)),
  };
}

/** Map state (string -> string) written and read under one user key, then registered with `incompatible`. */
function mapScenario(label: string, name: string, incompatible: StateDescriptor<State, unknown>): IncompatibleScenario {
  const original = new MapStateDescriptor<string, string>(name, Serializers.string, Serializers.string);
  return scenario(label, original, { write: (s, key) => s.put('uk', key), read: (s) => s.get('uk') }, incompatible, (key) => key);
}

const SCENARIOS: readonly IncompatibleScenario[] = [
  scenario(
    'value state (string -> int32)',
    new ValueStateDescriptor<string>('value-state', Serializers.string),
    { write: (s, key) => s.update(`v-${key}`), read: (s) => s.value() },
    new ValueStateDescriptor<number>('value-state', Serializers.int32),
    (key) => `v-${key}`,
  ),
  scenario(
    'list state (element string -> int32)',
    new ListStateDescriptor<string>('list-state', Serializers.string),
    { write: (s, key) => s.addAll([key, key]), read: (s) => [...s.get()] },
    new ListStateDescriptor<number>('list-state', Serializers.int32),
    (key) => [key, key],
  ),
  mapScenario('map state (user value string -> int32)', 'map-state', new MapStateDescriptor<string, number>('map-state', Serializers.string, Serializers.int32)),
  mapScenario('map state (user key string -> int32)', 'map-keys-state', new MapStateDescriptor<number, string>('map-keys-state', Serializers.int32, Serializers.string)),
  scenario(
    'reducing state (int32 -> string)',
    new ReducingStateDescriptor<number>('reducing-state', sum, Serializers.int32),
    {
      write: (s, key) => {
        s.add(key.length);
        s.add(100);
      },
      read: (s) => s.get(),
    },
    new ReducingStateDescriptor<string>('reducing-state', concat, Serializers.string),
    (key) => key.length + 100,
  ),
  scenario(
    'aggregating state (accumulator int32 -> string)',
    new AggregatingStateDescriptor<number, number, number>('aggregating-state', counting, Serializers.int32),
    { write: (s, key) => s.add(key.length), read: (s) => s.get() },
    new AggregatingStateDescriptor<number, string, number>('aggregating-state', countingAsText, Serializers.string),
    (key) => key.length,
  ),
  scenario(
    'value state (record field added without a default)',
    new ValueStateDescriptor<PersonV1>('record-state', PERSON_V1),
    { write: (s, key) => s.update({ id: key.length, name: key, legacy: 'x' }), read: (s) => s.value() },
    new ValueStateDescriptor('record-state', PERSON_WITHOUT_DEFAULT),
    (key) => ({ id: key.length, name: key, legacy: 'x' }),
  ),
];

export const serializersGroup = conformanceGroup('serializers', [
  { name: 'restoring with a different key serializer fails with StateMigrationError', run: wrongKeySerializer },
  ...SCENARIOS.map(
    (sc): ConformanceCase => ({
      name: `restored ${sc.label}: registering an incompatible serializer throws StateMigrationError naming the state`,
      run: (fx) => incompatibleAfterRestore(fx, sc),
    }),
  ),
  {
    name: 'V1 -> V2 record (field added with default, field removed) migrates value, list and map state and survives a second snapshot/restore',
    requires: ['serializerMigration'],
    run: recordMigration,
  },
]);

async function wrongKeySerializer(fx: Fixture): Promise<void> {
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  const desc = new ValueStateDescriptor<string>('value', Serializers.string);
  kb.setCurrentKey('a');
  kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, desc).update('x');
  const cp = await checkpointKeyed(fx, [kb]);
  await expectRejects('restoring string-keyed state with an int32 key serializer', StateMigrationError, restoreKeyed(fx, cp, { keySerializer: Serializers.int32 }));
  // The same checkpoint with the right key serializer is fine: the failure was the serializer's.
  const ok = await restoreKeyed(fx, cp, { keySerializer: Serializers.string });
  assertValueState(ok, ok.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, desc), desc.name, new Map([['a', 'x']]), ['a'], 'restored with the right key serializer');
}

async function incompatibleAfterRestore(fx: Fixture, sc: IncompatibleScenario): Promise<void> {
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  sc.write(kb);
  const restored = await snapshotAndRestoreOne(fx, kb);
  const err = expectThrows(`registering restored ${sc.label} with an incompatible serializer`, StateMigrationError, () => sc.registerIncompatible(restored));
  assert.equal(err.stateName, sc.stateName, 'StateMigrationError.stateName');
  assert.ok(err.message.includes(sc.stateName), `the message names the state: ${err.message}`);
  sc.verifyIntact(restored);
}

async function recordMigration(fx: Fixture): Promise<void> {
  const v1 = {
    value: new ValueStateDescriptor<PersonV1>('person', PERSON_V1),
    list: new ListStateDescriptor<PersonV1>('people', PERSON_V1),
    map: new MapStateDescriptor<string, PersonV1>('people-by-name', Serializers.string, PERSON_V1),
    late: new ValueStateDescriptor<PersonV1>('person-registered-late', PERSON_V1),
  };
  const v2 = {
    value: new ValueStateDescriptor<PersonV2>('person', PERSON_V2),
    list: new ListStateDescriptor<PersonV2>('people', PERSON_V2),
    map: new MapStateDescriptor<string, PersonV2>('people-by-name', Serializers.string, PERSON_V2),
    late: new ValueStateDescriptor<PersonV2>('person-registered-late', PERSON_V2),
  };
  const keys = Array.from({ length: 20 }, (_, i) => `key-${i}`);
  const p1 = (i: number, name: string): PersonV1 => ({ id: i, name, legacy: `legacy-${i}` });
  const p2 = (i: number, name: string, score = 0.5): PersonV2 => ({ id: i, name, score });

  const kb = await fx.keyed({ keySerializer: Serializers.string });
  const values = new Map<string, PersonV2>();
  const lists = new Map<string, PersonV2[]>();
  const maps = new Map<string, Map<string, PersonV2 | null>>();
  const lates = new Map<string, PersonV2>();
  keys.forEach((key, i) => {
    kb.setCurrentKey(key);
    kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, v1.value).update(p1(i, key));
    values.set(key, p2(i, key));
    kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, v1.list).addAll([p1(i, 'first'), p1(i + 100, 'second')]);
    lists.set(key, [p2(i, 'first'), p2(i + 100, 'second')]);
    kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, v1.map).putAll([
      ['present', p1(i, 'mapped')],
      ['absent', null],
    ]);
    maps.set(key, new Map<string, PersonV2 | null>([['present', p2(i, 'mapped')], ['absent', null]]));
    kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, v1.late).update(p1(i, 'late'));
    lates.set(key, p2(i, 'late'));
  });

  const r1 = await snapshotAndRestoreOne(fx, kb);
  const check = (b: Backend, what: string): void => {
    assertValueState(b, b.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, v2.value), 'person', values, keys, `${what}: value state in V2 shape`);
    assertListState(b, b.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, v2.list), 'people', lists, keys, `${what}: list state in V2 shape`);
    assertMapState(b, b.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, v2.map), 'people-by-name', maps, keys, `${what}: map state in V2 shape`);
  };
  check(r1, 'first restore');

  // Writes in V2 after the migration, including a new key; 'person-registered-late' stays unregistered.
  r1.setCurrentKey('key-0');
  r1.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, v2.value).update(p2(0, 'updated', 9.25));
  values.set('key-0', p2(0, 'updated', 9.25));
  r1.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, v2.list).add(p2(7, 'added', 1));
  lists.set('key-0', [...lists.get('key-0')!, p2(7, 'added', 1)]);
  r1.setCurrentKey('new-key');
  r1.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, v2.value).update(p2(99, 'new'));
  values.set('new-key', p2(99, 'new'));
  const allKeys = [...keys, 'new-key'];

  const cp2 = await checkpointKeyed(fx, [r1]);
  const r2 = await restoreKeyed(fx, cp2, { keySerializer: Serializers.string });
  assertValueState(r2, r2.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, v2.value), 'person', values, allKeys, 'second restore: value state');
  assertListState(r2, r2.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, v2.list), 'people', lists, keys, 'second restore: list state');
  assertMapState(r2, r2.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, v2.map), 'people-by-name', maps, keys, 'second restore: map state');
  // Never registered since the first restore, it kept its V1 serializer snapshot and migrates now.
  assertValueState(r2, r2.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, v2.late), 'person-registered-late', lates, keys, 'second restore: state registered only now');

  // The second checkpoint holds V2 data: the V1 serializer (its 'legacy' has no default) is refused.
  const r3 = await restoreKeyed(fx, cp2, { keySerializer: Serializers.string });
  expectThrows('registering V2 state with the V1 serializer', StateMigrationError, () => r3.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, v1.value));
}
