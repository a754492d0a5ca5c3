/**
 * Orchestrates the suites. Every (suite, backend) job runs in a fresh child process so one
 * backend's garbage and JIT state cannot skew the next; the backend and its JS Map baseline share
 * a process (timed in interleaved rounds, see interleave.ts), so ratios compare like with like.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { combineAccessHalves, judgedAgainstMinimalHeap, STATE_KINDS, type AccessResult } from './access.js';
import { BUILD_ORDERS } from './build-order.js';
import { BACKENDS, TIMER_BACKENDS, type BackendUnderTest } from './backends.js';
import type { Job } from './child.js';
import { GOALS, PRESETS, type Preset, type PresetName } from './config.js';
import { timeJob, type JobTime } from './job-times.js';
import { machineInfo } from './machine.js';
import { loadavg } from 'node:os';
import type { MemoryResult } from './memory.js';
import { accessChart, markdownReport, snapshotChart, type BenchResults } from './report.js';
import type { RssResult } from './rss.js';
import type { RuntimeResult } from './runtime.js';
import type { TimersResult } from './timers.js';
import type { WindowsResult } from './windows.js';
import type { SavepointResult } from './savepoint.js';
import type { SnapshotResultRow } from './snapshot.js';
import type { StorageResult } from './storage.js';
import type { TtlCompactionRow } from './ttl-compaction.js';

export type SuiteName = 'access' | 'snapshot' | 'memory' | 'storage' | 'savepoint' | 'runtime' | 'ttl-compaction' | 'timers' | 'windows';
export const SUITES: readonly SuiteName[] = ['access', 'snapshot', 'memory', 'storage', 'savepoint', 'runtime', 'ttl-compaction', 'timers', 'windows'];

export interface HarnessOptions {
  readonly preset: PresetName;
  readonly outDir: string;
  readonly suites?: readonly SuiteName[];
  /** Backend ids; default: every entry of BACKENDS. */
  readonly backends?: readonly string[];
  /** Child output: inherit (default) or discard. */
  readonly quiet?: boolean;
  readonly log?: (s: string) => void;
}

const CHILD = fileURLToPath(new URL('./child.js', import.meta.url));

/** What distinguishes one job of a suite from the others, for the per-job times. */
function jobLabel(job: Job): string {
  const parts: string[] = [job.type, job.backend];
  if (job.type === 'access') parts.push(job.kind, ...(job.buildOrder ? [job.buildOrder] : []));
  if (job.type === 'snapshot') parts.push(`${(job.stateBytes / 1024 / 1024).toFixed(2)} MB`);
  return parts.join(' ');
}

/**
 * V8 flags of a job's child process. Heap access rows (the jobs with a build order) also get
 * `--no-allocation-site-pretenuring`: V8 may decide, from how many objects of an object literal
 * outlived young-generation collections so far, to allocate that literal's later objects in the
 * old generation. The heap backend's entries and the minimal baseline's are each one such literal,
 * both filled by the setup, and each side's decision fell one way or the other from process to
 * process, depending on when collections happened to run. Objects of a tenured site start in the
 * old generation, out of reach of the copies the interleaving's forced collections make of what a
 * batch leaves alive (interleave.ts; CPU profiles put the difference in those collections, outside
 * both sides' loops), and `valueAdd` measured 0.67–0.75× or ~1.0× with the same code. Without the
 * heuristic both sides allocate young, as each does whenever V8 does not tenure it. Production
 * keeps V8's default: tenuring long-lived entries makes bulk inserts ~20% cheaper (issue 16,
 * session 19).
 */
export function childFlags(job: Job, maxOldSpaceMb: number): string[] {
  const heapAccess = job.type === 'access' && job.buildOrder !== undefined;
  return ['--expose-gc', `--max-old-space-size=${maxOldSpaceMb}`, ...(heapAccess ? ['--no-allocation-site-pretenuring'] : [])];
}

function runJob<T>(job: Job, maxOldSpaceMb: number, quiet: boolean, scratch: string): T {
  const jobFile = join(scratch, `job-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(jobFile, JSON.stringify(job));
  const res = spawnSync(process.execPath, [...childFlags(job, maxOldSpaceMb), CHILD, jobFile], {
    stdio: quiet ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'inherit', 'inherit'],
    encoding: 'utf8',
  });
  if (res.status !== 0) throw new Error(`bench child ${job.type}/${job.backend} failed (status ${res.status}, signal ${res.signal})${quiet ? `\n${res.stdout}\n${res.stderr}` : ''}`);
  return JSON.parse(readFileSync(job.out, 'utf8')) as T;
}

/** The results of every suite that ran (empty or null where a suite did not run). */
type SuiteResults = Pick<BenchResults, 'access' | 'snapshot' | 'memory' | 'rss' | 'storage' | 'savepoint' | 'runtime' | 'ttlCompaction' | 'timers' | 'windows'>;

/** Runs the chosen suites, job by job; `runIn(suite, job)` runs a job in its own child process and times it. */
function runSuites(p: Preset, suites: readonly SuiteName[], backends: readonly BackendUnderTest[], timerBackends: readonly BackendUnderTest[], scratch: string, runIn: <T>(suite: string, job: Job) => T, log: (s: string) => void): SuiteResults {
  let suite = '';
  const run = <T>(job: Job): T => runIn<T>(suite, job);
  const access: AccessResult[] = [];
  const snapshot: SnapshotResultRow[] = [];
  const memory: MemoryResult[] = [];
  const rss: RssResult[] = [];
  const storage: StorageResult[] = [];
  let savepoint: SavepointResult | null = null;
  let runtime: RuntimeResult | null = null;
  let ttlCompaction: TtlCompactionRow[] = [];
  const timers: TimersResult[] = [];
  let windows: WindowsResult | null = null;
  const out = () => join(scratch, `out-${Math.random().toString(36).slice(2)}.json`);
  if (suites.includes('access')) {
    suite = 'access';
    log(`# state access (${p.setupKeys} keys, batch ${p.batch}, ${p.cpuTimeMs} ms (CPU time, heap backends) / ${p.timeMs} ms (wall time) per side in interleaved rounds of ~${p.roundMs} ms)`);
    for (const kind of STATE_KINDS) {
      for (const b of backends) {
        const job = { type: 'access', preset: p.name, backend: b.id, kind } as const;
        if (!judgedAgainstMinimalHeap(b)) access.push(...run<AccessResult[]>({ ...job, out: out() }));
        // Heap rows: two halves with opposite build orders (build-order.ts), combined per row.
        else access.push(...combineAccessHalves(...(BUILD_ORDERS.map((buildOrder) => run<AccessResult[]>({ ...job, buildOrder, out: out() })) as [AccessResult[], AccessResult[]])));
      }
    }
  }
  if (suites.includes('snapshot')) {
    suite = 'snapshot';
    log(`# snapshots (${p.snapshotSizes.map((s) => `${(s / 1024 / 1024).toFixed(2)} MB`).join(', ')}; ${p.snapshotSamples} samples)`);
    for (const size of p.snapshotSizes) for (const b of backends) snapshot.push(run<SnapshotResultRow>({ type: 'snapshot', preset: p.name, backend: b.id, stateBytes: size, out: out() }));
  }
  if (suites.includes('memory')) {
    suite = 'memory';
    log(`# memory (${p.memoryEntries} entries)`);
    for (const b of backends.filter((x) => x.heapResident)) memory.push(...run<MemoryResult[]>({ type: 'memory', preset: p.name, backend: b.id, out: out() }));
    const cacheBounded = backends.filter((x) => x.rssBoundedByCaches);
    if (cacheBounded.length > 0) log(`# memory: RSS of cache-bounded off-heap backends as state grows (${p.rssStepsBytes.map((s) => `${(s / 1024 / 1024).toFixed(2)} MB`).join(' → ')})`);
    for (const b of cacheBounded) rss.push(run<RssResult>({ type: 'rss', preset: p.name, backend: b.id, out: out() }));
  }
  if (suites.includes('storage')) {
    suite = 'storage';
    log(`# checkpoint storage throughput (${(p.storageBytes / 1024 / 1024).toFixed(0)} MiB; local, S3 (s3rver), HDFS (WebHDFS test server))`);
    storage.push(...run<StorageResult[]>({ type: 'storage', preset: p.name, backend: 'storage', out: out() }));
  }
  if (suites.includes('savepoint')) {
    suite = 'savepoint';
    log(`# savepoints (${(p.savepointBytes / 1024 / 1024).toFixed(0)} MiB canonical: write, read, validate, convert; vs cp and cp + sync)`);
    savepoint = run<SavepointResult>({ type: 'savepoint', preset: p.name, backend: 'savepoint', out: out() });
  }
  if (suites.includes('runtime')) {
    suite = 'runtime';
    log(`# runtime (${p.runtimeRecords} records, checkpoints every 1 s vs off; aligned vs unaligned under backpressure)`);
    runtime = run<RuntimeResult>({ type: 'runtime', preset: p.name, backend: 'runtime', out: out() });
  }
  if (suites.includes('ttl-compaction')) {
    suite = 'ttl-compaction';
    log(`# RocksDB TTL compaction filter (${p.ttlCompactionEntries} entries per layout; compaction with the filter vs without, same bytes)`);
    ttlCompaction = run<TtlCompactionRow[]>({ type: 'ttl-compaction', preset: p.name, backend: 'rocksdb', out: out() });
  }
  if (suites.includes('timers')) {
    suite = 'timers';
    log(`# timers (${p.timerCount} event-time timers registered, then fired over ${100} watermark steps; vs a plain JS binary heap)`);
    for (const b of timerBackends) timers.push(run<TimersResult>({ type: 'timers', preset: p.name, backend: b.id, out: out() }));
  }
  if (suites.includes('windows')) {
    suite = 'windows';
    log(`# windows (${p.windowRecords} records; tumbling and session windows vs the same keyed count without windows)`);
    windows = run<WindowsResult>({ type: 'windows', preset: p.name, backend: 'windows', out: out() });
  }
  return { access, snapshot, memory, rss, storage, savepoint, runtime, ttlCompaction, timers, windows };
}

export async function runHarness(o: HarnessOptions): Promise<BenchResults> {
  const p = PRESETS[o.preset];
  const log = o.log ?? ((s: string) => console.log(s));
  const suites = o.suites ?? SUITES;
  for (const id of o.backends ?? []) if (!TIMER_BACKENDS.some((x) => x.id === id)) throw new Error(`unknown backend '${id}'`);
  // --backends picks exactly; otherwise every registry backend.
  const chosen = (list: readonly (typeof BACKENDS)[number][]) => (o.backends === undefined ? list : list.filter((b) => o.backends!.includes(b.id)));
  const backends = chosen(BACKENDS);
  const started = Date.now();
  const startedAt = new Date(started).toISOString();
  mkdirSync(o.outDir, { recursive: true });
  const scratch = mkdtempSync(join(tmpdir(), 'flowstate-bench-jobs-'));
  const quiet = o.quiet ?? false;
  const loadAtStart = loadavg();
  const jobTimes: JobTime[] = [];
  const runIn = <T>(suite: string, job: Job): T => timeJob(suite, jobLabel(job), () => runJob<T>(job, p.maxOldSpaceMb, quiet, scratch), jobTimes);
  let suiteResults: SuiteResults;
  try {
    suiteResults = runSuites(p, suites, backends, chosen(TIMER_BACKENDS), scratch, runIn, log);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const results: BenchResults = {
    schema: 3,
    preset: p.name,
    startedAt,
    wallTimeMs: Date.now() - started,
    loadAverage: { start: loadAtStart, end: loadavg() },
    jobTimes,
    machine: machineInfo(),
    goals: GOALS,
    config: p,
    ...suiteResults,
  };
  writeResults(o.outDir, results);
  return results;
}

/** results.json, report.md and the charts of `results` into `outDir` (a run's, or a median's). */
export function writeResults(outDir: string, results: BenchResults): void {
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(outDir, 'report.md'), markdownReport(results));
  if (results.access.length > 0) writeFileSync(join(outDir, 'access-ops.svg'), accessChart(results));
  if (results.snapshot.length > 0) writeFileSync(join(outDir, 'snapshot-time.svg'), snapshotChart(results));
}
