// Errors of the RocksDB binding: every failure is a RocksDBError, a core FlowstateError with a
// stable code (the `ROCKSDB_*` codes mirror rocksdb::Status codes).
import { FlowstateError } from '@flowstate/core';

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

/** @internal Runs `start`, turning a synchronous throw (bad argument, closed DB) into a rejection. */
export function asyncCall<T>(start: () => Promise<T>): Promise<T> {
  try {
    return start();
  } catch (e) {
    return Promise.reject(e);
  }
}

/** @internal A ROCKSDB_INVALID_ARGUMENT error (wrong argument type, foreign handle). */
export function invalid(message: string): RocksDBError {
  return new RocksDBError('ROCKSDB_INVALID_ARGUMENT', message);
}


/**
 * @internal Throws ROCKSDB_INVALID_ARGUMENT when `end` sorts before `begin` (bytewise, the
 * comparator of every column family). RocksDB refuses such a DeleteRange only when its memtable
 * applies it, and keeps that as the database's background error: every later write and flush
 * fails, and a close with the WAL off drops the memtables. So every DeleteRange (database, batch,
 * SST writer) is checked before RocksDB sees it. Equal keys delete nothing, as in RocksDB.
 */
export function checkDeleteRange(begin: Uint8Array, end: Uint8Array): void {
  if (Buffer.compare(begin, end) > 0) throw invalid('deleteRange: end key comes before begin key');
}

/**
 * `value`, checked to be a binding wrapper (`isWrapper` is the class's own `#native in` check):
 * what crosses from user code into the binding is validated before its native object is used.
 */
export function checkedWrapper<W extends object>(value: unknown, isWrapper: (o: object) => o is W, what: string): W {
  if (typeof value !== 'object' || value === null || !isWrapper(value)) throw invalid(`expected a ${what}`);
  return value;
}
