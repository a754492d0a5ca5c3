import {
  checkStreamHandleStructure,
  malformedField,
  UPPER_BOUND_MAX_PARALLELISM,
  checkKeyedStateHandleStructure,
  type KeyedStateHandle,
  type KeyGroupsStateHandle,
  type MalformedField,
  type StreamStateHandle,
  UnknownFormatVersionError,
} from '@flowstate/core';

/**
 * Version of the native snapshot format: the handle's fields, the files' roles, the column family
 * names ('state:<name>') and the row and value layout inside them (KvRowLayout, kv-values.ts).
 * Written into every native handle; restore refuses versions it does not know.
 */
export const ROCKSDB_NATIVE_FORMAT_VERSION = 1;
export const SUPPORTED_ROCKSDB_NATIVE_FORMAT_VERSIONS: readonly number[] = [1];

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
 * A native, incremental RocksDB checkpoint: the files of a RocksDB checkpoint (what RocksDB's
 * Checkpoint would write into a directory). SSTs live in shared storage and are reused by later
 * checkpoints while confirmed; MANIFEST, CURRENT and OPTIONS are private to this checkpoint.
 * `meta` holds the states' meta information (a canonical keyed stream header) so restore can
 * check serializers.
 */
export interface IncrementalRocksDBStateHandle extends KeyedStateHandle {
  readonly type: 'rocksdb-incremental';
  /**
   * ROCKSDB_NATIVE_FORMAT_VERSION when written. Handles written before the field existed lack it;
   * they have version 1's layout and are read as version 1.
   */
  readonly formatVersion?: number;
  readonly checkpointId: number;
  readonly backendIdentifier: string;
  readonly maxParallelism: number;
  readonly meta: StreamStateHandle;
  readonly sharedFiles: readonly RocksDBSharedFileHandle[];
  readonly privateFiles: readonly RocksDBFileHandle[];
  /**
   * Priority queues kept on the heap (timer-service factory HEAP), as a canonical key-group stream
   * of their own; absent when there are none (and in handles written before it existed).
   */
  readonly heapPriorityQueues?: KeyGroupsStateHandle;
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
  if (o.formatVersion !== undefined && (!Number.isSafeInteger(o.formatVersion) || (o.formatVersion as number) < 1)) bad(`${where}.formatVersion`, 'expected a positive integer or absent');
  if (!Number.isSafeInteger(o.checkpointId) || (o.checkpointId as number) < 0) bad(`${where}.checkpointId`, 'expected a non-negative integer');
  if (typeof o.backendIdentifier !== 'string') bad(`${where}.backendIdentifier`, 'expected a string');
  if (!Number.isInteger(o.maxParallelism) || (o.maxParallelism as number) < 1 || (o.maxParallelism as number) > UPPER_BOUND_MAX_PARALLELISM) {
    bad(`${where}.maxParallelism`, `expected an integer in [1, ${UPPER_BOUND_MAX_PARALLELISM}]`);
  }
  checkStreamHandleStructure(o.meta, `${where}.meta`, bad, file);
  if (o.heapPriorityQueues !== undefined) {
    checkKeyedStateHandleStructure(o.heapPriorityQueues, o.maxParallelism as number, `${where}.heapPriorityQueues`, bad, file);
    if ((o.heapPriorityQueues as KeyedStateHandle).type !== 'key-groups') bad(`${where}.heapPriorityQueues.type`, "expected 'key-groups'");
  }
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

/** Refuses a native handle of a format version this build cannot read (UnknownFormatVersionError naming `file`). */
export function checkRocksDBHandleFormatVersion(h: IncrementalRocksDBStateHandle, file: string): void {
  const version = h.formatVersion ?? 1;
  if (!SUPPORTED_ROCKSDB_NATIVE_FORMAT_VERSIONS.includes(version)) {
    throw new UnknownFormatVersionError('RocksDB native snapshot', version, SUPPORTED_ROCKSDB_NATIVE_FORMAT_VERSIONS, file);
  }
}
