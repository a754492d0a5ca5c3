import { AbstractStateBackend } from '../backend/abstract-state-backend.js';
import type { KeyedStateBackend, KeyedStateBackendParameters } from '../backend/spi.js';
import { KvKeyedStateBackend } from './kv-keyed-state-backend.js';
import { MinimalKvStore } from './minimal-kv-store.js';

/**
 * Keyed state in a MinimalKvStore through core's generic KV backend: the reference for KvStore
 * implementations, run against the whole conformance suite. Snapshots and restores are canonical.
 */
export class MinimalKvStateBackend extends AbstractStateBackend {
  readonly name = 'minimal-kv';
  /** The view is taken synchronously; the stream is written in the asynchronous part. */
  readonly supportsAsynchronousSnapshots = true;

  createKeyedStateBackend<K>(parameters: KeyedStateBackendParameters<K>): Promise<KeyedStateBackend<K>> {
    return KvKeyedStateBackend.open(parameters, new MinimalKvStore());
  }
}
