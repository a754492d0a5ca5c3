import type { IdentityFn, State, StateDescriptor, TypeSerializer } from '@flowstate/core';
import type { StateMeta, StateTable } from './state-table.js';

/** A registered state: its table plus the state object handed out (one per namespace serializer). */
export interface Registered {
  readonly table: StateTable;
  descriptor: StateDescriptor<State, unknown> | undefined;
  state: (State & { setCurrentNamespace(ns: unknown): void }) | undefined;
  nsIdentity: IdentityFn<unknown>;
  userKeyIdentity?: IdentityFn<unknown>;
}

export function mapKeySerializer(meta: StateMeta): TypeSerializer<unknown> {
  return (meta.stateSerializer as unknown as { keySerializer: TypeSerializer<unknown> }).keySerializer;
}

export function mapValueSerializer(meta: StateMeta): TypeSerializer<unknown> {
  return (meta.stateSerializer as unknown as { valueSerializer: TypeSerializer<unknown> }).valueSerializer;
}
