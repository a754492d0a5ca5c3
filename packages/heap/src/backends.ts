import { AbstractStateBackend } from '@flowstate/core';
import type { KeyedStateBackend, KeyedStateBackendParameters } from '@flowstate/core';
import { HeapKeyedStateBackend } from './heap-keyed-state-backend.js';

/** Keyed state on the JS heap; the two heap backends differ only in when snapshots do their work. */
abstract class HeapStateBackend extends AbstractStateBackend {
  async createKeyedStateBackend<K>(parameters: KeyedStateBackendParameters<K>): Promise<KeyedStateBackend<K>> {
    const b = new HeapKeyedStateBackend(parameters, { asynchronousSnapshots: this.supportsAsynchronousSnapshots });
    await b.restore(parameters);
    return b;
  }
}

/**
 * Heap working state, snapshots taken entirely in the synchronous part (Flink's MemoryStateBackend).
 * Pair it with JobManagerCheckpointStorage for tests and small state.
 */
export class MemoryStateBackend extends HeapStateBackend {
  readonly name = 'memory';
  readonly supportsAsynchronousSnapshots = false;
}

/**
 * Heap working state with asynchronous, copy-on-write snapshots (Flink's FsStateBackend, today's
 * HashMapStateBackend). The synchronous part only freezes a version; serialization and upload run
 * in slices while processing continues.
 */
export class FsStateBackend extends HeapStateBackend {
  readonly name = 'fs';
  readonly supportsAsynchronousSnapshots = true;
}
