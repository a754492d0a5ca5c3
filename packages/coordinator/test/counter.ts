import { computeKeyGroupRangeForOperatorIndex, Serializers, ValueStateDescriptor, type KeyedStateBackend, type StateBackend } from '@flowstate/core';
import { subtaskRestoreState, type RestorePoint } from '@flowstate/coordinator';

export const MAX_P = 128;
export const COUNT = new ValueStateDescriptor<number>('count', Serializers.int32, 0);

/** Subtask `index` of the operator `counter` on `backend`, restored from `point` (or fresh without one). */
export async function counter(backend: StateBackend, point: RestorePoint | undefined, index = 0, parallelism = 1): Promise<KeyedStateBackend<string>> {
  const r = subtaskRestoreState(point, 'counter', index, parallelism);
  return backend.createKeyedStateBackend({
    operatorIdentifier: `counter#${index}`,
    keySerializer: Serializers.string,
    maxParallelism: MAX_P,
    keyGroupRange: computeKeyGroupRangeForOperatorIndex(MAX_P, parallelism, index),
    restoreState: r?.keyed ?? [],
    ...(r ? { stateHandleReader: r.reader } : {}),
  });
}
