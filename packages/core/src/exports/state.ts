/**
 * `@flowstate/core/state`: the keyed state API an operator programs against (Flink's
 * org.apache.flink.api.common.state): state descriptors, the State interfaces (ValueState,
 * ListState, MapState, ReducingState, AggregatingState) and namespaces.
 */
// The typed errors (FlowstateError and subclasses) are part of every group: they are what its
// functions throw and what callers catch.
export * from '../errors.js';
export * from '../state/state.js';
export * from '../state/descriptors.js';
export { VoidNamespace } from '../serialization/primitives.js';
export * from '../state/priority-queue.js';
export * from '../state/ttl.js';
export * from '../state/windows.js';
export * from '../state/timers.js';
export * from '../state/ttl-config.js';
export * from '../state/ttl-value.js';
export * from '../state/ttl-states.js';
export * from '../state/ttl-descriptors.js';
export * from '../state/ttl-filters.js';
