export { LmdbStateBackend, type LmdbStateBackendOptions } from './lmdb-state-backend.js';
export { LMDB_MAX_KEY_BYTES, LMDB_MAX_READERS, LmdbKvStore, type LmdbKvStoreOptions } from './lmdb-kv-store.js';
