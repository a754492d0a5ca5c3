import assert from 'node:assert/strict';
import { test } from 'node:test';
import { childFlags } from './harness.js';

test('heap access jobs (the ones with a build order) run without allocation-site pretenuring; every other job keeps V8 defaults', () => {
  const heap = childFlags({ type: 'access', preset: 'quick', backend: 'memory', kind: 'value', buildOrder: 'subject-first', out: 'x' }, 4096);
  assert.deepEqual(heap, ['--expose-gc', '--max-old-space-size=4096', '--no-allocation-site-pretenuring']);
  for (const job of [
    { type: 'access', preset: 'quick', backend: 'rocksdb', kind: 'value', out: 'x' },
    { type: 'memory', preset: 'quick', backend: 'memory', out: 'x' },
    { type: 'snapshot', preset: 'quick', backend: 'fs', stateBytes: 1, out: 'x' },
  ] as const) {
    assert.deepEqual(childFlags(job, 512), ['--expose-gc', '--max-old-space-size=512'], job.type);
  }
});
