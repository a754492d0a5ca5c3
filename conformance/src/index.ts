/**
 * @flowstate/conformance: the one suite every state backend runs (in the spirit of Level's
 * abstract-level). A backend's test file calls runConformance once per backend configuration.
 */
export { runConformance, listConformanceCases, type ConformanceOptions, type ConformanceTestApi, type ConformanceTestOptions } from './run-conformance.js';
export { CONFORMANCE_CAPABILITIES, type ConformanceCapability } from './capabilities.js';
export { CONFORMANCE_HOOKS, type ConformanceHookName, type ConformanceHooks } from './hooks.js';
export type { ConformanceCase, ConformanceGroup } from './registry.js';
export { Fixture, type KeyedBackendOptions, type OperatorBackendOptions } from './harness/fixture.js';
export { beginKeyedCheckpoint, checkpointKeyed, checkpointOperator, discardAndVerify, type CompletedCheckpoint, type PendingCheckpoint, type CheckpointSettings } from './harness/checkpoint.js';
export { restoreKeyed, snapshotAndRestore, snapshotAndRestoreOne, type RestoreKeyedOptions } from './harness/restore.js';
export { keyGroupOf, subtaskRanges, MAX_PARALLELISM } from './harness/keys.js';
export { Prng, caseSeed, formatSeed } from './harness/prng.js';
export * from './storage/index.js';
export { runKvStoreConformance, type KvStoreConformanceOptions } from './kv/run-kv-store-conformance.js';
export { KV_STORE_CAPABILITIES, KV_STORE_CASES, type KvStoreCapability, type KvStoreCase } from './kv/kv-store-cases.js';
/** The TTL cases' hand-moved clock (defined in core, beside TtlTimeProvider), for backends' own TTL tests. */
export { ManualTtlClock } from '@flowstate/core';
export { runAndKill } from './harness/kill.js';
