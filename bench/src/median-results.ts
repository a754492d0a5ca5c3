/**
 * Median of several bench runs (issue 16's acceptance: "median of 3 bench runs (quick preset)").
 *
 * Only same-run ratios mean anything on a shared machine, so a goal is never judged on a ratio
 * of medians taken from different runs. Two rules:
 *  - rows whose goal is judged on a ratio (access ops, heap bytes per entry, snapshots, RSS,
 *    savepoint operations) are taken whole from one run: the run whose deciding ratio for that row
 *    is the median over the runs. A run whose ratio is not a finite number (it measured nothing)
 *    counts as the worst value for the goal's direction (lowest for a "≥" goal, highest for a "≤"
 *    one), so every run counts and "median of 3" stays true; for an even count the worse of the two
 *    middle runs for the goal is taken (until session 33 a run without a ratio was left out and the
 *    lower middle run taken, which favoured "≤" goals). Every number of such a row (ops/s, baseline
 *    ops/s, ratio, met) then comes from the same run, and the ratio shown is the median of the
 *    per-run ratios;
 *    A snapshot row serves several goals (speedup, vs RocksDB, bytes uploaded, sync pause,
 *    copy-on-write), so besides the rows of its main key (`snapshot`, for the tables) the median
 *    keeps, per goal, each row whole from the run where that goal's value is the median
 *    (`snapshotByGoal`): every goal gets its own median, still a same-run comparison;
 *  - the runtime result is taken whole from the run with the median checkpointing-on/off ratio,
 *    and each runtime goal (vs the staged baseline, checkpointing on/off, unaligned/aligned) from
 *    the run with the median of its own ratio (`runtimeByGoal`): never rates from one run beside a
 *    ratio from another;
 *  - the Apache Flink case: each of its two ratios, with the two times it divides, from the run
 *    whose ratio is the median (savepoint op rows likewise carry their own run's minimal baseline
 *    and the `cp` / `cp` + `sync` times their ratios used, withRunBaselines);
 *  - everything else (storage, timers, windows, TTL compaction, savepoint sizes and section-level
 *    `cp` times, per-job times, wall time) is the field-by-field median: each stored
 *    number, ratios included, is the median of that number over the runs (the mean of the two middle
 *    values for an even count). Stored ratios are same-run ratios, so their median is again a median
 *    of same-run ratios.
 */
import { readFileSync } from 'node:fs';
import type { AccessResult } from './access.js';
import type { MemoryResult } from './memory.js';
import type { BenchResults, MedianOf, RuntimeGoal } from './results.js';
import type { RuntimeResult } from './runtime.js';
import { checkpointingGoalValue } from './runtime-goals.js';
import type { RssResult } from './rss.js';
import { withRunBaselines, type SavepointOpResult, type SavepointResult } from './savepoint.js';
import type { FlinkSavepointCase } from './savepoint-flink.js';
import { SNAPSHOT_GOALS, snapshotGoalValue, type SnapshotGoal } from './snapshot-goals.js';
import type { SnapshotResultRow } from './snapshot.js';
import { quantile } from './stats.js';

export interface LoadedRun {
  /** Where the run was read from (shown in the report). */
  readonly file: string;
  readonly results: BenchResults;
}

/** Fields that are legitimately null in results.json; every other null was a NaN before JSON.stringify. */
const NULLABLE = new Set(['goal', 'cpuMs', 'savepoint', 'runtime', 'windows', 'nativeFull', 'rebase']);

/** Reads one run's results.json, turning the nulls JSON made of NaNs back into NaN. */
export function loadRun(file: string): LoadedRun {
  const results = JSON.parse(readFileSync(file, 'utf8'), (key, value: unknown) => (value === null && !NULLABLE.has(key) ? NaN : value)) as BenchResults;
  if (results.schema !== 3) throw new Error(`${file}: results schema ${String(results.schema)}, this tool reads schema 3`);
  return { file, results };
}

/** Median of the finite values (mean of the two middle ones for an even count); NaN if none is finite. */
export function median(xs: readonly number[]): number {
  return quantile(xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b), 0.5);
}

/** Which way a goal's ratio is better: 'higher' for a "≥" goal, 'lower' for a "≤" one. */
export type Better = 'higher' | 'lower';

/**
 * Index of the run whose key is the median, every run counted: a key that is not finite (a run
 * that measured nothing) counts as the worst value for the goal's direction, never as the best
 * (keys 0.85, 0.95, NaN: for a "≥" goal NaN is lowest and the median is 0.85's run; for a "≤" goal
 * it is highest and the median is 0.95's run). For an even count, the worse of the two middle runs
 * for the goal (the lower one for "≥", the higher one for "≤"). Where no key is finite, the first
 * run. Ties: the earlier run first.
 */
export function medianIndex(keys: readonly number[], better: Better = 'higher'): number {
  if (!keys.some((k) => Number.isFinite(k))) return 0;
  const worst = better === 'higher' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  const order = keys.map((k, i) => ({ k: Number.isFinite(k) ? k : worst, i })).sort((a, b) => (a.k === b.k ? a.i - b.i : a.k - b.k));
  return order[better === 'higher' ? (order.length - 1) >> 1 : order.length >> 1]!.i;
}

/** Field-by-field median of values of the same shape (numbers: median; booleans: majority; anything else: the first run's). */
export function fieldMedian<T>(xs: readonly T[], where = 'results'): T {
  const first = xs[0];
  if (typeof first === 'number' || (first === null && xs.some((x) => typeof x === 'number'))) {
    if (xs.every((x) => x === null)) return first;
    return median(xs.map((x) => (typeof x === 'number' ? x : NaN))) as T;
  }
  if (typeof first === 'boolean') return (xs.filter((x) => x === true).length * 2 > xs.length) as T;
  if (Array.isArray(first)) {
    const arrays = xs as unknown as unknown[][];
    if (arrays.some((a) => !Array.isArray(a) || a.length !== first.length)) throw new Error(`${where}: the runs have different numbers of entries (${arrays.map((a) => a?.length).join(', ')})`);
    return first.map((_, i) => fieldMedian(arrays.map((a) => a[i]), `${where}[${i}]`)) as T;
  }
  if (first !== null && typeof first === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(first)) out[k] = fieldMedian(xs.map((x) => (x as Record<string, unknown> | null)?.[k]), `${where}.${k}`);
    return out as T;
  }
  return first as T;
}

/** Rows matched by id across runs, in the first run's order; every run must have every row. */
function matched<T>(lists: readonly (readonly T[])[], id: (row: T) => string, what: string): T[][] {
  const ids = lists[0]!.map(id);
  for (const [r, list] of lists.entries()) {
    const have = new Set(list.map(id));
    const missing = ids.filter((x) => !have.has(x));
    if (missing.length > 0 || have.size !== ids.length) throw new Error(`${what}: run ${r + 1} has other rows than run 1 (missing: ${missing.join(', ') || 'none'}; ${have.size} vs ${ids.length} rows); median runs of the same preset, suites and backends`);
  }
  return ids.map((x) => lists.map((list) => list.find((row) => id(row) === x)!));
}

/** Each row taken whole from the run whose `key` is the median (`better`: the direction of the row's goal). */
function pickRows<T>(lists: readonly (readonly T[])[], id: (row: T) => string, key: (row: T) => number, better: Better, what: string): T[] {
  return matched(lists, id, what).map((runs) => runs[medianIndex(runs.map(key), better)]!);
}

function fieldRows<T>(lists: readonly (readonly T[])[], id: (row: T) => string, what: string): T[] {
  return matched(lists, id, what).map((runs) => fieldMedian(runs, `${what} ${id(runs[0]!)}`));
}

/**
 * The ratio a snapshot row's main goal is judged on: for incremental backends the 1% churn
 * checkpoint between compactions vs RocksDB's own flush + createCheckpoint; for the others the RSS
 * growth during the snapshot (the copy-on-write goal); else total time vs `cp`. Lower is better for
 * each (SNAPSHOT_KEY_BETTER).
 */
function snapshotKey(s: SnapshotResultRow): number {
  const vsRocks = snapshotGoalValue('vs-rocks:compacted', s);
  if (!Number.isNaN(vsRocks)) return vsRocks;
  const cow = snapshotGoalValue('copy-on-write', s);
  if (s.fullFormat === 'default' && Number.isFinite(cow)) return cow;
  return s.ratioToCp;
}

const SNAPSHOT_KEY_BETTER: Better = 'lower';

const snapshotId = (s: SnapshotResultRow) => `${s.backend}|${s.stateBytes}`;

/** The direction of each snapshot goal: the speedup is a "≥" goal, every other one a "≤" goal. */
function snapshotGoalBetter(goal: SnapshotGoal): Better {
  return goal.startsWith('speedup:') ? 'higher' : 'lower';
}

/** Index of the run whose `key` is the median; where no run has a finite key, the run `fallback` picks. */
function medianIndexOr(keys: readonly number[], better: Better, fallback: () => number): number {
  return keys.some((k) => Number.isFinite(k)) ? medianIndex(keys, better) : fallback();
}

/** Per snapshot goal: each row whole from the run where that goal's value is the median (rows the goal does not apply to: by snapshotKey). */
function snapshotByGoal(lists: readonly (readonly SnapshotResultRow[])[]): Record<SnapshotGoal, SnapshotResultRow[]> {
  const groups = matched(lists, snapshotId, 'snapshot');
  const pick = (goal: SnapshotGoal) => groups.map((runs) => runs[medianIndexOr(runs.map((s) => snapshotGoalValue(goal, s)), snapshotGoalBetter(goal), () => medianIndex(runs.map(snapshotKey), SNAPSHOT_KEY_BETTER))]!);
  return Object.fromEntries(SNAPSHOT_GOALS.map((goal) => [goal, pick(goal)])) as Record<SnapshotGoal, SnapshotResultRow[]>;
}

const RUNTIME_GOAL_RATIO: Record<RuntimeGoal, { ratio: (x: RuntimeResult) => number; better: Better }> = {
  baseline: { ratio: (x) => x.baselineRatio, better: 'higher' },
  throughput: { ratio: checkpointingGoalValue, better: 'higher' },
  unaligned: { ratio: (x) => x.durationRatio, better: 'lower' },
};

/** The runtime result whole from the run with the median on/off ratio, and per goal whole from the run with that goal's median ratio. */
function runtimeMedian(xs: readonly RuntimeResult[]): { runtime: RuntimeResult; byGoal: Record<RuntimeGoal, RuntimeResult> } {
  const pick = (g: RuntimeGoal) => xs[medianIndex(xs.map(RUNTIME_GOAL_RATIO[g].ratio), RUNTIME_GOAL_RATIO[g].better)]!;
  const byGoal = { baseline: pick('baseline'), throughput: pick('throughput'), unaligned: pick('unaligned') };
  return { runtime: byGoal.throughput, byGoal };
}

/** The write and the minimal write are judged against `cp` + `sync` (they fsync); reads, validate and the conversions against plain `cp`, as in the goal rows ("≥" goals: higher is better). */
function savepointOpKey(o: SavepointOpResult): number {
  return o.op === 'write' || o.op === 'minimal-write' ? o.ratioToCpSync : o.ratioToCp;
}

function savepointMedian(xs: readonly SavepointResult[]): SavepointResult {
  const { ops: _ops, flink: _flink, ...rest } = fieldMedian(xs, 'savepoint');
  // withRunBaselines: runs written before op rows carried their minimal baseline and their cp times get them from their own run, before rows are picked.
  return { ...rest, ops: pickRows(xs.map((x) => withRunBaselines(x)), (o) => o.op, savepointOpKey, 'higher', 'savepoint ops'), flink: flinkMedian(xs) };
}

/**
 * The Apache Flink case: each ratio, with the two medians it divides, from the run whose ratio is
 * the median (our side from the run's own op rows where the run predates oursWriteMs/oursReadMs).
 */
function flinkMedian(xs: readonly SavepointResult[]): FlinkSavepointCase {
  const ours = (x: SavepointResult, op: 'write' | 'read') => x.ops.find((o) => o.op === op)?.ms.median ?? NaN;
  const cases = xs.map((x) => ({ ...x.flink, oursWriteMs: x.flink.oursWriteMs ?? ours(x, 'write'), oursReadMs: x.flink.oursReadMs ?? ours(x, 'read') }));
  const w = cases[medianIndex(cases.map((c) => c.writeRatio), 'higher')]!;
  const r = cases[medianIndex(cases.map((c) => c.readRatio), 'higher')]!;
  return { bytes: median(cases.map((c) => c.bytes)), writeMs: w.writeMs, writeRatio: w.writeRatio, oursWriteMs: w.oursWriteMs, readMs: r.readMs, readRatio: r.readRatio, oursReadMs: r.oursReadMs };
}

function nullableSection<T, U = T>(xs: readonly (T | null | undefined)[], what: string, f: (xs: readonly T[]) => U): U | null {
  const present = xs.filter((x): x is T => x !== null && x !== undefined);
  if (present.length === 0) return null;
  if (present.length !== xs.length) throw new Error(`${what}: ran in ${present.length} of ${xs.length} runs; median runs of the same suites`);
  return f(present);
}

/** The median of `runs` (same preset, suites and backends), with `medianOf` saying which runs. */
export function medianResults(runs: readonly LoadedRun[]): BenchResults {
  if (runs.length === 0) throw new Error('no runs to take the median of');
  const rs = runs.map((x) => x.results);
  const first = rs[0]!;
  for (const [i, r] of rs.entries()) if (r.preset !== first.preset) throw new Error(`run ${i + 1} (${runs[i]!.file}) is preset '${r.preset}', run 1 '${first.preset}'`);
  const commits = [...new Set(rs.map((r) => r.machine.gitCommit))];
  const medianOf: MedianOf = {
    runs: runs.map((x) => ({ file: x.file, startedAt: x.results.startedAt, wallTimeMs: x.results.wallTimeMs, gitCommit: x.results.machine.gitCommit, ...(x.results.loadAverage ? { loadAverage: x.results.loadAverage } : {}) })),
    ...(commits.length > 1 ? { note: `the runs are from different commits: ${commits.join(', ')}` } : {}),
  };
  const jobTimes = rs.every((r) => r.jobTimes !== undefined) ? fieldRows(rs.map((r) => r.jobTimes!), (j) => `${j.suite}|${j.job}`, 'jobTimes') : undefined;
  const loads = rs.map((r) => r.loadAverage);
  const runtime = nullableSection(rs.map((r) => r.runtime), 'runtime', runtimeMedian);
  return {
    ...first,
    wallTimeMs: median(rs.map((r) => r.wallTimeMs)),
    ...(loads.every((l) => l !== undefined) ? { loadAverage: fieldMedian(loads, 'loadAverage') } : {}),
    ...(jobTimes ? { jobTimes } : {}),
    medianOf,
    access: pickRows<AccessResult>(rs.map((r) => r.access), (a) => `${a.backend}|${a.kind}|${a.op}`, (a) => a.ratio, 'higher', 'access'),
    snapshot: pickRows(rs.map((r) => r.snapshot), snapshotId, snapshotKey, SNAPSHOT_KEY_BETTER, 'snapshot'),
    snapshotByGoal: snapshotByGoal(rs.map((r) => r.snapshot)),
    memory: pickRows<MemoryResult>(rs.map((r) => r.memory), (m) => `${m.backend}|${m.kind}`, (m) => m.ratio, 'lower', 'memory'),
    rss: pickRows<RssResult>(rs.map((r) => r.rss), (x) => x.backend, (x) => Math.max(...x.steps.map((s) => s.rssMb)) / x.boundMb, 'lower', 'rss'),
    storage: fieldRows(rs.map((r) => r.storage), (x) => x.target, 'storage'),
    savepoint: nullableSection(rs.map((r) => r.savepoint), 'savepoint', savepointMedian),
    runtime: runtime?.runtime ?? null,
    ...(runtime ? { runtimeByGoal: runtime.byGoal } : {}),
    ttlCompaction: fieldRows(rs.map((r) => r.ttlCompaction), (x) => `${x.layout}|${x.expiredFraction}`, 'ttlCompaction'),
    timers: fieldRows(rs.map((r) => r.timers ?? []), (x) => x.backend, 'timers'),
    windows: nullableSection(rs.map((r) => r.windows), 'windows', (xs) => fieldMedian(xs, 'windows')),
  };
}
