import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createWorkingDirectory,
  KvKeyedStateBackend,
  SharedFileReuseTracker,
  SnapshotStrategyRunner,
  streamHandleName,
  type CheckpointOptions,
  type KeyedStateBackendParameters,
  type KeyedStateHandle,
  type SnapshotResources,
} from '@flowstate/core';
import { RocksDB, type RocksDBOptions } from '../native.js';
import { RocksDBKvStore } from './rocksdb-kv-store.js';
import { isNativeSnapshot, type RocksSnapshotSource } from './rocksdb-snapshot.js';
import { RocksNativeSnapshotStrategy } from './rocksdb-incremental-snapshot.js';
import { restoreRocksKeyedState } from './rocksdb-restore.js';
import type { RocksDBFileHandle, RocksDBSharedFileHandle } from './handles.js';

export interface RocksDBKeyedStateBackendOptions {
  /** Native incremental checkpoints (SST upload); false writes canonical full snapshots. */
  readonly incrementalCheckpoints: boolean;
  readonly dbOptions: RocksDBOptions;
  /** Check each SST's block checksums before its first upload (default true). */
  readonly verifySstsBeforeUpload?: boolean;
  /** See RocksDBStateBackendOptions.ttlQueryTimeAfterNumEntries. */
  readonly ttlQueryTimeAfterNumEntries?: number;
  /** Where timers (priority queues) live (Flink's state.backend.rocksdb.timer-service.factory; default ROCKSDB). */
  readonly timerServiceFactory?: RocksDBTimerServiceFactory;
  /** See RocksDBStateBackendOptions.linkRestoredFiles (default false). */
  readonly linkRestoredFiles?: boolean;
  /** See RocksDBStateBackendOptions.removeWorkingDirectoryOnDispose (default true). */
  readonly removeWorkingDirectoryOnDispose?: boolean;
}

/** Flink's state.backend.rocksdb.timer-service.factory: priority queues in RocksDB or on the JS heap. */
export type RocksDBTimerServiceFactory = 'ROCKSDB' | 'HEAP';

/**
 * Keyed state in RocksDB: core's generic KV backend over a RocksDBKvStore (one column family per
 * state, rows keyed [key group][key][namespace] (+ user key for map state), list appends as
 * merges). What stays RocksDB's own is the native incremental checkpoint (SST upload) and its
 * restore. State access is synchronous through the N-API binding. The WAL is off, as in Flink:
 * durability comes from checkpoints.
 */
/** The RocksDB properties nativeMetrics() reports (Flink's defaults plus block cache usage). */
export const ROCKSDB_NATIVE_METRICS = [
  'rocksdb.estimate-num-keys',
  'rocksdb.block-cache-usage',
  'rocksdb.cur-size-all-mem-tables',
  'rocksdb.estimate-pending-compaction-bytes',
  'rocksdb.live-sst-files-size',
] as const;

export class RocksDBKeyedStateBackend<K> extends KvKeyedStateBackend<K> {
  /** The backend's working directory (database, native checkpoints, downloads); removed on dispose(). */
  readonly instanceDir: string;
  private readonly backendIdentifier = randomUUID();
  private rocksStore: RocksDBKvStore | undefined;
  /** Which uploaded SSTs (by content id) a new checkpoint may reference instead of uploading. */
  private readonly sharedFiles = new SharedFileReuseTracker<RocksDBSharedFileHandle>((f) => streamHandleName(f.handle));
  /** Native incremental snapshots (SST upload); canonical full ones are core's (fullSnapshotRunner). */
  private readonly nativeRunner: SnapshotStrategyRunner<KeyedStateHandle, SnapshotResources>;

  constructor(
    params: KeyedStateBackendParameters<K>,
    private readonly options: RocksDBKeyedStateBackendOptions,
  ) {
    super(params, { priorityQueues: options.timerServiceFactory === 'HEAP' ? 'HEAP' : 'KV' });
    const base = params.localDirectory ?? join(tmpdir(), 'flowstate-rocksdb');
    this.instanceDir = createWorkingDirectory(base, `${sanitize(params.operatorIdentifier)}-${this.backendIdentifier}`);
    this.nativeRunner = new SnapshotStrategyRunner('RocksDB native incremental snapshot', new RocksNativeSnapshotStrategy(this.nativeSnapshotSource()), this.runningSnapshots);
  }

  /** The database (the access benchmark's raw baseline reads the backend's column families through it). */
  private get db(): RocksDB {
    return this.rocksStore!.db;
  }

  /**
   * RocksDB's native metrics as Flink exports them (state.backend.rocksdb.metrics.*), summed over
   * the column families; block cache usage is per database (the cache is shared). Cheap property
   * reads, meant for a metrics reader (see @flowstate/metrics' observeNativeMetrics).
   */
  nativeMetrics(): Readonly<Record<string, number>> {
    const db = this.db;
    const out: Record<string, number> = {};
    for (const name of ROCKSDB_NATIVE_METRICS) {
      let total = 0;
      if (name === 'rocksdb.block-cache-usage') total = Number(db.getProperty(name) ?? 0);
      else for (const cfName of db.listColumnFamilies()) total += Number(db.getProperty(name, db.getColumnFamily(cfName)) ?? 0);
      out[name] = total;
    }
    return out;
  }

  /** Opens an empty database, or restores one (see rocksdb-restore.ts). */
  async initialize(params: KeyedStateBackendParameters<K>): Promise<void> {
    const dbDir = join(this.instanceDir, 'db');
    try {
      await restoreRocksKeyedState(
        {
          ...this.restoreTarget(),
          instanceDir: this.instanceDir,
          dbDir,
          linkRestoredFiles: this.options.linkRestoredFiles ?? false,
          openStore: () => this.openStore(dbDir),
          restoreCanonical: (handles) => this.restoreCanonical(params, handles),
        },
        params,
      );
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  /** Opens the database off the event loop (RocksDB.openAsync): recovery and its fsyncs take tens of ms. */
  private async openStore(dbDir: string): Promise<RocksDBKvStore> {
    const db = await RocksDB.openAsync(dbDir, { ...this.options.dbOptions, createIfMissing: true, disableWAL: true });
    this.rocksStore = new RocksDBKvStore(db, { ttlQueryTimeAfterNumEntries: this.options.ttlQueryTimeAfterNumEntries });
    this.attachStore(this.rocksStore);
    return this.rocksStore;
  }

  /**
   * Manual compaction of every state's column family, off the JS thread (Flink has no such call;
   * operators and tests use it to make RocksDB drop expired TTL'd state now, through the TTL
   * compaction filter, rather than whenever background compactions reach it). The filters compare
   * against the store's TTL time (KvStore.setTtlTime), set by core.
   */
  async compactStates(): Promise<void> {
    // The filters must compare against the backend's TTL clock (a test's, or the watermark's source), not the wall clock.
    this.updateStoreTtlTime();
    const store = this.rocksStore!;
    for (const name of store.keySpaceNames()) await store.keySpace(name).compactAsync();
  }

  // ---- snapshots --------------------------------------------------------------------------------

  protected override snapshotRunner(options: CheckpointOptions): SnapshotStrategyRunner<KeyedStateHandle, SnapshotResources> {
    return isNativeSnapshot(options, this.options.incrementalCheckpoints) ? this.nativeRunner : this.fullSnapshotRunner;
  }

  /** What the native strategy reads of the backend; the store and database are read when a snapshot starts. */
  private nativeSnapshotSource(): RocksSnapshotSource {
    const backend = this;
    const kv = this.snapshotSource();
    return {
      keySerializer: kv.keySerializer,
      keyGroupRange: kv.keyGroupRange,
      layout: kv.layout,
      states: kv.states,
      queues: kv.queues,
      maxParallelism: this.maxParallelism,
      backendIdentifier: this.backendIdentifier,
      instanceDir: this.instanceDir,
      // Getters: restore opens the database after construction.
      get store() {
        return backend.store;
      },
      get db() {
        return backend.db;
      },
      verifySstsBeforeUpload: this.options.verifySstsBeforeUpload ?? true,
      rocksDbSyncsSsts: this.options.dbOptions.syncFiles !== false,
      sharedFiles: this.sharedFiles,
    };
  }

  override notifyCheckpointComplete(checkpointId: number): void {
    this.sharedFiles.checkpointCompleted(checkpointId);
  }

  override notifyCheckpointAborted(checkpointId: number): void {
    this.sharedFiles.checkpointAborted(checkpointId);
  }

  protected override disposeResources(): void {
    try {
      super.disposeResources();
    } finally {
      if (this.options.removeWorkingDirectoryOnDispose ?? true) rmSync(this.instanceDir, { recursive: true, force: true });
    }
  }
}

function sanitize(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64);
}

export type { RocksDBFileHandle };
