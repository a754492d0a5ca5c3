import { describe as nodeDescribe, it as nodeIt } from 'node:test';
import type { KvStore } from '@flowstate/core';
import { skipReason, validateNotApplicable } from '../not-applicable.js';
import type { ConformanceTestApi, ConformanceTestOptions } from '../run-conformance.js';
import { KV_STORE_CAPABILITIES, KV_STORE_CASES, type KvStoreCapability } from './kv-store-cases.js';

export interface KvStoreConformanceOptions {
  /** Names the describe block, e.g. 'MinimalKvStore'. */
  readonly name: string;
  /** Called once per case: a fresh, empty store. It is closed after the case. */
  readonly createStore: () => KvStore | Promise<KvStore>;
  /** Optional SPI part -> why the store lacks it. Those cases are registered as skipped with the reason. */
  readonly notApplicable?: Partial<Record<KvStoreCapability, string>>;
  /** Defaults to node:test's describe and it. */
  readonly test?: ConformanceTestApi;
}

/**
 * Registers the KvStore SPI contract cases for one store implementation: what core's generic KV
 * states and backend rely on (ordering, scan bounds and resumption, deleteRange, putAll, append,
 * key space independence, view consistency). A store that passes them runs the backend
 * conformance suite through KvKeyedStateBackend; run both.
 */
export function runKvStoreConformance(options: KvStoreConformanceOptions): void {
  const api = options.test ?? { describe: nodeDescribe, it: nodeIt };
  const notApplicable = validateNotApplicable(options.notApplicable ?? {}, KV_STORE_CAPABILITIES, 'runKvStoreConformance');
  api.describe(`KvStore contract: ${options.name}`, () => {
    for (const c of KV_STORE_CASES) {
      const skip = skipReason(c.requires, notApplicable);
      const testOptions: ConformanceTestOptions = skip === undefined ? {} : { skip };
      api.it(c.name, testOptions, async () => {
        const store = await options.createStore();
        try {
          await c.run(store);
        } finally {
          store.close();
        }
      });
    }
  });
}
