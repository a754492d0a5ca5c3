/**
 * @flowstate/test-registry (private, never published): the one list of state backends and
 * checkpoint storages that the checkpoint matrix, the runtime simulation and the benchmarks run.
 * See README.md for how to add an entry.
 */
export { ALL_CONSUMERS, type RegistryConsumer } from './consumers.js';
export { BACKENDS, backendById, backendsFor, ROCKSDB_BENCH_OPTIONS, type BackendCreateContext, type BackendEntry } from './backends.js';
export { STORAGES, storageById, storagesFor, type RunningStorage, type StorageEntry, type StorageStartOptions } from './storages.js';
export { startChildServer, type ChildServer } from './child-server.js';
