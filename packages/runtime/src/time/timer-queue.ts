import { IllegalStateUsageError, type KeyedStateBackend, type KeyGroupedInternalPriorityQueue, type PriorityQueueElementType, type TypeSerializer } from '@flowstate/core';
import type { InternalTimer } from './timer-service.js';

/**
 * The one place the timer service meets the backend's priority-queue state: a queue of timers
 * ordered by (timestamp, key, namespace) bytes, created by the keyed backend under `stateName`.
 */
export function createTimerQueue<K, N>(backend: KeyedStateBackend<K>, stateName: string, namespaceSerializer: TypeSerializer<N>): KeyGroupedInternalPriorityQueue<InternalTimer<K, N>> {
  const b = backend as KeyedStateBackend<K> & {
    createPriorityQueue?<T>(name: string, elementType: PriorityQueueElementType<K, T>): KeyGroupedInternalPriorityQueue<T>;
  };
  if (b.createPriorityQueue === undefined) throw new IllegalStateUsageError(stateName, 'this keyed state backend has no priority-queue state');
  void namespaceSerializer;
  throw new IllegalStateUsageError(stateName, 'timer element type not available yet');
}
