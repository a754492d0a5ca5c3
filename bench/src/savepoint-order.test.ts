/** The savepoint suite's read order (savepoint.ts): every reader takes every place of a round equally often. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readRounds, rotated } from './savepoint.js';

test('read rounds: at least 2 × samples, in whole turns of the readers', () => {
  assert.equal(readRounds(3, 5), 10);
  assert.equal(readRounds(1, 5), 5);
  assert.equal(readRounds(5, 5), 10);
  assert.equal(readRounds(3, 2), 6);
});

test('rotated: over the rounds every reader runs in every place equally often', () => {
  const readers = ['ours', 'views', 'minimal', 'minimal views', 'flink'];
  const rounds = readRounds(3, readers.length);
  const places = new Map(readers.map((r) => [r, new Array<number>(readers.length).fill(0)]));
  for (let i = 0; i < rounds; i++) {
    const order = rotated(readers, i);
    assert.deepEqual([...order].sort(), [...readers].sort(), `round ${i} runs every reader once`);
    order.forEach((r, place) => places.get(r)![place]!++);
  }
  for (const [r, counts] of places) assert.deepEqual(counts, new Array<number>(readers.length).fill(rounds / readers.length), r);
  assert.deepEqual(rotated(readers, 0), readers, 'the first round keeps the given order');
});
