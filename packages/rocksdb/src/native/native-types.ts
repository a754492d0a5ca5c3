// @internal The shape of the compiled addon's exports (native/*.cc). Not part of the package's API:
// the public classes wrap these objects and never hand them out.
import type { KvTtlLayout } from '@flowstate/core';
import type { BottommostLevelCompaction, Compression, TtlFilterVerdict, IngestExternalFileOptions, LiveFileMetaData, PinnedLiveFiles, SstFileInfo, SstFileVerification, SstFileWriterState } from './types.js';

export interface NativeOpenOptions {
  createIfMissing?: boolean | undefined;
  createMissingColumnFamilies?: boolean | undefined;
  blockCacheSize?: number | undefined;
  writeBufferSize?: number | undefined;
  maxWriteBufferNumber?: number | undefined;
  compression?: Compression | undefined;
  disableWAL?: boolean | undefined;
  syncFiles?: boolean | 'ssts' | undefined;
  infoLog?: boolean | undefined;
  preallocateFiles?: boolean | undefined;
  atomicFlush?: boolean | undefined;
  fixedPrefixLength?: number | undefined;
  mergeOperator?: 'list-append' | 'flink-string-append' | undefined;
  columnFamilies?: readonly string[] | undefined;
}

/** The native shape of TtlCompactionFilterOptions (ttl-filter.ts). */
export interface NativeTtlFilterConfig {
  layout: KvTtlLayout['layout'];
  ttlMs: number;
  timeCharacteristic: KvTtlLayout['timeCharacteristic'];
  queryTimeAfterNumEntries: number;
}

export interface NativeColumnFamily {
  name(): string;
  id(): number;
  isValid(): boolean;
  isDropped(): boolean;
}

export interface NativeSnapshot {
  release(): void;
  isReleased(): boolean;
  sequenceNumber(): number;
}

export interface NativeIteratorOptions {
  lowerBound?: Uint8Array | undefined;
  upperBound?: Uint8Array | undefined;
  snapshot?: NativeSnapshot | undefined;
  prefixSameAsStart?: boolean | undefined;
  fillCache?: boolean | undefined;
}

export interface NativeIterator {
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

export interface NativeWriteBatch {
  put(cf: NativeColumnFamily, key: Uint8Array, value: Uint8Array): void;
  delete(cf: NativeColumnFamily, key: Uint8Array): void;
  merge(cf: NativeColumnFamily, key: Uint8Array, value: Uint8Array): void;
  deleteRange(cf: NativeColumnFamily, begin: Uint8Array, end: Uint8Array): void;
  clear(): void;
  count(): number;
  dataSize(): number;
}

export interface NativeSstFileWriter {
  configure(options: NativeOpenOptions): void;
  open(path: string): void;
  put(key: Uint8Array, value: Uint8Array): void;
  merge(key: Uint8Array, value: Uint8Array): void;
  delete(key: Uint8Array): void;
  deleteRange(begin: Uint8Array, end: Uint8Array): void;
  finish(): SstFileInfo;
  finishAsync(): Promise<SstFileInfo>;
  putPackedRowsAndFinishAsync(buffers: readonly Uint8Array[], layout: Float64Array): Promise<SstFileInfo>;
  fileSize(): number;
  abandon(): void;
  state(): SstFileWriterState;
}

export interface NativeDatabase {
  open(path: string, options: NativeOpenOptions): void;
  openAsync(path: string, options: NativeOpenOptions): Promise<void>;
  close(): void;
  isClosed(): boolean;
  path(): string;
  getColumnFamily(name: string): NativeColumnFamily | undefined;
  listColumnFamilies(): string[];
  createColumnFamily(name: string): NativeColumnFamily;
  dropColumnFamily(cf: NativeColumnFamily): void;
  get(cf: NativeColumnFamily, key: Uint8Array, snapshot: NativeSnapshot | undefined): Uint8Array | undefined;
  /** undefined = not found; number = value length, copied to pool[offset..]; Uint8Array = it did not fit there. */
  getInto(cf: NativeColumnFamily, key: Uint8Array, pool: Uint8Array, offset: number, snapshot?: NativeSnapshot): Uint8Array | number | undefined;
  /** getInto (without a snapshot) and put bound to `cf`: the hot path's calls skip the column family's checks (see db_wrap.cc BoundCf). */
  bindColumnFamily(cf: NativeColumnFamily): [BoundGetInto, BoundPut];
  /** Up to `limit` entries of [lower, upper) packed as by NativeIterator.nextBatchPacked; undefined when none. */
  scan(cf: NativeColumnFamily, lower: Uint8Array, upper: Uint8Array, limit: number, snapshot?: NativeSnapshot, fillCache?: boolean, readaheadBytes?: number): ArrayBuffer | undefined;
  /**
   * Entries of [lower, upper) into `into` while they fit, each [klen u32 LE][vlen u32 LE][key][value];
   * [count, next]: next is the packed size of the entry that did not fit, 0 when the range is done.
   */
  scanInto(cf: NativeColumnFamily, lower: Uint8Array, upper: Uint8Array, into: Uint8Array, snapshot?: NativeSnapshot, fillCache?: boolean, readaheadBytes?: number): [count: number, next: number];
  put(cf: NativeColumnFamily, key: Uint8Array, value: Uint8Array): void;
  delete(cf: NativeColumnFamily, key: Uint8Array): void;
  merge(cf: NativeColumnFamily, key: Uint8Array, value: Uint8Array): void;
  deleteRange(cf: NativeColumnFamily, begin: Uint8Array, end: Uint8Array): void;
  write(batch: NativeWriteBatch): void;
  flush(cf: NativeColumnFamily | undefined): void;
  flushAsync(cf: NativeColumnFamily | undefined): Promise<void>;
  compactRange(cf: NativeColumnFamily, begin: Uint8Array | undefined, end: Uint8Array | undefined, bottommost: BottommostLevelCompaction | undefined): void;
  compactRangeAsync(cf: NativeColumnFamily, begin: Uint8Array | undefined, end: Uint8Array | undefined, bottommost: BottommostLevelCompaction | undefined): Promise<void>;
  getSnapshot(): NativeSnapshot;
  iterator(cf: NativeColumnFamily, options: NativeIteratorOptions): NativeIterator;
  createCheckpoint(dir: string, deferSstSyncs: boolean): string[];
  createCheckpointAsync(dir: string): Promise<void>;
  getLiveFilesMetaData(withUniqueIds: boolean): LiveFileMetaData[];
  pinLiveFiles(dir: string, prefix: string, deferSstSyncs: boolean, inlineMaxBytes: number): PinnedLiveFiles;
  ingestExternalFile(cf: NativeColumnFamily, files: readonly string[], options: IngestExternalFileOptions): void;
  ingestExternalFileAsync(cf: NativeColumnFamily, files: readonly string[], options: IngestExternalFileOptions): Promise<void>;
  createSstFileWriter(): NativeSstFileWriter;
  getProperty(name: string, cf: NativeColumnFamily | undefined): string | undefined;
  latestSequenceNumber(): number;
  setTtlCompactionFilter(cf: NativeColumnFamily, config: NativeTtlFilterConfig | undefined): void;
  setTtlTime(timestamp: number): void;
}

export interface NativeBinding {
  Database: new () => NativeDatabase;
  WriteBatch: new () => NativeWriteBatch;
  SstFileWriter: new () => NativeSstFileWriter;
  setErrorFactory(factory: (code: string, message: string, path: string | undefined, status: string | undefined) => Error): void;
  listColumnFamilies(path: string): string[];
  verifySstFile(path: string): Promise<SstFileVerification>;
  crc32cForTest(bytes: Uint8Array, portable: boolean): number;
  /** verifySstFile calls that read the file into memory once, and that streamed it (sst_verify.cc). */
  sstVerifyCountsForTest(): { inMemory: number; streamed: number };
  syncCountsForTest(): { skipped: number; keptSst: number; writebackStarts: number };
  /** SST builds from rows whose compression the sample showed worthless (skipped) or worth it (kept): compression_probe.h. */
  compressionProbeCountsForTest(): { skipped: number; kept: number };
  ttlFilterForTest(config: NativeTtlFilterConfig, now: number, value: Uint8Array, mergeOperand: boolean): TtlFilterVerdict;
  ttlFilterSequenceForTest(config: NativeTtlFilterConfig, entries: ReadonlyArray<{ value: Uint8Array; time: number }>): Array<TtlFilterVerdict['verdict']>;
  rocksdbVersion: string;
  mergeOperatorName: string;
}

/** NativeDatabase.getInto without a snapshot, bound to one column family. */
export type BoundGetInto = (key: Uint8Array, pool: Uint8Array, offset: number) => Uint8Array | number | undefined;
/** NativeDatabase.put, bound to one column family. */
export type BoundPut = (key: Uint8Array, value: Uint8Array) => void;
