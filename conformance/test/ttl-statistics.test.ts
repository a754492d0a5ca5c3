import { strict as assert } from 'node:assert';
import { it } from 'node:test';
import { MinimalKvStateBackend, type KeyedStateBackend, type KeyedStateBackendParameters } from '@flowstate/core';
import { runConformance } from '../src/index.js';
import { recordedCase, recordingApi } from './recording-api.js';

/** The reference backend, but its keyed backends do not report TTL cleanup statistics. */
class WithoutStatistics extends MinimalKvStateBackend {
  override async createKeyedStateBackend<K>(parameters: KeyedStateBackendParameters<K>): Promise<KeyedStateBackend<K>> {
    const kb = await super.createKeyedStateBackend(parameters);
    Object.defineProperty(kb, 'ttlCleanupStatistics', { value: undefined });
    return kb;
  }
}

it('the incremental TTL cleanup bound fails, not passes, for a backend that reports no statistics', async () => {
  const { api, cases } = recordingApi();
  runConformance({ name: 'recorded', createBackend: () => new WithoutStatistics(), test: api });
  const c = recordedCase(cases, 'incremental cleanup examines at most cleanupSize');
  assert.equal(c.skip, undefined);
  await assert.rejects(c.run(), /reports ttlCleanupStatistics/);
});
