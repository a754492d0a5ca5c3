import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AbstractStateBackend, checkKeyGroupRange, createWorkingDirectory, KvKeyedStateBackend } from '@flowstate/core';
import type { KeyedStateBackend, KeyedStateBackendParameters } from '@flowstate/core';
import { checkMaxKeySpaces, checkMaxReaders, LmdbKvStore } from './lmdb-kv-store.js';

export interface LmdbStateBackendOptions {
  /** Where keyed backends keep their LMDB environments (default: `flowstate-lmdb` in the OS temp directory). */
  readonly localDirectory?: string;
  /** The most states one keyed backend can hold; LMDB reserves a slot for each up front (default 1024). */
  readonly maxKeySpaces?: number;
  /**
   * Read transactions one keyed backend can have open at once: snapshots running at the same time,
   * and live reads; 2 to 65536 (default LMDB_MAX_READERS, 1024).
   */
  readonly maxReaders?: number;
}

/**
 * Keyed state in LMDB on local disk: larger than memory, read through the OS page cache, with
 * snapshots taken from an LMDB read transaction. Everything above the byte-level store (state
 * semantics, canonical snapshots, restore and rescaling) is core's generic KvKeyedStateBackend, so
 * this package is only the KvStore. Operator state stays on the heap (AbstractStateBackend), as in Flink.
 */
export class LmdbStateBackend extends AbstractStateBackend {
  readonly name = 'lmdb';
  /** The synchronous part only opens a read transaction; the stream is written afterwards. */
  readonly supportsAsynchronousSnapshots = true;

  constructor(readonly options: LmdbStateBackendOptions = {}) {
    super();
    if (options.maxKeySpaces !== undefined) checkMaxKeySpaces(options.maxKeySpaces);
    if (options.maxReaders !== undefined) checkMaxReaders(options.maxReaders);
  }

  async createKeyedStateBackend<K>(parameters: KeyedStateBackendParameters<K>): Promise<KeyedStateBackend<K>> {
    // Before the environment is created: the backend's constructor checks too, after it.
    checkKeyGroupRange(parameters.keyGroupRange, parameters.maxParallelism);
    const base = parameters.localDirectory ?? this.options.localDirectory ?? join(tmpdir(), 'flowstate-lmdb');
    // One fresh environment per keyed backend: working state starts empty and is restored from
    // the checkpoint, never reused from an earlier run. Owned by this process, so that the next
    // backend started here deletes it if this process is killed before dispose().
    const path = createWorkingDirectory(base, `lmdb-${randomUUID()}`);
    let store: LmdbKvStore;
    try {
      store = new LmdbKvStore({ path, maxKeySpaces: this.options.maxKeySpaces ?? 1024, maxReaders: this.options.maxReaders });
    } catch (e) {
      rmSync(path, { recursive: true, force: true });
      throw e;
    }
    // open() restores the canonical handles; if that fails it disposes the backend, which closes
    // the store and so deletes the directory.
    return KvKeyedStateBackend.open(parameters, store);
  }
}
