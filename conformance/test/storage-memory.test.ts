import { MemoryFileSystem } from '@flowstate/core';
import { runStorageConformance } from '../src/storage/index.js';

// The reference implementation: if this fails, the suite (or the SPI contract) is wrong.
runStorageConformance({
  name: 'MemoryFileSystem',
  createFileSystem: async () => new MemoryFileSystem(),
  notApplicable: {
    listIncomplete: 'a MemoryFileSystem writer keeps its bytes in the writer until commit; a crash loses them with the process',
    deleteEmptyDirectory: 'a MemoryFileSystem has no directories: a path prefix exists only while files carry it',
  },
});
