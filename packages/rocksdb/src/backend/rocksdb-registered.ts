import type { RestoredSerializerSnapshots, State, StateDescriptor, StateKind } from '@flowstate/core';
import type { RocksStateInfo } from './rocksdb-states.js';

/** A registered state: where it lives and, while restored but not yet re-registered, its snapshots. */
export interface RegisteredRocksState extends RocksStateInfo {
  readonly kind: StateKind;
  restored: RestoredSerializerSnapshots | undefined;
  descriptor: StateDescriptor<State, unknown> | undefined;
  state: (State & { setCurrentNamespace(ns: unknown): void }) | undefined;
}

/** Column family names carry a prefix so a state may be called 'default'. */
export const STATE_CF_PREFIX = 'state:';
