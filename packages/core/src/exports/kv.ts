/**
 * `@flowstate/core/kv`: keyed state over a byte-level ordered key-value store. The KvStore SPI a
 * store implements (key spaces, get/put/delete/deleteRange, batched scans, putAll, optional
 * append, consistent views), Flink's row layout, the generic Value/List/Map/Reducing/Aggregating
 * states, KvKeyedStateBackend (canonical full snapshots and restore), and MinimalKvStore, the
 * reference store, with MinimalKvStateBackend around it.
 */
// The typed errors (FlowstateError and subclasses) are part of every group.
export * from '../errors.js';
export * from '../kv/index.js';
