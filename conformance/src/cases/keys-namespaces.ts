import assert from 'node:assert/strict';
import {
  AggregatingStateDescriptor,
  assignToKeyGroup,
  IllegalStateUsageError,
  ListStateDescriptor,
  MapStateDescriptor,
  MsgpackSerializer,
  ReducingStateDescriptor,
  Serializers,
  ValueStateDescriptor,
  type KeyedStateBackend,
  type TypeSerializer,
} from '@flowstate/core';
import { assertSameMembers } from '../harness/expect.js';
import type { Fixture } from '../harness/fixture.js';
import { keyGroupOf } from '../harness/keys.js';
import { caseSeeds, formatSeed, Prng } from '../harness/prng.js';
import { snapshotAndRestoreOne } from '../harness/restore.js';
import { listContents, mapContents, VOID_NS, VOID_NS_SERIALIZER } from '../harness/state-checks.js';
import { conformanceGroup } from '../registry.js';
import { namespaceCases } from './namespaces.js';

const SEEDS = caseSeeds({ keys: 0x5eed0501, apply: 0x5eed0502, primitiveKeys: 0x5eed0503 });

export const keysNamespacesGroup = conformanceGroup('keys and namespaces', [
  { name: 'setCurrentKey/getCurrentKey and the key group of the serialized key', run: currentKeyAndKeyGroup },
  { name: `primitive keys of every type get the key group of their serialized bytes (${formatSeed(SEEDS.primitiveKeys)})`, run: primitiveKeyGroups },
  { name: `getKeys and getKeysAndNamespaces over several namespaces (${formatSeed(SEEDS.keys)})`, run: getKeysAndNamespaces },
  { name: `applyToAllKeys visits every key once and may clear or add to state while it runs (${formatSeed(SEEDS.apply)})`, run: applyToAllKeys },
  { name: 'numKeyValueStateEntries counts (key, namespace) entries over all states and returns to 0 after clear', run: numEntries },
  { name: 'float64 NaN is one namespace: its value, list and map are found again, updated and cleared (NaN !== NaN), live and restored', run: nanNamespace },
  {
    name: "every float64 NaN, whatever its bits, is the canonical NaN (Flink's Double.doubleToLongBits): one key in the canonical NaN's key group, one namespace, one user key, live and restored",
    run: nanBits,
  },
  ...namespaceCases,
]);

/** The suite routes keys with the core's assignment; a backend that hashes differently breaks rescaling. */
async function currentKeyAndKeyGroup(fx: Fixture): Promise<void> {
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  for (const key of ['', 'a', 'key-1', 'ünïcödé', 'x'.repeat(300)]) {
    kb.setCurrentKey(key);
    assert.equal(kb.getCurrentKey(), key);
    assert.equal(kb.getCurrentKeyGroupIndex(), keyGroupOf(key, Serializers.string, kb.maxParallelism), `key group of '${key.slice(0, 20)}'`);
  }
  const ints = await fx.keyed({ keySerializer: Serializers.int32 });
  for (const key of [0, 1, -1, 2147483647, 123456]) {
    ints.setCurrentKey(key);
    assert.equal(ints.getCurrentKeyGroupIndex(), keyGroupOf(key, Serializers.int32, ints.maxParallelism), `key group of int ${key}`);
  }
}

/**
 * Heap backends compute primitive keys' key groups without serializing them (core's
 * primitive-key-groups.ts): whatever the path, the key group must be the serialized key's.
 */
async function primitiveKeyGroups(fx: Fixture): Promise<void> {
  const prng = new Prng(SEEDS.primitiveKeys);
  const u32 = () => prng.nextUint32();
  const cases: ReadonlyArray<readonly [TypeSerializer<never>, () => unknown]> = [
    [Serializers.int32 as TypeSerializer<never>, () => u32() | 0],
    [Serializers.int64 as TypeSerializer<never>, () => BigInt.asIntN(64, (BigInt(u32()) << 32n) | BigInt(u32()))],
    [Serializers.float64 as TypeSerializer<never>, () => (u32() - 2 ** 31) / (1 + prng.int(1000))],
    [Serializers.boolean as TypeSerializer<never>, () => prng.chance(0.5)],
    // ASCII (hashed without encoding) and not (encoded), around the 128-byte length prefix change.
    [Serializers.string as TypeSerializer<never>, () => (prng.chance(0.2) ? 'é' : 'k').repeat(1 + prng.int(140))],
  ];
  for (const [serializer, gen] of cases) {
    const kb = await fx.keyed({ keySerializer: serializer });
    for (let i = 0; i < 200; i++) {
      const key = gen();
      kb.setCurrentKey(key as never);
      assert.equal(kb.getCurrentKeyGroupIndex(), keyGroupOf(key as never, serializer, kb.maxParallelism), `${serializer.typeId} key ${String(key).slice(0, 20)}`);
    }
    if (serializer.typeId === 'int32') {
      // A value the int32 serializer refuses is refused, fast path or not, and the key stays.
      const before = kb.getCurrentKey();
      assert.throws(() => kb.setCurrentKey(1.5 as never), IllegalStateUsageError);
      assert.equal(kb.getCurrentKey(), before);
    }
  }
}

async function getKeysAndNamespaces(fx: Fixture): Promise<void> {
  const prng = new Prng(SEEDS.keys);
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  const desc = new ValueStateDescriptor<number>('value', Serializers.int32);
  const state = kb.getOrCreateKeyedState(Serializers.string, desc);
  const other = kb.getOrCreateKeyedState(Serializers.string, new ValueStateDescriptor<number>('other', Serializers.int32));
  const namespaces = ['ns1', 'ns2', 'ns3', 'window-4'];
  const keys = prng.uniqueStrings(120, 'key-');
  const byNs = new Map<string, string[]>(namespaces.map((ns) => [ns, []]));
  const pairs: string[] = [];
  for (const key of keys) {
    kb.setCurrentKey(key);
    for (const ns of namespaces) {
      if (!prng.chance(0.4)) continue;
      state.setCurrentNamespace(ns);
      state.update(prng.int(1000));
      byNs.get(ns)!.push(key);
      pairs.push(`${key}@${ns}`);
    }
    // Another state's entries must not show up in this state's keys.
    other.setCurrentNamespace('ns-of-other');
    other.update(1);
  }
  const check = (what: string, b: typeof kb): void => {
    for (const ns of namespaces) assertSameMembers(b.getKeys(desc.name, ns), byNs.get(ns)!, `${what}: getKeys('${desc.name}', '${ns}')`);
    assert.deepStrictEqual(b.getKeys(desc.name, 'no-such-namespace'), [], `${what}: getKeys of an unused namespace`);
    assertSameMembers(
      b.getKeysAndNamespaces<string>(desc.name).map(([k, ns]) => `${k}@${ns}`),
      pairs,
      `${what}: getKeysAndNamespaces('${desc.name}')`,
    );
  };
  check('live backend', kb);

  // Namespaces are independent: clearing one leaves the others.
  const key = byNs.get('ns1')![0]!;
  kb.setCurrentKey(key);
  state.setCurrentNamespace('ns1');
  state.clear();
  byNs.set('ns1', byNs.get('ns1')!.filter((k) => k !== key));
  pairs.splice(pairs.indexOf(`${key}@ns1`), 1);
  check('after clearing one namespace of one key', kb);

  const restored = await snapshotAndRestoreOne(fx, kb);
  restored.getOrCreateKeyedState(Serializers.string, desc);
  check('restored', restored);
}

async function applyToAllKeys(fx: Fixture): Promise<void> {
  const prng = new Prng(SEEDS.apply);
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  const desc = new ListStateDescriptor<number>('list', Serializers.int32);
  const state = kb.getOrCreateKeyedState(Serializers.string, desc);
  const keys = prng.uniqueStrings(200, 'key-');
  const values = new Map<string, number>();
  for (const key of keys) {
    kb.setCurrentKey(key);
    const v = prng.int(1_000_000);
    values.set(key, v);
    state.setCurrentNamespace('target');
    state.add(v);
    state.setCurrentNamespace('bystander');
    state.add(-v);
  }

  const visited: string[] = [];
  kb.applyToAllKeys('target', Serializers.string, desc, (key, s) => {
    visited.push(key);
    assert.deepStrictEqual(listContents(s, 'applyToAllKeys'), [values.get(key)], `the state passed for '${key}' is bound to that key`);
    s.clear();
  });
  assertSameMembers(visited, keys, 'applyToAllKeys visits every key exactly once while clearing');
  assert.deepStrictEqual(kb.getKeys(desc.name, 'target'), [], 'every visited key was cleared');
  assertSameMembers(kb.getKeys(desc.name, 'bystander'), keys, 'another namespace is untouched');

  const visitedAgain: string[] = [];
  kb.applyToAllKeys('bystander', Serializers.string, desc, (key, s) => {
    visitedAgain.push(key);
    s.add(7);
  });
  assertSameMembers(visitedAgain, keys, 'applyToAllKeys visits every key exactly once while adding');
  for (const key of keys) {
    kb.setCurrentKey(key);
    state.setCurrentNamespace('bystander');
    assert.deepStrictEqual(listContents(state, 'after adding'), [-values.get(key)!, 7]);
  }
}

/**
 * All NaNs are one float64 value (one serialized form; Double.equals in Flink's heap backend). A
 * heap backend compared namespace identities with !==, under which NaN !== NaN: a value under the
 * NaN namespace was never found again, and every update added another entry.
 */
async function nanNamespace(fx: Fixture): Promise<void> {
  const kb = await fx.keyed({ keySerializer: Serializers.int32 });
  const states = (b: KeyedStateBackend<number>) => ({
    value: b.getPartitionedState(NaN, Serializers.float64, new ValueStateDescriptor<number>('nan-value', Serializers.int32)),
    list: b.getPartitionedState(NaN, Serializers.float64, new ListStateDescriptor<number>('nan-list', Serializers.int32)),
    map: b.getPartitionedState(NaN, Serializers.float64, new MapStateDescriptor<string, number>('nan-map', Serializers.string, Serializers.int32)),
  });
  const s = states(kb);
  kb.setCurrentKey(1);
  s.value.update(1);
  s.value.update(2);
  s.list.add(1);
  s.list.add(2);
  s.map.put('a', 1);
  s.map.put('b', 2);
  s.map.remove('a');
  const check = (b: KeyedStateBackend<number>, what: string) => {
    const r = states(b);
    b.setCurrentKey(1);
    assert.equal(r.value.value(), 2, `${what}: value under NaN`);
    assert.deepStrictEqual(listContents(r.list, what), [1, 2], `${what}: list under NaN`);
    assert.deepStrictEqual(mapContents(r.map), new Map([['b', 2]]), `${what}: map under NaN`);
    for (const name of ['nan-value', 'nan-list', 'nan-map']) {
      const pairs = b.getKeysAndNamespaces<number>(name);
      assert.ok(pairs.length === 1 && pairs[0]![0] === 1 && Number.isNaN(pairs[0]![1]), `${what}: '${name}' has one entry, key 1 under NaN`);
      assert.deepStrictEqual(b.getKeys(name, NaN), [1], `${what}: getKeys('${name}', NaN)`);
    }
  };
  check(kb, 'live');
  check(await snapshotAndRestoreOne(fx, kb), 'restored');
  s.value.clear();
  s.list.clear();
  s.map.clear();
  assert.equal(kb.numKeyValueStateEntries(), 0, 'clear() under NaN removes every entry');
}

/** A float64 of the given bits (high word, low word); DataView keeps a NaN's bits both ways. */
function float64OfBits(high: number, low: number): number {
  const v = new DataView(new ArrayBuffer(8));
  v.setUint32(0, high);
  v.setUint32(4, low);
  return v.getFloat64(0);
}

/** NaNs that are not the canonical 0x7ff8000000000000: with a payload, negative (x86's default NaN), all ones. */
const OTHER_NANS = [float64OfBits(0x7ff80000, 1), float64OfBits(0xfff80000, 0), float64OfBits(0xffffffff, 0xffffffff)];

/**
 * Flink's DoubleSerializer writes Double.doubleToLongBits: every NaN as the canonical one. A JS NaN
 * can carry other bits, which a DataView write keeps: our float64 serializer (and the heap's key
 * group fast path) wrote them, so two NaNs were two keys in different key groups, two namespaces
 * and two user keys.
 */
async function nanBits(fx: Fixture): Promise<void> {
  const kb = await fx.keyed({ keySerializer: Serializers.float64 });
  const canonicalGroup = assignToKeyGroup(Buffer.from('7ff8000000000000', 'hex'), kb.maxParallelism);
  const states = (b: KeyedStateBackend<number>) => ({
    value: b.getPartitionedState(NaN, Serializers.float64, new ValueStateDescriptor<number>('value', Serializers.int32)),
    map: b.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, new MapStateDescriptor<number, number>('map', Serializers.float64, Serializers.int32)),
  });
  const s = states(kb);
  kb.setCurrentKey(NaN);
  s.value.update(1);
  s.map.put(NaN, 1);
  for (const [i, nan] of OTHER_NANS.entries()) {
    kb.setCurrentKey(nan);
    assert.equal(kb.getCurrentKeyGroupIndex(), canonicalGroup, `NaN ${i}: the canonical NaN's key group`);
    s.value.setCurrentNamespace(nan);
    assert.equal(s.value.value(), i + 1, `NaN ${i}: the value of key NaN, namespace NaN`);
    s.value.update(i + 2);
    assert.equal(s.map.get(nan), i + 1, `NaN ${i}: user key NaN`);
    s.map.put(nan, i + 2);
  }
  const last = OTHER_NANS.length + 1;
  const check = (b: KeyedStateBackend<number>, what: string) => {
    const r = states(b);
    assert.equal(b.getKeysAndNamespaces('value').length, 1, `${what}: one (key, namespace) entry`);
    b.setCurrentKey(NaN);
    r.value.setCurrentNamespace(NaN);
    assert.equal(r.value.value(), last, `${what}: the last value written`);
    assert.deepStrictEqual([...r.map.values()], [last], `${what}: one user key`);
  };
  check(kb, 'live');
  check(await snapshotAndRestoreOne(fx, kb), 'restored');
}

interface Average {
  sum: number;
  count: number;
}

async function numEntries(fx: Fixture): Promise<void> {
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  const ns = Serializers.string;
  const value = kb.getOrCreateKeyedState(ns, new ValueStateDescriptor<string>('value', Serializers.string));
  const list = kb.getOrCreateKeyedState(ns, new ListStateDescriptor<number>('list', Serializers.int32));
  const map = kb.getOrCreateKeyedState(ns, new MapStateDescriptor<string, number>('map', Serializers.string, Serializers.int32));
  const reducing = kb.getOrCreateKeyedState(ns, new ReducingStateDescriptor<number>('reducing', (a, b) => a + b, Serializers.int32));
  const aggregating = kb.getOrCreateKeyedState(
    ns,
    new AggregatingStateDescriptor<number, Average, number>(
      'aggregating',
      { createAccumulator: () => ({ sum: 0, count: 0 }), add: (v, a) => ({ sum: a.sum + v, count: a.count + 1 }), getResult: (a) => a.sum, merge: (a, b) => ({ sum: a.sum + b.sum, count: a.count + b.count }) },
      new MsgpackSerializer<Average>(),
    ),
  );
  const states = [value, list, map, reducing, aggregating];
  const keys = Array.from({ length: 10 }, (_, i) => `key-${i}`);
  const namespaces = ['ns1', 'ns2'];
  assert.equal(kb.numKeyValueStateEntries(), 0, 'a fresh backend has no entries');
  for (const key of keys) {
    kb.setCurrentKey(key);
    for (const n of namespaces) {
      for (const s of states) s.setCurrentNamespace(n);
      value.update(`${key}/${n}`);
      list.addAll([1, 2, 3]);
      // Three user keys are still one (key, namespace) entry.
      map.putAll([
        ['a', 1],
        ['b', 2],
        ['c', null],
      ]);
      reducing.add(1);
      reducing.add(2);
      aggregating.add(4);
    }
  }
  const full = states.length * keys.length * namespaces.length;
  assert.equal(kb.numKeyValueStateEntries(), full, `${states.length} states x ${keys.length} keys x ${namespaces.length} namespaces`);

  const restored = await snapshotAndRestoreOne(fx, kb);
  assert.equal(restored.numKeyValueStateEntries(), full, 'restored: same number of entries');

  for (const key of keys) {
    kb.setCurrentKey(key);
    for (const n of namespaces) {
      for (const s of states) {
        s.setCurrentNamespace(n);
        s.clear();
      }
    }
  }
  assert.equal(kb.numKeyValueStateEntries(), 0, 'every entry cleared');
  assert.equal(restored.numKeyValueStateEntries(), full, 'clearing the original does not touch the restored backend');
}
