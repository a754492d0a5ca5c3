import { describe as nodeDescribe, it as nodeIt } from 'node:test';
import type { KvStore } from '@flowstate/core';
import type { ConformanceTestApi } from '../run-conformance.js';
import { KV_STORE_CASES } from './kv-store-cases.js';

export interface KvStoreConformanceOptions {
  /** Names the describe block, e.g. 'MinimalKvStore'. */
  readonly name: string;
  /** Called once per case: a fresh, empty store. It is closed after the case. */
  readonly createStore: () => KvStore | Promise<KvStore>;
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
  api.describe(`KvStore contract: ${options.name}`, () => {
    for (const c of KV_STORE_CASES) {
      api.it(c.name, {}, async () => {
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
