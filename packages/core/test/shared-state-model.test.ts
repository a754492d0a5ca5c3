import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { runInterleaving, type ModelConfig } from './shared-state-model.js';

/**
 * Model-based test of shared files under concurrent checkpoints (issue 10, section 1). Each seed
 * is one random interleaving of trigger / snapshot / register / complete / abort / subsume and
 * late, reordered or lost notifications, with 1-4 concurrent checkpoints; storage is checked
 * against the model after every step. FLOWSTATE_SHARED_STATE_INTERLEAVINGS and
 * FLOWSTATE_SHARED_STATE_SEED make longer or different local runs.
 */
const INTERLEAVINGS = Number(process.env['FLOWSTATE_SHARED_STATE_INTERLEAVINGS'] ?? 10_000);
const FIRST_SEED = Number(process.env['FLOWSTATE_SHARED_STATE_SEED'] ?? 0x5eed0000);

async function campaign(config: ModelConfig, count: number): Promise<{ failedRuns: number; violations: string[]; declined: number; completed: number }> {
  let failedRuns = 0;
  let declined = 0;
  let completed = 0;
  const violations: string[] = [];
  for (let i = 0; i < count; i++) {
    const r = await runInterleaving(FIRST_SEED + i, config);
    if (r.violations.length > 0) failedRuns++;
    violations.push(...r.violations.slice(0, 3));
    declined += r.declined;
    completed += r.completed;
  }
  return { failedRuns, violations, declined, completed };
}

describe('shared files under concurrent checkpoints (model-based)', () => {
  it(`${INTERLEAVINGS} interleavings: no completed, retained or pending checkpoint ever references a deleted file, nothing leaks, nothing is declined`, async () => {
    const r = await campaign({ policy: 'tracker', protocol: 'coordinator' }, INTERLEAVINGS);
    console.log(`# shared-state model: ${INTERLEAVINGS} interleavings from seed ${FIRST_SEED}, ${r.completed} checkpoints completed, ${r.declined} declined, ${r.failedRuns} with violations`);
    assert.deepEqual(r.violations.slice(0, 10), []);
    assert.equal(r.failedRuns, 0);
    assert.equal(r.declined, 0, 'the backend reuses only files that outlive the checkpoint, so the registry never has to refuse one');
    assert.ok(r.completed > INTERLEAVINGS, 'the interleavings complete checkpoints');
  });

  it('the backend rule alone (a coordinator that reports only completions) never loses a file', async () => {
    const r = await campaign({ policy: 'tracker', protocol: 'store-only' }, Math.ceil(INTERLEAVINGS / 10));
    assert.deepEqual(r.violations.slice(0, 10), []);
  });

  it('the registry alone (a backend that reuses the last notified checkpoint) never loses a file: it declines instead (FLINK-29913)', async () => {
    const r = await campaign({ policy: 'last-notified', protocol: 'coordinator' }, Math.ceil(INTERLEAVINGS / 10));
    assert.deepEqual(r.violations.slice(0, 10), []);
    assert.ok(r.declined > 0, 'stale notifications make such a backend reuse discarded files, which registration refuses');
  });

  it('the model finds the data loss of the rules before the fix', async () => {
    const count = Math.ceil(INTERLEAVINGS / 10);
    const r = await campaign({ policy: 'last-notified', protocol: 'store-only' }, count);
    console.log(`# shared-state model, rules before the fix: ${r.failedRuns} of ${count} interleavings lose a file`);
    assert.ok(r.failedRuns > 0, 'the old rules lose files in some interleavings');
  });
});
