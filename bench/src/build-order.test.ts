import assert from 'node:assert/strict';
import { test } from 'node:test';
import { combineHalves, inBuildOrder } from './build-order.js';

test('a heap row combines both build orders: ratio = median of the union of per-round ratios, each order keeps its own median', () => {
  // Per-round ratios: subject-first 0.8, 0.8, 0.8; baseline-first 1.0, 1.2, 1.1, 1.3.
  const c = combineHalves({
    'subject-first': { backend: [80, 160, 40], baseline: [100, 200, 50], info: [160, 320, 80], skippedRounds: 1 },
    'baseline-first': { backend: [100, 120, 110, 130], baseline: [100, 100, 100, 100], info: [200, 200, 200, 200], skippedRounds: 2 },
  });
  assert.equal(c.byBuildOrder['subject-first'], 0.8);
  assert.ok(Math.abs(c.byBuildOrder['baseline-first'] - 1.15) < 1e-12);
  // Union of 7 ratios: 0.8 ×3, 1.0, 1.1, 1.2, 1.3 -> median 1.0 (neither order's median, nor their mean 0.975).
  assert.equal(c.ratioRounds.median, 1.0);
  assert.equal(c.ratioRounds.samples, 7);
  assert.equal(c.backendOps.samples, 7);
  assert.equal(c.baselineOps.median, 100);
  assert.equal(c.infoRatio, 0.5);
  assert.equal(c.infoOps?.samples, 7);
  assert.equal(c.skippedRounds, 3);
});

test('without an information-only side in both halves, no info is combined', () => {
  const c = combineHalves({
    'subject-first': { backend: [1], baseline: [1], skippedRounds: 0 },
    'baseline-first': { backend: [2], baseline: [1], info: [1], skippedRounds: 0 },
  });
  assert.equal(c.infoRatio, undefined);
  assert.equal(c.ratioRounds.median, 1.5);
});

test('build steps run subject, info, baseline subject-first and the reverse baseline-first', () => {
  const seen: string[] = [];
  const step = (s: string) => () => void seen.push(s);
  inBuildOrder('subject-first', step('subject'), step('info'), step('baseline'));
  inBuildOrder('baseline-first', step('subject'), step('info'), step('baseline'));
  inBuildOrder('baseline-first', step('subject'), step('info'), undefined);
  assert.deepEqual(seen, ['subject', 'info', 'baseline', 'baseline', 'info', 'subject', 'info', 'subject']);
});
