/** The minimal heap backend's map iterators keep MapState's semantics: remove() of the entry handed out last, once per next(). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MinimalHeapBackend, MinimalMapState, type MinimalIterator } from './minimal-heap.js';

function stateWith(keys: readonly number[]): MinimalMapState {
  const be = new MinimalHeapBackend();
  be.setCurrentKey(42);
  const ms = new MinimalMapState(be, 'm');
  for (const k of keys) ms.put(k, k + 0.5);
  return ms;
}

const iterators: Array<[string, (ms: MinimalMapState) => MinimalIterator<unknown>, (x: unknown) => number]> = [
  ['keys', (ms) => ms.keys(), (x) => x as number],
  ['values', (ms) => ms.values(), (x) => (x as number) - 0.5],
  ['entries', (ms) => ms.entries(), (x) => (x as [number, number])[0]],
];

for (const [name, open, keyOf] of iterators) {
  test(`minimal map state: ${name}() removes the entry it handed out last`, () => {
    const ms = stateWith([1, 2, 3, 4, 5, 6]);
    const it = open(ms);
    assert.throws(() => it.remove(), /without a preceding next/);
    for (let r = it.next(); r.done !== true; r = it.next()) {
      if (keyOf(r.value) % 2 === 0) {
        it.remove();
        assert.throws(() => it.remove(), /called twice/);
      }
    }
    // The last next() handed out nothing: nothing to remove.
    assert.throws(() => it.remove(), /without a preceding next/);
    assert.deepEqual([...ms.keys()], [1, 3, 5]);
    assert.equal(ms.get(3), 3.5);
  });
}

test('minimal map state: removing every entry through an iterator empties the state', () => {
  const ms = stateWith([7, 8]);
  const it = ms.values();
  for (let r = it.next(); r.done !== true; r = it.next()) it.remove();
  assert.equal(ms.isEmpty(), true);
  assert.deepEqual([...ms.entries()], []);
});

test("minimal map state: an iterator's remove() acts on the map it was created on, after the current key changed (as the heap backend's, session 36)", () => {
  const be = new MinimalHeapBackend();
  const ms = new MinimalMapState(be, 'm');
  for (const key of [1, 2]) {
    be.setCurrentKey(key);
    ms.put(10, 1);
    ms.put(20, 2);
  }
  be.setCurrentKey(1);
  const it = ms.keys();
  it.next();
  be.setCurrentKey(2);
  it.remove();
  it.next();
  it.remove();
  assert.deepEqual([...ms.keys()].sort(), [10, 20], "key 2's map untouched");
  be.setCurrentKey(1);
  assert.equal(ms.isEmpty(), true, "key 1's map emptied, and its entry removed");
});
