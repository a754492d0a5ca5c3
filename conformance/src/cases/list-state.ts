import assert from 'node:assert/strict';
import { IllegalStateUsageError, ListStateDescriptor, Serializers, type ListState } from '@flowstate/core';
import { expectThrows, sortedNumbers } from '../harness/expect.js';
import type { Fixture } from '../harness/fixture.js';
import { addAndMergeInput, asMerging } from '../harness/merging.js';
import { caseSeed, formatSeed, Prng } from '../harness/prng.js';
import { snapshotAndRestoreOne } from '../harness/restore.js';
import { assertListState, listContents, VOID_NS, VOID_NS_SERIALIZER } from '../harness/state-checks.js';
import { conformanceGroup } from '../registry.js';

const RESTORE_SEED = caseSeed(0x5eed0201);

export const listStateGroup = conformanceGroup('list state', [
  { name: `add, addAll, update, get and snapshot/restore keep order (${formatSeed(RESTORE_SEED)})`, run: addGetRestore },
  { name: 'null and undefined elements and null lists are rejected, with nothing partially added', run: nullsRejected },
  { name: 'update([]) empties the list, addAll([]) is a no-op, and inputs are not aliased', run: emptyUpdates },
  { name: 'mergeNamespaces merges source lists into the target and clears the sources', run: mergeNamespaces },
]);

function listDescriptor(): ListStateDescriptor<number> {
  return new ListStateDescriptor<number>('list', Serializers.int32);
}

async function addGetRestore(fx: Fixture): Promise<void> {
  const prng = new Prng(RESTORE_SEED);
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  const desc = listDescriptor();
  const state = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, desc);
  const keys = prng.uniqueStrings(150, 'key-');
  const model = new Map<string, number[]>();
  for (const key of keys) {
    kb.setCurrentKey(key);
    assert.deepStrictEqual(listContents(state, 'fresh key'), [], `key '${key}' starts with an empty list`);
    for (let op = prng.int(6); op > 0; op--) {
      const current = model.get(key) ?? [];
      const choice = prng.int(3);
      if (choice === 0) {
        const e = prng.intBetween(-1000, 1000);
        state.add(e);
        model.set(key, [...current, e]);
      } else if (choice === 1) {
        const es = prng.ints(prng.intBetween(1, 5), -1000, 1000);
        state.addAll(es);
        model.set(key, [...current, ...es]);
      } else {
        const es = prng.ints(prng.intBetween(1, 5), -1000, 1000);
        state.update(es);
        model.set(key, es);
      }
    }
  }
  assertListState(kb, state, desc.name, model, keys, 'live backend');
  const restored = await snapshotAndRestoreOne(fx, kb);
  assertListState(restored, restored.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, desc), desc.name, model, keys, 'restored');
}

/** JS callers can smuggle nulls past the types; the backend must refuse them atomically. */
async function nullsRejected(fx: Fixture): Promise<void> {
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  const state: ListState<number> = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, listDescriptor());
  const bad = <T>(v: unknown): T => v as T;

  kb.setCurrentKey('k');
  state.addAll([1, 2]);
  expectThrows('add(null)', IllegalStateUsageError, () => state.add(bad(null)));
  expectThrows('add(undefined)', IllegalStateUsageError, () => state.add(bad(undefined)));
  expectThrows('addAll([3, null, 4])', IllegalStateUsageError, () => state.addAll(bad([3, null, 4])));
  expectThrows('addAll([3, undefined])', IllegalStateUsageError, () => state.addAll(bad([3, undefined])));
  expectThrows('addAll(null)', IllegalStateUsageError, () => state.addAll(bad(null)));
  expectThrows('addAll(undefined)', IllegalStateUsageError, () => state.addAll(bad(undefined)));
  expectThrows('update(null)', IllegalStateUsageError, () => state.update(bad(null)));
  expectThrows('update(undefined)', IllegalStateUsageError, () => state.update(bad(undefined)));
  expectThrows('update([5, null])', IllegalStateUsageError, () => state.update(bad([5, null])));
  assert.deepStrictEqual(listContents(state, 'after rejected writes'), [1, 2], 'rejected add/addAll/update change nothing');

  kb.setCurrentKey('empty');
  expectThrows('addAll([null]) on an absent list', IllegalStateUsageError, () => state.addAll(bad([null])));
  expectThrows('add(null) on an absent list', IllegalStateUsageError, () => state.add(bad(null)));
  assert.deepStrictEqual(listContents(state, 'absent list'), []);
  assert.deepStrictEqual(kb.getKeys('list', VOID_NS), ['k'], 'a rejected write creates no entry');
  assert.equal(kb.numKeyValueStateEntries(), 1);
}

async function emptyUpdates(fx: Fixture): Promise<void> {
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  const desc = listDescriptor();
  const state = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, desc);

  kb.setCurrentKey('a');
  state.addAll([1, 2, 3]);
  state.update([]);
  assert.deepStrictEqual(listContents(state, 'after update([])'), []);
  assert.equal(kb.numKeyValueStateEntries(), 0, 'update([]) removes the entry, like clear()');

  kb.setCurrentKey('b');
  state.addAll([]);
  assert.deepStrictEqual(listContents(state, 'after addAll([]) on an absent list'), []);
  assert.equal(kb.numKeyValueStateEntries(), 0, 'addAll([]) creates no entry');

  kb.setCurrentKey('c');
  state.add(7);
  state.addAll([]);
  assert.deepStrictEqual(listContents(state, 'after addAll([])'), [7], 'addAll([]) leaves an existing list alone');

  // The state owns its elements: later changes to the caller's arrays must not reach it.
  const input = [4, 5];
  state.update(input);
  input.push(99);
  const more = [6];
  state.addAll(more);
  more.push(98);
  assert.deepStrictEqual(listContents(state, 'after mutating inputs'), [4, 5, 6], 'update/addAll copy their input');

  assert.deepStrictEqual(kb.getKeys(desc.name, VOID_NS), ['c']);
  const restored = await snapshotAndRestoreOne(fx, kb);
  const rs = restored.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, desc);
  assertListState(restored, rs, desc.name, new Map([['c', [4, 5, 6]]]), ['a', 'b', 'c'], 'restored');
}

/** Flink's testListStateMerging, with an empty target, empty sources and an untouched key. */
async function mergeNamespaces(fx: Fixture): Promise<void> {
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  const desc = listDescriptor();
  const state = asMerging(kb.getOrCreateKeyedState(Serializers.string, desc), 'list state');
  const expected: Record<string, number[]> = { abc: [11, 22, 33, 44, 55], def: [1, 2, 3, 4], ghi: [9], jkl: [], mno: [7] };

  addAndMergeInput(kb, state, (st, values) => st.addAll(values));
  const check = (s: typeof state, what: string): void => {
    for (const [key, want] of Object.entries(expected)) {
      kb.setCurrentKey(key);
      s.setCurrentNamespace('ns1');
      assert.deepStrictEqual(sortedNumbers(listContents(s, what)), want, `${what}: merged list of '${key}' (order ignored)`);
      for (const ns of ['ns2', 'ns3']) {
        s.setCurrentNamespace(ns);
        assert.deepStrictEqual(listContents(s, what), [], `${what}: source ${ns} of '${key}' is cleared`);
      }
    }
  };
  check(state, 'after merge');
  const nonEmpty = Object.keys(expected).filter((k) => (expected[k] ?? []).length > 0);
  assert.deepStrictEqual(
    kb.getKeysAndNamespaces<string>(desc.name).map(([k, ns]) => `${k}@${ns}`).sort(),
    nonEmpty.map((k) => `${k}@ns1`).sort(),
    'only the target namespaces hold entries after merging',
  );
  assert.equal(kb.numKeyValueStateEntries(), nonEmpty.length);

  const restored = await snapshotAndRestoreOne(fx, kb);
  const rs = restored.getOrCreateKeyedState(Serializers.string, desc);
  for (const [key, want] of Object.entries(expected)) {
    restored.setCurrentKey(key);
    rs.setCurrentNamespace('ns1');
    assert.deepStrictEqual(sortedNumbers(listContents(rs, 'restored')), want, `restored: merged list of '${key}'`);
  }
}
