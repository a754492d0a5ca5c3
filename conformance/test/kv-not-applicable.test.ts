import { strict as assert } from 'node:assert';
import { it } from 'node:test';
import { MinimalKvStore, type KvStore } from '@flowstate/core';
import { runKvStoreConformance, type KvStoreConformanceOptions } from '../src/index.js';
import { recordedCase, recordingApi, type RecordedCase } from './recording-api.js';

/** Registers the KvStore contract with a recording test API; returns the bulkLoad case. */
function bulkLoadCase(options: Omit<KvStoreConformanceOptions, 'name' | 'test'>): RecordedCase {
  const { api, cases } = recordingApi();
  runKvStoreConformance({ ...options, name: 'recorded', test: api });
  return recordedCase(cases, 'bulkLoad');
}

it('a store without bulkLoad that declares it not applicable has the case skipped with its reason', () => {
  const c = bulkLoadCase({ createStore: () => new MinimalKvStore(), notApplicable: { bulkLoad: 'restores use putAll' } });
  assert.equal(c.skip, 'bulkLoad not applicable: restores use putAll');
});

it('a store without bulkLoad that does not declare it fails the case instead of passing silently', async () => {
  const store: KvStore = new MinimalKvStore();
  assert.equal(store.bulkLoad, undefined, 'the reference store has no bulkLoad');
  const c = bulkLoadCase({ createStore: () => store });
  assert.equal(c.skip, undefined);
  await assert.rejects(c.run(), /declare it not applicable/);
});

it('an unknown KvStore capability is refused', () => {
  assert.throws(() => bulkLoadCase({ createStore: () => new MinimalKvStore(), notApplicable: { bulkLoads: 'typo' } as never }), /unknown capability 'bulkLoads'/);
});
