import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { assert, IllegalStateUsageError, type KvEntry, type KvKeySpace, type KvKeySpaceOptions, type KvTtlLayout, type KvReadableKeySpace, type KvStore, type KvView } from '@flowstate/core';
import { WriteBatch, type ColumnFamily, type RocksDB, type Snapshot } from '../native.js';
import { RocksDBBulkLoad } from './rocksdb-bulk-load.js';
import { checkTtlLayout, checkQueryTimeAfterNumEntries, type RocksDBKvStoreOptions } from './ttl-compaction.js';

/** Column family names carry a prefix so a state may be called 'default'. */
export const STATE_CF_PREFIX = 'state:';

/**
 * Core's KvStore over a RocksDB database: a key space is the column family 'state:<name>', a
 * view is a RocksDB snapshot, putAll a WriteBatch, and append the list-append merge operator
 * (so ListState.add never reads). Calls go straight to the synchronous N-API binding.
 *
 * A key space opened with `{ ttl }` gets the native TTL compaction filter: compactions drop its
 * expired entries and list elements (see docs/rocksdb-ttl-compaction-filter.md).
 */
export class RocksDBKvStore implements KvStore {
  private readonly spaces = new Map<string, RocksDBKeySpace>();
  private readonly queryTimeAfterNumEntries: number | undefined;

  constructor(
    readonly db: RocksDB,
    options: RocksDBKvStoreOptions = {},
  ) {
    this.queryTimeAfterNumEntries = options.ttlQueryTimeAfterNumEntries;
    if (this.queryTimeAfterNumEntries !== undefined) checkQueryTimeAfterNumEntries(this.queryTimeAfterNumEntries);
  }

  /**
   * The key space `name`. With `options.ttl`, its compaction filter is configured (also when the
   * space was already open: the latest layout wins, e.g. a restored state with a new TTL).
   */
  keySpace(name: string, options?: KvKeySpaceOptions): RocksDBKeySpace {
    let space = this.spaces.get(name);
    if (space === undefined) {
      const cfName = STATE_CF_PREFIX + name;
      space = new RocksDBKeySpace(this.db, name, this.db.getColumnFamily(cfName) ?? this.db.createColumnFamily(cfName));
      this.spaces.set(name, space);
    }
    // Registration calls keySpace again and again: the native filter config is pushed only when it changes.
    if (options?.ttl !== undefined && !sameTtlLayout(space.ttlLayout, options.ttl)) {
      checkTtlLayout(name, options.ttl);
      this.db.setTtlCompactionFilter(space.cf, { ...options.ttl, queryTimeAfterNumEntries: this.queryTimeAfterNumEntries });
      space.ttlFiltered = true;
      space.ttlLayout = options.ttl;
    }
    return space;
  }

  /** The time the TTL compaction filters compare against (the wall clock until first set). */
  setTtlTime(timestamp: number): void {
    this.db.setTtlTime(timestamp);
  }

  /** Restores write sorted SST files and ingest them (see RocksDBBulkLoad); scratch files live in the database directory. */
  bulkLoad(spillBytes?: number, boundarySpillBytes?: number): RocksDBBulkLoad {
    const cfOf = (space: KvKeySpace): ColumnFamily => {
      if (!(space instanceof RocksDBKeySpace) || this.spaces.get(space.name) !== space) throw new IllegalStateUsageError(undefined, `key space '${space.name}' is not one of this RocksDB store`);
      return space.cf;
    };
    return new RocksDBBulkLoad(this.db, join(this.db.path, `.bulk-load-${randomUUID()}`), cfOf, spillBytes, boundarySpillBytes);
  }

  keySpaceNames(): string[] {
    return this.db
      .listColumnFamilies()
      .filter((n) => n.startsWith(STATE_CF_PREFIX))
      .map((n) => n.slice(STATE_CF_PREFIX.length));
  }

  view(): KvView {
    const snapshot = this.db.getSnapshot();
    // Column families are not versioned by snapshots: remember which existed.
    const existed = new Set(this.db.listColumnFamilies());
    return {
      keySpace: (name) => {
        const cf = existed.has(STATE_CF_PREFIX + name) ? this.db.getColumnFamily(STATE_CF_PREFIX + name) : undefined;
        return cf === undefined ? undefined : new RocksDBSnapshotKeySpace(this.db, cf, snapshot);
      },
      release: () => snapshot.release(),
    };
  }

  close(): void {
    if (!this.db.isClosed) this.db.close();
  }
}

/** Up to `limit` entries of [lower, upper); a snapshot's scans read ahead `readaheadBytes` (see ScanOptions). */
function scanColumnFamily(db: RocksDB, cf: ColumnFamily, lower: Uint8Array, upper: Uint8Array, limit: number, snapshot?: Snapshot, readaheadBytes = 0): KvEntry[] {
  assert(limit >= 1, `scan limit ${limit} >= 1`);
  return db.scan(cf, lower, upper, limit, snapshot === undefined ? {} : { snapshot, fillCache: false, readaheadBytes });
}

/** Below this a scan reads block by block (a read past a small range costs more than the system calls it saves). */
export const SNAPSHOT_READAHEAD_MIN_BYTES = 32 << 10;
/** The most a snapshot scan reads ahead. */
export const SNAPSHOT_READAHEAD_MAX_BYTES = 256 << 10;

/**
 * The readahead of a snapshot's next scan, from the bytes (keys and values) its last one
 * returned: a canonical snapshot scans key group after key group, and the last one's size
 * predicts the next one's. RocksDB 7.8's
 * own (implicit) readahead on buffered files only hints the kernel and reads block by block, a
 * system call per 4 KiB block: an explicit one halved the CPU of a 64 MiB snapshot's scans
 * (issue 16). It is not trimmed to the scan's upper bound, so it follows the data: 0 after a small
 * key group, at most the last scan's bytes (up to SNAPSHOT_READAHEAD_MAX_BYTES) after a large one.
 */
export function snapshotReadahead(lastScanBytes: number): number {
  return lastScanBytes < SNAPSHOT_READAHEAD_MIN_BYTES ? 0 : Math.min(lastScanBytes, SNAPSHOT_READAHEAD_MAX_BYTES);
}

/** Largest putAll batch a key space keeps for the next putAll (a cleared batch keeps its capacity). */
const KEPT_BATCH_BYTES = 64 << 10;

export class RocksDBKeySpace implements KvKeySpace {
  /** @internal Set by RocksDBKvStore when the space's TTL compaction filter is configured. */
  ttlFiltered = false;
  /** The TTL layout last configured for this space's compaction filter. */
  ttlLayout: KvTtlLayout | undefined = undefined;

  /** Reused by putAll (see there). */
  private batch: WriteBatch | undefined = undefined;

  constructor(
    private readonly db: RocksDB,
    readonly name: string,
    readonly cf: ColumnFamily,
  ) {}

  get(key: Uint8Array): Uint8Array | undefined {
    return this.db.get(this.cf, key);
  }

  scan(lower: Uint8Array, upper: Uint8Array, limit: number): KvEntry[] {
    return scanColumnFamily(this.db, this.cf, lower, upper, limit);
  }

  forEachTransient(lower: Uint8Array, upper: Uint8Array, visit: (key: Uint8Array, value: Uint8Array) => void): void {
    this.db.forEachTransient(this.cf, lower, upper, visit);
  }

  put(key: Uint8Array, value: Uint8Array): void {
    this.db.put(this.cf, key, value);
  }

  delete(key: Uint8Array): void {
    this.db.delete(this.cf, key);
  }

  deleteRange(lower: Uint8Array, upper: Uint8Array): void {
    this.db.deleteRange(this.cf, lower, upper);
  }

  /** The greatest key of the space, or undefined when it is empty (a restore's clip: keys have no upper bound). */
  lastKey(): Uint8Array | undefined {
    const it = this.db.iterator(this.cf, { fillCache: false });
    try {
      it.seekToLast();
      return it.valid() ? it.key() : undefined;
    } finally {
      it.close();
    }
  }

  putAll(entries: readonly KvEntry[]): void {
    // One batch per space, cleared after each write: a native WriteBatch per call cost more CPU than
    // the single puts it replaced (MapState.putAll of 10 entries: 1.5× the puts' CPU time).
    const batch = (this.batch ??= new WriteBatch());
    try {
      for (const [k, v] of entries) batch.put(this.cf, k, v);
      this.db.write(batch);
    } finally {
      // A restore's batch grows to megabytes; a cleared batch keeps its capacity, so drop a large one.
      if (batch.dataSize > KEPT_BATCH_BYTES) this.batch = undefined;
      else batch.clear();
    }
  }

  append(key: Uint8Array, suffix: Uint8Array): void {
    this.db.merge(this.cf, key, suffix);
  }

  /**
   * Manual compaction of the whole key space (its memtable flushed first, so that everything
   * written so far is compacted). A TTL'd space drops its expired entries on the way, in two
   * passes: RocksDB does not filter the value a compaction produces by merging list appends into
   * an older value, so the first pass resolves merges (every level into the bottommost) and the
   * second rewrites the bottommost level through the filter. With data in several levels that is
   * what RocksDB's own default does with a filter anyway; with data only in L0 it costs one more pass.
   */
  compact(): void {
    this.db.flush(this.cf);
    this.db.compactRange(this.cf, undefined, undefined, { bottommostLevelCompaction: 'skip' });
    if (this.ttlFiltered) this.db.compactRange(this.cf, undefined, undefined, { bottommostLevelCompaction: 'force' });
  }

  /** compact() with the flush and the compactions off the JS thread. */
  async compactAsync(): Promise<void> {
    await this.db.flushAsync(this.cf);
    await this.db.compactRangeAsync(this.cf, undefined, undefined, { bottommostLevelCompaction: 'skip' });
    if (this.ttlFiltered) await this.db.compactRangeAsync(this.cf, undefined, undefined, { bottommostLevelCompaction: 'force' });
  }
}

/** A column family as of a snapshot; full snapshots read it without filling the block cache. */
class RocksDBSnapshotKeySpace implements KvReadableKeySpace {
  /** The readahead of the next scan (see snapshotReadahead). */
  private readaheadBytes = 0;

  constructor(
    private readonly db: RocksDB,
    private readonly cf: ColumnFamily,
    private readonly snapshot: Snapshot,
  ) {}

  get(key: Uint8Array): Uint8Array | undefined {
    return this.db.get(this.cf, key, this.snapshot);
  }

  scan(lower: Uint8Array, upper: Uint8Array, limit: number): KvEntry[] {
    const out = scanColumnFamily(this.db, this.cf, lower, upper, limit, this.snapshot, this.readaheadBytes);
    let bytes = 0;
    for (const [k, v] of out) bytes += k.length + v.length;
    this.readaheadBytes = snapshotReadahead(bytes);
    return out;
  }

  forEachTransient(lower: Uint8Array, upper: Uint8Array, visit: (key: Uint8Array, value: Uint8Array) => void): void {
    // Each native call (up to 1 MiB) reads ahead what the one before it returned, the range's first
    // what the last call of the previous range returned: as scans do, call by call.
    const readaheadAfter = (bytes: number) => (this.readaheadBytes = snapshotReadahead(bytes));
    this.db.forEachTransient(this.cf, lower, upper, visit, { snapshot: this.snapshot, fillCache: false, readaheadBytes: this.readaheadBytes, readaheadAfter });
  }
}

function sameTtlLayout(a: KvTtlLayout | undefined, b: KvTtlLayout): boolean {
  return a !== undefined && a.layout === b.layout && a.ttlMs === b.ttlMs && a.timeCharacteristic === b.timeCharacteristic;
}
