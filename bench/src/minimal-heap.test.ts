import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MinimalHeapBackend, MinimalValueState } from './minimal-heap.js';

test("the minimal baseline's entries are made with a constructor, as the heap backend's are: neither side has an allocation site V8 could pretenure", () => {
  const be = new MinimalHeapBackend();
  const st = new MinimalValueState(be, 'value');
  be.setCurrentKey(42);
  st.update(1.5);
  assert.equal(st.value(), 1.5);
  const entries = be.table('value').flatMap((g) => [...g.values()]);
  assert.equal(entries.length, 1);
  assert.notEqual(Object.getPrototypeOf(entries[0]), Object.prototype, 'an entry made by an object literal');
  st.clear();
  assert.equal(st.value(), null);
});
