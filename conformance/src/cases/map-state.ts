import assert from 'node:assert/strict';
import {
  IllegalStateUsageError,
  MapStateDescriptor,
  MsgpackSerializer,
  Serializers,
  ValueStateDescriptor,
  type KeyedStateBackend,
  type KeyedStateOf,
  type MapState,
  type MapStateIterator,
  type TypeSerializer,
} from '@flowstate/core';
import { beginKeyedCheckpoint } from '../harness/checkpoint.js';
import { assertSameMembers, expectThrows } from '../harness/expect.js';
import type { Fixture } from '../harness/fixture.js';
import { caseSeed, formatSeed, Prng } from '../harness/prng.js';
import { restoreKeyed, snapshotAndRestoreOne } from '../harness/restore.js';
import { assertMapState, mapContents, VOID_NS, VOID_NS_SERIALIZER } from '../harness/state-checks.js';
import { NEVER_RETURN, ttlConfig } from '../harness/ttl.js';
import { conformanceGroup } from '../registry.js';

const ITERATION_SEED = caseSeed(0x5eed0401);

export const mapStateGroup = conformanceGroup('map state', [
  { name: 'put, get, contains, remove, putAll, keys/values/entries, clear, null values and snapshot/restore', run: fullApi },
  { name: 'iterator remove() removes the last returned entry; remove() before next() or twice throws', run: iteratorRemove },
  {
    name: 'iterator remove() after the current key or namespace changed removes from the map the iterator was created on (keys, entries, values; string and float64 user keys), with TTL too, with a snapshot running',
    run: iteratorRemoveAfterSwitch,
  },
  { name: 'isEmpty() with 1000 entries; removing the last entry leaves no (key, namespace) entry', run: isEmptyWithManyEntries },
  { name: 'user keys compared by value whatever their type (int64, float64, boolean, objects): put, get, iterate, iterator remove, snapshot/restore', run: userKeyTypes },
  { name: `iterating over 4000 entries while removing every other one (${formatSeed(ITERATION_SEED)})`, run: iterateWhileRemoving },
  { name: 'putAll is all or nothing: a null user key among its entries throws and writes none of them; a key given twice keeps its last value', run: putAllAllOrNothing },
  { name: 'float64 -0 and 0 are different user keys, keys and namespaces (their bytes differ, as for Flink\'s Double.equals), live and restored', run: negativeZero },
  { name: 'float64 namespaces -0 and 0 stay apart when one descriptor (one state object) switches between them, as an operator does', run: negativeZeroNamespaceOneState },
]);

/**
 * A JS Map merges -0 with 0 (SameValueZero), but their serialized bytes differ: RocksDB keeps them
 * apart, and so does Flink's heap backend (Double.equals compares the bits). Every backend must.
 */
async function negativeZero(fx: Fixture): Promise<void> {
  const kb = await fx.keyed({ keySerializer: Serializers.float64 });
  const mapOf = (b: typeof kb) => b.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, new MapStateDescriptor<number, number>('by-float64', Serializers.float64, Serializers.int32));
  const valueIn = (b: typeof kb, ns: number) => b.getPartitionedState(ns, Serializers.float64, new ValueStateDescriptor<number>('in-float64-namespace', Serializers.int32));
  kb.setCurrentKey(0);
  mapOf(kb).put(0, 1);
  mapOf(kb).put(-0, 2);
  valueIn(kb, 0).update(10);
  valueIn(kb, -0).update(20);
  // Set right after 0: the key must change although -0 === 0.
  kb.setCurrentKey(-0);
  mapOf(kb).put(-0, 3);
  valueIn(kb, 0).update(30);
  const check = (b: typeof kb, what: string) => {
    b.setCurrentKey(0);
    const m = mapOf(b);
    assert.equal(m.get(0), 1, `${what}: key 0, user key 0`);
    assert.equal(m.get(-0), 2, `${what}: key 0, user key -0`);
    const keys = [...m.keys()];
    assert.equal(keys.length, 2, `${what}: key 0 has two user keys`);
    assert.ok(keys.some((k) => Object.is(k, -0)) && keys.some((k) => Object.is(k, 0)), `${what}: user keys keep their sign`);
    assert.equal(valueIn(b, 0).value(), 10, `${what}: key 0, namespace 0`);
    assert.equal(valueIn(b, -0).value(), 20, `${what}: key 0, namespace -0`);
    b.setCurrentKey(-0);
    assert.ok(Object.is(b.getCurrentKey(), -0), `${what}: the current key is -0`);
    assert.deepStrictEqual([...mapOf(b).entries()].map(([k, v]) => [Object.is(k, -0) ? '-0' : k, v]), [['-0', 3]], `${what}: key -0 has its own map`);
    assert.equal(valueIn(b, 0).value(), 30, `${what}: key -0, namespace 0`);
    assert.equal(valueIn(b, -0).value(), null, `${what}: key -0, namespace -0`);
  };
  check(kb, 'live');
  check(await snapshotAndRestoreOne(fx, kb), 'restored');
}

/** The state object is cached per descriptor: its namespace cache must not take -0 for 0 (-0 === 0). Until session 36 KV states did. */
async function negativeZeroNamespaceOneState(fx: Fixture): Promise<void> {
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  const desc = new ValueStateDescriptor<string>('one-descriptor', Serializers.string);
  const inNs = (ns: number) => kb.getPartitionedState(ns, Serializers.float64, desc);
  kb.setCurrentKey('k');
  inNs(0).update('zero');
  inNs(-0).update('negative zero');
  assert.equal(inNs(0).value(), 'zero', 'namespace 0');
  assert.equal(inNs(-0).value(), 'negative zero', 'namespace -0');
  const namespaces = kb.getKeysAndNamespaces(desc.name).map(([, ns]) => (Object.is(ns, -0) ? '-0' : String(ns)));
  assert.deepEqual(namespaces.sort(), ['-0', '0'], 'two namespaces');
}

function mapDescriptor(): MapStateDescriptor<string, number> {
  return new MapStateDescriptor<string, number>('map', Serializers.string, Serializers.int32);
}

/** Absent user keys may read as undefined or null; contains() is what tells them from null values. */
function assertAbsent(state: MapState<string, number>, userKey: string, what: string): void {
  const v = state.get(userKey);
  assert.ok(v === undefined || v === null, `${what}: get('${userKey}') of an absent user key is undefined or null, got ${String(v)}`);
  assert.equal(state.contains(userKey), false, `${what}: contains('${userKey}')`);
}

/**
 * Heap backends keep map state values keyed by the user key itself for some key types and by the
 * key's serialized identity for others (@flowstate/heap's HeapMapKeys): each must behave the same.
 */
async function userKeyTypes(fx: Fixture): Promise<void> {
  const kb = await fx.keyed({ keySerializer: Serializers.int32 });
  const byLong = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, new MapStateDescriptor<bigint, number>('by-int64', Serializers.int64, Serializers.int32));
  const byDouble = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, new MapStateDescriptor<number, number>('by-float64', Serializers.float64, Serializers.int32));
  const byObject = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, new MapStateDescriptor<{ id: number }, number>('by-object', new MsgpackSerializer<{ id: number }>(), Serializers.int32));
  const byBoolean = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, new MapStateDescriptor<boolean, number>('by-boolean', Serializers.boolean, Serializers.int32));
  kb.setCurrentKey(7);
  // Boolean keys (a heap backend keys its maps by them directly, untupled): overwrite, remove, put again.
  byBoolean.put(true, 1);
  byBoolean.put(false, 0);
  byBoolean.put(true, 2);
  byBoolean.remove(false);
  assert.equal(byBoolean.contains(false), false);
  byBoolean.put(false, 3);
  assert.equal(byBoolean.get(true), 2);
  // Iterator remove of false, wherever the backend's order puts it, then false put again.
  byBoolean.put(false, 4);
  const boolKeys = byBoolean.keys();
  for (let r = boolKeys.next(); r.done !== true; r = boolKeys.next()) if (r.value === false) boolKeys.remove();
  assert.equal(byBoolean.contains(false), false, 'iterator remove of a boolean key');
  byBoolean.put(false, 3);
  for (let i = 0; i < 5; i++) {
    byLong.put(BigInt(i) << 40n, i);
    byDouble.put(i + 0.5, i);
    byObject.put({ id: i }, i);
  }
  // Equal by value, not by reference: a second, equal object key overwrites the first.
  byObject.put({ id: 1 }, 10);
  assert.equal(byObject.get({ id: 1 }), 10);
  assert.equal(byObject.contains({ id: 4 }), true);
  assert.equal(byLong.get(1n << 40n), 1);
  assert.equal(byDouble.get(2.5), 2);
  // Iterator remove of the first entry handed out, in each.
  for (const st of [byLong, byDouble, byObject] as Array<MapState<unknown, number>>) {
    const it = st.keys();
    it.next();
    it.remove();
  }
  const expect = {
    long: new Map<bigint, number>([1, 2, 3, 4].map((i) => [BigInt(i) << 40n, i])),
    double: new Map<number, number>([1, 2, 3, 4].map((i) => [i + 0.5, i])),
    object: [[{ id: 1 }, 10], [{ id: 2 }, 2], [{ id: 3 }, 3], [{ id: 4 }, 4]],
  };
  const check = (b: typeof kb, what: string) => {
    b.setCurrentKey(7);
    const l = b.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, new MapStateDescriptor<bigint, number>('by-int64', Serializers.int64, Serializers.int32));
    const d = b.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, new MapStateDescriptor<number, number>('by-float64', Serializers.float64, Serializers.int32));
    const o = b.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, new MapStateDescriptor<{ id: number }, number>('by-object', new MsgpackSerializer<{ id: number }>(), Serializers.int32));
    const bool = b.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, new MapStateDescriptor<boolean, number>('by-boolean', Serializers.boolean, Serializers.int32));
    assert.deepStrictEqual(mapContents(bool), new Map([[true, 2], [false, 3]]), `${what}: boolean keys`);
    assert.deepStrictEqual([...bool.keys()].sort(), [false, true], `${what}: boolean keys, each once`);
    assert.deepStrictEqual(mapContents(l), expect.long, `${what}: int64 keys`);
    assert.deepStrictEqual(mapContents(d), expect.double, `${what}: float64 keys`);
    const objects = [...o.entries()].sort((a, b) => a[0].id - b[0].id);
    assert.deepStrictEqual(objects, expect.object, `${what}: object keys`);
  };
  check(kb, 'live');
  check(await snapshotAndRestoreOne(fx, kb), 'restored');
}

/** A KV backend used to put entry by entry, so the entries before a refused one stayed written. */
async function putAllAllOrNothing(fx: Fixture): Promise<void> {
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  const state = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, mapDescriptor());
  kb.setCurrentKey('k');
  state.put('kept', 1);
  const refused = [['x', 2], [null as unknown as string, 3], ['y', 4]] as Array<[string, number]>;
  expectThrows('putAll with a null user key', IllegalStateUsageError, () => state.putAll(refused));
  assert.deepStrictEqual(mapContents(state), new Map([['kept', 1]]), 'a refused putAll writes no entry');
  state.putAll([['z', 5], ['kept', 6], ['z', 7]]);
  assert.deepStrictEqual(mapContents(state), new Map([['kept', 6], ['z', 7]]), 'the last value of a key given twice wins');
}

async function fullApi(fx: Fixture): Promise<void> {
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  const desc = mapDescriptor();
  const state = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, desc);

  kb.setCurrentKey('k1');
  assert.equal(state.isEmpty(), true, 'a fresh key has an empty map');
  assertAbsent(state, 'a', 'fresh key');
  state.put('a', 1);
  state.put('b', null);
  state.putAll([
    ['c', 3],
    ['d', null],
    ['e', 5],
  ]);
  state.put('a', 10);
  assert.equal(state.get('a'), 10, 'put overwrites');
  assert.equal(state.get('b'), null, 'a null value reads as null');
  assert.equal(state.contains('b'), true, 'a null value is contained');
  assertAbsent(state, 'zz', 'k1');
  state.remove('e');
  state.remove('never-there');
  assertAbsent(state, 'e', 'after remove');
  assert.equal(state.isEmpty(), false);

  const expected = new Map<string, number | null>([
    ['a', 10],
    ['b', null],
    ['c', 3],
    ['d', null],
  ]);
  assertSameMembers(state.keys(), expected.keys(), 'keys()');
  assertSameMembers(state.values(), expected.values(), 'values()');
  assertSameMembers(state.entries(), expected.entries(), 'entries()');
  assert.deepStrictEqual(mapContents(state), expected);

  kb.setCurrentKey('k2');
  assert.equal(state.isEmpty(), true, "another key does not see k1's map");
  assert.deepStrictEqual([...state.entries()], []);
  state.put('x', 42);
  kb.setCurrentKey('k3');
  state.put('gone', 1);
  state.clear();
  assert.equal(state.isEmpty(), true, 'clear() empties the map');
  assert.deepStrictEqual([...state.keys()], []);

  const model = new Map([
    ['k1', expected],
    ['k2', new Map<string, number | null>([['x', 42]])],
  ]);
  assertMapState(kb, state, desc.name, model, ['k1', 'k2', 'k3'], 'live backend');
  const restored = await snapshotAndRestoreOne(fx, kb);
  assertMapState(restored, restored.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, desc), desc.name, model, ['k1', 'k2', 'k3'], 'restored (null values kept)');
}

async function iteratorRemove(fx: Fixture): Promise<void> {
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  const state = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, mapDescriptor());
  const iterators: Array<[string, () => MapStateIterator<unknown>, (item: unknown) => string | undefined]> = [
    ['entries()', () => state.entries(), (item) => (item as [string, number | null])[0]],
    ['keys()', () => state.keys(), (item) => item as string],
    // values() cannot name the removed key; the check below uses the remaining size instead.
    ['values()', () => state.values(), () => undefined],
  ];
  for (const [label, open, userKeyOf] of iterators) {
    kb.setCurrentKey(`key for ${label}`);
    state.putAll([
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ]);
    const it = open();
    expectThrows(`${label} remove() before next()`, IllegalStateUsageError, () => it.remove());
    const first = it.next();
    assert.equal(first.done, false);
    it.remove();
    const removedKey = userKeyOf(first.value);
    if (removedKey !== undefined) assert.equal(state.contains(removedKey), false, `${label}: the returned entry was removed`);
    expectThrows(`${label} second remove() on the same element`, IllegalStateUsageError, () => it.remove());
    let rest = 0;
    for (let r = it.next(); r.done !== true; r = it.next()) rest++;
    assert.equal(rest, 2, `${label}: iteration continues over the remaining entries after remove()`);
    assert.equal([...state.keys()].length, 2, `${label}: exactly one entry was removed`);
  }
}

/** One map of iteratorRemoveAfterSwitch: its user keys, the iterator, and what changes before remove(). */
interface SwitchCase {
  readonly name: string;
  readonly userKeySerializer: TypeSerializer<unknown>;
  /** Two user keys; user key i has value i (so that values() tells which one it returned). */
  readonly userKeys: readonly [unknown, unknown];
  readonly iterator: 'keys' | 'entries' | 'values';
  readonly switched: 'key' | 'namespace';
  /** With TTL (nothing expires here): the TTL decorator's iterator removes through the backend's. */
  readonly ttl: boolean;
}

// String user keys and float64 ones: a heap backend keys its maps by the first directly and by
// identity tuples for the second (HeapMapKeys), with iterators of their own.
const SWITCH_CASES: readonly SwitchCase[] = (
  [
    ['string', Serializers.string, ['a', 'b'], false],
    ['float64', Serializers.float64, [0.5, 1.5], false],
    ['ttl-string', Serializers.string, ['a', 'b'], true],
  ] as const
).flatMap(([label, userKeySerializer, userKeys, ttl]) =>
  (['keys', 'entries', 'values'] as const).flatMap((iterator) =>
    (['key', 'namespace'] as const).map((switched) => ({ name: `${label}-${iterator}-${switched}`, userKeySerializer: userKeySerializer as TypeSerializer<unknown>, userKeys, iterator, switched, ttl })),
  ),
);

type SwitchState = KeyedStateOf<MapState<unknown, number>, string>;

function switchState(kb: KeyedStateBackend<number>, c: SwitchCase): SwitchState {
  const desc = new MapStateDescriptor<unknown, number>(c.name, c.userKeySerializer, Serializers.int32);
  return kb.getPartitionedState('w1', Serializers.string, c.ttl ? desc.enableTimeToLive(ttlConfig(NEVER_RETURN, {}, 3_600_000)) : desc);
}

/**
 * A loop body may switch the current key or namespace (to touch another key's state, say) before
 * it calls remove(): the entry must still go from the map the iterator was created on, as a KV
 * backend's iterator deletes the row it read. A heap backend removed the user key from whatever
 * map was current then. The iterations run while a snapshot is running, which must not see them.
 */
async function iteratorRemoveAfterSwitch(fx: Fixture): Promise<void> {
  const kb = await fx.keyed({ keySerializer: Serializers.int32 });
  for (const c of SWITCH_CASES) fillSwitchMaps(kb, switchState(kb, c), c);
  const pending = await beginKeyedCheckpoint(fx, [kb]);
  const removed = SWITCH_CASES.map((c) => removeAfterSwitch(kb, switchState(kb, c), c));
  const cp = await pending.complete();
  SWITCH_CASES.forEach((c, i) => assertSwitchMaps(kb, switchState(kb, c), c, removed[i], 'live'));
  const restored = await restoreKeyed(fx, cp, { keySerializer: Serializers.int32 });
  for (const c of SWITCH_CASES) assertSwitchMaps(restored, switchState(restored, c), c, undefined, 'restored from the snapshot taken before');
}

const SWITCH_KEYS = [1, 2];
const SWITCH_NAMESPACES = ['w1', 'w2'];

function fillSwitchMaps(kb: KeyedStateBackend<number>, state: SwitchState, c: SwitchCase): void {
  for (const key of SWITCH_KEYS) {
    kb.setCurrentKey(key);
    for (const ns of SWITCH_NAMESPACES) {
      state.setCurrentNamespace(ns);
      c.userKeys.forEach((uk, i) => state.put(uk, i));
    }
  }
}

/** Iterates key 1 / namespace w1, switches after the first next(), removes, and returns the user key removed. */
function removeAfterSwitch(kb: KeyedStateBackend<number>, state: SwitchState, c: SwitchCase): unknown {
  kb.setCurrentKey(1);
  state.setCurrentNamespace('w1');
  const it = state[c.iterator]() as MapStateIterator<unknown>;
  const first = it.next();
  assert.equal(first.done, false, `${c.name}: the map has entries`);
  if (c.switched === 'key') kb.setCurrentKey(2);
  else state.setCurrentNamespace('w2');
  it.remove();
  let rest = 0;
  for (let r = it.next(); r.done !== true; r = it.next()) rest++;
  assert.equal(rest, 1, `${c.name}: the iteration goes on over its own map`);
  const item = first.value;
  return c.iterator === 'keys' ? item : c.iterator === 'entries' ? (item as [unknown, number])[0] : c.userKeys[item as number];
}

/** Every map has both user keys but key 1 / w1, which lacks `removed` (when given). */
function assertSwitchMaps(kb: KeyedStateBackend<number>, state: SwitchState, c: SwitchCase, removed: unknown, what: string): void {
  for (const key of SWITCH_KEYS) {
    kb.setCurrentKey(key);
    for (const ns of SWITCH_NAMESPACES) {
      state.setCurrentNamespace(ns);
      const expected = c.userKeys.filter((uk) => removed === undefined || key !== 1 || ns !== 'w1' || uk !== removed);
      assertSameMembers(state.keys(), expected, `${what}: ${c.name}, key ${key}, namespace ${ns}`);
    }
  }
}

async function isEmptyWithManyEntries(fx: Fixture): Promise<void> {
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  const desc = mapDescriptor();
  const state = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, desc);
  kb.setCurrentKey('many');
  assert.equal(state.isEmpty(), true);
  for (let i = 0; i < 1000; i++) state.put(`uk-${i}`, i);
  assert.equal(state.isEmpty(), false, 'not empty with 1000 entries');
  kb.setCurrentKey('other');
  assert.equal(state.isEmpty(), true, 'another key stays empty');

  kb.setCurrentKey('many');
  for (let i = 0; i < 999; i++) state.remove(`uk-${i}`);
  assert.equal(state.isEmpty(), false, 'one entry left');
  state.remove('uk-999');
  assert.equal(state.isEmpty(), true, 'empty after removing every entry');
  // An empty map is no value: it would vanish on restore anyway, so it must not count now.
  assert.equal(kb.numKeyValueStateEntries(), 0, 'removing the last user key leaves no (key, namespace) entry');
  assert.deepStrictEqual(kb.getKeys(desc.name, VOID_NS), []);

  for (let i = 0; i < 1000; i++) state.put(`uk-${i}`, i);
  state.clear();
  assert.equal(state.isEmpty(), true, 'empty after clear()');
  const restored = await snapshotAndRestoreOne(fx, kb);
  const rs = restored.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, desc);
  restored.setCurrentKey('many');
  assert.equal(rs.isEmpty(), true, 'restored: still empty');
}

/** Flink's testMapStateIteratorArbitraryAccess: removal through the iterator must not skip or repeat. */
async function iterateWhileRemoving(fx: Fixture): Promise<void> {
  const prng = new Prng(ITERATION_SEED);
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  const desc = mapDescriptor();
  const state = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, desc);
  kb.setCurrentKey('big');
  const all = new Map<string, number>();
  for (const uk of prng.uniqueStrings(4000, 'uk-', 8)) all.set(uk, prng.intBetween(-1e6, 1e6));
  state.putAll(all);

  const kept = new Map<string, number | null>();
  const seen = new Set<string>();
  const it = state.entries();
  let index = 0;
  for (let r = it.next(); r.done !== true; r = it.next(), index++) {
    const [uk, uv] = r.value;
    assert.ok(!seen.has(uk), `user key ${uk} was returned twice`);
    seen.add(uk);
    assert.equal(uv, all.get(uk), `value of ${uk}`);
    if (index % 2 === 0) it.remove();
    else kept.set(uk, uv);
  }
  assert.equal(seen.size, 4000, 'iteration returned every entry exactly once while removing');
  assert.equal(kept.size, 2000);
  assert.deepStrictEqual(mapContents(state), kept, 'exactly the entries not removed remain');
  for (const uk of seen) assert.equal(state.contains(uk), kept.has(uk), `contains('${uk}') after removal`);

  const restored = await snapshotAndRestoreOne(fx, kb);
  assertMapState(restored, restored.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, desc), desc.name, new Map([['big', kept]]), ['big'], 'restored');
}
