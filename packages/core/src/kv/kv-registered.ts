import type { RegisteredKeyedState } from '../backend/abstract-keyed-state-backend.js';
import type { StateKind } from '../state/descriptors.js';
import type { RestoredSerializerSnapshots } from '../state/registration.js';
import type { KvStateInfo } from './kv-state-base.js';

/** A registered state of a KV backend: its key space and, while restored but not yet re-registered, its snapshots. */
export interface RegisteredKvState extends KvStateInfo, RegisteredKeyedState {
  readonly kind: StateKind;
  restored: RestoredSerializerSnapshots | undefined;
}
