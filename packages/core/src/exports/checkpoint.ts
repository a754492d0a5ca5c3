/**
 * `@flowstate/core/checkpoint`: what a checkpoint coordinator keeps (Flink's
 * CheckpointMetadata, SharedStateRegistry, CompletedCheckpointStore): the `_metadata` format, the
 * shared state registry and file reuse, referenced-file and completeness checks, the persisted
 * checkpoint history.
 */
// The typed errors (FlowstateError and subclasses) are part of every group: they are what its
// functions throw and what callers catch.
export * from '../errors.js';
export * from '../checkpoint/metadata.js';
export * from '../checkpoint/metadata-structure.js';
export * from '../checkpoint/shared-state-registry.js';
export * from '../checkpoint/shared-file-reuse.js';
export * from '../checkpoint/referenced-files.js';
export * from '../checkpoint/completeness.js';
export * from '../checkpoint/validation.js';
export * from '../checkpoint/completed-checkpoint-store.js';
export * from '../checkpoint/checkpoint-history.js';
export * from '../checkpoint/checkpointing-options.js';
