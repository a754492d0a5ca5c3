/**
 * Every state backend the cross-package suites run. Adding a backend is one entry in BACKENDS
 * (plus this package's dependency on it): the checkpoint matrix, the runtime simulation and the
 * benchmarks pick it up, each driving it only through the core SPI (StateBackend).
 */
import type { StateBackend } from '@flowstate/core/spi';
import { FsStateBackend, MemoryStateBackend } from '@flowstate/heap';
import { LmdbStateBackend } from '@flowstate/lmdb';
import { RocksDBStateBackend, type RocksDBStateBackendOptions } from '@flowstate/rocksdb';
import { ALL_CONSUMERS, type RegistryConsumer } from './consumers.js';

/** What a suite tells the backend it creates. */
export interface BackendCreateContext {
  /** Where an on-disk backend keeps its working files; absent: the backend's default (the OS temp dir). */
  readonly localDirectory?: string | undefined;
  /** 'bench' asks for the settings the benchmarks are documented with (cache sizes, compression). */
  readonly purpose?: 'test' | 'bench';
}

export interface BackendEntry {
  /** Stable id: test names, FLOWSTATE_SIM_CASE, bench command line, JSON and file names. */
  readonly id: string;
  readonly label: string;
  readonly create: (context?: BackendCreateContext) => StateBackend;
  readonly usedBy: readonly RegistryConsumer[];
  /** Keeps entries as JS objects (the bench's bytes-per-entry suite only makes sense for these). */
  readonly heapResident: boolean;
  /** Checkpoints upload only what changed since the last one (the bench's churn variants need it). */
  readonly incrementalCheckpoints: boolean;
  /** Keeps state in files under BackendCreateContext.localDirectory. */
  readonly needsLocalDirectory: boolean;
  /** The raw structure the bench's state access numbers are compared with. */
  readonly accessBaseline: 'js-map' | 'rocksdb-raw';
  /**
   * The bench's RSS suite checks RSS against a bound made of configured caches (RocksDB's block
   * cache and write buffers). LMDB has none: it maps its file, so its resident pages are OS page
   * cache that grows with the state and is reclaimable, and that bound would be meaningless.
   */
  readonly rssBoundedByCaches: boolean;
}

/** RocksDB settings of every benchmark (the memory suite's bound is computed from them). */
export const ROCKSDB_BENCH_OPTIONS = {
  blockCacheSize: 64 << 20,
  writeBufferSize: 32 << 20,
  maxWriteBufferNumber: 2,
  compression: 'lz4',
} as const satisfies RocksDBStateBackendOptions;

function rocksdb(incrementalCheckpoints: boolean, timerServiceFactory: 'ROCKSDB' | 'HEAP' = 'ROCKSDB') {
  return (c: BackendCreateContext = {}): StateBackend =>
    new RocksDBStateBackend({
      ...(c.purpose === 'bench' ? ROCKSDB_BENCH_OPTIONS : {}),
      incrementalCheckpoints,
      timerServiceFactory,
      ...(c.localDirectory === undefined ? {} : { localDirectory: c.localDirectory }),
    });
}

const heap = { heapResident: true, incrementalCheckpoints: false, needsLocalDirectory: false, accessBaseline: 'js-map', rssBoundedByCaches: false } as const;

export const BACKENDS: readonly BackendEntry[] = [
  {
    id: 'memory',
    label: 'Memory (heap, sync snapshots)',
    create: () => new MemoryStateBackend(),
    // Writes the same snapshot streams as 'fs' (only synchronously), so the matrix's storage
    // coverage gains nothing from it; the simulation and the benchmarks do tell them apart.
    usedBy: ['simulation', 'bench'],
    ...heap,
  },
  { id: 'fs', label: 'Fs (heap, async copy-on-write snapshots)', create: () => new FsStateBackend(), usedBy: ALL_CONSUMERS, ...heap },
  {
    id: 'rocksdb',
    label: 'RocksDB (incremental checkpoints)',
    create: rocksdb(true),
    usedBy: ALL_CONSUMERS,
    heapResident: false,
    incrementalCheckpoints: true,
    needsLocalDirectory: true,
    accessBaseline: 'rocksdb-raw',
    rssBoundedByCaches: true,
  },
  {
    id: 'rocksdb-full',
    label: 'RocksDB (full checkpoints)',
    create: rocksdb(false),
    // State access is the same code as 'rocksdb'; the simulation's runtime paths do not depend on
    // the snapshot strategy. What differs is what reaches the storage: the matrix covers that.
    usedBy: ['checkpoint-matrix'],
    heapResident: false,
    incrementalCheckpoints: false,
    needsLocalDirectory: true,
    accessBaseline: 'rocksdb-raw',
    rssBoundedByCaches: true,
  },
  {
    id: 'rocksdb-heap-timers',
    label: 'RocksDB (incremental checkpoints, HEAP timers)',
    create: rocksdb(true, 'HEAP'),
    // Keyed state is the same as 'rocksdb'; only priority queues (timers) differ: they live on the
    // JS heap and native checkpoints carry them as a key-group stream. The matrix and the simulation
    // use no timers (yet), so only the timers benchmark runs it; the conformance suite runs it from
    // packages/rocksdb/test/conformance.test.ts.
    usedBy: ['bench-timers'],
    heapResident: false,
    incrementalCheckpoints: true,
    needsLocalDirectory: true,
    accessBaseline: 'rocksdb-raw',
    rssBoundedByCaches: true,
  },
  {
    id: 'lmdb',
    label: 'LMDB (KvStore, full snapshots from a read transaction)',
    create: (c = {}) => new LmdbStateBackend(c.localDirectory === undefined ? {} : { localDirectory: c.localDirectory }),
    usedBy: ALL_CONSUMERS,
    heapResident: false,
    incrementalCheckpoints: false,
    needsLocalDirectory: true,
    // No raw LMDB pairing (yet): the ratio to a JS Map is reported, with no goal.
    accessBaseline: 'js-map',
    rssBoundedByCaches: false,
  },
];

/** The entries `consumer` runs, in registry order. */
export function backendsFor(consumer: RegistryConsumer): BackendEntry[] {
  return BACKENDS.filter((b) => b.usedBy.includes(consumer));
}

/** The entry with this id; throws naming the known ids (a typo on a command line is a user error). */
export function backendById(id: string): BackendEntry {
  const b = BACKENDS.find((x) => x.id === id);
  if (!b) throw new Error(`unknown backend '${id}' (known: ${BACKENDS.map((x) => x.id).join(', ')})`);
  return b;
}
