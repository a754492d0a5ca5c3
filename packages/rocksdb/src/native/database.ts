// An open RocksDB database: reads, writes, column families, snapshots, iterators, checkpoints and
// SST ingestion. Lifetime rules are described in ../native.ts.
import { loadBinding } from './binding.js';
import { boundOpsOf, nativeOfColumnFamily, wrapColumnFamily, type BindToken, type ColumnFamily } from './column-family.js';
import { asyncCall, checkDeleteRange, invalid, RocksDBError } from './errors.js';
import { unpackBatch, wrapIterator, type IteratorOptions, type RocksIterator } from './iterator.js';
import type { NativeDatabase, NativeOpenOptions } from './native-types.js';
import { nativeOfSnapshot, nativeSnapshotOrUndefined, wrapSnapshot, type Snapshot } from './snapshot.js';
import { wrapSstFileWriter, type SstFileWriter } from './sst-file-writer.js';
import type { CompactRangeOptions, Entry, IngestExternalFileOptions, LiveFileMetaData, LiveFilesMetaDataOptions, PinLiveFilesOptions, PinnedLiveFiles, RocksDBOptions } from './types.js';
import { nativeTtlConfig, type TtlCompactionFilterOptions } from './ttl-filter.js';
import { valuePool } from './value-pool.js';
import { droppedFamilyOf, nativeOfBatch, type WriteBatch } from './write-batch.js';

/** Keys and values per native scan call before it stops early (kPackedBatchBytes in util.cc). */
const PACKED_BATCH_BYTES = 8 * 1024 * 1024;
/** The largest {@link RocksDB.scan} limit: the native side's cap on entries per call (kMaxEntries in common.h, checked by MaxEntries in util.cc). */
export const MAX_SCAN_LIMIT = 10_000_000;

/** The smallest key greater than `key` (key + 0x00). */
function keySuccessor(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key.length + 1);
  out.set(key);
  return out;
}

/** Bytes of forEachTransient's reused buffer: it stays in the CPU caches while its entries are visited. */
const SCAN_BUFFER_BYTES = 1 << 20;
/** The buffer forEachTransient reuses; taken while a call runs, so that a nested call gets its own. */
let idleScanBuffer: Uint8Array | undefined;

function takeScanBuffer(): Uint8Array {
  // A buffer user code detached (transferring a view's buffer, against the contract) is replaced.
  const idle = idleScanBuffer;
  idleScanBuffer = undefined;
  return idle !== undefined && idle.byteLength === SCAN_BUFFER_BYTES ? idle : new Uint8Array(SCAN_BUFFER_BYTES);
}

function giveBackScanBuffer(b: Uint8Array): void {
  if (b.length === SCAN_BUFFER_BYTES) idleScanBuffer = b;
}

/** Visits `count` entries packed by scanInto; the last key (a view) and the bytes of keys and values. */
function visitPacked(buffer: Uint8Array, count: number, visit: (key: Uint8Array, value: Uint8Array) => void): { key: Uint8Array | undefined; bytes: number } {
  if (count === 0) return { key: undefined, bytes: 0 };
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  let off = 0;
  let key: Uint8Array | undefined;
  for (let i = 0; i < count; i++) {
    const kl = view.getUint32(off, true);
    const vl = view.getUint32(off + 4, true);
    key = buffer.subarray(off + 8, off + 8 + kl);
    visit(key, buffer.subarray(off + 8 + kl, off + 8 + kl + vl));
    off += 8 + kl + vl;
  }
  return { key, bytes: off - 8 * count };
}

/** Options of {@link RocksDB.scan}. */
export interface ScanOptions {
  /** Read at this snapshot (ignores later writes). */
  snapshot?: Snapshot;
  /** Whether the blocks read populate the block cache. Default true. */
  fillCache?: boolean;
  /**
   * Bytes RocksDB reads ahead of each SST block it needs, in one read (ReadOptions.readahead_size);
   * 0 (the default) leaves RocksDB's implicit readahead, which on buffered files only hints the
   * kernel and still reads block by block: a system call per block (4 KiB by default). RocksDB
   * 7.8 does not trim it to `upper`, so each file the scan touches may be read up to this many
   * bytes past the range. An integer in [0, {@link MAX_SCAN_READAHEAD_BYTES}].
   */
  readaheadBytes?: number;
}

/** Largest ScanOptions.readaheadBytes (kMaxReadaheadBytes in db_wrap.cc). */
export const MAX_SCAN_READAHEAD_BYTES = 4 << 20;

/**
 * Options for a scratch database: one opened on a copy of (or links to) another database's files,
 * read once and then deleted (a rescaling restore's other handles, the CLI reading Flink's RocksDB
 * state). Opening still writes a MANIFEST, OPTIONS and a write-ahead log; none of it needs a sync,
 * an info LOG, preallocated space (freed again at close, which waits for the device where the file
 * system discards freed blocks synchronously) or a block cache (each is read once).
 */
export const SCRATCH_DATABASE_OPTIONS = { syncFiles: false, infoLog: false, preallocateFiles: false, blockCacheSize: 0 } as const satisfies RocksDBOptions;

/** An open RocksDB database. */
export class RocksDB {
  readonly #native: NativeDatabase;
  /** Identifies this database to families bound to it (see BindToken: not the database itself). */
  readonly #bindToken: BindToken = {};
  readonly #cfs = new Map<string, ColumnFamily>();
  /** Database directory as passed to {@link RocksDB.open}. */
  readonly path: string;

  private constructor(path: string, native: NativeDatabase) {
    this.path = path;
    this.#native = native;
    for (const name of native.listColumnFamilies()) {
      const cf = native.getColumnFamily(name);
      if (cf !== undefined) this.#cfs.set(name, wrapColumnFamily(cf));
    }
  }

  /** Opens (or creates) a database. All column families get the same options and the list-append merge operator. */
  static open(path: string, options: RocksDBOptions = {}): RocksDB {
    if (typeof path !== 'string' || path.length === 0) throw invalid('path must be a non-empty string');
    const native = new (loadBinding().Database)();
    native.open(path, nativeOpenOptions(options));
    return new RocksDB(path, native);
  }

  /** {@link RocksDB.open} on the libuv thread pool (recovery, file creation and fsyncs off the event loop); rejects, never throws. */
  static async openAsync(path: string, options: RocksDBOptions = {}): Promise<RocksDB> {
    if (typeof path !== 'string' || path.length === 0) throw invalid('path must be a non-empty string');
    const native = new (loadBinding().Database)();
    await asyncCall(() => native.openAsync(path, nativeOpenOptions(options)));
    return new RocksDB(path, native);
  }

  /** Column families of the (closed or open) database at `path`. */
  static listColumnFamilies(path: string): string[] {
    return loadBinding().listColumnFamilies(path);
  }

  get isClosed(): boolean {
    return this.#native.isClosed();
  }

  /**
   * Closes the database: waits for in-flight async operations, closes open
   * iterators, releases snapshots, invalidates column family handles, flushes
   * (when the WAL is disabled) and closes. Idempotent.
   */
  close(): void {
    this.#cfs.clear();
    this.#native.close();
  }

  #ensureOpen(): void {
    if (this.#native.isClosed()) {
      throw new RocksDBError('ROCKSDB_CLOSED', 'database is closed', { path: this.path });
    }
  }

  get defaultColumnFamily(): ColumnFamily {
    this.#ensureOpen();
    const cf = this.#cfs.get('default');
    if (cf === undefined) throw new RocksDBError('ROCKSDB_UNKNOWN', 'default column family missing', { path: this.path });
    return cf;
  }

  /** Creates a column family while the database is open. */
  createColumnFamily(name: string): ColumnFamily {
    const cf = wrapColumnFamily(this.#native.createColumnFamily(name));
    this.#cfs.set(name, cf);
    return cf;
  }

  /** Drops a column family while the database is open; closes iterators over it. */
  dropColumnFamily(cf: ColumnFamily): void {
    this.#native.dropColumnFamily(nativeOfColumnFamily(cf));
    if (this.#cfs.get(cf.name) === cf) this.#cfs.delete(cf.name);
  }

  getColumnFamily(name: string): ColumnFamily | undefined {
    this.#ensureOpen();
    return this.#cfs.get(name);
  }

  /** Names of the open column families (including 'default'). */
  listColumnFamilies(): string[] {
    return this.#native.listColumnFamilies();
  }

  /**
   * The value of `key`, or undefined. Reads at `snapshot` when given.
   *
   * The value is usually a view of a shared 16 KiB pool (like Node's pooled Buffers): its own bytes
   * are never overwritten, but its `.buffer` holds other values too, so a long-lived value keeps up
   * to 16 KiB alive, and transferring or detaching `value.buffer` (postMessage with a transfer
   * list, structuredClone with `transfer`) empties every other value taken from that pool. Copy
   * first (`value.slice()`) to keep a value apart or transfer it. A detached pool is replaced at
   * the next get. Values larger than the pool's free space come back as their own Uint8Array.
   */
  get(cf: ColumnFamily, key: Uint8Array, snapshot?: Snapshot): Uint8Array | undefined {
    const pool = valuePool;
    const r =
      snapshot === undefined
        ? boundOpsOf(cf, this.#native, this.#bindToken).getInto(key, pool.bytes, pool.offset)
        : this.#native.getInto(nativeOfColumnFamily(cf), key, pool.bytes, pool.offset, nativeOfSnapshot(snapshot));
    if (typeof r === 'number') return pool.take(r);
    if (r !== undefined) pool.notTaken();
    return r;
  }

  put(cf: ColumnFamily, key: Uint8Array, value: Uint8Array): void {
    boundOpsOf(cf, this.#native, this.#bindToken).put(key, value);
  }

  delete(cf: ColumnFamily, key: Uint8Array): void {
    this.#native.delete(nativeOfColumnFamily(cf), key);
  }

  /** Appends `value` (a `[u32 BE len][bytes]...` sequence) via the list-append merge operator. */
  merge(cf: ColumnFamily, key: Uint8Array, value: Uint8Array): void {
    this.#native.merge(nativeOfColumnFamily(cf), key, value);
  }

  /** Deletes keys in [begin, end). */
  deleteRange(cf: ColumnFamily, begin: Uint8Array, end: Uint8Array): void {
    checkDeleteRange(begin, end);
    this.#native.deleteRange(nativeOfColumnFamily(cf), begin, end);
  }

  /**
   * Applies a WriteBatch atomically. A batch that writes to a dropped column family is refused
   * (ROCKSDB_COLUMN_FAMILY_DROPPED) before RocksDB sees it: RocksDB would fail the write and keep
   * that as its background error, failing every later write and flush of the database.
   */
  write(batch: WriteBatch): void {
    this.#ensureOpen();
    const dropped = droppedFamilyOf(batch);
    if (dropped !== undefined) throw new RocksDBError('ROCKSDB_COLUMN_FAMILY_DROPPED', `write batch references column family '${dropped.name}', which has been dropped`, { path: this.path });
    this.#native.write(nativeOfBatch(batch));
  }

  /** Flushes the memtable of `cf`, or of every column family when omitted; waits for completion. */
  flush(cf?: ColumnFamily): void {
    this.#native.flush(cf === undefined ? undefined : nativeOfColumnFamily(cf));
  }

  /** {@link RocksDB.flush} on the libuv thread pool (memtable writes and fsyncs off the event loop). */
  flushAsync(cf?: ColumnFamily): Promise<void> {
    return asyncCall(() => this.#native.flushAsync(cf === undefined ? undefined : nativeOfColumnFamily(cf)));
  }

  /** Manual compaction of [begin, end] (open-ended when omitted). */
  compactRange(cf: ColumnFamily, begin?: Uint8Array, end?: Uint8Array, options: CompactRangeOptions = {}): void {
    this.#native.compactRange(nativeOfColumnFamily(cf), begin, end, options.bottommostLevelCompaction);
  }

  compactRangeAsync(cf: ColumnFamily, begin?: Uint8Array, end?: Uint8Array, options: CompactRangeOptions = {}): Promise<void> {
    return asyncCall(() => this.#native.compactRangeAsync(nativeOfColumnFamily(cf), begin, end, options.bottommostLevelCompaction));
  }

  getSnapshot(): Snapshot {
    return wrapSnapshot(this.#native.getSnapshot());
  }

  /** A new iterator (unpositioned: call a seek method first, or use for..of). */
  iterator(cf: ColumnFamily, options: IteratorOptions = {}): RocksIterator {
    return wrapIterator(
      this.#native.iterator(nativeOfColumnFamily(cf), {
        lowerBound: options.lowerBound,
        upperBound: options.upperBound,
        snapshot: nativeSnapshotOrUndefined(options.snapshot),
        prefixSameAsStart: options.prefixSameAsStart,
        fillCache: options.fillCache,
      }),
    );
  }

  /**
   * Up to `limit` entries of [lower, upper) in key order (fewer only when the range holds fewer),
   * usually in one native call (an iterator is created, read and freed in it; a call returns at
   * most ~8 MiB). The keys and values are views of one buffer per native call. `limit` is an
   * integer in [1, {@link MAX_SCAN_LIMIT}]; anything else is a ROCKSDB_INVALID_ARGUMENT error.
   */
  scan(cf: ColumnFamily, lower: Uint8Array, upper: Uint8Array, limit: number, options: ScanOptions = {}): Entry[] {
    const ncf = nativeOfColumnFamily(cf);
    const { snapshot, fillCache, readaheadBytes } = options;
    const plain = snapshot === undefined && fillCache === undefined && readaheadBytes === undefined;
    const nsnap = nativeSnapshotOrUndefined(snapshot);
    let out: Entry[] = [];
    let from = lower;
    // The first call gets `limit` as given: the native side alone checks it (MaxEntries in util.cc).
    let left = limit;
    for (;;) {
      const packed = plain ? this.#native.scan(ncf, from, upper, left) : this.#native.scan(ncf, from, upper, left, nsnap, fillCache ?? true, readaheadBytes ?? 0);
      if (packed === undefined) return out;
      const batch = unpackBatch(packed, false);
      out = out.length === 0 ? batch : out.concat(batch);
      // The native side stops early only at its byte cap; then go on after the last key.
      if (out.length >= limit || packed.byteLength < PACKED_BATCH_BYTES) return out;
      from = keySuccessor(out[out.length - 1]![0]);
      left = limit - out.length;
    }
  }

  /**
   * Visits every entry of [lower, upper) in key order without a buffer per entry or per batch:
   * entries are read into one reused 1 MiB buffer (an entry larger than that into a buffer of its
   * own, for that entry only), and the key and value `visit` gets are views of it, valid only
   * until `visit` returns (copy what you keep). Returns the bytes of keys and values visited.
   * `visit` may read or write the database, and may call this method again. The options are
   * scan's (`readaheadBytes`: the first native call's); `readaheadAfter`, if given, is called after
   * every native call with the bytes of the keys and values it returned, and what it returns is the
   * next call's readahead.
   */
  forEachTransient(
    cf: ColumnFamily,
    lower: Uint8Array,
    upper: Uint8Array,
    visit: (key: Uint8Array, value: Uint8Array) => void,
    options: ScanOptions & { readonly readaheadAfter?: (lastBatchBytes: number) => number } = {},
  ): number {
    const ncf = nativeOfColumnFamily(cf);
    const nsnap = nativeSnapshotOrUndefined(options.snapshot);
    const fillCache = options.fillCache ?? true;
    let readaheadBytes = options.readaheadBytes ?? 0;
    const buffer = takeScanBuffer();
    let visited = 0;
    try {
      let from = lower;
      let into = buffer;
      for (;;) {
        const [count, next] = this.#native.scanInto(ncf, from, upper, into, nsnap, fillCache, readaheadBytes);
        const last = visitPacked(into, count, visit);
        visited += last.bytes;
        if (options.readaheadAfter !== undefined) readaheadBytes = options.readaheadAfter(last.bytes);
        if (next === 0) return visited;
        // The next entry does not fit: a buffer of its size for it alone, then the reused one again.
        // `from` is copied before the next call overwrites the buffer.
        into = count === 0 ? new Uint8Array(next) : buffer;
        if (count > 0) from = keySuccessor(last.key!);
      }
    } finally {
      giveBackScanBuffer(buffer);
    }
  }

  /**
   * Creates an openable copy of the database in `dir` (which must not exist),
   * hard-linking SST files. Memtables are flushed first (log_size_for_flush = 0).
   *
   * `deferSstSyncs` (a database opened with syncFiles 'ssts'): SST files written meanwhile (the
   * flush's, a background compaction's) are not fsynced, so the call does not wait for the disk
   * (their writeback is started: sync_file_range on Linux); the result lists them (base names),
   * and whoever needs them durable syncs them. Otherwise, and
   * with any other syncFiles, the result is empty.
   */
  createCheckpoint(dir: string, options: { readonly deferSstSyncs?: boolean } = {}): { readonly unsyncedSsts: readonly string[] } {
    return { unsyncedSsts: this.#native.createCheckpoint(dir, options.deferSstSyncs ?? false) };
  }

  createCheckpointAsync(dir: string): Promise<void> {
    return asyncCall(() => this.#native.createCheckpointAsync(dir));
  }

  /**
   * Pins a consistent view of the database's files, as createCheckpoint would write them, without
   * a directory of their own: memtables are flushed first; each SST and blob file is hard-linked
   * (copied where the file system cannot link) into `dir`, which must exist, as `prefix` + its
   * name; CURRENT is returned as bytes, and every other file (MANIFEST up to the size the view
   * records, OPTIONS, a WAL) of at most `inlineMaxBytes` (at most 16 MiB) too, a larger one put
   * into `dir` likewise (linked, or copied up to the recorded size where the file grows on:
   * MANIFEST, the last WAL). The
   * caller removes the files it got paths for. On failure nothing is left in `dir`. Why: each new
   * inode of a checkpoint directory (the directory, the MANIFEST copy, CURRENT) cost the file
   * system an allocation; see native/pin_files.cc.
   */
  pinLiveFiles(dir: string, prefix: string, options: PinLiveFilesOptions): PinnedLiveFiles {
    return this.#native.pinLiveFiles(dir, prefix, options.deferSstSyncs ?? false, options.inlineMaxBytes);
  }

  /** Metadata of every live SST file, across all column families. */
  getLiveFilesMetaData(options: LiveFilesMetaDataOptions = {}): LiveFileMetaData[] {
    return this.#native.getLiveFilesMetaData(options.uniqueIds ?? true);
  }

  /** Ingests SST files (e.g. from {@link SstFileWriter}) into `cf`. */
  ingestExternalFile(cf: ColumnFamily, files: readonly string[], options: IngestExternalFileOptions = {}): void {
    this.#native.ingestExternalFile(nativeOfColumnFamily(cf), files, nativeIngestOptions(options));
  }

  ingestExternalFileAsync(
    cf: ColumnFamily,
    files: readonly string[],
    options: IngestExternalFileOptions = {},
  ): Promise<void> {
    return asyncCall(() =>
      this.#native.ingestExternalFileAsync(nativeOfColumnFamily(cf), files, nativeIngestOptions(options)),
    );
  }

  /** An SstFileWriter with this database's column family options (compression, prefix extractor, ...). */
  createSstFileWriter(): SstFileWriter {
    return wrapSstFileWriter(this.#native.createSstFileWriter());
  }

  /** A RocksDB property (e.g. "rocksdb.estimate-num-keys") of `cf` (default CF when omitted). */
  getProperty(name: string, cf?: ColumnFamily): string | undefined {
    return this.#native.getProperty(name, cf === undefined ? undefined : nativeOfColumnFamily(cf));
  }

  getLatestSequenceNumber(): number {
    return this.#native.latestSequenceNumber();
  }

  /**
   * Compactions of `cf` that start from now on drop expired TTL'd entries (and rewrite lists
   * without their expired elements), reading values in the given layout; `undefined` switches the
   * filter off. Every column family carries the filter's factory, so this works for families that
   * were created or reopened (restore) alike; it is not persisted: configure it after each open.
   * A manual compactRange of a filtered family also rewrites its bottommost level.
   */
  setTtlCompactionFilter(cf: ColumnFamily, options: TtlCompactionFilterOptions | undefined): void {
    this.#native.setTtlCompactionFilter(nativeOfColumnFamily(cf), options === undefined ? undefined : nativeTtlConfig(options));
  }

  /**
   * The time (ms; the watermark for event-time TTL) that the TTL compaction filters of this
   * database compare against. Until it is first set, processing-time filters use the wall clock
   * and event-time filters keep everything. Running compactions see it within
   * queryTimeAfterNumEntries entries.
   */
  setTtlTime(timestamp: number): void {
    this.#native.setTtlTime(timestamp);
  }
}

function nativeOpenOptions(options: RocksDBOptions): NativeOpenOptions {
  return {
    createIfMissing: options.createIfMissing,
    createMissingColumnFamilies: options.createMissingColumnFamilies,
    blockCacheSize: options.blockCacheSize,
    writeBufferSize: options.writeBufferSize,
    maxWriteBufferNumber: options.maxWriteBufferNumber,
    compression: options.compression,
    disableWAL: options.disableWAL,
    syncFiles: options.syncFiles,
    infoLog: options.infoLog,
    preallocateFiles: options.preallocateFiles,
    atomicFlush: options.atomicFlush,
    fixedPrefixLength: options.fixedPrefixLength,
    mergeOperator: options.mergeOperator,
    columnFamilies: options.columnFamilies,
  };
}

/** The options as the binding reads them (defaults made explicit; no other fields). */
function nativeIngestOptions(options: IngestExternalFileOptions): IngestExternalFileOptions {
  const moveFiles = options.moveFiles ?? false;
  return options.fileChecksums === undefined ? { moveFiles } : { moveFiles, fileChecksums: options.fileChecksums };
}
