/**
 * The backends under test. Adding a backend (e.g. RocksDB) is one entry in BACKENDS: every suite
 * (state access, snapshot, memory) iterates this list and drives the backend only through the
 * core SPI (StateBackend / KeyedStateBackend).
 */
import {
  computeKeyGroupRangeForOperatorIndex,
  type KeyedStateBackend,
  type KeyedStateHandle,
  type StateBackend,
  type StateHandleReader,
  type TypeSerializer,
} from '@flowstate/core';
import { FsStateBackend, MemoryStateBackend } from '@flowstate/heap';
import { RocksDBStateBackend, type RocksDBStateBackendOptions } from '@flowstate/rocksdb';

export interface BackendUnderTest {
  /** Stable id used on the command line, in JSON and in file names. */
  readonly id: string;
  readonly label: string;
  readonly create: () => StateBackend;
  /** Heap backends keep entries as JS objects; the bytes-per-entry suite only makes sense for them. */
  readonly heapResident: boolean;
  /**
   * Churn variants (1% / 10% of keys changed between two checkpoints) only mean something for
   * incremental checkpoints; the snapshot suite runs them when this is true (hook for RocksDB).
   */
  readonly incrementalCheckpoints: boolean;
  /** Working directory for backends that keep state on disk (created per run). */
  readonly needsLocalDirectory: boolean;
  /**
   * What the state access benchmarks pair each operation with: a raw JS Map (heap backends), or
   * the raw RocksDB binding doing get/put/merge/iterate on the same key and value bytes.
   */
  readonly accessBaseline: 'js-map' | 'rocksdb-raw';
}

/** RocksDB settings used by every suite (the memory suite's bound is computed from them). */
export const ROCKSDB_BENCH_OPTIONS = {
  blockCacheSize: 64 << 20,
  writeBufferSize: 32 << 20,
  maxWriteBufferNumber: 2,
  compression: 'lz4',
} as const satisfies RocksDBStateBackendOptions;

export const BACKENDS: readonly BackendUnderTest[] = [
  { id: 'memory', label: 'Memory (heap, sync snapshots)', create: () => new MemoryStateBackend(), heapResident: true, incrementalCheckpoints: false, needsLocalDirectory: false, accessBaseline: 'js-map' },
  { id: 'fs', label: 'Fs (heap, async copy-on-write snapshots)', create: () => new FsStateBackend(), heapResident: true, incrementalCheckpoints: false, needsLocalDirectory: false, accessBaseline: 'js-map' },
  { id: 'rocksdb', label: 'RocksDB (incremental checkpoints)', create: () => new RocksDBStateBackend({ ...ROCKSDB_BENCH_OPTIONS, incrementalCheckpoints: true }), heapResident: false, incrementalCheckpoints: true, needsLocalDirectory: true, accessBaseline: 'rocksdb-raw' },
];

export function backendById(id: string): BackendUnderTest {
  const b = BACKENDS.find((x) => x.id === id);
  if (!b) throw new Error(`unknown backend '${id}' (known: ${BACKENDS.map((x) => x.id).join(', ')})`);
  return b;
}

export const MAX_PARALLELISM = 128;

/** A keyed backend owning every key group (parallelism 1), as in Flink's state benchmarks. */
export async function createKeyed<K>(
  b: BackendUnderTest,
  keySerializer: TypeSerializer<K>,
  opts: { localDirectory?: string; restoreState?: readonly KeyedStateHandle[]; reader?: StateHandleReader } = {},
): Promise<KeyedStateBackend<K>> {
  return b.create().createKeyedStateBackend<K>({
    operatorIdentifier: `bench-${b.id}`,
    keySerializer,
    maxParallelism: MAX_PARALLELISM,
    keyGroupRange: computeKeyGroupRangeForOperatorIndex(MAX_PARALLELISM, 1, 0),
    ...(opts.localDirectory ? { localDirectory: opts.localDirectory } : {}),
    ...(opts.restoreState ? { restoreState: opts.restoreState } : {}),
    ...(opts.reader ? { stateHandleReader: opts.reader } : {}),
  });
}
