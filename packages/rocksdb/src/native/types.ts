// Public option and result types of the RocksDB binding.

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
  /**
   * Sync files and directories (fsync / fdatasync), as RocksDB does by default (true). 'ssts':
   * only SST files are synced (as RocksDB writes them: flush, compaction, SstFileWriter,
   * ingestion), not the MANIFEST, CURRENT, OPTIONS or directories, for a database that is never
   * reopened and whose SSTs are what checkpoints upload. false for scratch databases only, whose
   * files are copied to durable storage before anything relies on them (a savepoint
   * conversion's). Without true, a crash may lose or corrupt the local database.
   */
  syncFiles?: boolean | 'ssts';
  /**
   * Write RocksDB's info LOG file in the database directory (diagnostics: the options, flushes,
   * compactions). Default true. false writes none, for scratch databases deleted unread (a
   * savepoint conversion's).
   */
  infoLog?: boolean;
  /**
   * Let RocksDB preallocate space for the files it grows (its `allow_fallocate`: 4 MiB per
   * MANIFEST, more for write-ahead logs as they are written and for compaction outputs; the unused
   * part is freed when the file is closed or deleted). Default true. false for scratch databases
   * (a savepoint conversion's): where the file system discards freed blocks synchronously (ext4
   * mounted with `discard`), each such free waits for the device.
   */
  preallocateFiles?: boolean;
  /** RocksDB atomic_flush: flush all column families together (consistent multi-CF flushes without WAL). Default false. */
  atomicFlush?: boolean;
  /** Install a fixed-length prefix extractor (needed for `prefixSameAsStart`). Default: none. */
  fixedPrefixLength?: number;
  /**
   * Merge operator of every column family. 'list-append' (default): flowstate's framed list append.
   * 'flink-string-append': Flink's list-state operator (elements joined by ','), to read the SST
   * files of Flink's RocksDB state backend, whose list operands may still be unmerged.
   */
  mergeOperator?: 'list-append' | 'flink-string-append';
  /**
   * Column families to open. RocksDB requires every existing family to be opened, so this
   * must list all of them ('default' is added if missing). Omit to open all existing ones.
   */
  columnFamilies?: readonly string[];
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
  /**
   * CRC32C of the whole file (as @node-rs/crc32 computes it), which RocksDB computed while it
   * wrote the file and keeps in its MANIFEST ("FileChecksumCrc32c"). Absent for files written
   * without a checksum generator (e.g. by a database opened elsewhere).
   */
  fileChecksum?: number;
}

export interface LiveFilesMetaDataOptions {
  /** Also read table properties to compute `uniqueId`. Default true. */
  uniqueIds?: boolean;
}

/** One file of a consistent view of the database (RocksDB.pinLiveFiles): a link (or copy) in the pin directory, or its bytes. */
export interface PinnedLiveFile {
  /** RocksDB's name for it: `000012.sst`, `MANIFEST-000005`, `CURRENT`, `OPTIONS-000009`, a WAL's `000004.log`. */
  readonly name: string;
  /** Where its hard link (or, where the file system cannot link, its copy) lies; absent when `bytes` holds the file. */
  readonly path?: string;
  /** The file's bytes, up to the size the view records (a MANIFEST or WAL goes on growing after it). */
  readonly bytes?: Uint8Array;
}

export interface PinLiveFilesOptions {
  /** See RocksDB.createCheckpoint's `deferSstSyncs`. Default false. */
  readonly deferSstSyncs?: boolean;
  /** Files other than SSTs and blob files of at most this many bytes (at most 16 MiB; CURRENT always) are returned as bytes, larger ones pinned in the directory. */
  readonly inlineMaxBytes: number;
}

export interface PinnedLiveFiles {
  /** Every file of the view, in RocksDB's order. */
  readonly files: readonly PinnedLiveFile[];
  /** See RocksDB.createCheckpoint's result. */
  readonly unsyncedSsts: readonly string[];
}

export interface IngestExternalFileOptions {
  /** Hard-link/move the files into the DB instead of copying. Default false. */
  moveFiles?: boolean;
  /**
   * Each file's whole-file CRC32C (SstFileInfo.fileChecksum), one per file in order: RocksDB
   * records them in its MANIFEST instead of reading every file to compute them. The files are then
   * never modified (no global sequence number written into them; it lives in the MANIFEST).
   */
  fileChecksums?: readonly number[];
}

export interface SstFileInfo {
  path: string;
  fileSize: number;
  numEntries: number;
  numRangeDelEntries: number;
  smallestKey: Uint8Array;
  largestKey: Uint8Array;
  /** CRC32C of the whole file, computed while it was written (see LiveFileMetaData.fileChecksum). */
  fileChecksum?: number;
}

export type SstFileWriterState = 'idle' | 'open' | 'finishing';

/** Table options for a standalone SstFileWriter (same meaning as in {@link RocksDBOptions}). */
export type SstFileWriterOptions = Pick<RocksDBOptions, 'compression' | 'fixedPrefixLength'>;

export type Entry = [key: Uint8Array, value: Uint8Array];

/** What {@link verifySstFile} read. */
export interface SstFileVerification {
  /** Bytes in the file. */
  readonly size: number;
  /** CRC32C (Castagnoli, the checksum of stream state handles) of the whole file, computed before the block checks. */
  readonly crc32c: number;
}

/** What the filter does with one value: keep it, remove it, or rewrite it (a list without its expired elements). */
export type TtlFilterVerdict = { readonly verdict: 'keep' | 'remove' } | { readonly verdict: 'rewrite'; readonly value: Uint8Array };

/**
 * Whether a manual compaction also rewrites the files already in the bottommost level: 'skip'
 * (RocksDB without a compaction filter) or 'force'. Default: 'skip', except for column families
 * with a TTL compaction filter, where RocksDB's kIfHaveCompactionFilter rewrites them.
 */
export type BottommostLevelCompaction = 'skip' | 'force';

export interface CompactRangeOptions {
  readonly bottommostLevelCompaction?: BottommostLevelCompaction;
}
