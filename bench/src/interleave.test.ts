/** Interleaved rounds (interleave.ts) on a simulated clock: which rounds count; no real timings involved. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { roundRatios, runInterleaved } from './interleave.js';

test('a round in which a side\'s net time is <= 0 is skipped and counted, not recorded as a huge rate', () => {
  let now = 0;
  let calls = 0;
  const res = runInterleaved(
    [
      { run: () => (now += 5) },
      // Every third batch of the baseline takes no time: after subtracting the collections' fixed
      // cost its net time is 0, so that round has no ratio.
      { run: () => (now += calls++ % 3 === 0 ? 0 : 4) },
    ],
    // Each collection costs 1 ms, so the two collections on an empty young generation cost 2 ms (emptyMs).
    { clock: () => now, opsPerBatch: 100, roundMs: 5, timeMs: 40, minRounds: 12, warmupMs: 0, warmupBatches: 2, collect: () => (now += 1) },
  );
  assert.ok(res.skippedRounds > 0, 'some rounds skipped');
  assert.equal(res.opsPerSec[0]!.length, res.rounds - res.skippedRounds);
  assert.equal(res.opsPerSec[1]!.length, res.rounds - res.skippedRounds, 'the sides keep the same rounds');
  assert.deepEqual(new Set(res.opsPerSec[1]), new Set([(100 * 1000) / 4]), 'only real 4 ms batches');
  assert.equal(roundRatios(res, 0, 1).median, 4 / 5);
});

test('with no round skipped every round counts', () => {
  let now = 0;
  const res = runInterleaved([{ run: () => (now += 5) }, { run: () => (now += 4) }], { clock: () => now, opsPerBatch: 100, roundMs: 5, timeMs: 40, minRounds: 12, warmupMs: 0, warmupBatches: 2, collect: () => (now += 1) });
  assert.equal(res.skippedRounds, 0);
  assert.equal(res.opsPerSec[0]!.length, res.rounds);
});
