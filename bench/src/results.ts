/** The shape of a bench run's results.json (and of a median of runs), shared by the report, the goal rows and the median. */
import type { AccessResult } from './access.js';
import type { GOALS } from './config.js';
import type { JobTime } from './job-times.js';
import type { MachineInfo } from './machine.js';
import type { MemoryResult } from './memory.js';
import type { RssResult } from './rss.js';
import type { RuntimeResult } from './runtime.js';
import type { SavepointResult } from './savepoint.js';
import type { SnapshotGoal } from './snapshot-goals.js';
import type { SnapshotResultRow } from './snapshot.js';
import type { StorageResult } from './storage.js';
import type { TimersResult } from './timers.js';
import type { TtlCompactionRow } from './ttl-compaction-report.js';
import type { WindowsResult } from './windows.js';

/** Which runs a median result (median-results.ts) was taken from. */
export interface MedianOf {
  readonly runs: readonly { readonly file: string; readonly startedAt: string; readonly wallTimeMs: number; readonly gitCommit: string; readonly loadAverage?: { readonly start: readonly number[]; readonly end: readonly number[] } }[];
  /**
   * A note printed under the runs in the report's header. medianResults sets it only when the runs
   * are from different commits; otherwise it is a note the person rendering the report may add
   * (e.g. a script that writes it into results.json before re-rendering), kept as written.
   */
  readonly note?: string;
}

export interface BenchResults {
  readonly schema: 3;
  readonly preset: string;
  readonly startedAt: string;
  readonly wallTimeMs: number;
  /** 1/5/15-minute load averages when the run started and ended (absent in older results). */
  readonly loadAverage?: { readonly start: readonly number[]; readonly end: readonly number[] };
  /** Wall and CPU time of every child job, in run order (absent in older results). */
  readonly jobTimes?: readonly JobTime[];
  /** Present when these results are the median of several runs (bench/src/median.ts). */
  readonly medianOf?: MedianOf;
  readonly machine: MachineInfo;
  readonly goals: typeof GOALS;
  readonly config: unknown;
  readonly access: readonly AccessResult[];
  readonly snapshot: readonly SnapshotResultRow[];
  readonly memory: readonly MemoryResult[];
  readonly rss: readonly RssResult[];
  readonly storage: readonly StorageResult[];
  /** null: the suite did not run. */
  readonly savepoint: SavepointResult | null;
  readonly runtime: RuntimeResult | null;
  readonly ttlCompaction: readonly TtlCompactionRow[];
  /** Absent in results written before the timers suite existed. */
  readonly timers?: readonly TimersResult[];
  /** Absent in results written before the window suite existed. */
  readonly windows?: WindowsResult | null;
  /**
   * Medians of several runs only: per snapshot goal, each snapshot row taken whole from the run
   * where that goal's value is the median (`snapshot` holds the rows of the main key, snapshotKey).
   */
  readonly snapshotByGoal?: Partial<Record<SnapshotGoal, readonly SnapshotResultRow[]>>;
  /** Medians of several runs only: per runtime goal, the runtime result of the run where that goal's ratio is the median. */
  readonly runtimeByGoal?: Partial<Record<RuntimeGoal, RuntimeResult>>;
}

/** The runtime's goals, each judged on one ratio of one run. */
export type RuntimeGoal = 'baseline' | 'throughput' | 'unaligned';
