import assert from 'node:assert/strict';
import { MsgpackSerializer, Serializers, ValueStateDescriptor } from '@flowstate/core';
import { checkpointKeyed, discardAndVerify } from '../harness/checkpoint.js';
import type { Fixture } from '../harness/fixture.js';
import { caseSeed, formatSeed, Prng } from '../harness/prng.js';
import { restoreKeyed, snapshotAndRestoreOne } from '../harness/restore.js';
import { assertValueState, VOID_NS, VOID_NS_SERIALIZER } from '../harness/state-checks.js';
import { conformanceGroup } from '../registry.js';

const RESTORE_SEED = caseSeed(0x5eed0101);

export const valueStateGroup = conformanceGroup('value state', [
  { name: `snapshot, restore and discard two checkpoints (${formatSeed(RESTORE_SEED)})`, run: snapshotRestoreAndDiscard },
  { name: 'update(null) behaves like clear() and value() yields the default', run: updateNullClears },
  { name: 'the default value is copied per key (mutating one key\'s default affects no other key)', run: defaultIsCopiedPerKey },
]);

/**
 * Flink's testValueState: two checkpoints of different content each restore their own view, and
 * discarding the first leaves the second restorable (no hidden dependency on the older files).
 */
async function snapshotRestoreAndDiscard(fx: Fixture): Promise<void> {
  const prng = new Prng(RESTORE_SEED);
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  const desc = new ValueStateDescriptor<string>('value', Serializers.string);
  const state = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, desc);

  const keys = prng.uniqueStrings(200, 'key-');
  const first = new Map<string, string>();
  for (const key of keys) {
    kb.setCurrentKey(key);
    assert.equal(state.value(), null, `key '${key}' has no value before its first update`);
    if (prng.chance(0.8)) {
      const v = prng.string(prng.intBetween(0, 30));
      state.update(v);
      first.set(key, v);
    }
  }
  const cp1 = await checkpointKeyed(fx, [kb]);

  const second = new Map(first);
  for (const key of keys) {
    kb.setCurrentKey(key);
    const op = prng.int(3);
    if (op === 0) {
      state.clear();
      second.delete(key);
    } else if (op === 1) {
      const v = prng.string(12);
      state.update(v);
      second.set(key, v);
    }
  }
  const lateKeys = prng.uniqueStrings(30, 'late-');
  for (const key of lateKeys) {
    kb.setCurrentKey(key);
    state.update(`late value of ${key}`);
    second.set(key, `late value of ${key}`);
  }
  const cp2 = await checkpointKeyed(fx, [kb]);
  const allKeys = [...keys, ...lateKeys];
  assertValueState(kb, state, desc.name, second, allKeys, 'live backend after checkpoint 2');

  const r1 = await restoreKeyed(fx, cp1, { keySerializer: Serializers.string });
  assertValueState(r1, r1.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, desc), desc.name, first, allKeys, 'restored from checkpoint 1');
  const r2 = await restoreKeyed(fx, cp2, { keySerializer: Serializers.string });
  assertValueState(r2, r2.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, desc), desc.name, second, allKeys, 'restored from checkpoint 2');

  await discardAndVerify(cp1);
  const r2again = await restoreKeyed(fx, cp2, { keySerializer: Serializers.string });
  assertValueState(r2again, r2again.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, desc), desc.name, second, allKeys, 'checkpoint 2 restored after discarding checkpoint 1');
  await discardAndVerify(cp2);
}

async function updateNullClears(fx: Fixture): Promise<void> {
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  const desc = new ValueStateDescriptor<string>('with-default', Serializers.string, 'the default');
  const state = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, desc);

  kb.setCurrentKey('a');
  assert.equal(state.value(), 'the default', 'an absent value reads as the default');
  state.update('x');
  assert.equal(state.value(), 'x');
  assert.equal(kb.numKeyValueStateEntries(), 1, 'one entry after update');
  state.update(null);
  assert.equal(state.value(), 'the default', 'after update(null) the value reads as the default');
  assert.equal(kb.numKeyValueStateEntries(), 0, 'update(null) removes the entry, like clear()');
  assert.deepStrictEqual(kb.getKeys(desc.name, VOID_NS), [], 'update(null) removes the key from getKeys');

  kb.setCurrentKey('b');
  state.update('y');
  const restored = await snapshotAndRestoreOne(fx, kb);
  const rs = restored.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, desc);
  // Only 'b' goes through assertValueState: it reads absent keys as null, this state has a default.
  assertValueState(restored, rs, desc.name, new Map([['b', 'y']]), ['b'], 'restored after update(null)');
  restored.setCurrentKey('a');
  assert.equal(rs.value(), 'the default', 'restored: the cleared key reads as the default');
}

interface Counter {
  count: number;
  tags: string[];
}

/** Flink hands out a copy of the default: a shared object would leak one key's edits into all. */
async function defaultIsCopiedPerKey(fx: Fixture): Promise<void> {
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  const pristine = (): Counter => ({ count: 0, tags: [] });
  const desc = new ValueStateDescriptor<Counter>('counter', new MsgpackSerializer<Counter>(), pristine());
  const state = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, desc);

  kb.setCurrentKey('a');
  const a = state.value();
  assert.ok(a !== null, 'a descriptor default is returned for an absent value');
  assert.deepStrictEqual(a, pristine());
  a.count = 41;
  a.tags.push('mutated through key a');

  kb.setCurrentKey('b');
  const b = state.value();
  assert.deepStrictEqual(b, pristine(), "key b's default is not affected by mutating key a's");
  assert.notStrictEqual(b, a, 'each read of the default is a separate object');
  kb.setCurrentKey('a');
  assert.deepStrictEqual(state.value(), pristine(), 'key a was never updated, so it still reads the pristine default');
  assert.deepStrictEqual(desc.defaultValue, pristine(), "the descriptor's default object is never mutated");
  assert.equal(kb.numKeyValueStateEntries(), 0, 'reading a default creates no entry');

  // A stored value, read-modified-written, is independent of the default too.
  const v = state.value() ?? pristine();
  v.count = 1;
  v.tags.push('stored');
  state.update(v);
  kb.setCurrentKey('c');
  assert.deepStrictEqual(state.value(), pristine(), 'key c reads the pristine default after key a stored a value');
  kb.setCurrentKey('a');
  assert.equal(state.value()?.count, 1, 'key a reads what it stored');
}
