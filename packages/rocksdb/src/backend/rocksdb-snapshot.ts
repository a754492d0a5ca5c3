import type { CheckpointOptions, KvSnapshotSource, SharedFileReuseTracker } from '@flowstate/core';
import type { RocksDB } from '../native.js';
import type { RocksDBSharedFileHandle } from './handles.js';

/**
 * What a native RocksDB snapshot strategy needs from its backend, and no more. Canonical full
 * snapshots are core's KvFullSnapshotStrategy, over a view of the RocksDBKvStore.
 */
export interface RocksSnapshotSource extends KvSnapshotSource {
  readonly maxParallelism: number;
  readonly backendIdentifier: string;
  /** The backend's working directory: native checkpoints pin their files in it (CHECKPOINT_LINKS_DIR). */
  readonly instanceDir: string;
  /** The open database (read when a snapshot starts: restore opens it after construction). */
  readonly db: RocksDB;
  /** Check every new SST's checksums and properties before it is uploaded (see sst-verification.ts). */
  readonly verifySstsBeforeUpload: boolean;
  /** RocksDB fsyncs the database's SSTs (syncLocalFiles true or 'ssts'): they need no data sync when uploaded. */
  readonly rocksDbSyncsSsts: boolean;
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
