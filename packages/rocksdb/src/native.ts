// Typed wrapper around the native RocksDB addon (build/Release/flowstate_rocksdb.node).
//
// Keys and values are accepted as any Uint8Array (Buffers included) and are
// always returned as plain, independent Uint8Array copies (never Buffers, never
// views into shared memory).
//
// All calls are synchronous (like Flink's JNI calls into RocksDB) except the
// `*Async` variants of the operations whose I/O is proportional to the data:
// createCheckpoint, compactRange, ingestExternalFile and SstFileWriter.finish.
//
// Lifetime rules (enforced natively):
//  - close() first closes every open iterator, releases every snapshot and
//    destroys every column family handle of the database, then closes it.
//    Any later call on the database, or on one of those objects, throws a
//    RocksDBError with code 'ROCKSDB_CLOSED' (close()/release() themselves are
//    idempotent no-ops). close() waits for in-flight *Async operations.
//  - dropColumnFamily() closes the iterators over that family; later use of
//    the ColumnFamily throws 'ROCKSDB_COLUMN_FAMILY_DROPPED'.
//  - Snapshot.release() while an iterator still reads at the snapshot defers
//    the actual release until that iterator is closed.
//  - Objects that are garbage-collected without close()/release() are cleaned
//    up by their finalizers; the database itself is closed once it and all of
//    its iterators/snapshots are unreachable.
import { FlowstateError } from '@flowstate/core';
import { loadNativeAddon, nativeAddonCandidates } from './native-addon.js';

// ---------------------------------------------------------------------------
// Errors

/** Error codes carried by {@link RocksDBError}. `ROCKSDB_*` codes mirror rocksdb::Status codes. */
export type RocksDBErrorCode =
  | 'ROCKSDB_NOT_FOUND'
  | 'ROCKSDB_CORRUPTION'
  | 'ROCKSDB_NOT_SUPPORTED'
  | 'ROCKSDB_INVALID_ARGUMENT'
  | 'ROCKSDB_IO_ERROR'
  | 'ROCKSDB_MERGE_IN_PROGRESS'
  | 'ROCKSDB_INCOMPLETE'
  | 'ROCKSDB_SHUTDOWN_IN_PROGRESS'
  | 'ROCKSDB_TIMED_OUT'
  | 'ROCKSDB_ABORTED'
  | 'ROCKSDB_BUSY'
  | 'ROCKSDB_EXPIRED'
  | 'ROCKSDB_TRY_AGAIN'
  | 'ROCKSDB_COMPACTION_TOO_LARGE'
  | 'ROCKSDB_COLUMN_FAMILY_DROPPED'
  | 'ROCKSDB_CLOSED'
  | 'ROCKSDB_NATIVE_UNAVAILABLE'
  | 'ROCKSDB_UNKNOWN';

export interface RocksDBErrorOptions {
  /** Path of the database the failed call was about (SstFileWriter errors name their file in the message instead). */
  path?: string | undefined;
  /** The rocksdb::Status string, when the error came from RocksDB. */
  status?: string | undefined;
  cause?: unknown;
}

/**
 * Every error of the binding. A FlowstateError, so callers (the CLI, the runtime) treat RocksDB
 * failures as typed, reportable errors with a stable `code`, never as internal bugs.
 */
export class RocksDBError extends FlowstateError {
  override readonly name = 'RocksDBError';
  readonly code: RocksDBErrorCode;
  readonly path: string | undefined;
  readonly status: string | undefined;

  constructor(code: RocksDBErrorCode, message: string, options: RocksDBErrorOptions = {}) {
    super(options.path ? `${message} (db: ${options.path})` : message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.path = options.path;
    this.status = options.status;
  }
}

/** Runs `start`, turning a synchronous throw (bad argument, closed DB) into a rejection. */
function asyncCall<T>(start: () => Promise<T>): Promise<T> {
  try {
    return start();
  } catch (e) {
    return Promise.reject(e);
  }
}

function invalid(message: string): RocksDBError {
  return new RocksDBError('ROCKSDB_INVALID_ARGUMENT', message);
}

// ---------------------------------------------------------------------------
// Native surface (internal)

interface NativeOpenOptions {
  createIfMissing?: boolean | undefined;
  createMissingColumnFamilies?: boolean | undefined;
  blockCacheSize?: number | undefined;
  writeBufferSize?: number | undefined;
  maxWriteBufferNumber?: number | undefined;
  compression?: Compression | undefined;
  disableWAL?: boolean | undefined;
  atomicFlush?: boolean | undefined;
  fixedPrefixLength?: number | undefined;
  columnFamilies?: readonly string[] | undefined;
}

interface NativeColumnFamily {
  name(): string;
  id(): number;
  isValid(): boolean;
  isDropped(): boolean;
}

interface NativeSnapshot {
  release(): void;
  isReleased(): boolean;
  sequenceNumber(): number;
}

interface NativeIteratorOptions {
  lowerBound?: Uint8Array | undefined;
  upperBound?: Uint8Array | undefined;
  snapshot?: NativeSnapshot | undefined;
  prefixSameAsStart?: boolean | undefined;
  fillCache?: boolean | undefined;
}

interface NativeIterator {
  seek(key: Uint8Array): void;
  seekForPrev(key: Uint8Array): void;
  seekToFirst(): void;
  seekToLast(): void;
  valid(): boolean;
  next(): void;
  prev(): void;
  key(): Uint8Array;
  value(): Uint8Array;
  nextBatch(maxEntries: number): Array<[Uint8Array, Uint8Array]>;
  nextBatchPacked(maxEntries: number): ArrayBuffer | undefined;
  close(): void;
  isClosed(): boolean;
}

interface NativeWriteBatch {
  put(cf: NativeColumnFamily, key: Uint8Array, value: Uint8Array): void;
  delete(cf: NativeColumnFamily, key: Uint8Array): void;
  merge(cf: NativeColumnFamily, key: Uint8Array, value: Uint8Array): void;
  deleteRange(cf: NativeColumnFamily, begin: Uint8Array, end: Uint8Array): void;
  clear(): void;
  count(): number;
  dataSize(): number;
}

interface NativeSstFileWriter {
  configure(options: NativeOpenOptions): void;
  open(path: string): void;
  put(key: Uint8Array, value: Uint8Array): void;
  merge(key: Uint8Array, value: Uint8Array): void;
  delete(key: Uint8Array): void;
  deleteRange(begin: Uint8Array, end: Uint8Array): void;
  finish(): SstFileInfo;
  finishAsync(): Promise<SstFileInfo>;
  fileSize(): number;
  abandon(): void;
  state(): SstFileWriterState;
}

interface NativeDatabase {
  open(path: string, options: NativeOpenOptions): void;
  close(): void;
  isClosed(): boolean;
  path(): string;
  getColumnFamily(name: string): NativeColumnFamily | undefined;
  listColumnFamilies(): string[];
  createColumnFamily(name: string): NativeColumnFamily;
  dropColumnFamily(cf: NativeColumnFamily): void;
  get(cf: NativeColumnFamily, key: Uint8Array, snapshot: NativeSnapshot | undefined): Uint8Array | undefined;
  /** undefined = not found; number = value length, copied into the scratch buffer; Uint8Array = too large for scratch. */
  getInto(cf: NativeColumnFamily, key: Uint8Array, snapshot: NativeSnapshot | undefined): Uint8Array | number | undefined;
  put(cf: NativeColumnFamily, key: Uint8Array, value: Uint8Array): void;
  delete(cf: NativeColumnFamily, key: Uint8Array): void;
  merge(cf: NativeColumnFamily, key: Uint8Array, value: Uint8Array): void;
  deleteRange(cf: NativeColumnFamily, begin: Uint8Array, end: Uint8Array): void;
  write(batch: NativeWriteBatch): void;
  flush(cf: NativeColumnFamily | undefined): void;
  compactRange(cf: NativeColumnFamily, begin: Uint8Array | undefined, end: Uint8Array | undefined): void;
  compactRangeAsync(cf: NativeColumnFamily, begin: Uint8Array | undefined, end: Uint8Array | undefined): Promise<void>;
  getSnapshot(): NativeSnapshot;
  iterator(cf: NativeColumnFamily, options: NativeIteratorOptions): NativeIterator;
  createCheckpoint(dir: string): void;
  createCheckpointAsync(dir: string): Promise<void>;
  getLiveFilesMetaData(withUniqueIds: boolean): LiveFileMetaData[];
  ingestExternalFile(cf: NativeColumnFamily, files: readonly string[], options: IngestExternalFileOptions): void;
  ingestExternalFileAsync(cf: NativeColumnFamily, files: readonly string[], options: IngestExternalFileOptions): Promise<void>;
  createSstFileWriter(): NativeSstFileWriter;
  getProperty(name: string, cf: NativeColumnFamily | undefined): string | undefined;
  latestSequenceNumber(): number;
}

interface NativeBinding {
  Database: new () => NativeDatabase;
  WriteBatch: new () => NativeWriteBatch;
  SstFileWriter: new () => NativeSstFileWriter;
  setScratch(scratch: Uint8Array): void;
  setErrorFactory(factory: (code: string, message: string, path: string | undefined, status: string | undefined) => Error): void;
  listColumnFamilies(path: string): string[];
  verifySstFile(path: string): Promise<SstFileVerification>;
  crc32cForTest(bytes: Uint8Array, portable: boolean): number;
  rocksdbVersion: string;
  mergeOperatorName: string;
}

/**
 * The addon file that loads (or, when none does, the first candidate): a build from source in
 * build/Release, else the prebuilt binary in prebuilds/<platform>-<arch>. FLOWSTATE_ROCKSDB_ADDON
 * overrides the location.
 */
export function nativeAddonPath(): string {
  const loaded = loadNativeAddon();
  return 'file' in loaded ? loaded.file : nativeAddonCandidates()[0]!;
}

let binding: NativeBinding | undefined;

// get() copies values up to this size into `scratch` natively and slices them
// out here: much cheaper than creating a Buffer in native code per call.
const SCRATCH_BYTES = 64 * 1024;
const scratch = new Uint8Array(SCRATCH_BYTES);

function loadBinding(): NativeBinding {
  if (binding) return binding;
  const addon = loadNativeAddon();
  if (!('file' in addon)) throw new RocksDBError('ROCKSDB_NATIVE_UNAVAILABLE', addon.message, { cause: addon.cause });
  const loaded = addon.exports as NativeBinding;
  loaded.setErrorFactory(
    (code, message, path, status) => new RocksDBError(code as RocksDBErrorCode, message, { path, status }),
  );
  loaded.setScratch(scratch);
  binding = loaded;
  return loaded;
}

/** True when the native addon is built and loads. */
export function isNativeAvailable(): boolean {
  try {
    loadBinding();
    return true;
  } catch {
    return false;
  }
}

/** What {@link verifySstFile} read. */
export interface SstFileVerification {
  /** Bytes in the file. */
  readonly size: number;
  /** CRC32C (Castagnoli, the checksum of stream state handles) of the whole file, computed before the block checks. */
  readonly crc32c: number;
}

/**
 * Checks an SST file on the libuv thread pool: computes the CRC32C of the whole file, then checks
 * the checksum of every block with RocksDB's SstFileReader::VerifyChecksum. Rejects with
 * ROCKSDB_CORRUPTION (e.g. `block checksum mismatch`) or ROCKSDB_IO_ERROR, naming the file.
 * A caller that uploads the file and gets the same CRC32C back uploaded the verified bytes.
 */
export function verifySstFile(path: string): Promise<SstFileVerification> {
  return asyncCall(() => loadBinding().verifySstFile(path));
}

/**
 * @internal For tests: the CRC32C verifySstFile computes, with the CPU's CRC32C instruction where
 * the machine has one (`portable: false`) or the portable table every other machine uses.
 */
export function nativeCrc32cForTest(bytes: Uint8Array, portable: boolean): number {
  return loadBinding().crc32cForTest(bytes, portable);
}

/** Version of the RocksDB library the addon was compiled against, e.g. "7.8.3". */
export function rocksdbVersion(): string {
  return loadBinding().rocksdbVersion;
}

// ---------------------------------------------------------------------------
// Merge operator encoding

/** Name of the merge operator registered on every column family. */
export const LIST_APPEND_MERGE_OPERATOR = 'flowstate.list-append';

/**
 * Encodes elements for the `flowstate.list-append` merge operator: each element
 * is `[u32 big-endian length][bytes]`. A stored value and every merge operand
 * is such a sequence, so RocksDB merges by plain concatenation.
 */
export function encodeListElements(elements: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const e of elements) total += 4 + e.byteLength;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let off = 0;
  for (const e of elements) {
    view.setUint32(off, e.byteLength, false);
    out.set(e, off + 4);
    off += 4 + e.byteLength;
  }
  return out;
}

/** Inverse of {@link encodeListElements}; throws ROCKSDB_CORRUPTION on malformed input. */
export function decodeListElements(bytes: Uint8Array): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Uint8Array[] = [];
  let off = 0;
  while (off < bytes.byteLength) {
    if (off + 4 > bytes.byteLength) throw new RocksDBError('ROCKSDB_CORRUPTION', 'truncated list element header');
    const len = view.getUint32(off, false);
    if (off + 4 + len > bytes.byteLength) throw new RocksDBError('ROCKSDB_CORRUPTION', 'truncated list element');
    out.push(bytes.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Public types

export type Compression = 'none' | 'snappy' | 'lz4' | 'zstd';

export interface RocksDBOptions {
  /** Create the database if it does not exist. Default true. */
  createIfMissing?: boolean;
  /** Create column families named in `columnFamilies` that don't exist yet. Default false. */
  createMissingColumnFamilies?: boolean;
  /** LRU block cache capacity in bytes, shared by all column families; 0 disables the cache. Default 32 MiB. */
  blockCacheSize?: number;
  /** Memtable size per column family in bytes. Default 64 MiB. */
  writeBufferSize?: number;
  /** Max memtables per column family (>= 2). Default 2. */
  maxWriteBufferNumber?: number;
  /** SST block compression. Default 'snappy'. */
  compression?: Compression;
  /** Disable the WAL for every write (as Flink does); memtables are flushed on close/checkpoint. Default false. */
  disableWAL?: boolean;
  /** RocksDB atomic_flush: flush all column families together (consistent multi-CF flushes without WAL). Default false. */
  atomicFlush?: boolean;
  /** Install a fixed-length prefix extractor (needed for `prefixSameAsStart`). Default: none. */
  fixedPrefixLength?: number;
  /**
   * Column families to open. RocksDB requires every existing family to be opened, so this
   * must list all of them ('default' is added if missing). Omit to open all existing ones.
   */
  columnFamilies?: readonly string[];
}

export interface IteratorOptions {
  /** Inclusive lower bound. */
  lowerBound?: Uint8Array;
  /** Exclusive upper bound. */
  upperBound?: Uint8Array;
  /** Read at this snapshot (ignores later writes). */
  snapshot?: Snapshot;
  /** Stop when the key prefix (fixedPrefixLength) differs from the seek key's. Requires fixedPrefixLength. */
  prefixSameAsStart?: boolean;
  /** Whether blocks read by this iterator populate the block cache. Default true. */
  fillCache?: boolean;
}

export interface LiveFileMetaData {
  /** File name relative to `directory`, e.g. "000012.sst". */
  name: string;
  directory: string;
  columnFamily: string;
  size: number;
  smallestKey: Uint8Array;
  largestKey: Uint8Array;
  smallestSeqno: number;
  largestSeqno: number;
  level: number;
  fileNumber: number;
  numEntries: number;
  numDeletions: number;
  /**
   * RocksDB's stable 128-bit SST unique id (GetUniqueIdFromTableProperties), as
   * "XXXXXXXXXXXXXXXX-XXXXXXXXXXXXXXXX". Absent if unavailable (e.g. the file was
   * compacted away between the two metadata reads) or when not requested.
   */
  uniqueId?: string;
}

export interface LiveFilesMetaDataOptions {
  /** Also read table properties to compute `uniqueId`. Default true. */
  uniqueIds?: boolean;
}

export interface IngestExternalFileOptions {
  /** Hard-link/move the files into the DB instead of copying. Default false. */
  moveFiles?: boolean;
}

export interface SstFileInfo {
  path: string;
  fileSize: number;
  numEntries: number;
  numRangeDelEntries: number;
  smallestKey: Uint8Array;
  largestKey: Uint8Array;
}

export type SstFileWriterState = 'idle' | 'open' | 'finishing';

/** Table options for a standalone SstFileWriter (same meaning as in {@link RocksDBOptions}). */
export type SstFileWriterOptions = Pick<RocksDBOptions, 'compression' | 'fixedPrefixLength'>;

export type Entry = [key: Uint8Array, value: Uint8Array];

// Module-private accessors, installed by the classes' static blocks.
let wrapColumnFamily: (n: NativeColumnFamily) => ColumnFamily;
let nativeOfColumnFamily: (cf: ColumnFamily) => NativeColumnFamily;
let wrapSnapshot: (n: NativeSnapshot) => Snapshot;
let nativeOfSnapshot: (s: Snapshot) => NativeSnapshot;
let wrapIterator: (n: NativeIterator) => RocksIterator;
let nativeOfBatch: (b: WriteBatch) => NativeWriteBatch;
let wrapSstFileWriter: (n: NativeSstFileWriter) => SstFileWriter;
// Set only for the duration of one `new SstFileWriter()` inside wrapSstFileWriter.
let adoptNextSstWriter: NativeSstFileWriter | undefined;

function nativeSnapshotOrUndefined(s: Snapshot | undefined): NativeSnapshot | undefined {
  return s === undefined ? undefined : nativeOfSnapshot(s);
}

// ---------------------------------------------------------------------------
// ColumnFamily

/** Handle to a column family of an open {@link RocksDB}. */
export class ColumnFamily {
  readonly #native: NativeColumnFamily;
  readonly name: string;
  /** RocksDB's numeric column family id. */
  readonly id: number;

  private constructor(native: NativeColumnFamily) {
    this.#native = native;
    this.name = native.name();
    this.id = native.id();
  }

  /** False once the family was dropped or its database closed. */
  get isValid(): boolean {
    return this.#native.isValid();
  }

  get isDropped(): boolean {
    return this.#native.isDropped();
  }

  static {
    wrapColumnFamily = (n) => new ColumnFamily(n);
    nativeOfColumnFamily = (cf) => {
      if (typeof cf !== 'object' || cf === null || !(#native in cf)) throw invalid('expected a ColumnFamily');
      return cf.#native;
    };
  }
}

// ---------------------------------------------------------------------------
// Snapshot

/** A consistent point-in-time view of the database. */
export class Snapshot {
  readonly #native: NativeSnapshot;
  /** RocksDB sequence number of the snapshot. */
  readonly sequenceNumber: number;

  private constructor(native: NativeSnapshot) {
    this.#native = native;
    this.sequenceNumber = native.sequenceNumber();
  }

  /** Releases the snapshot (idempotent). Iterators already reading at it keep working until closed. */
  release(): void {
    this.#native.release();
  }

  get isReleased(): boolean {
    return this.#native.isReleased();
  }

  static {
    wrapSnapshot = (n) => new Snapshot(n);
    nativeOfSnapshot = (s) => {
      if (typeof s !== 'object' || s === null || !(#native in s)) throw invalid('expected a Snapshot');
      return s.#native;
    };
  }
}

// ---------------------------------------------------------------------------
// Iterator

/**
 * Decodes IterWrap::NextBatchPacked's layout (host-endian u32):
 * [count][klen_0][vlen_0]...[klen_n-1][vlen_n-1] then k_0 v_0 k_1 v_1 ...
 * Every key/value is copied out (slice), so entries don't pin the batch buffer.
 */
function unpackBatch(packed: ArrayBuffer): Entry[] {
  const count = new Uint32Array(packed, 0, 1)[0] ?? 0;
  const lens = new Uint32Array(packed, 4, 2 * count);
  const bytes = new Uint8Array(packed);
  const out: Entry[] = new Array<Entry>(count);
  let off = 4 * (1 + 2 * count);
  for (let i = 0; i < count; i++) {
    const kl = lens[2 * i] ?? 0;
    const vl = lens[2 * i + 1] ?? 0;
    const key = bytes.slice(off, off + kl);
    off += kl;
    const value = bytes.slice(off, off + vl);
    off += vl;
    out[i] = [key, value];
  }
  if (off !== packed.byteLength) throw new RocksDBError('ROCKSDB_UNKNOWN', 'malformed packed iterator batch');
  return out;
}

/**
 * A RocksDB iterator over one column family. Must be positioned with a seek
 * before use. `key()`/`value()`/`next()`/`prev()` throw ROCKSDB_INVALID_ARGUMENT
 * when the iterator is not valid. Iterating with `for..of` starts at the first
 * entry (or at the current position if already positioned) and reads ahead in
 * batches, so the iterator's position afterwards is unspecified.
 */
export class RocksIterator implements Iterable<Entry> {
  readonly #native: NativeIterator;
  #positioned = false;

  private constructor(native: NativeIterator) {
    this.#native = native;
  }

  seek(key: Uint8Array): void {
    this.#native.seek(key);
    this.#positioned = true;
  }

  /** Positions at the last key <= `key`. */
  seekForPrev(key: Uint8Array): void {
    this.#native.seekForPrev(key);
    this.#positioned = true;
  }

  seekToFirst(): void {
    this.#native.seekToFirst();
    this.#positioned = true;
  }

  seekToLast(): void {
    this.#native.seekToLast();
    this.#positioned = true;
  }

  /** Whether the iterator is positioned on an entry. Throws if the iterator hit an I/O error. */
  valid(): boolean {
    return this.#native.valid();
  }

  next(): void {
    this.#native.next();
  }

  prev(): void {
    this.#native.prev();
  }

  key(): Uint8Array {
    return this.#native.key();
  }

  value(): Uint8Array {
    return this.#native.value();
  }

  /**
   * Returns up to `maxEntries` entries starting at the current position and
   * advances past them (one native call and one buffer instead of 3 calls per
   * entry). A batch also ends early once it holds ~8 MiB of keys+values.
   * Returns an empty array when the iterator is not valid.
   */
  nextBatch(maxEntries = 1024): Entry[] {
    const packed = this.#native.nextBatchPacked(maxEntries);
    return packed === undefined ? [] : unpackBatch(packed);
  }

  /** Frees the native iterator (idempotent). */
  close(): void {
    this.#native.close();
  }

  /** True after close(), or once the database closed / the column family was dropped. */
  get isClosed(): boolean {
    return this.#native.isClosed();
  }

  *[Symbol.iterator](): Generator<Entry, void, undefined> {
    if (!this.#positioned) this.seekToFirst();
    for (;;) {
      const packed = this.#native.nextBatchPacked(256);
      if (packed === undefined) return;
      yield* unpackBatch(packed);
    }
  }

  static {
    wrapIterator = (n) => new RocksIterator(n);
  }
}

// ---------------------------------------------------------------------------
// WriteBatch

/** An atomic batch of writes, applied with {@link RocksDB.write}. */
export class WriteBatch {
  readonly #native: NativeWriteBatch;

  constructor() {
    this.#native = new (loadBinding().WriteBatch)();
  }

  put(cf: ColumnFamily, key: Uint8Array, value: Uint8Array): this {
    this.#native.put(nativeOfColumnFamily(cf), key, value);
    return this;
  }

  delete(cf: ColumnFamily, key: Uint8Array): this {
    this.#native.delete(nativeOfColumnFamily(cf), key);
    return this;
  }

  merge(cf: ColumnFamily, key: Uint8Array, value: Uint8Array): this {
    this.#native.merge(nativeOfColumnFamily(cf), key, value);
    return this;
  }

  /** Deletes keys in [begin, end). */
  deleteRange(cf: ColumnFamily, begin: Uint8Array, end: Uint8Array): this {
    this.#native.deleteRange(nativeOfColumnFamily(cf), begin, end);
    return this;
  }

  clear(): void {
    this.#native.clear();
  }

  /** Number of operations in the batch. */
  get count(): number {
    return this.#native.count();
  }

  /** Size of the batch's serialized representation in bytes. */
  get dataSize(): number {
    return this.#native.dataSize();
  }

  static {
    nativeOfBatch = (b) => {
      if (typeof b !== 'object' || b === null || !(#native in b)) throw invalid('expected a WriteBatch');
      return b.#native;
    };
  }
}

// ---------------------------------------------------------------------------
// SstFileWriter

/**
 * Writes an SST file for {@link RocksDB.ingestExternalFile}. Keys must be added
 * in strictly increasing (bytewise) order. Uses the bytewise comparator and
 * the `flowstate.list-append` merge operator, like every column family.
 */
export class SstFileWriter {
  readonly #native: NativeSstFileWriter;

  /** A standalone writer; prefer {@link RocksDB.createSstFileWriter} to copy a DB's table options. */
  constructor(options: SstFileWriterOptions = {}) {
    const adopted = adoptNextSstWriter;
    adoptNextSstWriter = undefined;
    if (adopted !== undefined) {
      this.#native = adopted;
    } else {
      this.#native = new (loadBinding().SstFileWriter)();
      this.#native.configure(options);
    }
  }

  open(path: string): void {
    this.#native.open(path);
  }

  put(key: Uint8Array, value: Uint8Array): void {
    this.#native.put(key, value);
  }

  merge(key: Uint8Array, value: Uint8Array): void {
    this.#native.merge(key, value);
  }

  delete(key: Uint8Array): void {
    this.#native.delete(key);
  }

  /** Deletes keys in [begin, end) (a range tombstone in the file). */
  deleteRange(begin: Uint8Array, end: Uint8Array): void {
    this.#native.deleteRange(begin, end);
  }

  /** Finalizes the file. The writer can then be opened again for another file. */
  finish(): SstFileInfo {
    return this.#native.finish();
  }

  /** finish() on the libuv thread pool; other calls throw ROCKSDB_BUSY until it settles. */
  finishAsync(): Promise<SstFileInfo> {
    return asyncCall(() => this.#native.finishAsync());
  }

  /** Abandons an open, unfinished file (the partial file is left on disk). */
  abandon(): void {
    this.#native.abandon();
  }

  /** Bytes written so far to the open file. */
  get fileSize(): number {
    return this.#native.fileSize();
  }

  get state(): SstFileWriterState {
    return this.#native.state();
  }

  static {
    wrapSstFileWriter = (n) => {
      adoptNextSstWriter = n;
      return new SstFileWriter();
    };
  }
}

// ---------------------------------------------------------------------------
// RocksDB

/** An open RocksDB database. */
export class RocksDB {
  readonly #native: NativeDatabase;
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
    native.open(path, {
      createIfMissing: options.createIfMissing,
      createMissingColumnFamilies: options.createMissingColumnFamilies,
      blockCacheSize: options.blockCacheSize,
      writeBufferSize: options.writeBufferSize,
      maxWriteBufferNumber: options.maxWriteBufferNumber,
      compression: options.compression,
      disableWAL: options.disableWAL,
      atomicFlush: options.atomicFlush,
      fixedPrefixLength: options.fixedPrefixLength,
      columnFamilies: options.columnFamilies,
    });
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

  /** The value of `key`, or undefined. Reads at `snapshot` when given. */
  get(cf: ColumnFamily, key: Uint8Array, snapshot?: Snapshot): Uint8Array | undefined {
    const r = this.#native.getInto(nativeOfColumnFamily(cf), key, nativeSnapshotOrUndefined(snapshot));
    return typeof r === 'number' ? scratch.slice(0, r) : r;
  }

  put(cf: ColumnFamily, key: Uint8Array, value: Uint8Array): void {
    this.#native.put(nativeOfColumnFamily(cf), key, value);
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
    this.#native.deleteRange(nativeOfColumnFamily(cf), begin, end);
  }

  /** Applies a WriteBatch atomically. */
  write(batch: WriteBatch): void {
    this.#native.write(nativeOfBatch(batch));
  }

  /** Flushes the memtable of `cf`, or of every column family when omitted; waits for completion. */
  flush(cf?: ColumnFamily): void {
    this.#native.flush(cf === undefined ? undefined : nativeOfColumnFamily(cf));
  }

  /** Manual compaction of [begin, end] (open-ended when omitted). */
  compactRange(cf: ColumnFamily, begin?: Uint8Array, end?: Uint8Array): void {
    this.#native.compactRange(nativeOfColumnFamily(cf), begin, end);
  }

  compactRangeAsync(cf: ColumnFamily, begin?: Uint8Array, end?: Uint8Array): Promise<void> {
    return asyncCall(() => this.#native.compactRangeAsync(nativeOfColumnFamily(cf), begin, end));
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
   * Creates an openable copy of the database in `dir` (which must not exist),
   * hard-linking SST files. Memtables are flushed first (log_size_for_flush = 0).
   */
  createCheckpoint(dir: string): void {
    this.#native.createCheckpoint(dir);
  }

  createCheckpointAsync(dir: string): Promise<void> {
    return asyncCall(() => this.#native.createCheckpointAsync(dir));
  }

  /** Metadata of every live SST file, across all column families. */
  getLiveFilesMetaData(options: LiveFilesMetaDataOptions = {}): LiveFileMetaData[] {
    return this.#native.getLiveFilesMetaData(options.uniqueIds ?? true);
  }

  /** Ingests SST files (e.g. from {@link SstFileWriter}) into `cf`. */
  ingestExternalFile(cf: ColumnFamily, files: readonly string[], options: IngestExternalFileOptions = {}): void {
    this.#native.ingestExternalFile(nativeOfColumnFamily(cf), files, { moveFiles: options.moveFiles ?? false });
  }

  ingestExternalFileAsync(
    cf: ColumnFamily,
    files: readonly string[],
    options: IngestExternalFileOptions = {},
  ): Promise<void> {
    return asyncCall(() =>
      this.#native.ingestExternalFileAsync(nativeOfColumnFamily(cf), files, { moveFiles: options.moveFiles ?? false }),
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
}

export { RocksIterator as Iterator };
