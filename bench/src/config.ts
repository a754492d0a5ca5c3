/** Benchmark presets. Sizes mirror apache/flink-benchmarks (StateBenchmarkConstants) where they can. */
export type PresetName = 'quick' | 'full' | 'smoke';

export interface Preset {
  readonly name: PresetName;
  /** Keys populated before the state access benchmarks (Flink: setupKeyCount = 500_000). */
  readonly setupKeys: number;
  /** User keys per key in MapState (Flink: mapKeyCount = 10). */
  readonly mapKeysPerKey: number;
  /** Elements per list in ListState and per addAll/update batch (Flink: listValueCount = 100). */
  readonly listValues: number;
  /** Keys whose lists are pre-filled with `listValues` elements (bounded to keep the heap sane). */
  readonly listSetupKeys: number;
  /** Operations per tinybench iteration (one sample = one batch). */
  readonly batch: number;
  /** tinybench time budget per task (ms) and minimum iterations. */
  readonly timeMs: number;
  readonly iterations: number;
  readonly warmupMs: number;
  readonly warmupIterations: number;
  /** State sizes (bytes) for the snapshot benchmarks. */
  readonly snapshotSizes: readonly number[];
  /** Snapshot repetitions per (backend, size). */
  readonly snapshotSamples: number;
  /** Size of each value in the snapshot benchmarks (bytes). */
  readonly snapshotValueBytes: number;
  /** Entries for the bytes-per-entry measurement. */
  readonly memoryEntries: number;
  /** V8 old space for child processes (MB). */
  readonly maxOldSpaceMb: number;
}

const MB = 1024 * 1024;

export const PRESETS: Record<PresetName, Preset> = {
  quick: {
    name: 'quick',
    setupKeys: 100_000,
    mapKeysPerKey: 10,
    listValues: 100,
    listSetupKeys: 100_000,
    batch: 1_000,
    timeMs: 400,
    iterations: 20,
    warmupMs: 100,
    warmupIterations: 10,
    snapshotSizes: [10 * MB, 100 * MB],
    snapshotSamples: 3,
    snapshotValueBytes: 1024,
    memoryEntries: 200_000,
    maxOldSpaceMb: 4096,
  },
  full: {
    name: 'full',
    setupKeys: 500_000,
    mapKeysPerKey: 10,
    listValues: 100,
    listSetupKeys: 500_000,
    batch: 1_000,
    timeMs: 2_000,
    iterations: 50,
    warmupMs: 500,
    warmupIterations: 20,
    snapshotSizes: [10 * MB, 100 * MB, 1024 * MB],
    snapshotSamples: 5,
    snapshotValueBytes: 1024,
    memoryEntries: 1_000_000,
    maxOldSpaceMb: 12_288,
  },
  smoke: {
    name: 'smoke',
    setupKeys: 200,
    mapKeysPerKey: 10,
    listValues: 10,
    listSetupKeys: 200,
    batch: 50,
    timeMs: 1,
    iterations: 1,
    warmupMs: 0,
    warmupIterations: 1,
    snapshotSizes: [64 * 1024, 256 * 1024],
    snapshotSamples: 1,
    snapshotValueBytes: 256,
    memoryEntries: 1_000,
    maxOldSpaceMb: 512,
  },
};

/** Goals from the brief: ops/s ratio backend/baseline ≥ 0.5; heap bytes per entry ≤ 2× a raw Map. */
export const GOALS = { accessRatioMin: 0.5, memoryRatioMax: 2 } as const;
