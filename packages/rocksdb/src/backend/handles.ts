import {
  checkStreamHandleStructure,
  malformedField,
  UPPER_BOUND_MAX_PARALLELISM,
  type KeyedStateHandle,
  type MalformedField,
  type StreamStateHandle,
} from '@flowstate/core';

/** One file of a native RocksDB checkpoint. */
export interface RocksDBFileHandle {
  /** File name inside the RocksDB directory, e.g. '000012.sst' or 'MANIFEST-000005'. */
  readonly name: string;
  readonly handle: StreamStateHandle;
}

/** An SST file in shared storage, identified by content (RocksDB's unique SST id or a SHA-256). */
export interface RocksDBSharedFileHandle extends RocksDBFileHandle {
  readonly contentId: string;
  /**
   * Present (true) when this checkpoint references a file an earlier checkpoint uploaded (Flink's
   * placeholder): the SharedStateRegistry then checks the file is still known before the
   * checkpoint may complete. Absent for files this checkpoint uploaded.
   */
  readonly reused?: true;
}

/**
 * A native, incremental RocksDB checkpoint: the files of a hard-linked RocksDB checkpoint
 * directory. SSTs live in shared storage and are reused by later checkpoints while confirmed;
 * MANIFEST, CURRENT and OPTIONS are private to this checkpoint. `meta` holds the states' meta
 * information (a canonical keyed stream header) so restore can check serializers.
 */
export interface IncrementalRocksDBStateHandle extends KeyedStateHandle {
  readonly type: 'rocksdb-incremental';
  readonly checkpointId: number;
  readonly backendIdentifier: string;
  readonly maxParallelism: number;
  readonly meta: StreamStateHandle;
  readonly sharedFiles: readonly RocksDBSharedFileHandle[];
  readonly privateFiles: readonly RocksDBFileHandle[];
}

export function isIncrementalRocksDBStateHandle(h: KeyedStateHandle): h is IncrementalRocksDBStateHandle {
  return h.type === 'rocksdb-incremental';
}

/**
 * Checks the fields of a native handle that core's metadata validator cannot know (it checks the
 * common fields and every nested stream handle): restore indexes and iterates them, so a handle
 * from untrusted metadata must have this shape. Throws CorruptCheckpointError naming the field.
 */
export function checkIncrementalRocksDBStateHandleStructure(h: unknown, where: string, file: string): asserts h is IncrementalRocksDBStateHandle {
  const bad: MalformedField = malformedField(file, 'RocksDB state handle');
  const o = h as Record<string, unknown>;
  if (!Number.isSafeInteger(o.checkpointId) || (o.checkpointId as number) < 0) bad(`${where}.checkpointId`, 'expected a non-negative integer');
  if (typeof o.backendIdentifier !== 'string') bad(`${where}.backendIdentifier`, 'expected a string');
  if (!Number.isInteger(o.maxParallelism) || (o.maxParallelism as number) < 1 || (o.maxParallelism as number) > UPPER_BOUND_MAX_PARALLELISM) {
    bad(`${where}.maxParallelism`, `expected an integer in [1, ${UPPER_BOUND_MAX_PARALLELISM}]`);
  }
  checkStreamHandleStructure(o.meta, `${where}.meta`, bad, file);
  for (const list of ['sharedFiles', 'privateFiles'] as const) {
    const files = o[list];
    if (!Array.isArray(files)) bad(`${where}.${list}`, 'expected an array');
    files.forEach((f: unknown, i) => {
      const w = `${where}.${list}[${i}]`;
      const e = f as Record<string, unknown> | null;
      if (typeof e !== 'object' || e === null || typeof e.name !== 'string') bad(`${w}.name`, 'expected a file name');
      if (list === 'sharedFiles' && typeof e.contentId !== 'string') bad(`${w}.contentId`, 'expected a string');
      if (list === 'sharedFiles' && e.reused !== undefined && e.reused !== true) bad(`${w}.reused`, 'expected true or absent');
      checkStreamHandleStructure(e.handle, `${w}.handle`, bad, file);
    });
  }
}
