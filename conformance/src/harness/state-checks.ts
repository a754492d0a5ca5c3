import assert from 'node:assert/strict';
import {
  Serializers,
  VoidNamespace,
  type KeyedStateBackend,
  type ListState,
  type MapState,
  type ValueState,
} from '@flowstate/core';
import { assertSameMembers } from './expect.js';

/** Most cases do not need namespaces; they use the void namespace, as Flink's non-window state does. */
export const VOID_NS = VoidNamespace;
export const VOID_NS_SERIALIZER = Serializers.voidNamespace;

/** A map state's content read through its entries() iterator. */
export function mapContents<UK, UV>(state: MapState<UK, UV>): Map<UK, UV | null> {
  const m = new Map<UK, UV | null>();
  for (const [k, v] of state.entries()) {
    assert.ok(!m.has(k), `entries() returned user key ${String(k)} twice`);
    m.set(k, v);
  }
  return m;
}

export function listContents<T>(state: ListState<T>, what: string): T[] {
  const got = state.get();
  assert.ok(Array.isArray(got), `${what}: ListState.get() returns an array (got ${String(got)})`);
  return [...got];
}

/**
 * Checks every key in `keys` against `model` (absent = no value) and that getKeys lists exactly
 * the model's keys: nothing lost, nothing resurrected, nothing duplicated.
 */
export function assertValueState<K, T, N = VoidNamespace>(
  kb: KeyedStateBackend<K>,
  state: ValueState<T>,
  stateName: string,
  model: ReadonlyMap<K, T>,
  keys: Iterable<K>,
  what: string,
  namespace: N = VOID_NS as N,
): void {
  eachKeyThenKeySet(kb, stateName, model, keys, what, namespace, (key) => {
    assert.deepStrictEqual(state.value(), model.get(key) ?? null, `${what}: value of key '${String(key)}'`);
  });
}

export function assertListState<K, T, N = VoidNamespace>(
  kb: KeyedStateBackend<K>,
  state: ListState<T>,
  stateName: string,
  model: ReadonlyMap<K, readonly T[]>,
  keys: Iterable<K>,
  what: string,
  namespace: N = VOID_NS as N,
): void {
  eachKeyThenKeySet(kb, stateName, model, keys, what, namespace, (key) => {
    assert.deepStrictEqual(listContents(state, what), [...(model.get(key) ?? [])], `${what}: list of key '${String(key)}' (in order)`);
  });
}

export function assertMapState<K, UK, UV, N = VoidNamespace>(
  kb: KeyedStateBackend<K>,
  state: MapState<UK, UV>,
  stateName: string,
  model: ReadonlyMap<K, ReadonlyMap<UK, UV | null>>,
  keys: Iterable<K>,
  what: string,
  namespace: N = VOID_NS as N,
): void {
  eachKeyThenKeySet(kb, stateName, model, keys, what, namespace, (key) => {
    const expected = model.get(key) ?? new Map<UK, UV | null>();
    assert.deepStrictEqual(mapContents(state), new Map(expected), `${what}: map of key '${String(key)}'`);
    assert.equal(state.isEmpty(), expected.size === 0, `${what}: isEmpty() of key '${String(key)}'`);
    for (const [uk, uv] of expected) {
      assert.ok(state.contains(uk), `${what}: key '${String(key)}' contains user key ${String(uk)}`);
      assert.deepStrictEqual(state.get(uk), uv, `${what}: key '${String(key)}' get(${String(uk)})`);
    }
  });
}

/** Runs `checkKey` with each of `keys` current, then expects getKeys to list exactly the model's keys. */
function eachKeyThenKeySet<K, N>(
  kb: KeyedStateBackend<K>,
  stateName: string,
  model: ReadonlyMap<K, unknown>,
  keys: Iterable<K>,
  what: string,
  namespace: N,
  checkKey: (key: K) => void,
): void {
  for (const key of keys) {
    kb.setCurrentKey(key);
    checkKey(key);
  }
  assertSameMembers(kb.getKeys(stateName, namespace), model.keys(), `${what}: getKeys('${stateName}')`);
}
