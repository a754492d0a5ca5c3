import type { KeyedStateHandle, StreamStateHandle } from '@flowstate/core';

/** One file of a native RocksDB checkpoint. */
export interface RocksDBFileHandle {
  /** File name inside the RocksDB directory, e.g. '000012.sst' or 'MANIFEST-000005'. */
  readonly name: string;
  readonly handle: StreamStateHandle;
}

/** An SST file in shared storage, identified by content (RocksDB's unique SST id or a SHA-256). */
export interface RocksDBSharedFileHandle extends RocksDBFileHandle {
  readonly contentId: string;
}

/**
 * A native, incremental RocksDB checkpoint: the files of a hard-linked RocksDB checkpoint
 * directory. SSTs live in shared storage and are reused by later checkpoints while confirmed;
 * MANIFEST, CURRENT and OPTIONS are private to this checkpoint. `meta` holds the states' meta
 * information (a canonical keyed stream header) so restore can check serializers.
 */
export interface IncrementalRocksDBStateHandle extends KeyedStateHandle {
  readonly type: 'rocksdb-incremental';
  readonly checkpointId: number;
  readonly backendIdentifier: string;
  readonly maxParallelism: number;
  readonly meta: StreamStateHandle;
  readonly sharedFiles: readonly RocksDBSharedFileHandle[];
  readonly privateFiles: readonly RocksDBFileHandle[];
}

export function isIncrementalRocksDBStateHandle(h: KeyedStateHandle): h is IncrementalRocksDBStateHandle {
  return h.type === 'rocksdb-incremental';
}
