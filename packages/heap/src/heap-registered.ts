import type { IdentityFn, State, StateDescriptor, TypeSerializer } from '@flowstate/core';
import { HeapMapKeys } from './heap-map.js';
import type { StateMeta, StateTable } from './state-table.js';

/** A registered state: its table plus the state object handed out (one per namespace serializer). */
export interface Registered {
  readonly table: StateTable;
  descriptor: StateDescriptor<State, unknown> | undefined;
  state: (State & { setCurrentNamespace(ns: unknown): void }) | undefined;
  nsIdentity: IdentityFn<unknown>;
  /** Map state: how its values are keyed (follows meta.stateSerializer's key serializer). */
  mapKeys?: HeapMapKeys;
}

export function mapKeySerializer(meta: StateMeta): TypeSerializer<unknown> {
  return (meta.stateSerializer as unknown as { keySerializer: TypeSerializer<unknown> }).keySerializer;
}

/** The layout of a map state's values under its current serializer. */
export function mapKeysOf(meta: StateMeta): HeapMapKeys {
  return HeapMapKeys.of(mapKeySerializer(meta));
}

export function mapValueSerializer(meta: StateMeta): TypeSerializer<unknown> {
  return (meta.stateSerializer as unknown as { valueSerializer: TypeSerializer<unknown> }).valueSerializer;
}
