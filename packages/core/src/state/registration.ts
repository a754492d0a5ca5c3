import { IllegalStateUsageError, StateMigrationError } from '../errors.js';
import type { TypeSerializer, TypeSerializerSnapshot } from '../serialization/type-serializer.js';
import type { StateDescriptor, StateKind } from './descriptors.js';
import type { State } from './state.js';
import { ttlSerializerOf, ttlSnapshotOf } from './ttl-descriptors.js';

/** Serializer snapshots of a state restored from a checkpoint and not registered again yet. */
export interface RestoredSerializerSnapshots {
  readonly namespaceSnapshot: TypeSerializerSnapshot<unknown>;
  readonly stateSnapshot: TypeSerializerSnapshot<unknown>;
}

/** What a backend knows about a state that is already registered (or restored). */
export interface RegisteredStateInfo {
  readonly name: string;
  readonly kind: StateKind;
  readonly namespaceSerializer: TypeSerializer<unknown>;
  readonly stateSerializer: TypeSerializer<unknown>;
  readonly restored?: RestoredSerializerSnapshots | undefined;
}

/** How a restored state continues: with which serializer, and whether its values must be rewritten. */
export interface RestoredStateResolution {
  readonly stateSerializer: TypeSerializer<unknown>;
  /** Converts a value read with the restored serializer; undefined when no rewrite is needed. */
  readonly migrate: ((oldValue: unknown) => unknown) | undefined;
}

/**
 * The rules every backend applies when a state name is registered again: the kind may not change;
 * a restored state resolves its serializer snapshots against the new serializers (see
 * resolveRestoredSerializers); a live state may not switch to an incompatible serializer or
 * another namespace serializer. Returns the resolution for a restored state, else undefined.
 */
export function checkStateRegistration(
  existing: RegisteredStateInfo,
  descriptor: StateDescriptor<State, unknown>,
  namespaceSerializer: TypeSerializer<unknown>,
): RestoredStateResolution | undefined {
  const name = descriptor.name;
  if (existing.kind !== descriptor.kind) {
    const detail = `was registered as ${existing.kind} state, cannot be used as ${descriptor.kind} state`;
    throw existing.restored !== undefined ? new StateMigrationError(name, detail) : new IllegalStateUsageError(name, detail);
  }
  checkTtlUnchanged(existing, descriptor);
  if (existing.restored !== undefined) return resolveRestoredSerializers(name, existing.restored, namespaceSerializer, descriptor.serializer);
  if (existing.stateSerializer !== descriptor.serializer && existing.stateSerializer.snapshotConfiguration().resolveSchemaCompatibility(descriptor.serializer).type === 'INCOMPATIBLE') {
    throw new StateMigrationError(name, `registered again with an incompatible serializer (${descriptor.serializer.typeId})`);
  }
  if (existing.namespaceSerializer.typeId !== namespaceSerializer.typeId) {
    throw new IllegalStateUsageError(name, `namespace serializer changed from '${existing.namespaceSerializer.typeId}' to '${namespaceSerializer.typeId}'`);
  }
  return undefined;
}

/**
 * Flink's rule: TTL may not be switched on or off for a state that has values (restored or live):
 * the stored values would be read with the wrong layout. A different time-to-live is fine.
 */
function checkTtlUnchanged(existing: RegisteredStateInfo, descriptor: StateDescriptor<State, unknown>): void {
  const had = existing.restored !== undefined ? ttlSnapshotOf(existing.kind, existing.restored.stateSnapshot) !== undefined : ttlSerializerOf(existing.kind, existing.stateSerializer) !== undefined;
  const has = descriptor.ttl !== undefined;
  if (had === has) return;
  const detail = had
    ? 'TTL was enabled for this state and is disabled now; state with TTL cannot be read without it (enable TTL again, or migrate the savepoint)'
    : 'TTL was disabled for this state and is enabled now; state without TTL cannot be read with it (disable TTL again, or migrate the savepoint)';
  throw existing.restored !== undefined ? new StateMigrationError(descriptor.name, detail) : new IllegalStateUsageError(descriptor.name, detail);
}

/**
 * First registration after restore: the namespace serializer must be compatible as is (namespaces
 * are part of the keys); the state serializer may be compatible as is, after migration, or with a
 * reconfigured serializer. Incompatible means StateMigrationError naming the state.
 */
export function resolveRestoredSerializers(
  name: string,
  restored: RestoredSerializerSnapshots,
  namespaceSerializer: TypeSerializer<unknown>,
  stateSerializer: TypeSerializer<unknown>,
): RestoredStateResolution {
  const ns = restored.namespaceSnapshot.resolveSchemaCompatibility(namespaceSerializer);
  if (ns.type !== 'COMPATIBLE_AS_IS') {
    throw new StateMigrationError(name, `namespace serializer is incompatible: ${ns.type === 'INCOMPATIBLE' ? ns.reason : ns.type}`);
  }
  const compat = restored.stateSnapshot.resolveSchemaCompatibility(stateSerializer);
  switch (compat.type) {
    case 'INCOMPATIBLE':
      throw new StateMigrationError(name, `restored state cannot be read with the new serializer: ${compat.reason}`);
    case 'COMPATIBLE_AFTER_MIGRATION':
      return { stateSerializer, migrate: compat.migrate };
    case 'COMPATIBLE_WITH_RECONFIGURED_SERIALIZER':
      return { stateSerializer: compat.serializer, migrate: undefined };
    case 'COMPATIBLE_AS_IS':
      return { stateSerializer, migrate: undefined };
  }
}

/**
 * Flink's `checkNotNull(namespace)`: a state lives in a namespace, and null is none. Heap backends
 * would otherwise store a value under it that no namespace serializer can snapshot, so every
 * backend refuses it where it enters (getPartitionedState, setCurrentNamespace, mergeNamespaces).
 */
export function checkNamespace(stateName: string, namespace: unknown): void {
  if (namespace === null || namespace === undefined) {
    throw new IllegalStateUsageError(stateName, `the namespace must not be ${namespace === null ? 'null' : 'undefined'}`);
  }
}
