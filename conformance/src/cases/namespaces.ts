import assert from 'node:assert/strict';
import {
  AggregatingStateDescriptor,
  IllegalStateUsageError,
  ListStateDescriptor,
  MapStateDescriptor,
  RecordSerializer,
  ReducingStateDescriptor,
  Serializers,
  TimeWindow as CoreTimeWindow,
  ValueStateDescriptor,
  type KeyedStateBackend,
  type TypeSerializer,
} from '@flowstate/core';
import { assertSameMembers, canonical, expectThrows } from '../harness/expect.js';
import type { Fixture } from '../harness/fixture.js';
import { asMerging } from '../harness/merging.js';
import { snapshotAndRestoreOne } from '../harness/restore.js';
import type { ConformanceCase } from '../registry.js';

/** Flink's TimeWindow as a record: a mutable object namespace (core's TimeWindow is frozen). */
type TimeWindow = { start: bigint; end: bigint };
const TIME_WINDOW = new RecordSerializer<TimeWindow>('TimeWindow', [
  { name: 'start', serializer: Serializers.int64 },
  { name: 'end', serializer: Serializers.int64 },
]);

/** A namespace type that is not a JS primitive: values equal by content, never by reference. */
interface ObjectNamespaces<N> {
  readonly label: string;
  readonly serializer: TypeSerializer<N>;
  /** A fresh object for window i: equal content, new identity on every call. */
  make(i: number): N;
  /** Changes the object in place (to check that state does not follow it). */
  mutate(ns: N): void;
}

const WINDOWS: ObjectNamespaces<TimeWindow> = {
  label: 'TimeWindow records',
  serializer: TIME_WINDOW,
  make: (i) => ({ start: BigInt(i * 10), end: BigInt(i * 10 + 10) }),
  mutate: (w) => void (w.end += 1000n),
};

/** The runtime's window namespace, with the serializer the default registry restores. */
const CORE_WINDOWS: ObjectNamespaces<CoreTimeWindow> = {
  label: "core's TimeWindow",
  serializer: Serializers.timeWindow,
  make: (i) => new CoreTimeWindow(i * 10, i * 10 + 10),
  // Frozen: it cannot move under the state.
  mutate: () => {},
};

const BYTES: ObjectNamespaces<Uint8Array> = {
  label: 'byte arrays',
  serializer: Serializers.bytes,
  make: (i) => new Uint8Array([0xfe, i, i + 1]),
  mutate: (b) => void (b[0] = 0),
};

export const namespaceCases: readonly ConformanceCase[] = [
  ...[WINDOWS, CORE_WINDOWS, BYTES].map(
    (kind): ConformanceCase => ({
      name: `object namespaces (${kind.label}) with every state kind: equal content is the same namespace, merge, getKeys, snapshot and restore`,
      run: (fx) => objectNamespaces(fx, kind as ObjectNamespaces<unknown>),
    }),
  ),
  { name: 'null and undefined namespaces are refused with IllegalStateUsageError; state used before any namespace is set throws it too', run: nullNamespaces },
  { name: 'getKeys and getKeysAndNamespaces agree on a state that is not registered: neither has keys', run: unknownState },
];

const sum = (a: number, b: number) => a + b;
const counting = { createAccumulator: () => 0, add: (v: number, a: number) => a + v, getResult: (a: number) => a, merge: sum };

function states<N>(kb: KeyedStateBackend<string>, ns: TypeSerializer<N>) {
  return {
    value: kb.getOrCreateKeyedState(ns, new ValueStateDescriptor<string>('value', Serializers.string)),
    list: kb.getOrCreateKeyedState(ns, new ListStateDescriptor<number>('list', Serializers.int32)),
    map: kb.getOrCreateKeyedState(ns, new MapStateDescriptor<string, number>('map', Serializers.string, Serializers.int32)),
    reducing: kb.getOrCreateKeyedState(ns, new ReducingStateDescriptor<number>('reducing', sum, Serializers.int32)),
    aggregating: kb.getOrCreateKeyedState(ns, new AggregatingStateDescriptor<number, number, number>('aggregating', counting, Serializers.int32)),
  };
}

/** What key k holds in window i, for every state kind. */
function expectedIn(key: string, i: number) {
  return { value: `${key}@${i}`, list: [i, i + 1], map: new Map([[`m${i}`, i]]), reducing: 2 * i + 1 };
}

async function objectNamespaces<N>(fx: Fixture, kind: ObjectNamespaces<N>): Promise<void> {
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  const keys = ['k1', 'k2', 'k3'];
  const windows = [0, 1, 2];
  // getPartitionedState with an object namespace is how a window operator first touches a state.
  kb.setCurrentKey('k1');
  kb.getPartitionedState(kind.make(0), kind.serializer, new ValueStateDescriptor<string>('value', Serializers.string)).update('k1@0');
  const s = states(kb, kind.serializer);
  const all = Object.values(s);
  for (const key of keys) {
    kb.setCurrentKey(key);
    for (const i of windows) {
      for (const st of all) st.setCurrentNamespace(kind.make(i)); // a new object every time
      const e = expectedIn(key, i);
      s.value.update(e.value);
      s.list.addAll(e.list);
      s.map.put(`m${i}`, i);
      s.reducing.add(i);
      s.reducing.add(i + 1);
      s.aggregating.add(2 * i + 1);
    }
  }
  const check = (b: KeyedStateBackend<string>, st: ReturnType<typeof states<N>>, what: string) => {
    for (const key of keys) {
      b.setCurrentKey(key);
      for (const i of windows) {
        for (const x of Object.values(st)) x.setCurrentNamespace(kind.make(i));
        const e = expectedIn(key, i);
        assert.equal(st.value.value(), e.value, `${what}: value of ${key} in window ${i}`);
        assert.deepStrictEqual([...st.list.get()], e.list, `${what}: list of ${key} in window ${i}`);
        assert.deepStrictEqual(new Map(st.map.entries()), e.map, `${what}: map of ${key} in window ${i}`);
        assert.equal(st.reducing.get(), e.reducing, `${what}: reducing of ${key} in window ${i}`);
        assert.equal(st.aggregating.get(), e.reducing, `${what}: aggregating of ${key} in window ${i}`);
      }
    }
    for (const i of windows) assertSameMembers(b.getKeys('list', kind.make(i)), keys, `${what}: getKeys('list', window ${i})`);
    assertSameMembers(
      b.getKeysAndNamespaces<N>('value').map(([k, n]) => `${k}|${canonical(n)}`),
      keys.flatMap((k) => windows.map((i) => `${k}|${canonical(kind.make(i))}`)),
      `${what}: getKeysAndNamespaces('value') returns the namespaces by content`,
    );
  };
  check(kb, s, 'live backend');

  // A namespace object changed after setCurrentNamespace does not move the state with it.
  kb.setCurrentKey('k1');
  const moving = kind.make(1);
  s.value.setCurrentNamespace(moving);
  kind.mutate(moving);
  assert.equal(s.value.value(), 'k1@1', 'state stays in the namespace as it was when set');

  const restored = await snapshotAndRestoreOne(fx, kb);
  check(restored, states(restored, kind.serializer), 'restored');

  // Window merging: two windows' list, reducing and aggregating state merged into a third.
  kb.setCurrentKey('k2');
  const target = kind.make(7);
  asMerging(s.list, 'list state').mergeNamespaces(target, [kind.make(0), kind.make(1)]);
  asMerging(s.reducing, 'reducing state').mergeNamespaces(target, [kind.make(0), kind.make(1)]);
  asMerging(s.aggregating, 'aggregating state').mergeNamespaces(target, [kind.make(0), kind.make(1)]);
  s.list.setCurrentNamespace(kind.make(7));
  assertSameMembers(s.list.get(), [0, 1, 1, 2], 'merged list');
  s.reducing.setCurrentNamespace(kind.make(7));
  assert.equal(s.reducing.get(), 1 + 3, 'merged reducing');
  s.list.setCurrentNamespace(kind.make(0));
  assert.deepStrictEqual([...s.list.get()], [], 'merged source windows are empty');
  assertSameMembers(kb.getKeys('list', kind.make(7)), ['k2'], 'getKeys of the merged window');
}

async function nullNamespaces(fx: Fixture): Promise<void> {
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  kb.setCurrentKey('k');
  const desc = new ValueStateDescriptor<string>('value', Serializers.string);
  const bad = <T>(v: null | undefined): T => v as T;
  for (const ns of [null, undefined]) {
    expectThrows(`getPartitionedState(${ns}, string, ...)`, IllegalStateUsageError, () => kb.getPartitionedState(bad<string>(ns), Serializers.string, desc));
    expectThrows(`getPartitionedState(${ns}, TimeWindow, ...)`, IllegalStateUsageError, () => kb.getPartitionedState(bad<TimeWindow>(ns), TIME_WINDOW, desc));
  }
  assert.deepStrictEqual(kb.getRegisteredStateNames(), [], 'a refused getPartitionedState registers nothing');

  const value = kb.getOrCreateKeyedState(Serializers.string, desc);
  const list = kb.getOrCreateKeyedState(TIME_WINDOW, new ListStateDescriptor<number>('list', Serializers.int32));
  expectThrows('value() before any namespace is set', IllegalStateUsageError, () => value.value());
  expectThrows('update() before any namespace is set', IllegalStateUsageError, () => value.update('x'));
  expectThrows('list add() before any namespace is set', IllegalStateUsageError, () => list.add(1));
  for (const ns of [null, undefined]) {
    expectThrows(`setCurrentNamespace(${ns})`, IllegalStateUsageError, () => value.setCurrentNamespace(bad<string>(ns)));
    expectThrows(`TimeWindow setCurrentNamespace(${ns})`, IllegalStateUsageError, () => list.setCurrentNamespace(bad<TimeWindow>(ns)));
  }
  value.setCurrentNamespace('ns');
  value.update('kept');
  list.setCurrentNamespace({ start: 0n, end: 5n });
  list.add(1);
  expectThrows('setCurrentNamespace(null) after a valid one', IllegalStateUsageError, () => value.setCurrentNamespace(bad<string>(null)));
  assert.equal(value.value(), 'kept', 'a refused namespace leaves the current one');
  const merging = asMerging(list, 'list state');
  expectThrows('mergeNamespaces(null, [...])', IllegalStateUsageError, () => merging.mergeNamespaces(bad<TimeWindow>(null), [{ start: 0n, end: 5n }]));
  expectThrows('mergeNamespaces(target, [null])', IllegalStateUsageError, () => merging.mergeNamespaces({ start: 0n, end: 9n }, [bad<TimeWindow>(null)]));
  assert.deepStrictEqual([...list.get()], [1], 'a refused merge changes nothing');
  assert.equal(kb.numKeyValueStateEntries(), 2, 'nothing was stored under a null namespace');

  // The snapshot that used to fail ('string serializer got object') works and restores.
  const restored = await snapshotAndRestoreOne(fx, kb);
  restored.setCurrentKey('k');
  assert.equal(restored.getPartitionedState('ns', Serializers.string, desc).value(), 'kept');
}

async function unknownState(fx: Fixture): Promise<void> {
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  const check = (what: string) => {
    assert.deepStrictEqual(kb.getKeys('no-such-state', 'ns'), [], `${what}: getKeys of an unknown state`);
    assert.deepStrictEqual(kb.getKeysAndNamespaces('no-such-state'), [], `${what}: getKeysAndNamespaces of an unknown state`);
  };
  check('empty backend');
  kb.setCurrentKey('k');
  kb.getPartitionedState('ns', Serializers.string, new ValueStateDescriptor<number>('known', Serializers.int32)).update(1);
  check('with another state registered');
  assert.deepStrictEqual(kb.getKeysAndNamespaces('known'), [['k', 'ns']], 'the known state still lists its entry');
}
