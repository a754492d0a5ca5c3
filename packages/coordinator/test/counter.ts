import { computeKeyGroupRangeForOperatorIndex, Serializers, ValueStateDescriptor, type CheckpointStreamFactory, type FileStateHandle, type KeyedStateBackend, type OperatorStateBackend, type OperatorStateHandle, type StateBackend } from '@flowstate/core';
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

/** An operator backend whose snapshot is one file: a new shared file, or (`reuse`) one it references again. */
export function fileBackend(reuse: () => FileStateHandle | undefined): OperatorStateBackend {
  const make = async (f: CheckpointStreamFactory): Promise<OperatorStateHandle> => {
    let stream = reuse();
    if (stream === undefined) {
      const out = f.createCheckpointStateOutputStream('SHARED');
      await out.write(new Uint8Array([1, 2, 3]));
      stream = (await out.closeAndGetHandle()) as FileStateHandle;
    }
    return { type: 'operator', stream, stateSize: stream.size, states: {} };
  };
  const backend = {
    snapshot: (checkpointId: number, _ts: number, f: CheckpointStreamFactory) => ({
      checkpointId,
      syncDurationMs: 0,
      cancel: () => {},
      result: make(f).then((h) => ({ jobManagerOwnedSnapshot: h, checkpointedSize: h.stateSize, fullSize: h.stateSize })),
    }),
    notifyCheckpointComplete: () => {},
    notifyCheckpointAborted: () => {},
    dispose: () => {},
  };
  return backend as unknown as OperatorStateBackend;
}
