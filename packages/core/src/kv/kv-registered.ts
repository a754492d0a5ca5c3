import type { RegisteredKeyedState } from '../backend/abstract-keyed-state-backend.js';
import type { StateKind } from '../state/descriptors.js';
import type { RestoredSerializerSnapshots } from '../state/registration.js';
import type { StateTtlConfig } from '../state/ttl.js';
import type { KeyGroupRange } from '../keygroups/key-group-range.js';
import type { PriorityQueueStates } from '../pq/priority-queue-states.js';
import type { TypeSerializer } from '../serialization/type-serializer.js';
import type { KvRowLayout } from './kv-row-layout.js';
import type { KvStateInfo } from './kv-state-base.js';

/** A registered state of a KV backend: its key space and, while restored but not yet re-registered, its snapshots. */
export interface RegisteredKvState extends KvStateInfo, RegisteredKeyedState {
  readonly kind: StateKind;
  restored: RestoredSerializerSnapshots | undefined;
  /** The TTL config the state is registered with now; undefined without TTL and for restored states not registered again yet. */
  ttl?: StateTtlConfig | undefined;
}

/** What the snapshot and restore strategies of a KV backend both see of it: key handling, registered states, queues. */
export interface KvBackendStates {
  readonly keySerializer: TypeSerializer<unknown>;
  readonly keyGroupRange: KeyGroupRange;
  readonly layout: KvRowLayout;
  readonly states: ReadonlyMap<string, RegisteredKvState>;
  /** The priority queues (on the heap or in the store); snapshots write them after the states. */
  readonly queues: PriorityQueueStates;
}
