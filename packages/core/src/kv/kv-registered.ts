import type { RegisteredKeyedState } from '../backend/abstract-keyed-state-backend.js';
import type { StateKind } from '../state/descriptors.js';
import type { RestoredSerializerSnapshots } from '../state/registration.js';
import type { StateTtlConfig } from '../state/ttl.js';
import type { KvStateInfo } from './kv-state-base.js';

/** A registered state of a KV backend: its key space and, while restored but not yet re-registered, its snapshots. */
export interface RegisteredKvState extends KvStateInfo, RegisteredKeyedState {
  readonly kind: StateKind;
  restored: RestoredSerializerSnapshots | undefined;
  /** The TTL config the state is registered with now; undefined without TTL and for restored states not registered again yet. */
  ttl?: StateTtlConfig | undefined;
}
