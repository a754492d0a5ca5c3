import { MemoryFileSystem } from '@flowstate/core';
import { runStorageConformance } from '../src/storage/index.js';

// The reference implementation: if this fails, the suite (or the SPI contract) is wrong.
runStorageConformance({
  name: 'MemoryFileSystem',
  createFileSystem: async () => new MemoryFileSystem(),
});
