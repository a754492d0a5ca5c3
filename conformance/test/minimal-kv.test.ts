import { MinimalKvStateBackend, MinimalKvStore } from '@flowstate/core';
import { runConformance, runKvStoreConformance } from '../src/index.js';

// The reference KvStore: its SPI contract, then the whole backend suite through core's generic KV
// backend, where every case applies.
runKvStoreConformance({
  name: 'MinimalKvStore',
  createStore: () => new MinimalKvStore(),
  notApplicable: {
    bulkLoad: 'the reference store restores through putAll',
    bulkLoadCopies: 'no bulk load (see bulkLoad)',
    bulkLoadReadBuffers: 'no bulk load (see bulkLoad)',
    forEachTransient: 'the reference store leaves it out: forEachTransientEntry then scans',
  },
});

runConformance({
  name: 'MinimalKvStateBackend',
  createBackend: () => new MinimalKvStateBackend(),
});
