import { DefaultOperatorStateBackend } from '@flowstate/core';
import type { KeyedStateBackend, KeyedStateBackendParameters, OperatorStateBackend, OperatorStateBackendParameters, StateBackend } from '@flowstate/core';
import { HeapKeyedStateBackend } from './heap-keyed-state-backend.js';

/**
 * Heap working state, snapshots taken entirely in the synchronous part (Flink's MemoryStateBackend).
 * Pair it with JobManagerCheckpointStorage for tests and small state.
 */
export class MemoryStateBackend implements StateBackend {
  readonly name = 'memory';
  readonly supportsAsynchronousSnapshots = false;

  async createKeyedStateBackend<K>(parameters: KeyedStateBackendParameters<K>): Promise<KeyedStateBackend<K>> {
    const b = new HeapKeyedStateBackend(parameters, { asynchronousSnapshots: false });
    await b.restore(parameters);
    return b;
  }

  createOperatorStateBackend(parameters: OperatorStateBackendParameters): Promise<OperatorStateBackend> {
    return DefaultOperatorStateBackend.create(parameters);
  }
}

/**
 * Heap working state with asynchronous, copy-on-write snapshots (Flink's FsStateBackend, today's
 * HashMapStateBackend). The synchronous part only freezes a version; serialization and upload run
 * in slices while processing continues.
 */
export class FsStateBackend implements StateBackend {
  readonly name = 'fs';
  readonly supportsAsynchronousSnapshots = true;

  async createKeyedStateBackend<K>(parameters: KeyedStateBackendParameters<K>): Promise<KeyedStateBackend<K>> {
    const b = new HeapKeyedStateBackend(parameters, { asynchronousSnapshots: true });
    await b.restore(parameters);
    return b;
  }

  createOperatorStateBackend(parameters: OperatorStateBackendParameters): Promise<OperatorStateBackend> {
    return DefaultOperatorStateBackend.create(parameters);
  }
}
