/**
 * The heap's access fast paths (issue 16) against the general paths they bypass: each must give
 * what the general one gives.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { IllegalStateUsageError, KeyGroupRange, MapStateDescriptor, MsgpackSerializer, Serializers, VoidNamespace } from '@flowstate/core';
import { MemoryStateBackend } from '@flowstate/heap';
import { RunningViews, SnapshotView, StateTable, type StateMeta } from '../src/state-table.js';

const RANGE = new KeyGroupRange(0, 127);

describe('heap access fast paths', () => {
  it('reads copy on write after the state serializer becomes a mutable one (mutableValues follows setStateSerializer)', () => {
    const meta: StateMeta = { name: 's', kind: 'VALUE', namespaceSerializer: Serializers.voidNamespace as never, stateSerializer: Serializers.int32 as never };
    const views = new RunningViews();
    const table = new StateTable(meta, RANGE, views, (v) => ({ ...(v as object) }), { keyOfId: undefined, namespaceOfId: undefined });
    const stored = { n: 1 };
    table.put(3, 'k', 'k', 0, VoidNamespace, stored);
    views.add(new SnapshotView(RANGE));
    assert.equal(table.mutableValues, false);
    // Immutable values: a read hands out the stored value itself, the snapshot records nothing.
    assert.equal(table.getForRead(3, 'k', 0)!.value, stored);
    table.setStateSerializer(MsgpackSerializer.INSTANCE as never);
    assert.equal(table.mutableValues, true);
    // Mutable now: the snapshot keeps the stored object, the reader gets a copy.
    const read = table.getForRead(3, 'k', 0)!.value;
    assert.notEqual(read, stored);
    assert.deepEqual(read, stored);
    assert.equal([...views][0]!.preimageCount, 1);
  });

  it('values() remove() removes the key of the value just handed out, also while the map grows and shrinks during the iteration', async () => {
    // values() walks the Map's values with its keys iterator in step (no lookup per value): pinned
    // against a JS Map doing the same removals and insertions while iterating its entries.
    const kb = await new MemoryStateBackend().createKeyedStateBackend({ operatorIdentifier: 'fast', keySerializer: Serializers.int32, maxParallelism: 128, keyGroupRange: RANGE });
    const st = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new MapStateDescriptor<number, number>('m', Serializers.int32, Serializers.float64));
    kb.setCurrentKey(7);
    const model = new Map<number, number>();
    for (let k = 0; k < 20; k++) {
      st.put(k, k + 0.5);
      model.set(k, k + 0.5);
    }
    const seen: number[] = [];
    const it = st.values();
    let i = 0;
    for (let r = it.next(); !r.done; r = it.next(), i++) {
      seen.push(r.value!);
      if (i % 3 === 0) it.remove();
      // Enough new keys to make the Map rehash while the iteration runs.
      if (i < 30) st.put(100 + i, i + 0.25);
      if (i % 7 === 1) st.remove(19 - i);
    }
    const expected: number[] = [];
    i = 0;
    for (const [k, v] of model) {
      expected.push(v);
      if (i % 3 === 0) model.delete(k);
      if (i < 30) model.set(100 + i, i + 0.25);
      if (i % 7 === 1) model.delete(19 - i);
      i++;
    }
    assert.deepEqual(seen, expected);
    assert.deepEqual([...st.entries()], [...model.entries()]);
    kb.dispose();
  });

  it('values() remove() after entries already handed out were removed through the state, and with two values() iterators over one map', async () => {
    // Guards any values() that finds the key of its last value by counting steps (a keys iterator
    // made only when remove() needs it): a deletion behind the iterator's position shifts the count.
    const kb = await new MemoryStateBackend().createKeyedStateBackend({ operatorIdentifier: 'fast', keySerializer: Serializers.int32, maxParallelism: 128, keyGroupRange: RANGE });
    const st = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new MapStateDescriptor<number, number>('m', Serializers.int32, Serializers.float64));
    kb.setCurrentKey(3);
    for (let k = 0; k < 6; k++) st.put(k, k + 0.5);
    const it = st.values();
    assert.deepEqual([it.next().value, it.next().value, it.next().value], [0.5, 1.5, 2.5]);
    st.remove(0);
    it.remove();
    assert.deepEqual([...st.keys()], [1, 3, 4, 5], 'the key of the value handed out last (2), not the next one');
    // A second iterator removes an entry the first has passed; the first then removes its own.
    const a = st.values();
    assert.equal(a.next().value, 1.5);
    assert.equal(a.next().value, 3.5);
    const b = st.values();
    assert.equal(b.next().value, 1.5);
    b.remove();
    a.remove();
    assert.deepEqual([...st.keys()], [4, 5]);
    assert.deepEqual([a.next().value, b.next().value], [4.5, 4.5]);
    kb.dispose();
  });

  it('putAll looks the map up once and refuses a null key before putting any entry', async () => {
    const kb = await new MemoryStateBackend().createKeyedStateBackend({ operatorIdentifier: 'fast', keySerializer: Serializers.int32, maxParallelism: 128, keyGroupRange: RANGE });
    const st = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new MapStateDescriptor<number, number>('m', Serializers.int32, Serializers.float64));
    kb.setCurrentKey(1);
    st.putAll([[1, 1.5], [2, undefined as unknown as number]]);
    assert.deepEqual([...st.entries()], [[1, 1.5], [2, null]], 'undefined values are stored as null, as by put');
    assert.throws(() => st.putAll([[3, 3.5], [null as unknown as number, 1]]), IllegalStateUsageError);
    assert.equal(st.contains(3), false, 'nothing of a refused batch is put');
    st.putAll(new Map([[4, 4.5]]));
    assert.equal(st.get(4), 4.5, 'any iterable of entries');
    kb.setCurrentKey(2);
    st.putAll([]);
    assert.equal(st.isEmpty(), true, 'an empty batch creates no map');
    kb.dispose();
  });

  it("a table's copyOnWrite flag is the general test (any running view) whenever views come and go, for tables attached before and during a snapshot", () => {
    // Writes test the table's own flag instead of the size of the views: pinned to `views.size > 0`.
    const meta = (name: string): StateMeta => ({ name, kind: 'VALUE', namespaceSerializer: Serializers.voidNamespace as never, stateSerializer: Serializers.int32 as never });
    const views = new RunningViews();
    const layout = { keyOfId: undefined, namespaceOfId: undefined };
    const before = new StateTable(meta('before'), RANGE, views, (v) => v, layout);
    const check = (tables: StateTable[]) => {
      for (const t of tables) assert.equal(t.copyOnWrite, views.size > 0, `${t.meta.name} with ${views.size} views`);
    };
    check([before]);
    const a = new SnapshotView(RANGE);
    views.add(a);
    const during = new StateTable(meta('during'), RANGE, views, (v) => v, layout);
    check([before, during]);
    // A write to a table created while the snapshot runs keeps its preimage (here: absent) too.
    during.put(5, 'k', 'k', 0, VoidNamespace, 1);
    assert.equal(a.preimageCount, 1);
    const b = new SnapshotView(RANGE);
    views.add(b);
    views.delete(a);
    check([before, during]);
    views.delete(b);
    check([before, during]);
    views.add(a);
    views.clear();
    check([before, during]);
  });
});
