import assert from 'node:assert/strict';
import {
  AggregatingStateDescriptor,
  MsgpackSerializer,
  ReducingStateDescriptor,
  Serializers,
  type AppendingState,
  type InternalMergingState,
  type KeyedStateBackend,
} from '@flowstate/core';
import { AVERAGE, type Average } from '../harness/average.js';
import type { Fixture } from '../harness/fixture.js';
import { addAndMergeInput, asMerging, MERGE_INPUT } from '../harness/merging.js';
import { caseSeeds, formatSeed, Prng } from '../harness/prng.js';
import { snapshotAndRestoreOne } from '../harness/restore.js';
import { VOID_NS, VOID_NS_SERIALIZER } from '../harness/state-checks.js';
import { conformanceGroup } from '../registry.js';

const SEEDS = caseSeeds({ reducing: 0x5eed0301, aggregating: 0x5eed0302 });

export const reducingAggregatingGroup = conformanceGroup('reducing and aggregating state', [
  { name: `reducing: add, get, clear and snapshot/restore (${formatSeed(SEEDS.reducing)})`, run: (fx) => addGetRestore(fx, reducing(), SEEDS.reducing) },
  { name: 'reducing: mergeNamespaces reduces sources into the target and clears them', run: (fx) => merge(fx, reducing()) },
  { name: `aggregating: add, get, clear and snapshot/restore (${formatSeed(SEEDS.aggregating)})`, run: (fx) => addGetRestore(fx, aggregating(), SEEDS.aggregating) },
  { name: 'aggregating: mergeNamespaces merges accumulators into the target and clears them', run: (fx) => merge(fx, aggregating()) },
]);

/** What the shared bodies need to know about one appending state kind. */
interface AppendingKind<OUT> {
  readonly label: string;
  readonly name: string;
  get(kb: KeyedStateBackend<string>): AppendingState<number, OUT | null>;
  getMerging(kb: KeyedStateBackend<string>): AppendingState<number, OUT | null> & InternalMergingState<string>;
  /** The expected get() after adding `inputs` (in any order, any namespaces merged). */
  expected(inputs: readonly number[]): OUT | null;
}

function reducing(): AppendingKind<number> {
  const desc = new ReducingStateDescriptor<number>('sum', (a, b) => a + b, Serializers.int32);
  return {
    label: 'reducing',
    name: desc.name,
    get: (kb) => kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, desc),
    getMerging: (kb) => asMerging(kb.getOrCreateKeyedState(Serializers.string, desc), 'reducing state'),
    expected: (inputs) => (inputs.length === 0 ? null : inputs.reduce((a, b) => a + b, 0)),
  };
}

function aggregating(): AppendingKind<string> {
  const desc = new AggregatingStateDescriptor<number, Average, string>('average', AVERAGE, new MsgpackSerializer<Average>());
  return {
    label: 'aggregating',
    name: desc.name,
    get: (kb) => kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, desc),
    getMerging: (kb) => asMerging(kb.getOrCreateKeyedState(Serializers.string, desc), 'aggregating state'),
    expected: (inputs) => (inputs.length === 0 ? null : `${inputs.reduce((a, b) => a + b, 0)}/${inputs.length}`),
  };
}

async function addGetRestore<OUT>(fx: Fixture, kind: AppendingKind<OUT>, seed: number): Promise<void> {
  const prng = new Prng(seed);
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  const state = kind.get(kb);
  const keys = prng.uniqueStrings(100, 'key-');
  const inputs = new Map<string, number[]>();
  for (const key of keys) {
    kb.setCurrentKey(key);
    assert.equal(state.get(), null, `${kind.label}: get() of a fresh key is null`);
    const values = prng.ints(prng.int(6), -50, 50);
    for (const v of values) state.add(v);
    if (values.length > 0) inputs.set(key, values);
  }
  const cleared = keys.filter(() => prng.chance(0.2));
  for (const key of cleared) {
    kb.setCurrentKey(key);
    state.clear();
    inputs.delete(key);
  }
  const check = (b: KeyedStateBackend<string>, s: AppendingState<number, OUT | null>, what: string): void => {
    for (const key of keys) {
      b.setCurrentKey(key);
      assert.deepStrictEqual(s.get(), kind.expected(inputs.get(key) ?? []), `${what}: ${kind.label} get() of '${key}'`);
    }
    assert.deepStrictEqual(b.getKeys(kind.name, VOID_NS).sort(), [...inputs.keys()].sort(), `${what}: getKeys`);
  };
  check(kb, state, 'live backend');

  const restored = await snapshotAndRestoreOne(fx, kb);
  const rs = kind.get(restored);
  check(restored, rs, 'restored');
  // Restored accumulators keep accumulating.
  const key = keys[0]!;
  restored.setCurrentKey(key);
  rs.add(5);
  assert.deepStrictEqual(rs.get(), kind.expected([...(inputs.get(key) ?? []), 5]), `restored: ${kind.label} add() after restore`);
}

async function merge<OUT>(fx: Fixture, kind: AppendingKind<OUT>): Promise<void> {
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  const state = kind.getMerging(kb);
  addAndMergeInput(kb, state, (st, values) => values.forEach((v) => st.add(v)));
  const expectedKeys: string[] = [];
  for (const [key, byNs] of Object.entries(MERGE_INPUT)) {
    const all = [...(byNs.ns1 ?? []), ...(byNs.ns2 ?? []), ...(byNs.ns3 ?? [])];
    if (all.length > 0) expectedKeys.push(key);
    kb.setCurrentKey(key);
    state.setCurrentNamespace('ns1');
    assert.deepStrictEqual(state.get(), kind.expected(all), `${kind.label}: merged value of '${key}'`);
    for (const ns of ['ns2', 'ns3']) {
      state.setCurrentNamespace(ns);
      assert.equal(state.get(), null, `${kind.label}: source ${ns} of '${key}' is cleared`);
    }
  }
  assert.deepStrictEqual(
    kb.getKeysAndNamespaces<string>(kind.name).map(([k, ns]) => `${k}@${ns}`).sort(),
    expectedKeys.map((k) => `${k}@ns1`).sort(),
    `${kind.label}: only the target namespaces hold entries after merging`,
  );
  assert.equal(kb.numKeyValueStateEntries(), expectedKeys.length);

  const restored = await snapshotAndRestoreOne(fx, kb);
  const rs = kind.getMerging(restored);
  for (const [key, byNs] of Object.entries(MERGE_INPUT)) {
    restored.setCurrentKey(key);
    rs.setCurrentNamespace('ns1');
    const all = [...(byNs.ns1 ?? []), ...(byNs.ns2 ?? []), ...(byNs.ns3 ?? [])];
    assert.deepStrictEqual(rs.get(), kind.expected(all), `restored: ${kind.label} merged value of '${key}'`);
  }
}
