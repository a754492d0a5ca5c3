/**
 * `@flowstate/core/spi`: what a state backend implements and builds on (Flink's StateBackend /
 * KeyedStateBackend / OperatorStateBackend contracts): the backend SPI, AbstractKeyedStateBackend,
 * the heap operator state backend, key groups, state registration checks, and the canonical
 * keyed/operator snapshot streams every backend writes and reads.
 */
// The typed errors (FlowstateError and subclasses) are part of every group: they are what its
// functions throw and what callers catch.
export * from '../errors.js';
export * from '../backend/spi.js';
export * from '../backend/identity.js';
export { DefaultOperatorStateBackend } from '../backend/operator/default-operator-state-backend.js';
export { AbstractStateBackend } from '../backend/abstract-state-backend.js';
export * from '../backend/abstract-keyed-state-backend.js';
export * from '../backend/native-snapshot-format.js';
export { createWorkingDirectory, removeAbandonedWorkingDirectories, OWNER_FILE } from '../backend/working-directory.js';
export * from '../keygroups/murmur3.js';
export * from '../keygroups/key-group-range.js';
export * from '../keygroups/key-group-assignment.js';
export * from '../keygroups/primitive-key-groups.js';
export * from '../state/registration.js';
export * from '../snapshot/keyed-state-stream.js';
export * from '../snapshot/read-buffers.js';
export * from '../snapshot/adoptable-read-buffers.js';
export * from '../snapshot/idle-pool.js';
export * from '../snapshot/operator-state-stream.js';
export * from '../snapshot/operator-state-repartitioner.js';
export * from '../snapshot/snapshot-output.js';
export * from '../state/latency-tracking.js';
export * from '../backend/snapshot/snapshot-strategy.js';
export * from '../backend/snapshot/snapshot-strategy-runner.js';
export * from '../backend/snapshot/running-snapshots.js';
export * from '../pq/index.js';
export * from '../backend/ttl-support.js';
