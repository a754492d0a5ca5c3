import assert from 'node:assert/strict';
import {
  computeOperatorIndexForKeyGroup,
  IllegalStateUsageError,
  KeyGroupRange,
  ListStateDescriptor,
  RestoreCancelledError,
  MapStateDescriptor,
  Serializers,
  ValueStateDescriptor,
  type KeyedStateBackend,
  type KeyedStateHandle,
} from '@flowstate/core';
import { checkpointKeyed, type CompletedCheckpoint } from '../harness/checkpoint.js';
import { assertSameMembers, expectThrows } from '../harness/expect.js';
import type { Fixture } from '../harness/fixture.js';
import { keyGroupOf, MAX_PARALLELISM, subtaskRanges } from '../harness/keys.js';
import { caseSeed, formatSeed, Prng } from '../harness/prng.js';
import { restoreKeyed } from '../harness/restore.js';
import { assertListState, assertMapState, assertValueState, VOID_NS, VOID_NS_SERIALIZER } from '../harness/state-checks.js';
import { conformanceGroup, type ConformanceCase } from '../registry.js';

const SEED = caseSeed(0x5eed0601);
const SCENARIOS: ReadonlyArray<readonly [number, number]> = [
  [4, 2],
  [2, 4],
  [2, 2],
  [15, 77],
  [77, 15],
];

export const rescalingGroup = conformanceGroup('rescaling', [
  {
    name: `parallelism 2 -> 2, each subtask restoring only its own handle (${formatSeed(SEED)})`,
    run: (fx) => sameParallelismOwnHandles(fx),
  },
  { name: 'a restore whose AbortSignal is aborted fails with RestoreCancelledError', run: (fx) => cancelledRestore(fx) },
  { name: 'a keyed backend refuses a maxParallelism outside [1, 32768] and key groups beyond its maxParallelism', run: (fx) => invalidKeyGroups(fx) },
  ...SCENARIOS.map(
    ([from, to]): ConformanceCase => ({
      name: `parallelism ${from} -> ${to} -> ${from}, maxParallelism ${MAX_PARALLELISM}, every new subtask given all old handles (${formatSeed(SEED)})`,
      requires: ['rescaling'],
      run: (fx) => rescale(fx, from, to),
    }),
  ),
]);

const valueDesc = new ValueStateDescriptor<string>('value', Serializers.string);
const listDesc = new ListStateDescriptor<number>('list', Serializers.int32);
const mapDesc = new MapStateDescriptor<string, number>('map', Serializers.string, Serializers.int32);
/** List state lives in a window namespace, so namespaces must survive redistribution too. */
const LIST_NS = 'window-1';

interface Model {
  readonly keys: readonly string[];
  readonly values: Map<string, string>;
  readonly lists: Map<string, number[]>;
  readonly maps: Map<string, Map<string, number | null>>;
}

function generate(seed: number): Model {
  const prng = new Prng(seed);
  const keys = prng.uniqueStrings(600, 'user-');
  const model: Model = { keys, values: new Map(), lists: new Map(), maps: new Map() };
  for (const key of keys) {
    if (prng.chance(0.9)) model.values.set(key, `v-${prng.string(6)}`);
    if (prng.chance(0.6)) model.lists.set(key, prng.ints(prng.intBetween(1, 4), 0, 999));
    if (prng.chance(0.5)) {
      const m = new Map<string, number | null>();
      for (let i = prng.intBetween(1, 4); i > 0; i--) m.set(`uk-${prng.string(3)}`, prng.chance(0.2) ? null : prng.int(100));
      model.maps.set(key, m);
    }
  }
  return model;
}

/** Creates one backend per subtask, registers every state on each, and writes each key where it belongs. */
async function populate(fx: Fixture, model: Model, parallelism: number): Promise<Array<KeyedStateBackend<string>>> {
  const ranges = subtaskRanges(parallelism);
  const backends: Array<KeyedStateBackend<string>> = [];
  for (const keyGroupRange of ranges) backends.push(await fx.keyed({ keySerializer: Serializers.string, keyGroupRange }));
  for (const key of model.keys) {
    const group = keyGroupOf(key, Serializers.string);
    const kb = backends[computeOperatorIndexForKeyGroup(MAX_PARALLELISM, parallelism, group)]!;
    assert.ok(kb.keyGroupRange.contains(group), `harness: key group ${group} routed into ${kb.keyGroupRange}`);
    kb.setCurrentKey(key);
    const value = model.values.get(key);
    if (value !== undefined) kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, valueDesc).update(value);
    const list = model.lists.get(key);
    if (list !== undefined) kb.getPartitionedState(LIST_NS, Serializers.string, listDesc).addAll(list);
    const map = model.maps.get(key);
    if (map !== undefined) kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, mapDesc).putAll(map);
  }
  return backends;
}

/**
 * Restores `cp` at `parallelism` and checks: each subtask holds exactly the keys of its key groups
 * with intact values, the subtasks together hold every key exactly once, and a key outside a
 * subtask's range is refused.
 */
async function restoreAndVerify(
  fx: Fixture,
  model: Model,
  cp: CompletedCheckpoint<KeyedStateHandle>,
  parallelism: number,
  what: string,
  handlesFor: (subtask: number) => readonly KeyedStateHandle[] = () => cp.handles.flat(),
): Promise<Array<KeyedStateBackend<string>>> {
  const restored: Array<KeyedStateBackend<string>> = [];
  const union = { values: [] as string[], lists: [] as string[], maps: [] as string[] };
  const ranges = subtaskRanges(parallelism);
  for (let subtask = 0; subtask < parallelism; subtask++) {
    const range = ranges[subtask]!;
    const kb = await restoreKeyed(fx, cp, { keySerializer: Serializers.string, keyGroupRange: range, handles: handlesFor(subtask) });
    restored.push(kb);
    const here = <V>(m: ReadonlyMap<string, V>): Map<string, V> => new Map([...m].filter(([k]) => range.contains(keyGroupOf(k, Serializers.string))));
    const mine = model.keys.filter((k) => range.contains(keyGroupOf(k, Serializers.string)));
    const sub = `${what}, subtask ${subtask}/${parallelism} ${range}`;
    assertValueState(kb, kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, valueDesc), valueDesc.name, here(model.values), mine, sub);
    assertListState(kb, kb.getPartitionedState(LIST_NS, Serializers.string, listDesc), listDesc.name, here(model.lists), mine, sub, LIST_NS);
    assertMapState(kb, kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, mapDesc), mapDesc.name, here(model.maps), mine, sub);
    union.values.push(...kb.getKeys(valueDesc.name, VOID_NS));
    union.lists.push(...kb.getKeys(listDesc.name, LIST_NS));
    union.maps.push(...kb.getKeys(mapDesc.name, VOID_NS));

    const outside = model.keys.find((k) => !range.contains(keyGroupOf(k, Serializers.string)));
    if (outside !== undefined) {
      expectThrows(`${sub}: setCurrentKey('${outside}') of key group ${keyGroupOf(outside, Serializers.string)}`, IllegalStateUsageError, () => kb.setCurrentKey(outside));
    }
  }
  // Equal multisets: every key is somewhere, and nowhere twice.
  assertSameMembers(union.values, model.values.keys(), `${what}: union of getKeys('value') over all subtasks`);
  assertSameMembers(union.lists, model.lists.keys(), `${what}: union of getKeys('list') over all subtasks`);
  assertSameMembers(union.maps, model.maps.keys(), `${what}: union of getKeys('map') over all subtasks`);
  return restored;
}

async function rescale(fx: Fixture, from: number, to: number): Promise<void> {
  const model = generate(SEED);
  const original = await populate(fx, model, from);
  const cp1 = await checkpointKeyed(fx, original);
  const rescaled = await restoreAndVerify(fx, model, cp1, to, `restored ${from} -> ${to}`);
  // A rescaled backend must snapshot only what it owns; going back exposes leftovers and gaps.
  const cp2 = await checkpointKeyed(fx, rescaled);
  await restoreAndVerify(fx, model, cp2, from, `restored ${from} -> ${to} -> ${from}`);
}

async function sameParallelismOwnHandles(fx: Fixture): Promise<void> {
  const model = generate(SEED);
  const original = await populate(fx, model, 2);
  const cp = await checkpointKeyed(fx, original);
  await restoreAndVerify(fx, model, cp, 2, 'restored 2 -> 2 from own handles', (subtask) => cp.handles[subtask] ?? []);
}

/** maxParallelism and the key-group range are checked before a backend is built: past them a KV row layout's key-group prefix wrapped. */
async function invalidKeyGroups(fx: Fixture): Promise<void> {
  const refused = (e: unknown) => e instanceof IllegalStateUsageError && e.code === 'ILLEGAL_STATE_USAGE';
  const cases: ReadonlyArray<readonly [number, KeyGroupRange]> = [
    [0, KeyGroupRange.of(0, 0)],
    [1.5, KeyGroupRange.of(0, 0)],
    [(1 << 15) + 1, KeyGroupRange.of(0, 127)],
    // Key groups 128..255 of a maxParallelism of 128: with a 1-byte key-group prefix, KV rows wrapped.
    [128, KeyGroupRange.of(0, 255)],
    [128, KeyGroupRange.of(128, 128)],
  ];
  for (const [maxParallelism, keyGroupRange] of cases) {
    await assert.rejects(fx.keyed({ keySerializer: Serializers.string, maxParallelism, keyGroupRange }), refused, `maxParallelism ${maxParallelism}, key groups ${keyGroupRange.startKeyGroup}..${keyGroupRange.endKeyGroup}`);
  }
  // The bounds themselves are fine: the last key group, and the largest maxParallelism.
  for (const [maxParallelism, keyGroupRange] of [[128, KeyGroupRange.of(127, 127)], [1 << 15, KeyGroupRange.of(32_000, 32_767)]] as const) {
    const kb = await fx.keyed({ keySerializer: Serializers.string, maxParallelism, keyGroupRange });
    const value = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, valueDesc);
    const key = Array.from({ length: 100_000 }, (_, i) => `k${i}`).find((k) => keyGroupRange.contains(keyGroupOf(k, Serializers.string, maxParallelism)));
    assert.ok(key !== undefined, 'a key of the range');
    kb.setCurrentKey(key);
    value.update('v');
    assert.equal(value.value(), 'v');
  }
}

/** Cancelling a restore (a failover, a cancelled job) stops it with a typed error naming the operator. */
async function cancelledRestore(fx: Fixture): Promise<void> {
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  const value = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, valueDesc);
  for (let i = 0; i < 64; i++) {
    kb.setCurrentKey(`k${i}`);
    value.update(`v${i}`);
  }
  const cp = await checkpointKeyed(fx, [kb]);
  const aborted = new AbortController();
  aborted.abort(new Error('failover'));
  await assert.rejects(restoreKeyed(fx, cp, { keySerializer: Serializers.string, signal: aborted.signal }), (e: unknown) => e instanceof RestoreCancelledError && e.code === 'RESTORE_CANCELLED');
  // The same restore without the signal still works: nothing was left half-restored on the checkpoint's side.
  const restored = await restoreKeyed(fx, cp, { keySerializer: Serializers.string });
  restored.setCurrentKey('k7');
  assert.equal(restored.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, valueDesc).value(), 'v7');
}
