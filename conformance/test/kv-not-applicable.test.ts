import { strict as assert } from 'node:assert';
import { it } from 'node:test';
import { MinimalKvStore, type KvBulkLoad, type KvKeySpace, type KvStore } from '@flowstate/core';
import { runKvStoreConformance, type KvStoreConformanceOptions } from '../src/index.js';
import { recordedCase, recordingApi, type RecordedCase } from './recording-api.js';

/** Registers the KvStore contract with a recording test API; returns the case whose name starts with `prefix`. */
function bulkLoadCase(options: Omit<KvStoreConformanceOptions, 'name' | 'test'>, prefix = 'bulkLoad:'): RecordedCase {
  const { api, cases } = recordingApi();
  runKvStoreConformance({ ...options, name: 'recorded', test: api });
  return recordedCase(cases, prefix);
}

/** The reference store with a bulk load that keeps the arrays add() is given until finish() (no copiesOnAdd). */
function storeWithKeepingBulkLoad(): KvStore {
  const store = new MinimalKvStore();
  const bulkLoad = (): KvBulkLoad => {
    const rows: Array<[KvKeySpace, Uint8Array, Uint8Array]> = [];
    return {
      add: (space, key, value) => void rows.push([space, key, value]),
      finish: async () => {
        for (const [space, key, value] of rows) space.put(key, value);
      },
      abort: () => void (rows.length = 0),
    };
  };
  return Object.assign(store, { bulkLoad });
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

it('a bulk load that keeps what add() is given, without bulkLoadCopies declared not applicable, fails the copies case', async () => {
  const c = bulkLoadCase({ createStore: storeWithKeepingBulkLoad }, 'bulkLoad with copiesOnAdd');
  assert.equal(c.skip, undefined);
  await assert.rejects(c.run(), /declare bulkLoadCopies not applicable/);
  const declared = bulkLoadCase({ createStore: storeWithKeepingBulkLoad, notApplicable: { bulkLoadCopies: 'keeps the rows' } }, 'bulkLoad with copiesOnAdd');
  assert.equal(declared.skip, 'bulkLoadCopies not applicable: keeps the rows');
});

it('a bulk load that lends no read buffers, without bulkLoadReadBuffers declared not applicable, fails the read-buffers case', async () => {
  const c = bulkLoadCase({ createStore: storeWithKeepingBulkLoad }, 'bulkLoad readBuffers');
  assert.equal(c.skip, undefined);
  await assert.rejects(c.run(), /declare bulkLoadReadBuffers not applicable/);
  const declared = bulkLoadCase({ createStore: storeWithKeepingBulkLoad, notApplicable: { bulkLoadReadBuffers: 'copies every row' } }, 'bulkLoad readBuffers');
  assert.equal(declared.skip, 'bulkLoadReadBuffers not applicable: copies every row');
});

it('an unknown KvStore capability is refused', () => {
  assert.throws(() => bulkLoadCase({ createStore: () => new MinimalKvStore(), notApplicable: { bulkLoads: 'typo' } as never }), /unknown capability 'bulkLoads'/);
});
