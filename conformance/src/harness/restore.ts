import type { KeyedStateBackend, KeyedStateHandle, KeyGroupRange } from '@flowstate/core';
import { checkpointKeyed, type CompletedCheckpoint } from './checkpoint.js';
import type { Fixture, KeyedBackendOptions } from './fixture.js';

/** What `fx.keyed` takes, except that the checkpoint supplies the handles and their reader. */
export interface RestoreKeyedOptions<K> extends Omit<KeyedBackendOptions<K>, 'restoreState' | 'stateHandleReader'> {
  /** Defaults to every handle of every old subtask: the new backend must filter by key group. */
  readonly handles?: readonly KeyedStateHandle[];
}

export function restoreKeyed<K>(fx: Fixture, cp: CompletedCheckpoint<KeyedStateHandle>, options: RestoreKeyedOptions<K>): Promise<KeyedStateBackend<K>> {
  const { handles, ...backendOptions } = options;
  return fx.keyed<K>({ ...backendOptions, restoreState: handles ?? cp.handles.flat(), stateHandleReader: cp.reader });
}

/**
 * Checkpoints `source` and restores it once per range in `ranges` (default: its own range), each
 * restored backend receiving all of the checkpoint's handles.
 */
export async function snapshotAndRestore<K>(fx: Fixture, source: KeyedStateBackend<K>, ...ranges: KeyGroupRange[]): Promise<Array<KeyedStateBackend<K>>> {
  const cp = await checkpointKeyed(fx, [source], { maxParallelism: source.maxParallelism });
  const targets = ranges.length === 0 ? [source.keyGroupRange] : ranges;
  const restored: Array<KeyedStateBackend<K>> = [];
  for (const keyGroupRange of targets) {
    restored.push(await restoreKeyed(fx, cp, { keySerializer: source.keySerializer, keyGroupRange, maxParallelism: source.maxParallelism }));
  }
  return restored;
}

/** The common case: one backend, restored once at its own range. */
export async function snapshotAndRestoreOne<K>(fx: Fixture, source: KeyedStateBackend<K>): Promise<KeyedStateBackend<K>> {
  const [restored] = await snapshotAndRestore(fx, source);
  if (restored === undefined) throw new Error('snapshotAndRestore returned no backend');
  return restored;
}
