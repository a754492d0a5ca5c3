import {
  KeyedStateStreamEncoder,
  type CheckpointOptions,
  type KeyedStateMetaInfo,
  type KeyGroupRange,
  type SharedFileReuseTracker,
  type TypeSerializer,
  type TypeSerializerSnapshot,
} from '@flowstate/core';
import type { RocksDB } from '../native.js';
import type { RocksDBSharedFileHandle } from './handles.js';
import type { KeyLayout } from './key-layout.js';
import type { RegisteredRocksState } from './rocksdb-registered.js';

/** What a RocksDB snapshot strategy needs from its backend, and no more. */
export interface RocksSnapshotSource {
  readonly keySerializer: TypeSerializer<unknown>;
  readonly keyGroupRange: KeyGroupRange;
  readonly maxParallelism: number;
  readonly backendIdentifier: string;
  /** Where the native checkpoint directory of an incremental snapshot is created. */
  readonly instanceDir: string;
  readonly layout: KeyLayout;
  /** The open database (read when a snapshot starts: restore opens it after construction). */
  readonly db: RocksDB;
  readonly states: ReadonlyMap<string, RegisteredRocksState>;
  /** Check every new SST's checksums and properties before it is uploaded (see sst-verification.ts). */
  readonly verifySstsBeforeUpload: boolean;
  readonly sharedFiles: SharedFileReuseTracker<RocksDBSharedFileHandle>;
}

/**
 * Which strategy a snapshot uses: the native (incremental) one when NATIVE is asked for, or for a
 * checkpoint of a backend with incremental checkpoints that did not ask for CANONICAL; else the
 * canonical full snapshot (savepoints), which restores into any backend.
 */
export function isNativeSnapshot(options: CheckpointOptions, incrementalCheckpoints: boolean): boolean {
  return options.formatType === 'NATIVE' || (options.formatType !== 'CANONICAL' && options.checkpointType === 'CHECKPOINT' && incrementalCheckpoints);
}

/** The key-groups stream encoder of the registered states: the canonical stream, or the header of a native snapshot. */
export function stateStreamEncoder(source: RocksSnapshotSource, states: readonly RegisteredRocksState[]): KeyedStateStreamEncoder {
  const metas: KeyedStateMetaInfo[] = states.map((s) => ({
    name: s.name,
    kind: s.kind,
    namespaceSerializerSnapshot: s.namespaceSerializer.snapshotConfiguration(),
    stateSerializerSnapshot: s.stateSerializer.snapshotConfiguration(),
  }));
  return new KeyedStateStreamEncoder(source.keyGroupRange, source.keySerializer.snapshotConfiguration() as TypeSerializerSnapshot<unknown>, metas);
}
