import {
  computeKeyGroupRangeForOperatorIndex,
  defaultSerializerRegistry,
  deserializeCheckpointMetadata,
  FsCheckpointStorage,
  MinimalKvStateBackend,
  readKeyedStateHeader,
  type KeyedStateBackend,
  type KeyedStateStreamHeader,
  type KeyGroupsStateHandle,
  type MemoryFileSystem,
  type TypeSerializer,
} from '@flowstate/core';

/**
 * Restores operator `uid` (parallelism 1) of a flowstate savepoint converted from Flink into a
 * MinimalKvStateBackend: what a flowstate job does with it. Returns the backend and the keyed header.
 */
export async function restoreConverted<K>(fs: MemoryFileSystem, uid: string, keySerializer: TypeSerializer<K>): Promise<{ kb: KeyedStateBackend<K>; header: KeyedStateStreamHeader }> {
  const storage = new FsCheckpointStorage(fs, { layout: 'savepoint' });
  const md = deserializeCheckpointMetadata((await storage.resolveCheckpoint('')).metadata, '_metadata');
  const op = md.operators.find((o) => o.uid === uid)!;
  const handles = op.subtasks.flatMap((s) => s.keyed) as KeyGroupsStateHandle[];
  const header = await readKeyedStateHeader(storage, handles[0]!, defaultSerializerRegistry);
  const kb = await new MinimalKvStateBackend().createKeyedStateBackend({
    operatorIdentifier: uid,
    keySerializer,
    maxParallelism: op.maxParallelism,
    keyGroupRange: computeKeyGroupRangeForOperatorIndex(op.maxParallelism, 1, 0),
    restoreState: handles,
    stateHandleReader: storage,
  });
  return { kb, header };
}
