/** The median of several bench runs (median-results.ts), on small synthetic results; no timings involved. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { AccessResult } from './access.js';
import { GOALS } from './config.js';
import { fieldMedian, loadRun, median, medianIndex, medianResults, type LoadedRun } from './median-results.js';
import { goalRows, type BenchResults } from './report.js';
import type { RuntimeResult } from './runtime.js';
import { withMinimalMs, type SavepointOp, type SavepointOpResult, type SavepointResult } from './savepoint.js';
import type { FlinkSavepointCase } from './savepoint-flink.js';
import type { ChurnSample, SnapshotResultRow } from './snapshot.js';
import { summarize } from './stats.js';

const ops = (v: number) => summarize([v * 0.9, v, v * 1.1]);

function access(backend: string, op: string, backendOps: number, baselineOps: number, extra: Partial<AccessResult> = {}): AccessResult {
  return { backend, kind: 'value', op, backendOps: ops(backendOps), baselineOps: ops(baselineOps), ratio: backendOps / baselineOps, baseline: 'minimal-heap', goal: GOALS.heapAccessRatioMin, ...extra };
}

function runtime(throughputRatio: number, baselineRatio: number): RuntimeResult {
  const s = summarize([1000]);
  const bp = { mode: 'EXACTLY_ONCE', durationsMs: [10], durationMs: s, maxAlignmentMs: 1, persistedInflightBytes: 0 };
  return { records: 1000, intervalMs: 1000, runs: [], offRecordsPerSec: s, onRecordsPerSec: s, throughputRatio, minPeriodicCheckpoints: 2, failedCheckpoints: 0, baselineRecordsPerSec: s, baselineRatio, aligned: bp, unaligned: { ...bp, mode: 'UNALIGNED' }, durationRatio: 0.05 } as unknown as RuntimeResult;
}

/** One synthetic run: valueGet's backend and baseline ops/s, the runtime's ratios, the wall time. */
function run(i: number, get: [number, number], rt: [number, number], wallTimeMs: number): LoadedRun {
  const results: BenchResults = {
    schema: 3,
    preset: 'quick',
    startedAt: `2026-12-03T0${i}:00:00.000Z`,
    wallTimeMs,
    loadAverage: { start: [i, i, i], end: [i + 1, i, i] },
    jobTimes: [{ suite: 'access', job: 'access memory value', wallMs: wallTimeMs / 2, cpuMs: null }],
    machine: { cpuModel: 'test', cores: 2, memoryGb: 1, platform: 'linux', arch: 'x64', nodeVersion: 'v20', v8Version: '11', gitCommit: 'abc', gitDirty: false },
    goals: GOALS,
    config: {},
    access: [
      access('memory', 'valueGet', get[0], get[1]),
      // A row whose baseline was not measured: its ratio is NaN, which JSON writes as null.
      access('rocksdb-binding', 'binding get', 100, NaN, { baseline: 'rocksdb-cpp', goal: GOALS.rocksBindingCppRatioMin, skipped: 'no C++ compiler' }),
    ],
    snapshot: [],
    memory: [],
    rss: [],
    storage: [],
    savepoint: null,
    runtime: runtime(rt[0], rt[1]),
    ttlCompaction: [],
    timers: [],
    windows: null,
  };
  return { file: `run-${i}/results.json`, results };
}

// valueGet ratios 1.0, 0.45, 0.95: the median ratio is 0.95 (run 3, goal ≥ 0.9 met), while the
// ratio of the medians taken across runs (median backend 100 / median baseline 200) would be 0.5.
const RUNS = [run(1, [100, 100], [0.7, 0.5], 250_000), run(2, [90, 200], [0.95, 0.3], 320_000), run(3, [200, 210], [0.92, 0.45], 280_000)];

test('median and medianIndex: odd and even counts, runs without a finite key left out', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([NaN])));
  assert.equal(median([NaN, 5, 1]), 3);
  assert.equal(medianIndex([0.5, 0.9, 0.7]), 2);
  assert.equal(medianIndex([0.5, 0.9, 0.7, 0.6]), 3, 'even count: the lower middle run');
  assert.equal(medianIndex([NaN, 1, 2]), 1, 'the median of the finite keys 1 and 2 (lower middle)');
  assert.equal(medianIndex([0.85, 0.95, NaN]), 0, 'a run that measured nothing is not the best run');
  assert.equal(medianIndex([NaN, NaN]), 0, 'no finite key: the first run');
});

test('fieldMedian takes each number\'s median, a majority of booleans, the first of anything else, and refuses arrays of different lengths', () => {
  assert.deepEqual(fieldMedian([{ a: 1, b: true, s: 'x', xs: [1, 10] }, { a: 3, b: false, s: 'y', xs: [2, 30] }, { a: 2, b: true, s: 'z', xs: [3, 20] }]), { a: 2, b: true, s: 'x', xs: [2, 20] });
  assert.throws(() => fieldMedian([{ xs: [1] }, { xs: [1, 2] }]), /different numbers of entries/);
});

test('a ratio row is taken whole from the run with the median ratio, and its goal is judged on that ratio', () => {
  const m = medianResults(RUNS);
  const get = m.access.find((a) => a.op === 'valueGet')!;
  assert.equal(get.ratio, 200 / 210);
  assert.equal(get.backendOps.median, 200, 'backend ops/s from the same run as the ratio');
  assert.equal(get.baselineOps.median, 210, 'baseline ops/s from the same run as the ratio');
  const row = goalRows(m).find((g) => g.goal.startsWith('memory: ValueState'))!;
  assert.equal(row.met, true, 'judged on the median ratio 0.95, not on the cross-run ratio of medians 0.5');
  assert.match(row.measured, /valueGet 0\.95×/);
});

test('other numbers are medians field by field; the wall time goal uses the median wall time', () => {
  const m = medianResults(RUNS);
  assert.equal(m.runtime!.throughputRatio, 0.92);
  assert.equal(m.runtime!.baselineRatio, 0.45);
  assert.equal(m.wallTimeMs, 280_000);
  assert.equal(m.jobTimes![0]!.wallMs, 140_000);
  assert.equal(m.jobTimes![0]!.cpuMs, null, 'a CPU time unknown in every run stays unknown');
  const wall = goalRows(m).find((g) => g.goal === 'Quick preset wall time')!;
  assert.equal(wall.met, true);
  assert.match(wall.measured, /280\.0 s \(median of 3 runs\)/);
});

test('runs with different rows or presets are refused', () => {
  const other = run(4, [1, 1], [1, 1], 1);
  const fewer = { ...other, results: { ...other.results, access: other.results.access.slice(0, 1) } };
  assert.throws(() => medianResults([RUNS[0]!, fewer]), /access: run 2 has other rows than run 1/);
  assert.throws(() => medianResults([RUNS[0]!, { ...other, results: { ...other.results, preset: 'full' } }]), /preset 'full'/);
  assert.throws(() => medianResults([RUNS[0]!, { ...other, results: { ...other.results, runtime: null } }]), /runtime: ran in 1 of 2 runs/);
});

test('median.js writes one results.json and report.md from results.json files, saying which runs with their wall times', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowstate-bench-median-'));
  try {
    const files = RUNS.map((r, i) => {
      const f = join(dir, `run-${i + 1}.json`);
      writeFileSync(f, JSON.stringify(r.results));
      return f;
    });
    // NaN went through JSON as null and comes back as NaN; goal: null stays null.
    const loaded = loadRun(files[0]!);
    const skipped = loaded.results.access.find((a) => a.skipped !== undefined)!;
    assert.ok(Number.isNaN(skipped.ratio));
    assert.equal(loaded.results.jobTimes![0]!.cpuMs, null);
    const cli = fileURLToPath(new URL('./median.js', import.meta.url));
    const out = join(dir, 'median');
    const r = spawnSync(process.execPath, [cli, '--out', out, ...files], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as BenchResults;
    assert.equal(json.medianOf!.runs.length, 3);
    assert.equal(json.access.find((a) => a.op === 'valueGet')!.ratio, 200 / 210);
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    assert.match(md, /^# flowstate benchmark report \(quick preset, median of 3 runs\)/);
    for (const [i, s] of ['250.0', '320.0', '280.0'].entries()) assert.match(md, new RegExp(`Run ${i + 1}: .*wall time ${s} s`));
    assert.match(md, /\| binding get .*not measured: no C\+\+ compiler/);
    for (const row of md.split('\n').filter((l) => l.startsWith('|'))) assert.ok(row.endsWith('|'), `table row: ${row}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A RocksDB snapshot row with one 1% churn sample between compactions: full snapshot time, increment total, RocksDB's own checkpoint, uploaded fraction, longest sync phase. */
function rocksSnapshot(fullMs: number, incMs: number, rocksMs: number, uploaded: number, syncMs: number): SnapshotResultRow {
  const c: ChurnSample = { phase: 'compacted', l0Files: 1, baseSstFiles: 1, baseSstFilesLive: 1, compactionWaitMs: 0, churn: 0.01, keysChanged: 100, syncMs, asyncMs: incMs - syncMs, totalMs: incMs, checkpointedSize: uploaded * 1000, fullSize: 1000, restoreMs: 1, downloadMs: 1, rocksCheckpointMs: rocksMs };
  const one = summarize([1]);
  return { backend: 'rocksdb', stateBytes: 10 * 1024 * 1024, entries: 10, valueBytes: 1, samples: [], syncMs: summarize([1]), asyncMs: one, totalMs: summarize([fullMs]), restoreMs: one, downloadMs: one, bytesWritten: 1, rssBeforeMb: 1, rssPeakMb: 1, cpMs: one, ratioToCp: 1, restoreToDownload: 1, fullFormat: 'CANONICAL', nativeFull: null, rebase: null, compactMs: 1, churn: [c] };
}

const withSection = (r: LoadedRun, part: Partial<BenchResults>): LoadedRun => ({ ...r, results: { ...r.results, ...part } });

test('each snapshot goal takes its rows whole from the run with that goal\'s median, not from the run of another goal', () => {
  // speedup (full / increment): 10, 5, 8 -> run 3 (8×); vs RocksDB (increment / rocks): 4, 2, 1 -> run 2 (2×);
  // uploaded: 1%, 3%, 2% -> run 3; sync pause: 30, 60, 90 ms -> run 2. Run 2 has the median vs-RocksDB ratio.
  const rows = [rocksSnapshot(100, 10, 2.5, 0.01, 30), rocksSnapshot(100, 20, 10, 0.03, 60), rocksSnapshot(200, 25, 25, 0.02, 90)];
  const m = medianResults(RUNS.map((r, i) => withSection(r, { snapshot: [rows[i]!] })));
  assert.equal(m.snapshot[0], rows[1], 'the table row: the run with the median main ratio (vs RocksDB)');
  const goal = (prefix: string) => goalRows(m).find((g) => g.goal.startsWith(prefix))!;
  assert.match(goal('RocksDB: incremental checkpoint vs full (canonical) snapshot, 1% churn, between compactions').measured, /10 MB: 8\.0×/, 'speedup: its own median (run 3), not run 2\'s 5.0×');
  assert.match(goal('RocksDB: incremental checkpoint total vs RocksDB').measured, /10 MB: 2\.00× \(20\.0 vs 10\.0 ms\)/, 'ratio and both times from run 2');
  assert.match(goal('RocksDB: bytes uploaded by the incremental checkpoint, 1% churn, between').measured, /10 MB: 2\.00%/, 'uploaded: its own median (run 3), not run 2\'s 3%');
  assert.match(goal('RocksDB: synchronous snapshot phase').measured, /10 MB: 60\.0 ms/);
});

test('the incremental goals are judged on the 10 MB state; a larger state is shown but does not decide', () => {
  const at = (mb: number, row: SnapshotResultRow): SnapshotResultRow => ({ ...row, stateBytes: mb * 1024 * 1024 });
  // 10 MB: 20× faster, 1.5× RocksDB's own, 1% uploaded (all met); 100 MB: 5×, 4×, 100% (none met).
  const judged = (rows: SnapshotResultRow[]) => {
    const rs = goalRows({ ...RUNS[0]!.results, snapshot: rows });
    return ['RocksDB: incremental checkpoint vs full', 'RocksDB: incremental checkpoint total vs RocksDB', 'RocksDB: bytes uploaded'].map((p) => rs.find((g) => g.goal.startsWith(p) && g.goal.includes('between compactions'))!);
  };
  for (const row of judged([at(10, rocksSnapshot(200, 10, 6.7, 0.01, 30)), at(100, rocksSnapshot(500, 100, 25, 1, 30))])) {
    assert.equal(row.met, true, row.goal);
    assert.match(row.goal, /goal on 10 MB; larger sizes informational/);
    assert.match(row.measured, /100 MB: /, 'the larger size is still shown');
  }
  for (const row of judged([at(10, rocksSnapshot(50, 10, 2.5, 0.5, 30))])) assert.equal(row.met, false, `${row.goal}: a miss at 10 MB is not met`);
  for (const row of judged([at(100, rocksSnapshot(500, 100, 25, 1, 30))])) assert.equal(row.met, undefined, `${row.goal}: without a 10 MB state it is not measured`);
  // RocksDB's own checkpoint not timed at 10 MB (NaN): that row is not measured, whatever 100 MB did.
  const [, vsRocks] = judged([at(10, rocksSnapshot(200, 10, NaN, 0.01, 30)), at(100, rocksSnapshot(500, 10, 25, 0.01, 30))]);
  assert.equal(vsRocks!.met, undefined);
});

test('each runtime goal takes its rates from the run with its own median ratio', () => {
  const rt = (offRate: number, baseRate: number, onRate: number, alignedMs: number, unalignedMs: number): RuntimeResult => {
    const s = (v: number) => summarize([v]);
    const bp = (mode: string, ms: number) => ({ mode, durationsMs: [ms], durationMs: s(ms), maxAlignmentMs: 1, persistedInflightBytes: 0 });
    return { records: 1000, intervalMs: 1000, runs: [], offRecordsPerSec: s(offRate), onRecordsPerSec: s(onRate), throughputRatio: onRate / offRate, minPeriodicCheckpoints: 2, failedCheckpoints: 0, baselineRecordsPerSec: s(baseRate), baselineRatio: offRate / baseRate, aligned: bp('EXACTLY_ONCE', alignedMs), unaligned: bp('UNALIGNED', unalignedMs), durationRatio: unalignedMs / alignedMs } as unknown as RuntimeResult;
  };
  // baseline ratio 0.5, 0.8, 0.6 -> run 3; throughput 0.9, 0.95, 1.0 -> run 2; unaligned 0.02, 0.01, 0.05 -> run 1.
  const rts = [rt(100, 200, 90, 100, 2), rt(160, 200, 152, 100, 1), rt(120, 200, 120, 100, 5)];
  const m = medianResults(RUNS.map((r, i) => withSection(r, { runtime: rts[i]! })));
  assert.equal(m.runtime, rts[1], 'the runtime section whole from the run with the median on/off ratio');
  const goal = (prefix: string) => goalRows(m).find((g) => g.goal.startsWith(prefix))!;
  assert.match(goal('Runtime, one thread').measured, /^0\.60× \(median of the samples' ratios; medians 120 vs 200 records/, 'rates from run 3, the median baseline ratio');
  assert.match(goal('Runtime: job throughput with checkpoints').measured, /^0\.95× \(median of the samples' ratios; medians 152 vs 160 records/, 'rates from run 2');
  assert.equal(goal('Runtime: job throughput with checkpoints').met, true);
  // A run with checkpointing that completed fewer than two periodic checkpoints (or results that did not count them) is not judged.
  const checkpointingRow = (runs: RuntimeResult[]) => goalRows(medianResults(RUNS.map((r, i) => withSection(r, { runtime: runs[i]! })))).find((g) => g.goal.startsWith('Runtime: job throughput with checkpoints'))!;
  for (const minPeriodicCheckpoints of [1, undefined]) {
    const row = checkpointingRow(rts.map((r) => ({ ...r, minPeriodicCheckpoints })));
    assert.equal(row.met, undefined, `minPeriodicCheckpoints ${minPeriodicCheckpoints}`);
    assert.match(row.measured, /^not measured: /);
  }
  // One run of three could not judge it: it counts as the worst, below 0.90 and 0.95, so the median
  // is run 1's 0.90 (counted by its own ratio, run 3's 1.00 would have made run 2's 0.95 the median).
  const oneShort = checkpointingRow(rts.map((r, i) => (i === 2 ? { ...r, minPeriodicCheckpoints: 1 } : r)));
  assert.match(oneShort.measured, /^0\.90× /);
  assert.equal(oneShort.met, true);
  // Runs whose checkpoints failed count as 0: with two of three, the median run is one, and the goal is not met, whatever their ratios.
  const failed = checkpointingRow(rts.map((r, i) => ({ ...r, failedCheckpoints: i === 0 ? 0 : 1, throughputRatio: 1 })));
  assert.equal(failed.met, false);
  assert.match(failed.measured, /1 checkpoint did not complete/);
  assert.match(goal('Runtime: under backpressure').measured, /^0\.020× \(2\.0 vs 100\.0 ms\)/, 'durations from run 1');
});

test('savepoint rows compare with the minimal baseline and Apache Flink of their own run, also for runs written before op rows carried them', () => {
  const op = (name: SavepointOp, ms: number, ratioToCp: number, minimalMs?: number): SavepointOpResult => ({ op: name, description: name, bytes: 1, ms: summarize([ms]), mibps: 1, ratioToCp, ratioToCpSync: ratioToCp, ...(minimalMs === undefined ? {} : { minimalMs }) });
  // Read ratios to cp 0.2, 0.3, 0.35 -> run 2 (read 50 ms, its minimal reader 40 ms: 0.80×); the
  // minimal reader's own median run is run 1 (10 ms), which must not be divided by run 2's read.
  // Flink read ratios (ours / Flink) 60/40, 50/60, 55/45 -> run 3 (1.22×, 45 vs 55 ms).
  const sp = (readMs: number, readRatio: number, minReadMs: number, minRatio: number, flinkReadMs: number, legacy: boolean): SavepointResult => {
    const ops = [op('write', 10, 1), op('minimal-write', 10, 1), op('read', readMs, readRatio), op('minimal-read', minReadMs, minRatio)];
    const flink: FlinkSavepointCase = { bytes: 1, writeMs: summarize([10]), readMs: summarize([flinkReadMs]), writeRatio: 1, readRatio: readMs / flinkReadMs, ...(legacy ? {} : { oursWriteMs: 10, oursReadMs: readMs }) };
    return { stateBytes: 1, entries: 1, valueBytes: 1, canonicalBytes: 1, nativeBytes: 1, roundTripBytes: 1, cpMs: summarize([1]), cpSyncMs: summarize([1]), ops: legacy ? ops : withMinimalMs(ops), validatePeakRssMb: 1, idleRssMb: 1, validateOk: true, flink };
  };
  const sps = [sp(60, 0.2, 10, 0.5, 40, true), sp(50, 0.3, 40, 0.4, 60, false), sp(55, 0.35, 30, 0.45, 45, true)];
  const m = medianResults(RUNS.map((r, i) => withSection(r, { savepoint: sps[i]! })));
  const goal = (prefix: string) => goalRows(m).find((g) => g.goal.startsWith(prefix))!;
  assert.match(goal('Savepoint: canonical read throughput (readKeyedState').measured, /^0\.30× .*vs the minimal reader \(same run\): 0\.80×$/);
  assert.match(goal('Savepoint: Apache Flink canonical savepoint read').measured, /^1\.22× \(45\.0 vs 55\.0 ms\)$/, 'Flink and ours from run 3, whose ours came from its op rows');
});
