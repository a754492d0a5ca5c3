import { timerElementType, type InternalTimer, type KeyedStateBackend, type KeyGroupedInternalPriorityQueue, type TypeSerializer } from '@flowstate/core';

/**
 * The one place the timer service meets the backend's priority-queue state: a queue of timers
 * ordered by timestamp, then key and namespace bytes (core's timerElementType), created by the
 * keyed backend under `stateName` (restored from it when the snapshot has that state).
 */
export function createTimerQueue<K, N>(backend: KeyedStateBackend<K>, stateName: string, namespaceSerializer: TypeSerializer<N>): KeyGroupedInternalPriorityQueue<InternalTimer<K, N>> {
  return backend.createPriorityQueue(stateName, timerElementType(backend.keySerializer, namespaceSerializer));
}
