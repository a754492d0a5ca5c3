import assert from 'node:assert/strict';
import {
  CHECKPOINT,
  FsCheckpointStorage,
  ListStateDescriptor,
  MapStateDescriptor,
  MemoryFileSystem,
  repartitionOperatorState,
  Serializers,
  SnapshotCancelledError,
  type OperatorStateBackend,
  type TypeSerializer,
} from '@flowstate/core';
import { checkpointOperator } from '../harness/checkpoint.js';
import { ENUM_SERIALIZER_REGISTRY, EnumSerializer } from '../harness/enum-serializer.js';
import { assertSameMembers, expectRejects } from '../harness/expect.js';
import type { Fixture } from '../harness/fixture.js';
import { assertNothingLeft, GatedStreamFactory } from '../harness/gated-stream-factory.js';
import type { ConformanceCase } from '../registry.js';

/** Lifecycle and serializer edges of operator state that Flink's OperatorStateBackendTest checks. */
export const operatorStateEdgeCases: readonly ConformanceCase[] = [
  {
    name: 'restored list, union and broadcast state (key and value) continue with a reconfigured serializer, and the next snapshot restores',
    requires: ['operatorState'],
    run: reconfiguredSerializer,
  },
  {
    name: 'cancel() while an operator snapshot writes: result rejects with SnapshotCancelledError and no file is left',
    requires: ['operatorState', 'asyncSnapshots'],
    run: (fx) => stoppedWhileWriting(fx, 'cancel'),
  },
  {
    name: 'dispose() while an operator snapshot writes: result rejects with SnapshotCancelledError and no file is left',
    requires: ['operatorState', 'asyncSnapshots'],
    run: (fx) => stoppedWhileWriting(fx, 'dispose'),
  },
  { name: 'unchanged parallelism with union and broadcast state: every subtask restores exactly its own list state', requires: ['operatorState'], run: unchangedParallelism },
  { name: 'list state at parallelism 2 -> 3 with two elements: the subtask that gets none has no such state', requires: ['operatorState'], run: fewerElementsThanSubtasks },
];

function descriptors(enumSerializer: TypeSerializer<string>) {
  return {
    list: new ListStateDescriptor<string>('enum-list', enumSerializer),
    union: new ListStateDescriptor<string>('enum-union', enumSerializer),
    byKey: new MapStateDescriptor<string, number>('enum-keys', enumSerializer, Serializers.int32),
    byValue: new MapStateDescriptor<string, string>('enum-values', Serializers.string, enumSerializer),
  };
}

function assertContents(ob: OperatorStateBackend, d: ReturnType<typeof descriptors>, expected: { list: string[]; union: string[]; byKey: Map<string, number | null>; byValue: Map<string, string | null> }, what: string): void {
  assert.deepStrictEqual([...ob.getListState(d.list).get()], expected.list, `${what}: list state`);
  assert.deepStrictEqual([...ob.getUnionListState(d.union).get()], expected.union, `${what}: union state`);
  assert.deepStrictEqual(new Map(ob.getBroadcastState(d.byKey).immutableEntries()), expected.byKey, `${what}: broadcast state with enum keys`);
  assert.deepStrictEqual(new Map(ob.getBroadcastState(d.byValue).immutableEntries()), expected.byValue, `${what}: broadcast state with enum values`);
  for (const [k, v] of expected.byKey) assert.equal(ob.getBroadcastState(d.byKey).get(k), v, `${what}: broadcast get('${k}')`);
}

/**
 * The job now declares an enum without 'C'; the restored state holds 'C'. Its snapshot resolves to
 * a reconfigured serializer that still knows 'C', which the state must keep using (keyed state
 * does): with the job's serializer, writing 'C' again (the next snapshot, or a broadcast key's
 * identity) fails.
 */
async function reconfiguredSerializer(fx: Fixture): Promise<void> {
  const before = descriptors(new EnumSerializer(['A', 'B', 'C']));
  const after = descriptors(new EnumSerializer(['A', 'B']));
  const ob = await fx.operator();
  ob.getListState(before.list).addAll(['A', 'C', 'B', 'C']);
  ob.getUnionListState(before.union).addAll(['C']);
  ob.getBroadcastState(before.byKey).putAll([
    ['A', 1],
    ['C', 3],
  ]);
  ob.getBroadcastState(before.byValue).putAll([
    ['x', 'C'],
    ['y', 'B'],
    ['z', null],
  ]);
  const cp1 = await checkpointOperator(fx, [ob]);

  const r1 = await fx.operator({ restoreState: cp1.handles.flat(), stateHandleReader: cp1.reader, serializerRegistry: ENUM_SERIALIZER_REGISTRY });
  const expected = {
    list: ['A', 'C', 'B', 'C'],
    union: ['C'],
    byKey: new Map<string, number | null>([
      ['A', 1],
      ['C', 3],
    ]),
    byValue: new Map<string, string | null>([
      ['x', 'C'],
      ['y', 'B'],
      ['z', null],
    ]),
  };
  assertContents(r1, after, expected, 'restored with the reconfigured serializer');
  r1.getListState(after.list).add('B');
  r1.getBroadcastState(after.byKey).put('B', 2);
  r1.getBroadcastState(after.byValue).put('w', 'C');
  expected.list.push('B');
  expected.byKey.set('B', 2);
  expected.byValue.set('w', 'C');

  const cp2 = await checkpointOperator(fx, [r1]);
  const r2 = await fx.operator({ restoreState: cp2.handles.flat(), stateHandleReader: cp2.reader, serializerRegistry: ENUM_SERIALIZER_REGISTRY });
  assertContents(r2, after, expected, 'restored from the snapshot taken after the restore');
}

async function stoppedWhileWriting(fx: Fixture, how: 'cancel' | 'dispose'): Promise<void> {
  const ob = await fx.operator();
  const list = new ListStateDescriptor<string>('list', Serializers.string);
  const rules = new MapStateDescriptor<string, number>('rules', Serializers.string, Serializers.int32);
  ob.getListState(list).addAll(['a', 'b', 'c']);
  ob.getBroadcastState(rules).put('r', 1);
  const fs = new MemoryFileSystem();
  const storage = new FsCheckpointStorage(fs);
  const checkpointId = fx.nextCheckpointId();
  const location = await storage.initializeLocationForCheckpoint(checkpointId);
  const gate = new GatedStreamFactory(location.streamFactory);
  const future = ob.snapshot(checkpointId, Date.now(), gate, CHECKPOINT);
  const first = await Promise.race([gate.firstUse.then(() => 'writing' as const), future.result.then(() => 'resolved' as const, () => 'rejected' as const)]);
  assert.equal(first, 'writing', 'the operator snapshot writes after snapshot() returned');

  if (how === 'cancel') future.cancel();
  else ob.dispose();
  gate.release();
  const err = await expectRejects(`result of an operator snapshot ${how === 'cancel' ? 'cancelled' : 'whose backend was disposed'} while it wrote`, SnapshotCancelledError, future.result);
  assert.equal(err.checkpointId, checkpointId);
  await assertNothingLeft(fs, [], gate);
  await location.disposeOnFailure();
  if (how === 'dispose') return;

  ob.notifyCheckpointAborted(checkpointId);
  const cp = await checkpointOperator(fx, [ob]);
  const restored = await fx.operator({ restoreState: cp.handles.flat(), stateHandleReader: cp.reader });
  assert.deepStrictEqual([...restored.getListState(list).get()], ['a', 'b', 'c'], 'the checkpoint after the cancelled one restores');
  assert.deepStrictEqual([...restored.getBroadcastState(rules).immutableEntries()], [['r', 1]]);
}

const splitDesc = new ListStateDescriptor<string>('split-list', Serializers.string);
const unionDesc = new ListStateDescriptor<string>('union-list', Serializers.string);
const broadcastDesc = new MapStateDescriptor<string, number>('broadcast', Serializers.string, Serializers.int32);

/** Flink returns the old assignment when the parallelism is unchanged: list elements do not move. */
async function unchangedParallelism(fx: Fixture): Promise<void> {
  const lists = [['a0', 'a1', 'a2', 'a3', 'a4'], [], ['c0', 'c1']];
  const unions = [['u0'], ['u1', 'u1b'], ['u2']];
  const old: OperatorStateBackend[] = [];
  for (const [i, l] of lists.entries()) {
    const ob = await fx.operator();
    ob.getListState(splitDesc).addAll(l);
    ob.getUnionListState(unionDesc).addAll(unions[i]!);
    ob.getBroadcastState(broadcastDesc).put('rule', 7);
    old.push(ob);
  }
  const cp = await checkpointOperator(fx, old);
  const assigned = repartitionOperatorState(cp.handles, lists.length);
  for (const [s, l] of lists.entries()) {
    const ob = await fx.operator({ restoreState: assigned[s]!, stateHandleReader: cp.reader });
    assert.deepStrictEqual([...ob.getListState(splitDesc).get()], l, `subtask ${s} restores exactly its own list elements, in order`);
    assertSameMembers(ob.getUnionListState(unionDesc).get(), unions.flat(), `subtask ${s}: union state holds every old subtask's elements`);
    assert.deepStrictEqual([...ob.getBroadcastState(broadcastDesc).immutableEntries()], [['rule', 7]], `subtask ${s}: one broadcast copy`);
  }
}

async function fewerElementsThanSubtasks(fx: Fixture): Promise<void> {
  const old: OperatorStateBackend[] = [];
  for (const e of ['x', 'y']) {
    const ob = await fx.operator();
    ob.getListState(splitDesc).add(e);
    old.push(ob);
  }
  const cp = await checkpointOperator(fx, old);
  const seen: string[] = [];
  let without = 0;
  for (const handles of repartitionOperatorState(cp.handles, 3)) {
    const ob = await fx.operator({ restoreState: handles, stateHandleReader: cp.reader });
    const registered = ob.getRegisteredStateNames().includes('split-list');
    const elements = [...ob.getListState(splitDesc).get()];
    assert.equal(registered, elements.length > 0, `a subtask has 'split-list' restored exactly when it got elements of it (got ${JSON.stringify(elements)})`);
    if (elements.length === 0) without++;
    seen.push(...elements);
  }
  assert.deepStrictEqual(seen.sort(), ['x', 'y'], 'both elements restored once');
  assert.equal(without, 1, 'one of three subtasks gets no element');
}
