// `@flowstate/rocksdb/native`: typed wrapper around the native RocksDB addon
// (build/Release/flowstate_rocksdb.node). One file per concept under ./native/; this barrel is the
// subpath's whole public surface (the files' @internal accessors are deliberately not re-exported).
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

export { RocksDBError, type RocksDBErrorCode, type RocksDBErrorOptions } from './native/errors.js';
export { isNativeAvailable, nativeAddonPath, rocksdbVersion } from './native/binding.js';
export { nativeCrc32cForTest, verifySstFile } from './native/sst-file-reader.js';
export { LIST_APPEND_MERGE_OPERATOR, decodeListElements, encodeListElements } from './native/list-encoding.js';
export type {
  BottommostLevelCompaction,
  CompactRangeOptions,
  Compression,
  Entry,
  IngestExternalFileOptions,
  LiveFileMetaData,
  LiveFilesMetaDataOptions,
  PinLiveFilesOptions,
  PinnedLiveFile,
  PinnedLiveFiles,
  RocksDBOptions,
  SstFileInfo,
  SstFileVerification,
  SstFileWriterOptions,
  SstFileWriterState,
  TtlFilterVerdict,
} from './native/types.js';
export {
  DEFAULT_TTL_QUERY_TIME_AFTER_NUM_ENTRIES,
  ttlFilterDecisionForTest,
  ttlFilterSequenceForTest,
  type TtlCompactionFilterOptions,
} from './native/ttl-filter.js';
export { ColumnFamily } from './native/column-family.js';
export { Snapshot } from './native/snapshot.js';
export { RocksIterator, RocksIterator as Iterator, type IteratorOptions } from './native/iterator.js';
export { WriteBatch } from './native/write-batch.js';
export { SstFileWriter } from './native/sst-file-writer.js';
export { MAX_SCAN_LIMIT, MAX_SCAN_READAHEAD_BYTES, RocksDB, SCRATCH_DATABASE_OPTIONS, type ScanOptions } from './native/database.js';
