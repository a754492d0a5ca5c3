// `@flowstate/rocksdb`: the RocksDB state backend. The binding itself (RocksDB, ColumnFamily,
// SstFileWriter, ...) is the subpath `@flowstate/rocksdb/native`; only what the backend's own API
// names is re-exported here (its errors and its compression option).
export { RocksDBError, type RocksDBErrorCode, type Compression } from './native.js';
export { RocksDBStateBackend, type RocksDBStateBackendOptions } from './backend/rocksdb-state-backend.js';
export { RocksDBKeyedStateBackend } from './backend/rocksdb-keyed-state-backend.js';
export { STATE_CF_PREFIX } from './backend/rocksdb-registered.js';
export { KeyLayout } from './backend/key-layout.js';
export { isIncrementalRocksDBStateHandle, type IncrementalRocksDBStateHandle, type RocksDBFileHandle, type RocksDBSharedFileHandle } from './backend/handles.js';
export { ROCKSDB_NATIVE_FORMAT } from './backend/native-snapshot-format.js';
