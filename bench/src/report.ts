import type { AccessResult } from './access.js';
import { BASELINE_NAME, MIB, metCell, n, ops, pct, PHASE, sizeMb, x2 } from './format.js';
import { goalRows } from './goal-rows.js';
import { suiteTimes, type JobTime } from './job-times.js';
import type { BenchResults, MedianOf } from './results.js';
import { withRunBaselines } from './savepoint.js';
import { pairedFullMs } from './snapshot-goals.js';
import type { SnapshotResultRow } from './snapshot.js';
import type { TimersResult } from './timers.js';
import { ttlCompactionSection } from './ttl-compaction-report.js';
import { summarize } from './stats.js';
import { groupedBarChart, logLineChart } from './svg.js';

export type { BenchResults, MedianOf } from './results.js';
export { goalRows } from './goal-rows.js';

export function accessSummaryTable(r: BenchResults): string {
  const rows = ['| State | Operation | Backend | ops/s (median) | p25–p75 | Baseline | Baseline ops/s | Ratio | Ratio p25–p75 (rounds) | Goal | Met | JS Map ops/s (info) | Ratio to JS Map (info) | Ratio built subject-first / baseline-first (info) |', '|---|---|---|---:|---:|---|---:|---:|---:|---|---|---:|---:|---:|'];
  for (const a of r.access) {
    const goal = a.goal;
    const info = a.info ? `${ops(a.info.ops.median)} | ${x2(a.info.ratio)}×` : '— | —';
    const byOrder = a.byBuildOrder ? `${x2(a.byBuildOrder['subject-first'])}× / ${x2(a.byBuildOrder['baseline-first'])}×` : '—';
    rows.push(`| ${a.kind} | ${a.op} | ${a.backend} | ${ops(a.backendOps.median)} | ${ops(a.backendOps.p25)}–${ops(a.backendOps.p75)} | ${BASELINE_NAME[a.baseline]} | ${a.skipped === undefined ? ops(a.baselineOps.median) : 'n/a'} | ${x2(a.ratio)}× | ${a.ratioRounds ? `${x2(a.ratioRounds.p25)}–${x2(a.ratioRounds.p75)} (${a.ratioRounds.samples}${a.skippedRounds ? `; ${a.skippedRounds} skipped: net time ≤ 0` : ''})` : '—'} | ${goal === null ? '—' : `≥ ${goal}×`} | ${goal === null ? 'reported only' : a.skipped !== undefined ? `not measured: ${a.skipped}` : metCell(a.ratio >= goal)} | ${info} | ${byOrder} |`);
  }
  return rows.join('\n');
}

export function markdownReport(r: BenchResults): string {
  const out = [...headerSection(r), ...timeSection(r.jobTimes ?? [])];
  out.push('## State access');
  out.push('');
  out.push('![ops/s per operation](access-ops.svg)');
  out.push('');
  out.push(accessSummaryTable(r));
  out.push('');
  out.push(...snapshotSection(r), ...memorySection(r), ...storageSection(r), ...savepointSection(r), ...runtimeSection(r));
  out.push(...ttlCompactionSection(r.ttlCompaction));
  out.push(...timersSection(r.timers ?? []));
  out.push(...windowsSection(r));
  out.push('Raw numbers, every sample and the machine description: `results.json`.');
  out.push('');
  return out.join('\n');
}

/** Title, machine, goal counts, how access is timed, and the goals table. */
function headerSection(r: BenchResults): string[] {
  const out: string[] = [];
  const m = r.machine;
  const withGoal = r.access.filter((a) => a.goal !== null);
  const accessGoals = withGoal.length;
  const accessMet = withGoal.filter((a) => a.ratio >= (a.goal ?? 0)).length;
  const memMet = r.memory.filter((x) => x.ratio <= r.goals.memoryRatioMax).length;
  out.push(`# flowstate benchmark report (${r.preset} preset${r.medianOf ? `, median of ${r.medianOf.runs.length} runs` : ''})`);
  out.push('');
  out.push(...medianHeader(r.medianOf));
  out.push(`- Started ${r.startedAt}, wall time ${(r.wallTimeMs / 1000).toFixed(1)} s${r.loadAverage ? `; load average (1/5/15 min) ${r.loadAverage.start.map((x) => x.toFixed(2)).join(' / ')} at the start, ${r.loadAverage.end.map((x) => x.toFixed(2)).join(' / ')} at the end` : ''}`);
  out.push(`- ${m.cpuModel}, ${m.cores} cores, ${m.memoryGb} GB RAM, ${m.platform} ${m.arch}`);
  out.push(`- Node ${m.nodeVersion} (V8 ${m.v8Version})${m.crc32c === undefined ? '' : `, CRC32C: ${m.crc32c}`}${m.rocksdbAddon === undefined ? '' : `, RocksDB addon: ${m.rocksdbAddon}`}, commit \`${m.gitCommit}\`${m.gitDirty ? ' (working tree dirty)' : ''}`);
  out.push(`- State access goals (ops/s ratio to the same-run baseline): met for ${accessMet}/${accessGoals}; memory goal (bytes/entry ≤ ${r.goals.memoryRatioMax}× a Map): met for ${memMet}/${r.memory.length}.`);
  const cfg = r.config as { batch?: number; roundMs?: number };
  out.push(`- State access: each operation and its baselines run in one process in interleaved rounds (after an untimed warm-up, also alternating): a round runs the same number of batches of ${n(cfg.batch ?? NaN)} operations on every side (~${cfg.roundMs ?? '?'} ms each), starting from the same keys, subject first in even rounds and baseline first in odd ones, so load from neighbours, GC and frequency changes hit both sides alike; resets between batches are untimed. Ratio = median of the per-round ratios (subject ops/s / baseline ops/s of the same round), with their p25–p75 and the number of rounds; ops/s columns are medians over rounds. Heap backends and their minimal baseline are timed in process CPU time, the others in wall time. Heap rows run in two child processes with opposite build orders (the structure built later ran 15–20% faster with identical code), each with half the time budget and warm-up; their ratio is the median of both halves' per-round ratios, and each order's own median is shown for information; their processes run without V8's allocation-site pretenuring (\`--no-allocation-site-pretenuring\`, both sides alike: whether V8 tenured either side's entries fell differently from process to process and decided \`valueAdd\` by ~30%). Rows reported only (no goal) get half the timed budget and rounds. No assertions are made on timings.`);
  out.push('');
  out.push('## Goals');
  out.push('');
  out.push('| Goal | Target | Measured | Met |');
  out.push('|---|---|---|---|');
  for (const g of goalRows(r)) out.push(`| ${g.goal} | ${g.target} | ${g.measured} | ${g.met === undefined ? 'not measured' : metCell(g.met)} |`);
  out.push('');
  return out;
}

/** Full snapshots, and the incremental checkpoints of backends that have them. */
function snapshotSection(r: BenchResults): string[] {
  const out: string[] = [];
  out.push('## Snapshots (full, to a local directory)');
  out.push('');
  if (r.snapshot.length > 0) out.push('![snapshot time vs state size](snapshot-time.svg)');
  out.push('');
  out.push('ValueState<Uint8Array> with 1 KiB random values. Full snapshots of backends with native checkpoints (RocksDB) are canonical (`formatType: CANONICAL`, the savepoint format). Download = reading and CRC-verifying every stream of the snapshot without restoring; Restore / download is the restore overhead beyond moving the bytes.');
  out.push('');
  out.push('| Backend | State | Entries | Sync pause ms (max) | Async ms | Total ms (p25–p75) | Written | Restore ms | Download ms | Restore / download | `cp` ms | Total / cp | RSS before → peak (MB) |');
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const s of r.snapshot) {
    out.push(`| ${s.backend}${s.fullFormat === 'CANONICAL' ? ' (canonical)' : ''} | ${sizeMb(s.stateBytes)} | ${n(s.entries)} | ${n(s.syncMs.median, 1)} (${n(s.syncMs.max, 1)}) | ${n(s.asyncMs.median, 1)} | ${n(s.totalMs.median, 1)} (${n(s.totalMs.p25, 1)}–${n(s.totalMs.p75, 1)}) | ${sizeMb(s.bytesWritten)} | ${n(s.restoreMs.median, 1)} | ${n(s.downloadMs.median, 1)} | ${s.restoreToDownload.toFixed(1)}× | ${n(s.cpMs.median, 1)} | ${s.ratioToCp.toFixed(1)}× | ${n(s.rssBeforeMb)} → ${n(s.rssPeakMb)} (${((s.rssPeakMb / s.rssBeforeMb - 1) * 100).toFixed(0)}%) |`);
  }
  const churn = r.snapshot.filter((s) => s.churn.length > 0);
  out.push('');
  if (churn.length === 0) {
    out.push('_Churn variants (1% / 10% of keys changed between checkpoints) apply to incremental checkpoints only; no backend with them ran._');
  } else {
    out.push('### Incremental checkpoints (native, RocksDB)');
    out.push('');
    out.push('Per state size, in one process, every checkpoint confirmed with `notifyCheckpointComplete`:');
    out.push('1. **after the bulk load**: a native checkpoint of everything ("native full": nothing to reuse yet), then the harness waits until RocksDB\'s background compactions are done, rewrites 1% of the keys (random keys, so slightly fewer distinct ones) and takes an incremental checkpoint. When the bulk load flushed enough memtables (32 MiB each: from ~100 MB on), L0 reached its compaction trigger (4 files) and the L0→L1 compaction rewrote every SST the base had uploaded (rows are ordered by hashed key group, so each L0 file spans the whole key range and all of them are inputs), so this increment shows what the first checkpoint after a compaction costs: it has nothing to reuse and uploads everything, as any SST-based incremental scheme would (Flink\'s too). The harness counts the base\'s SSTs still live when the increment is taken; where none is, the goal rows say so next to the size and still judge it. Below that no compaction runs and it is like the next case, on a database of one SST. One sample per state: above the goal\'s 10 MB one per run; up to 10 MB, fresh states (populated, base, compactions awaited, 1% churn, increment: the same steps) add samples up to the preset\'s `incrementalSamples` (3 in quick / full; the goal uses their median);');
    out.push('2. **between compactions**: flush + full manual compaction, a new native base ("native full after compaction"), then (1% churn + incremental checkpoint) × the preset\'s `incrementalSamples` (3 in quick / full; the goal uses their median), then 10% more churn + another. No compaction is due (L0 stays below its trigger of 4 files), so these increments upload only the new L0 SST and the metadata.');
    out.push('');
    out.push('Next to each incremental checkpoint, after the same churn, two baselines are timed: RocksDB\'s own flush + createCheckpoint of a copy of the database that received the same writes, then, always last, a full canonical snapshot of the same state (never confirmed, so the next increment still builds on this checkpoint; last because the release of its RocksDB snapshot can get a bottommost SST rewritten, which took the base\'s only SST from the increment after the bulk load when it ran first); RocksDB\'s own checkpoint runs before the increment in even samples and after it in odd ones, and since session 34 each of the three starts, right after a GC, once the disk has been idle for 15 ms (at most 3 s). Speedup vs canonical full = that paired full snapshot\'s total time / the checkpoint\'s total time (results from before session 33 have no paired snapshot: the median total time of the canonical full snapshots in the table above, taken before any churn); the goal rows judge the median of these per-checkpoint ratios, and likewise of the per-checkpoint ratios to RocksDB\'s own checkpoint. Restore = a fresh backend restored from that checkpoint (downloads every referenced file, opens the database); download = just reading those files; since session 34 both run once every increment of the state is taken, after-bulk-load and between-compactions alike (run between samples, a restore check at 100 MB made the next sample\'s first timed step 2–4× slower).');
    out.push('');
    out.push('| Backend | State | Checkpoint | Keys changed | L0 files before | Base SSTs live | Sync ms | Async ms | Total ms | Uploaded | Referenced | Uploaded % | Paired full canonical ms | Speedup vs canonical full | RocksDB flush + createCheckpoint ms | Total / RocksDB\'s | Speedup vs its native base | Restore ms | Download ms | Restore / download |');
    out.push('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const s of churn) {
      const baseRow = (label: string, nf: NonNullable<SnapshotResultRow['nativeFull']>) =>
        out.push(`| ${s.backend} | ${sizeMb(s.stateBytes)} | ${label} | — | — | — | ${n(nf.syncMs, 1)} | ${n(nf.asyncMs, 1)} | ${n(nf.totalMs, 1)} | ${sizeMb(nf.checkpointedSize)} | ${sizeMb(nf.fullSize)} | ${pct(nf.checkpointedSize / nf.fullSize)} | — | ${(s.totalMs.median / nf.totalMs).toFixed(1)}× (table's median) | — | — | — | — | — | — |`);
      for (const phase of ['after-bulk-load', 'compacted'] as const) {
        const nf = phase === 'after-bulk-load' ? s.nativeFull : s.rebase;
        if (nf) baseRow(phase === 'after-bulk-load' ? 'native full' : `native full after compaction (compaction ${n(s.compactMs)} ms)`, nf);
        for (const c of s.churn.filter((x) => x.phase === phase)) {
          const order = c.incrementFirst === undefined ? '' : c.incrementFirst ? ' (before RocksDB\'s own)' : ' (after RocksDB\'s own)';
          out.push(`| ${s.backend} | ${sizeMb(s.stateBytes)} | incremental, ${c.churn * 100}% churn, ${PHASE[phase]}${order} | ${n(c.keysChanged)} | ${c.l0Files} | ${c.baseSstFiles === undefined ? '—' : `${c.baseSstFilesLive} of ${c.baseSstFiles}`} | ${n(c.syncMs, 1)} | ${n(c.asyncMs, 1)} | ${n(c.totalMs, 1)} | ${sizeMb(c.checkpointedSize)} | ${sizeMb(c.fullSize)} | ${pct(c.checkpointedSize / c.fullSize)} | ${c.fullMs === undefined ? '—' : n(c.fullMs, 1)} | ${(pairedFullMs(s, c) / c.totalMs).toFixed(1)}×${c.fullMs === undefined ? ' (table\'s median)' : ''} | ${n(c.rocksCheckpointMs ?? NaN, 1)} | ${(c.totalMs / (c.rocksCheckpointMs ?? NaN)).toFixed(2)}× | ${nf ? (nf.totalMs / c.totalMs).toFixed(1) : 'n/a'}× | ${n(c.restoreMs, 1)} | ${n(c.downloadMs, 1)} | ${(c.restoreMs / c.downloadMs).toFixed(1)}× |`);
        }
      }
    }
  }
  out.push('');
  return out;
}

/** Heap bytes per entry, and RSS of off-heap backends as state grows. */
function memorySection(r: BenchResults): string[] {
  const out: string[] = [];
  out.push('## Memory (heap bytes per entry, `--expose-gc`, heapUsed deltas)');
  out.push('');
  out.push('| Backend | State | Entries | Backend B/entry | JS Map B/entry | Ratio | Goal | Met |');
  out.push('|---|---|---:|---:|---:|---:|---|---|');
  for (const x of r.memory) out.push(`| ${x.backend} | ${x.kind} | ${n(x.entries)} | ${n(x.backendBytesPerEntry, 1)} | ${n(x.baselineBytesPerEntry, 1)} | ${x.ratio.toFixed(2)}× | ≤ ${r.goals.memoryRatioMax}× | ${x.ratio <= r.goals.memoryRatioMax ? 'met' : '**not met**'} |`);
  out.push('');
  if (r.rss.length > 0) {
    out.push('### Off-heap backends: process RSS as state grows');
    out.push('');
    out.push(`ValueState<Uint8Array>, 1 KiB random values, written up to each size in one process; after each step random point reads warm the block cache, then GC and RSS. Bound = RSS of the process with the empty backend + block cache + write buffers (size × number, one column family holds data) + ${r.goals.rssConstantMb} MB (index/filter blocks, allocator slack).`);
    out.push('');
    out.push('| Backend | State | On disk | RSS MB | V8 heap MB | Bound MB | Within bound |');
    out.push('|---|---:|---:|---:|---:|---:|---|');
    for (const x of r.rss) for (const st of x.steps) out.push(`| ${x.backend} | ${sizeMb(st.stateBytes)} | ${sizeMb(st.diskBytes)} | ${n(st.rssMb)} | ${n(st.heapUsedMb)} | ${n(x.boundMb)} | ${metCell(st.rssMb <= x.boundMb)} |`);
    out.push('');
    for (const x of r.rss) out.push(`- ${x.backend}: empty-process RSS ${n(x.emptyRssMb)} MB, block cache ${n(x.blockCacheMb)} MB, write buffers ${n(x.writeBuffersMb)} MB; RSS slope ${n(x.slopeMbPer100Mb, 1)} MB per 100 MB of state.`);
    out.push('');
  }
  return out;
}

/** Checkpoint storage throughput per target. */
function storageSection(r: BenchResults): string[] {
  const out: string[] = [];
  if (r.storage.length > 0) {
    out.push('## Checkpoint storage throughput');
    out.push('');
    out.push(`One ${sizeMb(r.storage[0]!.bytes)} stream through \`FsCheckpointStorage\` (1 MiB writes, then \`readFully\` with CRC32C verification). Servers run in their own processes on loopback, so this is client + protocol + server cost, not a network. Ratio = throughput relative to local in the same run.`);
    out.push('');
    out.push('| Target | Upload ms (p25–p75) | Upload MB/s | Upload vs local | Download ms (p25–p75) | Download MB/s | Download vs local | Setup |');
    out.push('|---|---:|---:|---:|---:|---:|---:|---|');
    for (const x of r.storage) out.push(`| ${x.target} | ${n(x.uploadMs.median, 1)} (${n(x.uploadMs.p25, 1)}–${n(x.uploadMs.p75, 1)}) | ${n(x.uploadMBps)} | ${x.uploadRatioToLocal.toFixed(2)}× | ${n(x.downloadMs.median, 1)} (${n(x.downloadMs.p25, 1)}–${n(x.downloadMs.p75, 1)}) | ${n(x.downloadMBps)} | ${x.downloadRatioToLocal.toFixed(2)}× | ${x.description} |`);
    out.push('');
  }
  return out;
}

/** Savepoint operations vs `cp`, Apache Flink, validation RSS. */
function savepointSection(r: BenchResults): string[] {
  const out: string[] = [];
  const sp = r.savepoint;
  if (sp) {
    out.push('## Savepoints');
    out.push('');
    const ops = withRunBaselines(sp);
    // In a median of runs each op row comes whole from one run, with the cp times its ratios used; the section-level cp times are medians over the runs.
    const sectionCp = r.medianOf === undefined ? ` (read phase: ${n(sp.cpMs.median, 1)} ms median; write phase, \`cp\` + \`sync\`: ${n(sp.cpSyncMs.median, 1)} ms)` : '';
    const busyOps = ops.filter((o) => o.diskBusyMs !== undefined);
    const busy = busyOps.length === 0 ? '' : ` The disk was busy (its \`io_ticks\`, median per sample) ${busyOps.map((o) => `${n(o.diskBusyMs!, 0)} ms per ${o.op}${o.cpSyncDiskBusyMs === undefined ? '' : ` against ${n(o.cpSyncDiskBusyMs, 0)} ms per \`cp\` + \`sync\` of the same bytes`}`).join(', ')}${sp.cpSyncDiskBusyMs === undefined || r.medianOf !== undefined ? '' : ` (${n(sp.cpSyncDiskBusyMs, 0)} ms per \`cp\` + \`sync\` in the write phase)`}: writes that must reach the disk cannot end before it has written them.`;
    out.push(`Canonical savepoint of ${n(sp.entries)} ValueState<Uint8Array> entries (${n(sp.valueBytes)}-byte values, 4 subtasks, maxParallelism 128): ${sizeMb(sp.canonicalBytes)} canonical, ${sizeMb(sp.nativeBytes)} as native RocksDB, ${sizeMb(sp.roundTripBytes)} after converting back. Baselines: \`cp\` of one file with the op's byte count, and \`cp\` followed by \`sync\` of the copy; each row shows the two times its ratios were computed with (in a median of runs, its own run's)${sectionCp}. Reads, validate and the write's ratio to plain \`cp\` use the read phase's \`cp\` (interleaved with the reads), the writes' ratio to \`cp\` + \`sync\` the write phase's (interleaved with the writes), ratio = baseline median / op median; each conversion uses a \`cp\` and a \`cp\` + \`sync\` of a file with its input's byte count timed next to each of its samples in the convert phase (conversion first in even rounds, last in odd ones), ratio = median of the per-round ratios (p25–p75 in the column)${ops.some((o) => o.op.startsWith('convert-') && o.ratioRounds === undefined) ? ' (conversions without a p25–p75 come from runs before session 33, which divided the read phase\'s `cp`, the time shown in their row)' : ''}. The savepoint writer (write and both conversions) fsyncs every file it commits, so \`cp\` + \`sync\` is the like-for-like baseline for them; read and validate do not write, so plain \`cp\` (which reads *and* writes through the page cache) is the stricter baseline for them. Everything is on the page cache of one local disk.${busy}`);
    out.push('');
    out.push('| Operation | Bytes | ms (p25–p75) | MiB/s | `cp` ms | vs `cp` | `cp` + `sync` ms | vs `cp` + `sync` | What |');
    out.push('|---|---:|---:|---:|---:|---:|---:|---:|---|');
    const spread = (x: { readonly p25: number; readonly p75: number } | undefined) => (x === undefined ? '' : ` (${x.p25.toFixed(2)}–${x.p75.toFixed(2)})`);
    for (const o of ops) out.push(`| ${o.op} | ${sizeMb(o.bytes)} | ${n(o.ms.median, 1)} (${n(o.ms.p25, 1)}–${n(o.ms.p75, 1)}) | ${n(o.mibps)} | ${n(o.cpMs ?? NaN, 1)} | ${o.ratioToCp.toFixed(2)}×${spread(o.ratioRounds?.cp)} | ${n(o.cpSyncMs ?? NaN, 1)} | ${o.ratioToCpSync.toFixed(2)}×${spread(o.ratioRounds?.cpSync)} | ${o.description} |`);
    out.push('');
    const f = sp.flink;
    out.push(`Apache Flink: the same ${n(sp.entries)} entries as an Apache Flink canonical savepoint (${sizeMb(f.bytes)}; metadata V6, KeyGroupsSavepointStateHandle, StringSerializer keys, byte[] values, 4 subtasks, maxParallelism 128) written by \`@flowstate/flink\` (entries → Flink key groups → one stream per subtask, every file fsynced, then \`_metadata\`; no state backend in between, where our write bootstraps through the heap backend) in ${n(f.writeMs.median, 1)} ms (${n(f.writeMs.p25, 1)}–${n(f.writeMs.p75, 1)}), ${f.writeRatio.toFixed(2)}× our write's time; read with every record decoded in ${n(f.readMs.median, 1)} ms (${n(f.readMs.p25, 1)}–${n(f.readMs.p75, 1)}), ${f.readRatio.toFixed(2)}× our read's time (ratio = our median / Flink median: ≥ 1 means Flink's format is at least as fast).`);
    out.push('');
    out.push(`Peak RSS (VmHWM) of the process validating the canonical savepoint: ${n(sp.validatePeakRssMb)} MB (the same process with the library loaded, idle: ${n(sp.idleRssMb)} MB); validation ${sp.validateOk ? 'ok' : '**failed**'}.`);
    out.push('');
  }
  return out;
}

/** Runtime throughput with checkpointing on / off, and under backpressure. */
function runtimeSection(r: BenchResults): string[] {
  const out: string[] = [];
  const rt = r.runtime;
  if (rt) {
    out.push('## Runtime (checkpointing cost)');
    out.push('');
    out.push(`Throughput: a 4-partition sequence source → map → keyBy → keyed count (ValueState, Fs backend) → discarding sink, parallelism 2, ${n(rt.records)} records per run; one untimed warm-up run of each${(rt.warmUpJobsKept ?? 0) === 0 ? '' : ' (kept reachable through the timed runs, so that the full GC before each run does not take the object shapes their compiled code was specialized to: runtime.ts, warmUpThroughputJobs)'}, then checkpointing off / every ${rt.intervalMs} ms (local checkpoint directory) interleaved. Backpressure: a keyed operator awaiting a 1 ms timer per record behind 64-record buffers, checkpoints triggered by hand 300 ms after start (in-memory checkpoint storage); duration = trigger to completion.`);
    out.push('');
    out.push('Records/s are per second of the process\'s CPU time (user + system, all threads): on a shared machine wall time mostly measures the neighbours.');
    out.push('');
    out.push('| Run | Checkpointing | Records/CPU-s | CPU seconds | Wall seconds | Completed checkpoints (periodic + the final one) |');
    out.push('|---:|---|---:|---:|---:|---:|');
    const checkpoints = (x: (typeof rt.runs)[number]) => (x.periodicCheckpoints === undefined ? n(x.completedCheckpoints) : `${n(x.completedCheckpoints)} (${n(x.periodicCheckpoints)} + 1)`);
    rt.runs.forEach((x, i) => out.push(`| ${i + 1} | ${x.checkpointing ? `every ${rt.intervalMs} ms` : 'off'} | ${n(x.recordsPerSec)} | ${n(x.cpuSecs, 2)} | ${n(x.secs, 2)} | ${x.checkpointing ? checkpoints(x) : '—'} |`));
    out.push('');
    out.push('| Under backpressure | Durations ms | Median ms | Max alignment ms | Persisted in-flight |');
    out.push('|---|---|---:|---:|---:|');
    for (const b of [rt.aligned, rt.unaligned]) out.push(`| ${b.mode === 'UNALIGNED' ? 'unaligned' : 'aligned (EXACTLY_ONCE)'} | ${b.durationsMs.map((d) => n(d, 1)).join(', ')} | ${n(b.durationMs.median, 1)} | ${n(b.maxAlignmentMs, 1)} | ${n(b.persistedInflightBytes)} B |`);
    out.push('');
    out.push(`Staged batched baseline (the same work, no runtime: runtime-baseline.ts): ${rt.baselineRecordsPerSec.samples} runs, median ${n(rt.baselineRecordsPerSec.median)} records per CPU-second; the job without checkpoints reaches ${rt.baselineRatio.toFixed(2)}× of it (median of the samples' ratios, each sample's runs adjacent; goal ≥ ${r.goals.runtimeBaselineRatioMin}×).`);
    out.push('');
    out.push(`Ratios: throughput on / off ${rt.throughputRatio.toFixed(2)}× (median of the samples' ratios; the runs of a sample adjacent, their order alternating; goal ≥ ${r.goals.runtimeThroughputRatioMin}×); unaligned / aligned duration ${rt.durationRatio.toFixed(3)}× (goal ≤ ${r.goals.runtimeUnalignedRatioMax}×).`);
    out.push('');
  }
  return out;
}

/** Window operators vs the same job without windows. */
function windowsSection(r: BenchResults): string[] {
  const out: string[] = [];
  const w = r.windows;
  if (w) {
    out.push('## Windows (window operator vs the same job without windows)');
    out.push('');
    out.push(`An event-time source (4 partitions, 1 ms per record and partition, up to 50 ms out of order, watermarks every 64 records) keyed by ${n(w.keys)} users, parallelism 2, into: **plain**, a keyed count in value state (emits every 100th count); **tumbling**, a count per user in 1 s tumbling event-time windows (aggregating state in a TimeWindow namespace, one event-time timer per window); **session**, a count per user in 500 ms-gap session windows (merging window set per key, mergeNamespaces). Same run, interleaved after an untimed warm-up; Fs backend ${n(w.records)} records per run, RocksDB a tenth.`);
    out.push('');
    out.push('| Backend | Plain records/s | Tumbling records/s | Session records/s | Tumbling / plain | Session / plain |');
    out.push('|---|---:|---:|---:|---:|---:|');
    for (const b of w.backends) out.push(`| ${b.backend} | ${n(b.recordsPerSec.plain.median)} | ${n(b.recordsPerSec.tumbling.median)} | ${n(b.recordsPerSec.session.median)} | ${b.tumblingRatio.toFixed(2)}× | ${b.sessionRatio.toFixed(2)}× |`);
    out.push('');
  }
  return out;
}

export function accessChart(r: BenchResults): string {
  const groups = [...new Set(r.access.map((a) => `${a.kind}:${a.op}`))];
  const backends = [...new Set(r.access.map((a) => a.backend))];
  const find = (g: string, b: string) => r.access.find((a) => `${a.kind}:${a.op}` === g && a.backend === b);
  const series = backends.map((b) => ({
    name: b,
    values: groups.map((g) => { const a = find(g, b); return a ? { v: a.backendOps.median, lo: a.backendOps.p25, hi: a.backendOps.p75 } : { v: NaN }; }),
  }));
  // One bar per baseline kind and operation: the median of the per-pair baseline medians.
  for (const kind of ['minimal-heap', 'js-map', 'rocksdb-raw', 'rocksdb-cpp'] as const) {
    if (!r.access.some((a) => a.baseline === kind)) continue;
    series.push({
      name: `${BASELINE_NAME[kind]} baseline`,
      values: groups.map((g) => {
        const v = r.access.filter((a) => `${a.kind}:${a.op}` === g && a.baseline === kind).map((a) => a.baselineOps.median).sort((x, y) => x - y);
        return { v: v[Math.floor((v.length - 1) / 2)] ?? NaN };
      }),
    });
  }
  return groupedBarChart(`State access ops/s (${r.preset} preset, median, whiskers p25–p75)`, groups, series, 'operations per second (log)');
}

export function snapshotChart(r: BenchResults): string {
  const backends = [...new Set(r.snapshot.map((s) => s.backend))];
  const series = backends.flatMap((b) => {
    const rows = r.snapshot.filter((s) => s.backend === b);
    return [
      { name: `${b} total`, points: rows.map((s) => ({ x: s.stateBytes / MIB, y: s.totalMs.median })) },
      { name: `${b} sync pause`, dashed: true, points: rows.map((s) => ({ x: s.stateBytes / MIB, y: s.syncMs.median })) },
      ...[0.01, 0.1].filter((c) => rows.some((s) => s.churn.some((x) => x.churn === c))).map((c) => ({
        name: `${b} incremental ${c * 100}%`,
        points: rows.flatMap((s) => {
          const xs = s.churn.filter((x) => x.churn === c && x.phase === 'compacted');
          return xs.length === 0 ? [] : [{ x: s.stateBytes / MIB, y: summarize(xs.map((x) => x.totalMs)).median }];
        }),
      })),
    ];
  });
  const first = backends[0];
  series.push({ name: 'cp (same bytes)', dashed: true, points: r.snapshot.filter((s) => s.backend === first).map((s) => ({ x: s.stateBytes / MIB, y: s.cpMs.median })) });
  return logLineChart(`Full snapshot time vs state size (${r.preset} preset)`, series, 'state size (MiB, log)', 'milliseconds (log)', (v) => `${+v.toPrecision(3)} MB`);
}

/** The report header of a median result: the rule, and every run with its wall time and load. */
function medianHeader(m: MedianOf | undefined): string[] {
  if (m === undefined) return [];
  const load = (l: MedianOf['runs'][number]['loadAverage']) => (l ? `, load average ${l.start[0]!.toFixed(2)} → ${l.end[0]!.toFixed(2)} (1 min, start → end)` : '');
  const out = [`**Median of ${m.runs.length} runs.** Each row whose goal is judged on a ratio (state access, bytes per entry, snapshots, RSS, savepoint operations, with the \`cp\` times and minimal baseline of its own run) is taken whole from the run whose ratio for that row is the median, so every ratio below is the median of same-run ratios and the numbers of a row all come from one run. A run without a ratio (it measured nothing) counts as the worst value for the goal's direction, so every run counts; for an even count the worse of the two middle runs for the goal is taken. Each snapshot goal takes its rows from the run with that goal's median. The runtime section is taken whole from the run with the median checkpointing on / off ratio, and each runtime goal from the run with its own median ratio; the Apache Flink savepoint ratios each from the run with its median. Other numbers (storage, timers, windows, TTL compaction, savepoint sizes and section-level \`cp\` times, wall and job times) are the median of each number over the runs. Goals are judged on these median ratios.`, ''];
  m.runs.forEach((x, i) => out.push(`- Run ${i + 1}: \`${x.file}\`, started ${x.startedAt}, wall time ${(x.wallTimeMs / 1000).toFixed(1)} s${load(x.loadAverage)}, commit \`${x.gitCommit.slice(0, 12)}\``));
  if (m.note) out.push(`- Note: ${m.note}`);
  out.push('');
  return out;
}

/**
 * Where the wall time goes: per suite and per child job, wall time next to the CPU time the job's
 * processes used (on a shared machine the gap is mostly waiting for the neighbours).
 */
export function timeSection(jobs: readonly JobTime[]): string[] {
  if (jobs.length === 0) return [];
  const secs = (ms: number | null) => (ms === null ? 'n/a' : (ms / 1000).toFixed(1));
  const out = ['## Run time per suite', '', 'Wall time of each suite\'s child processes and the CPU time (user + system) they and their own children used; CPU / wall below 1 means the job waited (for I/O or for other processes on the machine).', ''];
  out.push('| Suite | Jobs | Wall s | CPU s | CPU / wall |', '|---|---:|---:|---:|---:|');
  for (const s of suiteTimes(jobs)) out.push(`| ${s.suite} | ${s.jobs} | ${secs(s.wallMs)} | ${secs(s.cpuMs)} | ${s.cpuMs === null ? 'n/a' : (s.cpuMs / s.wallMs).toFixed(2)} |`);
  out.push('', '<details><summary>Per job</summary>', '', '| Job | Wall s | CPU s |', '|---|---:|---:|');
  for (const j of jobs) out.push(`| ${j.job} | ${secs(j.wallMs)} | ${secs(j.cpuMs)} |`);
  out.push('', '</details>', '');
  return out;
}

/** The timers suite: register / fire throughput per backend and the ratio to a plain JS binary heap of the same run. */
function timersSection(rows: readonly TimersResult[]): string[] {
  if (rows.length === 0) return [];
  const out = ['## Timers (priority-queue state)', ''];
  out.push(`Each sample registers ${n(rows[0]!.timers)} event-time timers (10,000 string keys, one namespace) in a backend's priority queue of a keyed backend owning all 128 key groups, then fires them all with bulkPoll over 100 watermark steps. The baseline is a plain binary heap in JS ordered by timestamp only (no key groups, no set semantics, no serialization), run in the same process after each sample. Ratio = backend median / heap median.`);
  out.push('');
  out.push('| Backend | Register/s (median) | vs heap | Fire/s (median) | vs heap |');
  out.push('|---|---:|---:|---:|---:|');
  for (const t of rows) out.push(`| ${t.backend} | ${ops(t.registerPerSec.median)} | ${t.registerRatio.toFixed(3)}× | ${ops(t.firePerSec.median)} | ${t.fireRatio.toFixed(3)}× |`);
  out.push('');
  return out;
}
