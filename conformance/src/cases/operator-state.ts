import assert from 'node:assert/strict';
import {
  IllegalStateUsageError,
  ListStateDescriptor,
  MapStateDescriptor,
  repartitionOperatorState,
  Serializers,
  StateMigrationError,
  type OperatorStateBackend,
} from '@flowstate/core';
import { checkpointOperator } from '../harness/checkpoint.js';
import { assertSameMembers, expectThrows } from '../harness/expect.js';
import type { Fixture } from '../harness/fixture.js';
import { caseSeed, formatSeed, Prng } from '../harness/prng.js';
import { conformanceGroup, type ConformanceCase } from '../registry.js';
import { operatorStateEdgeCases } from './operator-state-edges.js';

const SEED = caseSeed(0x5eed0a01);
const OLD_PARALLELISM = 3;

export const operatorStateGroup = conformanceGroup('operator state', [
  ...[2, 5].map(
    (to): ConformanceCase => ({
      name: `list (even split), union (all to every subtask) and broadcast (replicated): parallelism ${OLD_PARALLELISM} -> ${to} (${formatSeed(SEED)})`,
      requires: ['operatorState'],
      run: (fx) => redistribute(fx, to),
    }),
  ),
  { name: 'the same name for list, union and broadcast state throws IllegalStateUsageError', requires: ['operatorState'], run: nameClashes },
  { name: 'list state rejects null elements; broadcast state API incl. iterator remove and null values', requires: ['operatorState'], run: apiBasics },
  { name: 'an operator backend without registered state snapshots to a null handle', requires: ['operatorState'], run: emptySnapshot },
  { name: 'restored list and broadcast state refuse an incompatible serializer with StateMigrationError', requires: ['operatorState'], run: incompatibleSerializer },
  ...operatorStateEdgeCases,
]);

const splitDesc = new ListStateDescriptor<string>('split-list', Serializers.string);
const unionDesc = new ListStateDescriptor<string>('union-list', Serializers.string);
const broadcastDesc = new MapStateDescriptor<string, number>('broadcast', Serializers.string, Serializers.int32);

async function redistribute(fx: Fixture, to: number): Promise<void> {
  const prng = new Prng(SEED);
  const allSplit: string[] = [];
  const allUnion: string[] = [];
  const broadcast = new Map<string, number | null>([
    ['rule-1', 10],
    ['rule-2', null],
    ['rule-3', 30],
  ]);
  const old: OperatorStateBackend[] = [];
  for (let i = 0; i < OLD_PARALLELISM; i++) {
    const ob = await fx.operator();
    old.push(ob);
    // Uneven counts (one subtask may have none) so that the even split has something to do.
    const split = Array.from({ length: prng.int(9) + (i === 0 ? 3 : 0) }, (_, j) => `s${i}-${j}-${prng.string(4)}`);
    ob.getListState(splitDesc).addAll(split);
    allSplit.push(...split);
    const union = Array.from({ length: prng.intBetween(1, 3) }, (_, j) => `u${i}-${j}`);
    ob.getUnionListState(unionDesc).addAll(union);
    allUnion.push(...union);
    ob.getBroadcastState(broadcastDesc).putAll(broadcast);
  }
  const cp = await checkpointOperator(fx, old);
  const assigned = repartitionOperatorState(cp.handles, to);
  assert.equal(assigned.length, to);

  const splitSeen: string[] = [];
  const sizes: number[] = [];
  for (let s = 0; s < to; s++) {
    const ob = await fx.operator({ restoreState: assigned[s]!, stateHandleReader: cp.reader });
    const what = `new subtask ${s}/${to}`;
    // Restored states are registered before the operator asks for them (Flink's semantics); a
    // subtask that got no element of the split state has no entry for it (Flink's repartitioner).
    const namesBefore = [...ob.getRegisteredStateNames()].sort();
    assert.deepStrictEqual(ob.getRegisteredBroadcastStateNames(), ['broadcast'], `${what}: getRegisteredBroadcastStateNames()`);

    const split = [...ob.getListState(splitDesc).get()];
    assert.deepStrictEqual(namesBefore, split.length > 0 ? ['split-list', 'union-list'] : ['union-list'], `${what}: getRegisteredStateNames()`);
    splitSeen.push(...split);
    sizes.push(split.length);
    assertSameMembers(ob.getUnionListState(unionDesc).get(), allUnion, `${what}: union state holds every old subtask's elements`);
    assert.deepStrictEqual(new Map(ob.getBroadcastState(broadcastDesc).immutableEntries()), broadcast, `${what}: broadcast state is a full copy`);
    expectThrows(`${what}: restored split-list state requested as union state`, IllegalStateUsageError, () => ob.getUnionListState(splitDesc));
  }
  assertSameMembers(splitSeen, allSplit, 'split list elements are redistributed without loss or duplication');
  assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `split sizes differ by at most one: ${JSON.stringify(sizes)}`);
}

type Kind = 'list' | 'union' | 'broadcast';
const register: Record<Kind, (ob: OperatorStateBackend, name: string) => unknown> = {
  list: (ob, name) => ob.getListState(new ListStateDescriptor<string>(name, Serializers.string)),
  union: (ob, name) => ob.getUnionListState(new ListStateDescriptor<string>(name, Serializers.string)),
  broadcast: (ob, name) => ob.getBroadcastState(new MapStateDescriptor<string, string>(name, Serializers.string, Serializers.string)),
};

async function nameClashes(fx: Fixture): Promise<void> {
  const kinds: Kind[] = ['list', 'union', 'broadcast'];
  for (const first of kinds) {
    for (const second of kinds) {
      const ob = await fx.operator();
      register[first](ob, 'shared-name');
      if (first === second) {
        register[second](ob, 'shared-name'); // the same kind again is the same state
      } else {
        expectThrows(`'shared-name' as ${first} state, then as ${second} state`, IllegalStateUsageError, () => register[second](ob, 'shared-name'));
      }
    }
  }
  const ob = await fx.operator();
  const list = ob.getListState(splitDesc);
  list.add('kept');
  assert.deepStrictEqual([...ob.getListState(splitDesc).get()], ['kept'], 'asking again returns the same state');
}

async function apiBasics(fx: Fixture): Promise<void> {
  const ob = await fx.operator();
  const bad = <T>(v: unknown): T => v as T;
  const list = ob.getListState(splitDesc);
  list.addAll(['a', 'b']);
  expectThrows('operator list add(null)', IllegalStateUsageError, () => list.add(bad(null)));
  expectThrows('operator list addAll([c, null])', IllegalStateUsageError, () => list.addAll(bad(['c', null])));
  expectThrows('operator list update(null)', IllegalStateUsageError, () => list.update(bad(null)));
  assert.deepStrictEqual([...list.get()], ['a', 'b'], 'rejected writes change nothing');
  list.update([]);
  assert.deepStrictEqual([...list.get()], []);

  const bc = ob.getBroadcastState(broadcastDesc);
  bc.put('a', 1);
  bc.put('b', null);
  bc.putAll([
    ['c', 3],
    ['d', 4],
  ]);
  assert.equal(bc.get('a'), 1);
  assert.equal(bc.get('b'), null);
  assert.equal(bc.contains('b'), true, 'a null value is contained');
  assert.equal(bc.contains('zz'), false);
  bc.remove('d');
  assert.equal(bc.contains('d'), false);
  const it = bc.entries();
  expectThrows('broadcast iterator remove() before next()', IllegalStateUsageError, () => it.remove());
  const first = it.next();
  assert.equal(first.done, false);
  it.remove();
  expectThrows('broadcast iterator second remove()', IllegalStateUsageError, () => it.remove());
  const remaining = new Map<string, number | null>([
    ['a', 1],
    ['b', null],
    ['c', 3],
  ]);
  remaining.delete(first.value[0]);
  assert.deepStrictEqual(new Map(bc.immutableEntries()), remaining);

  const cp = await checkpointOperator(fx, [ob]);
  const restored = await fx.operator({ restoreState: cp.handles.flat(), stateHandleReader: cp.reader });
  assert.deepStrictEqual(new Map(restored.getBroadcastState(broadcastDesc).immutableEntries()), remaining, 'restored broadcast state (null values kept)');
  bc.clear();
  assert.deepStrictEqual([...bc.immutableEntries()], [], 'clear() empties broadcast state');
}

async function emptySnapshot(fx: Fixture): Promise<void> {
  const ob = await fx.operator();
  const cp = await checkpointOperator(fx, [ob]);
  assert.equal(cp.results[0]?.jobManagerOwnedSnapshot, null);
  const restored = await fx.operator({ restoreState: cp.handles.flat(), stateHandleReader: cp.reader });
  assert.deepStrictEqual(restored.getRegisteredStateNames(), []);
  assert.deepStrictEqual(restored.getRegisteredBroadcastStateNames(), []);
}

async function incompatibleSerializer(fx: Fixture): Promise<void> {
  const ob = await fx.operator();
  ob.getListState(splitDesc).add('x');
  ob.getBroadcastState(broadcastDesc).put('k', 1);
  const cp = await checkpointOperator(fx, [ob]);

  const r1 = await fx.operator({ restoreState: cp.handles.flat(), stateHandleReader: cp.reader });
  const e1 = expectThrows('restored list state with an int32 element serializer', StateMigrationError, () => r1.getListState(new ListStateDescriptor<number>('split-list', Serializers.int32)));
  assert.equal(e1.stateName, 'split-list');
  const e2 = expectThrows(
    'restored broadcast state with a string value serializer',
    StateMigrationError,
    () => r1.getBroadcastState(new MapStateDescriptor<string, string>('broadcast', Serializers.string, Serializers.string)),
  );
  assert.equal(e2.stateName, 'broadcast');
  assert.deepStrictEqual([...r1.getListState(splitDesc).get()], ['x'], 'the right serializer still reads the state');
}
