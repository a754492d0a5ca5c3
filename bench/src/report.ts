import type { AccessResult } from './access.js';
import { GOALS } from './config.js';
import type { MachineInfo } from './machine.js';
import type { MemoryResult } from './memory.js';
import type { SnapshotResultRow } from './snapshot.js';
import { groupedBarChart, logLineChart } from './svg.js';

export interface BenchResults {
  readonly schema: 1;
  readonly preset: string;
  readonly startedAt: string;
  readonly wallTimeMs: number;
  readonly machine: MachineInfo;
  readonly goals: typeof GOALS;
  readonly config: unknown;
  readonly access: readonly AccessResult[];
  readonly snapshot: readonly SnapshotResultRow[];
  readonly memory: readonly MemoryResult[];
}

const MIB = 1024 * 1024;
const n = (v: number, d = 0) => (Number.isFinite(v) ? v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : 'n/a');
const ops = (v: number) => (v >= 1e6 ? `${(v / 1e6).toFixed(2)} M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)} k` : v.toFixed(0));
const sizeMb = (b: number) => (b >= 1024 * 1024 ? `${n(b / (1024 * 1024), b < 10 * 1024 * 1024 ? 1 : 0)} MB` : `${n(b / 1024, 0)} KB`);

export function accessSummaryTable(r: BenchResults): string {
  const rows = ['| State | Operation | Backend | ops/s (median) | p25–p75 | JS Map baseline ops/s | Ratio | Goal | Met |', '|---|---|---|---:|---:|---:|---:|---|---|'];
  for (const a of r.access) {
    const met = a.ratio >= r.goals.accessRatioMin;
    rows.push(`| ${a.kind} | ${a.op} | ${a.backend} | ${ops(a.backendOps.median)} | ${ops(a.backendOps.p25)}–${ops(a.backendOps.p75)} | ${ops(a.baselineOps.median)} | ${a.ratio.toFixed(2)}× | ≥ ${r.goals.accessRatioMin}× | ${met ? 'met' : '**not met**'} |`);
  }
  return rows.join('\n');
}

export function markdownReport(r: BenchResults): string {
  const m = r.machine;
  const accessMet = r.access.filter((a) => a.ratio >= r.goals.accessRatioMin).length;
  const memMet = r.memory.filter((x) => x.ratio <= r.goals.memoryRatioMax).length;
  const out: string[] = [];
  out.push(`# flowstate benchmark report (${r.preset} preset)`);
  out.push('');
  out.push(`- Started ${r.startedAt}, wall time ${(r.wallTimeMs / 1000).toFixed(1)} s`);
  out.push(`- ${m.cpuModel}, ${m.cores} cores, ${m.memoryGb} GB RAM, ${m.platform} ${m.arch}`);
  out.push(`- Node ${m.nodeVersion} (V8 ${m.v8Version}), commit \`${m.gitCommit}\`${m.gitDirty ? ' (working tree dirty)' : ''}`);
  out.push(`- State access goal (ops/s ratio to a raw JS Map, same run): met for ${accessMet}/${r.access.length}; memory goal (bytes/entry ≤ ${r.goals.memoryRatioMax}× a Map): met for ${memMet}/${r.memory.length}.`);
  out.push('- Medians over tinybench samples (one sample = one batch of operations, after warm-up); p25–p75 is the spread. No assertions are made on timings.');
  out.push('');
  out.push('## State access');
  out.push('');
  out.push('![ops/s per operation](access-ops.svg)');
  out.push('');
  out.push(accessSummaryTable(r));
  out.push('');
  out.push('## Snapshots (full, to a local directory)');
  out.push('');
  if (r.snapshot.length > 0) out.push('![snapshot time vs state size](snapshot-time.svg)');
  out.push('');
  out.push('| Backend | State | Entries | Sync pause ms | Async ms | Total ms (p25–p75) | Written | Restore ms | `cp` ms | Total / cp | RSS before → peak (MB) |');
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const s of r.snapshot) {
    out.push(`| ${s.backend} | ${sizeMb(s.stateBytes)} | ${n(s.entries)} | ${n(s.syncMs.median, 1)} | ${n(s.asyncMs.median, 1)} | ${n(s.totalMs.median, 1)} (${n(s.totalMs.p25, 1)}–${n(s.totalMs.p75, 1)}) | ${sizeMb(s.bytesWritten)} | ${n(s.restoreMs.median, 1)} | ${n(s.cpMs.median, 1)} | ${s.ratioToCp.toFixed(1)}× | ${n(s.rssBeforeMb)} → ${n(s.rssPeakMb)} (${((s.rssPeakMb / s.rssBeforeMb - 1) * 100).toFixed(0)}%) |`);
  }
  const churn = r.snapshot.filter((s) => s.churn.length > 0);
  out.push('');
  out.push(churn.length === 0 ? '_Churn variants (1% / 10% of keys changed between checkpoints) apply to incremental checkpoints only; no registered backend has them yet (hook: `incrementalCheckpoints` in `bench/src/backends.ts`)._' : '### Churn (incremental)');
  for (const s of churn) for (const c of s.churn) out.push(`- ${s.backend} ${sizeMb(s.stateBytes)} churn ${c.churn * 100}%: sync ${n(c.syncMs, 1)} ms, async ${n(c.asyncMs, 1)} ms, uploaded ${sizeMb(c.checkpointedSize)} of ${sizeMb(c.fullSize)}`);
  out.push('');
  out.push('## Memory (heap bytes per entry, `--expose-gc`, heapUsed deltas)');
  out.push('');
  out.push('| Backend | State | Entries | Backend B/entry | JS Map B/entry | Ratio | Goal | Met |');
  out.push('|---|---|---:|---:|---:|---:|---|---|');
  for (const x of r.memory) out.push(`| ${x.backend} | ${x.kind} | ${n(x.entries)} | ${n(x.backendBytesPerEntry, 1)} | ${n(x.baselineBytesPerEntry, 1)} | ${x.ratio.toFixed(2)}× | ≤ ${r.goals.memoryRatioMax}× | ${x.ratio <= r.goals.memoryRatioMax ? 'met' : '**not met**'} |`);
  out.push('');
  out.push('Raw numbers, every sample and the machine description: `results.json`.');
  out.push('');
  return out.join('\n');
}

export function accessChart(r: BenchResults): string {
  const groups = [...new Set(r.access.map((a) => `${a.kind}:${a.op}`))];
  const backends = [...new Set(r.access.map((a) => a.backend))];
  const find = (g: string, b: string) => r.access.find((a) => `${a.kind}:${a.op}` === g && a.backend === b);
  const series = backends.map((b) => ({
    name: b,
    values: groups.map((g) => { const a = find(g, b); return a ? { v: a.backendOps.median, lo: a.backendOps.p25, hi: a.backendOps.p75 } : { v: NaN }; }),
  }));
  // One baseline bar per operation: the median of the per-pair baseline medians.
  series.push({
    name: 'JS Map baseline',
    values: groups.map((g) => {
      const v = r.access.filter((a) => `${a.kind}:${a.op}` === g).map((a) => a.baselineOps.median).sort((x, y) => x - y);
      return { v: v[Math.floor((v.length - 1) / 2)] ?? NaN };
    }),
  });
  return groupedBarChart(`State access ops/s (${r.preset} preset, median, whiskers p25–p75)`, groups, series, 'operations per second (log)');
}

export function snapshotChart(r: BenchResults): string {
  const backends = [...new Set(r.snapshot.map((s) => s.backend))];
  const series = backends.flatMap((b) => {
    const rows = r.snapshot.filter((s) => s.backend === b);
    return [
      { name: `${b} total`, points: rows.map((s) => ({ x: s.stateBytes / MIB, y: s.totalMs.median })) },
      { name: `${b} sync pause`, dashed: true, points: rows.map((s) => ({ x: s.stateBytes / MIB, y: s.syncMs.median })) },
    ];
  });
  const first = backends[0];
  series.push({ name: 'cp (same bytes)', dashed: true, points: r.snapshot.filter((s) => s.backend === first).map((s) => ({ x: s.stateBytes / MIB, y: s.cpMs.median })) });
  return logLineChart(`Full snapshot time vs state size (${r.preset} preset)`, series, 'state size (MiB, log)', 'milliseconds (log)', (v) => `${+v.toPrecision(3)} MB`);
}
