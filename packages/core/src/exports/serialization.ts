/**
 * `@flowstate/core/serialization`: TypeSerializers (Flink-compatible primitives, collections,
 * records, msgpack), serializer snapshots and their registry, and the big-endian
 * DataInput/DataOutput views they write with.
 */
// The typed errors (FlowstateError and subclasses) are part of every group: they are what its
// functions throw and what callers catch.
export * from '../errors.js';
export * from '../serialization/index.js';
export * from '../io/data-input.js';
export * from '../io/data-output.js';
