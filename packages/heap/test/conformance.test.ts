import { runConformance } from '@flowstate/conformance';
import { JobManagerCheckpointStorage } from '@flowstate/core';
import { FsStateBackend, MemoryStateBackend } from '@flowstate/heap';

// MemoryStateBackend serializes in the synchronous part, but its upload is still asynchronous and
// honours cancel(), so it declares nothing not applicable: every case applies to both backends.
runConformance({
  name: 'MemoryStateBackend',
  createBackend: () => new MemoryStateBackend(),
});

runConformance({
  name: 'FsStateBackend',
  createBackend: () => new FsStateBackend(),
});

// Flink's usual pairing for small state: handles carry their bytes inline, so this also checks that
// inline handles survive the _metadata round trip the suite restores through.
runConformance({
  name: 'MemoryStateBackend with JobManagerCheckpointStorage',
  createBackend: () => new MemoryStateBackend(),
  createStorage: async () => new JobManagerCheckpointStorage(),
});
