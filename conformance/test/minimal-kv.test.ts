import { MinimalKvStateBackend } from '@flowstate/core';
import { runConformance } from '../src/index.js';

// The reference KvStore through core's generic KV backend: every case applies.
runConformance({
  name: 'MinimalKvStateBackend',
  createBackend: () => new MinimalKvStateBackend(),
});
