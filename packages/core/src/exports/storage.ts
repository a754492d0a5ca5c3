/**
 * `@flowstate/core/storage`: checkpoint storage (Flink's CheckpointStorage and
 * CheckpointStreamFactory): state handles, the FileSystem SPI a storage provider implements, the
 * file-system checkpoint storage and its output streams, retries, limits, verification and
 * garbage collection.
 */
// The typed errors (FlowstateError and subclasses) are part of every group: they are what its
// functions throw and what callers catch.
export * from '../errors.js';
export * from '../storage/handles.js';
export * from '../storage/spi.js';
export * from '../storage/file-system.js';
export * from '../storage/paths.js';
export * from '../storage/verify.js';
export * from '../storage/memory-file-system.js';
export * from '../storage/forwarding-file-system.js';
export * from '../storage/memory-file-system-provider.js';
export * from '../storage/checkpoint-output-stream.js';
export * from '../storage/fs-checkpoint-storage.js';
export * from '../storage/file-system-registry.js';
export * from '../storage/jobmanager-checkpoint-storage.js';
export * from '../storage/storage-errors.js';
export * from '../storage/retry.js';
export * from '../storage/limiter.js';
export * from '../storage/local-io.js';
export { poolSyncLimit, threadPoolReads } from '../storage/thread-pool.js';
export { optionalSync, startSyncThreads, syncCounts, syncDescriptor, syncThreadLimit } from '../storage/sync-threads.js';
export * from '../storage/redaction.js';
export * from '../storage/garbage-collector.js';
