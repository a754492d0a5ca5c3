import { randomInt } from 'node:crypto';
import { AbstractStateBackend, errorClass } from '@flowstate/core';
import type { KeyedStateBackend, KeyedStateBackendParameters } from '@flowstate/core';
import type { Compression } from '../native.js';
import { RocksDBKeyedStateBackend, type RocksDBTimerServiceFactory } from './rocksdb-keyed-state-backend.js';

export interface RocksDBStateBackendOptions {
  /** Native incremental checkpoints (default true); savepoints are canonical unless NATIVE is asked for. */
  readonly incrementalCheckpoints?: boolean;
  /** Where instances keep their working files (default: the OS temp directory). Not with `localDirectories`. */
  readonly localDirectory?: string;
  /**
   * Several directories for the instances' working files (Flink's list in
   * state.backend.rocksdb.localdir), e.g. one per disk: each keyed backend this object creates takes
   * the next one, round-robin, starting at a random one per RocksDBStateBackend object, so that the
   * subtasks of many jobs spread over the disks instead of all starting on the first. At least one;
   * not with `localDirectory`.
   */
  readonly localDirectories?: readonly string[];
  /** Bytes of each instance's LRU block cache (default 64 MiB); 0: no block cache. */
  readonly blockCacheSize?: number;
  readonly writeBufferSize?: number;
  readonly maxWriteBufferNumber?: number;
  readonly compression?: Compression;
  /**
   * Check the block checksums of every SST before its first upload, so that a local file damaged
   * after RocksDB wrote it fails the checkpoint instead of being uploaded, and then reused by every
   * later checkpoint (default true). Costs a read of each new SST (two for one over 4 MiB); see docs/architecture.md.
   */
  readonly verifySstsBeforeUpload?: boolean;
  /**
   * Which local files RocksDB syncs. 'ssts' (default): only SST files, as RocksDB writes them
   * (flush, compaction, ingestion), so every SST is durable once it is part of the database and
   * its upload links it without a second data sync. Not the MANIFEST, CURRENT, OPTIONS or any
   * directory: the working database is never reopened
   * (each backend gets a new directory, a crash loses it, every restore starts from a
   * checkpoint), and a checkpoint keeps CURRENT, MANIFEST and OPTIONS inline in its metadata (a
   * larger one is uploaded with its own sync). Those syncs were four of the five device flushes
   * of every incremental checkpoint's synchronous part (issue 16). true: everything, as RocksDB
   * does by default. false: nothing, for scratch instances whose files are copied to durable
   * storage before anything relies on them (savepoint conversion); their uploads sync every SST.
   */
  readonly syncLocalFiles?: boolean | 'ssts';
  /**
   * Restore a native snapshot's SSTs by hard-linking them from local-disk checkpoint storage into
   * the database instead of copying them (default false), after checking each link's size and
   * CRC32C against its handle; storage on another device, or not on the local disk, is copied as
   * usual. The database then shares those SSTs' bytes with the stored ones: RocksDB never writes
   * to a finished SST, but a tool that damaged a local file in place would damage the stored one
   * too. For scratch instances that read a snapshot once (savepoint conversion).
   */
  readonly linkRestoredFiles?: boolean;
  /**
   * dispose() deletes the instance's working directory (default true). false leaves it to whoever
   * owns `localDirectory` and deletes that asynchronously (scratch instances: savepoint conversion),
   * since a synchronous recursive delete blocks the event loop, for milliseconds per entry where
   * freed blocks are discarded synchronously behind concurrent fsyncs. A crashed process's
   * directories are deleted by the next instance either way.
   */
  readonly removeWorkingDirectoryOnDispose?: boolean;
  /**
   * RocksDB's info LOG file in each instance's database directory (default true: diagnostics).
   * false writes none, for scratch instances whose directory is deleted unread (savepoint
   * conversion).
   */
  readonly infoLog?: boolean;
  /**
   * RocksDB preallocates space for the files it grows (default true; RocksDBOptions.preallocateFiles).
   * false for scratch instances (savepoint conversion): the unused space is freed at each close or
   * delete, which waits for the device where freed blocks are discarded synchronously.
   */
  readonly preallocateFiles?: boolean;
  /**
   * TTL'd state is also cleaned up by a compaction filter in the native binding; it reads the
   * current time again after this many entries (Flink's queryTimeAfterNumEntries, default 1000).
   */
  readonly ttlQueryTimeAfterNumEntries?: number;
  /**
   * Where timers (priority queues) live: ROCKSDB (default, as in Flink) keeps them in column
   * families with a cached head per key group; HEAP keeps them on the JS heap and writes them as a
   * key-group stream with every snapshot (Flink's state.backend.rocksdb.timer-service.factory).
   */
  readonly timerServiceFactory?: RocksDBTimerServiceFactory;
}

/** RocksDBStateBackendOptions that contradict each other or are empty (e.g. both localDirectory and localDirectories). */
export class RocksDBOptionsError extends errorClass('ROCKSDB_INVALID_OPTIONS', [], (detail: string) => `RocksDBStateBackend options: ${detail}`) {}

/** Picks the index of the first local directory, from 0 to count - 1 (tests inject a fixed one). */
export type FirstDirectoryChooser = (count: number) => number;

/**
 * Hands out the local directories round-robin from a chosen start. One per StateBackend object, as
 * Flink keeps its nextDirectory: the object a job's subtasks share spreads them over the disks.
 */
class LocalDirectoryRotation {
  private next: number;

  constructor(
    private readonly directories: readonly string[],
    chooseFirst: FirstDirectoryChooser,
  ) {
    const first = chooseFirst(directories.length);
    if (!Number.isSafeInteger(first) || first < 0 || first >= directories.length) throw new RocksDBOptionsError(`first local directory index ${first} is not from 0 to ${directories.length - 1}`);
    this.next = first;
  }

  take(): string {
    const d = this.directories[this.next]!;
    this.next = (this.next + 1) % this.directories.length;
    return d;
  }
}

function localDirectoryRotation(o: RocksDBStateBackendOptions, chooseFirst: FirstDirectoryChooser): LocalDirectoryRotation | undefined {
  if (o.localDirectories === undefined) return undefined;
  if (o.localDirectory !== undefined) throw new RocksDBOptionsError('localDirectory and localDirectories are mutually exclusive; give one');
  if (o.localDirectories.length === 0) throw new RocksDBOptionsError('localDirectories is empty; give at least one directory, or leave it out for the OS temp directory');
  return new LocalDirectoryRotation([...o.localDirectories], chooseFirst);
}

/**
 * State in RocksDB on local disk (Flink's EmbeddedRocksDBStateBackend): for state far larger than
 * memory, with incremental checkpoints. Operator state stays on the heap, as in Flink.
 */
export class RocksDBStateBackend extends AbstractStateBackend {
  readonly name = 'rocksdb';
  readonly supportsAsynchronousSnapshots = true;

  private readonly localDirectories: LocalDirectoryRotation | undefined;

  /**
   * @param chooseFirstDirectory internal, for tests: the index of the first of `localDirectories`
   * (default: a random one).
   */
  constructor(
    readonly options: RocksDBStateBackendOptions = {},
    chooseFirstDirectory: FirstDirectoryChooser = randomInt,
  ) {
    super();
    this.localDirectories = localDirectoryRotation(options, chooseFirstDirectory);
  }

  /** The caller's directory (scratch instances of savepoint conversion) wins; then the configured ones. */
  private localDirectoryFor(parameters: KeyedStateBackendParameters<unknown>): string | undefined {
    return parameters.localDirectory ?? this.options.localDirectory ?? this.localDirectories?.take();
  }

  async createKeyedStateBackend<K>(parameters: KeyedStateBackendParameters<K>): Promise<KeyedStateBackend<K>> {
    const o = this.options;
    const b = new RocksDBKeyedStateBackend(
      { ...parameters, localDirectory: this.localDirectoryFor(parameters) },
      {
        incrementalCheckpoints: o.incrementalCheckpoints ?? true,
        verifySstsBeforeUpload: o.verifySstsBeforeUpload ?? true,
        ttlQueryTimeAfterNumEntries: o.ttlQueryTimeAfterNumEntries,
        timerServiceFactory: o.timerServiceFactory ?? 'ROCKSDB',
        linkRestoredFiles: o.linkRestoredFiles ?? false,
        removeWorkingDirectoryOnDispose: o.removeWorkingDirectoryOnDispose ?? true,
        dbOptions: {
          blockCacheSize: o.blockCacheSize ?? 64 << 20,
          writeBufferSize: o.writeBufferSize ?? 32 << 20,
          maxWriteBufferNumber: o.maxWriteBufferNumber ?? 2,
          compression: o.compression ?? 'lz4',
          syncFiles: o.syncLocalFiles ?? 'ssts',
          infoLog: o.infoLog ?? true,
          preallocateFiles: o.preallocateFiles ?? true,
        },
      },
    );
    await b.initialize(parameters);
    return b;
  }
}
