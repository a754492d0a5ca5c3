/**
 * The backends under test: the test registry's (@flowstate/test-registry) entries for the
 * benchmarks. Adding a backend is one entry there: every suite (state access, snapshot, memory)
 * iterates this list and drives the backend only through the core SPI (StateBackend /
 * KeyedStateBackend).
 */
import {
  computeKeyGroupRangeForOperatorIndex,
  type KeyedStateBackend,
  type KeyedStateHandle,
  type StateBackend,
  type StateHandleReader,
  type TypeSerializer,
} from '@flowstate/core';
import { backendsFor, ROCKSDB_BENCH_OPTIONS, type BackendEntry } from '@flowstate/test-registry';

export { ROCKSDB_BENCH_OPTIONS } from '@flowstate/test-registry';

/**
 * A raw-binding database opened like the RocksDB backend opens its own: the benchmark settings,
 * and fsyncs of SST files only (the backend's syncLocalFiles default, 'ssts'). The baselines
 * that stand for "RocksDB with the backend's options" (ValueState vs the raw binding, RocksDB's
 * own flush + createCheckpoint) use it; the binding-vs-C++ pair keeps RocksDB's default syncs on
 * both sides.
 */
export const ROCKSDB_BACKEND_DB_OPTIONS = { ...ROCKSDB_BENCH_OPTIONS, syncFiles: 'ssts' } as const;

/** A registry entry whose create() makes the backend with its benchmark settings. */
export interface BackendUnderTest extends Omit<BackendEntry, 'create'> {
  readonly create: () => StateBackend;
}

const underTest = (b: BackendEntry): BackendUnderTest => ({ ...b, create: () => b.create({ purpose: 'bench' }) });

export const BACKENDS: readonly BackendUnderTest[] = backendsFor('bench').map(underTest);
/** The timers suite's backends: every other suite's, plus variants that differ only in their timers. */
export const TIMER_BACKENDS: readonly BackendUnderTest[] = [...BACKENDS, ...backendsFor('bench-timers').map(underTest)];

export function backendById(id: string): BackendUnderTest {
  const b = TIMER_BACKENDS.find((x) => x.id === id);
  if (!b) throw new Error(`unknown backend '${id}' (known: ${TIMER_BACKENDS.map((x) => x.id).join(', ')})`);
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
