// `@flowstate/rocksdb`: the RocksDB state backend. The binding itself (RocksDB, ColumnFamily,
// SstFileWriter, ...) is the subpath `@flowstate/rocksdb/native`; only what the backend's own API
// names is re-exported here (its errors and its compression option).
export { RocksDBError, type RocksDBErrorCode, type Compression } from './native.js';
export { RocksDBOptionsError, RocksDBStateBackend, type RocksDBStateBackendOptions } from './backend/rocksdb-state-backend.js';
export { RocksDBKeyedStateBackend, ROCKSDB_NATIVE_METRICS, type RocksDBTimerServiceFactory } from './backend/rocksdb-keyed-state-backend.js';
export { RocksDBKvStore, RocksDBKeySpace, STATE_CF_PREFIX } from './backend/rocksdb-kv-store.js';
export {
  isIncrementalRocksDBStateHandle,
  ROCKSDB_NATIVE_FORMAT_VERSION,
  SUPPORTED_ROCKSDB_NATIVE_FORMAT_VERSIONS,
  type IncrementalRocksDBStateHandle,
  type RocksDBFileHandle,
  type RocksDBSharedFileHandle,
} from './backend/handles.js';
export { ROCKSDB_NATIVE_FORMAT } from './backend/native-snapshot-format.js';
export { INLINE_FILE_MAX_BYTES } from './backend/rocksdb-incremental-snapshot.js';
