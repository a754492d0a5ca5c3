/**
 * The suites that iterate the registry. An entry lists the ones it runs in, so a backend that is
 * too slow (or not meaningful) somewhere opts out there without a special case in the suite.
 */
export type RegistryConsumer =
  /** test/src/checkpoint-matrix.test.ts: every backend against every storage, restore at another parallelism. */
  | 'checkpoint-matrix'
  /** packages/runtime/test/simulation*.ts: seeded fault simulation of the reference runtime. */
  | 'simulation'
  /** bench/: state access, snapshot, memory and storage throughput benchmarks. */
  | 'bench'
  /**
   * bench/src/timers.ts only, besides every 'bench' entry: variants that differ from another entry
   * only in where timers live, so the other suites would measure the same thing twice.
   */
  | 'bench-timers';

export const ALL_CONSUMERS: readonly RegistryConsumer[] = ['checkpoint-matrix', 'simulation', 'bench'];
