import type { TaskCheckpointStats } from './task.js';

import type { CheckpointStats as CoordinatorCheckpointStats } from '@flowstate/coordinator';

export type { CheckpointStatus } from '@flowstate/coordinator';

/** Flink's checkpoint statistics, per checkpoint, with the per-task breakdown. */
export type CheckpointStats = CoordinatorCheckpointStats<TaskCheckpointStats>;

/** The per-task figures a checkpoint's summary adds up, and those it takes the maximum of. */
const SUMMED = ['checkpointedSize', 'fullSize', 'processedInflightBytes', 'persistedInflightBytes'] as const;
const MAXIMA = { maxStartDelayMs: 'startDelayMs', maxSyncMs: 'syncDurationMs', maxAsyncMs: 'asyncDurationMs', maxAlignmentMs: 'alignmentDurationMs' } as const;

const MAXIMUM_OF = Object.entries(MAXIMA) as [keyof typeof MAXIMA, (typeof MAXIMA)[keyof typeof MAXIMA]][];

export type CheckpointSummary = Record<(typeof SUMMED)[number] | keyof typeof MAXIMA, number> & { unaligned: boolean };

export function summarize(s: CheckpointStats): CheckpointSummary {
  const m: CheckpointSummary = { checkpointedSize: 0, fullSize: 0, processedInflightBytes: 0, persistedInflightBytes: 0, maxStartDelayMs: 0, maxSyncMs: 0, maxAsyncMs: 0, maxAlignmentMs: 0, unaligned: false };
  for (const t of s.tasks) {
    for (const k of SUMMED) m[k] += t[k];
    for (const [k, field] of MAXIMUM_OF) m[k] = Math.max(m[k], t[field]);
    m.unaligned ||= t.unaligned;
  }
  return m;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** One task's figures under the names of a checkpoint's summary, so that both fill the same columns. */
function taskFigures(t: TaskCheckpointStats): Omit<CheckpointSummary, 'unaligned'> {
  const figures = { ...t } as TaskCheckpointStats & Omit<CheckpointSummary, 'unaligned'>;
  for (const [k, field] of MAXIMUM_OF) figures[k] = t[field];
  return figures;
}

/** The columns from 'start delay' to 'persisted in-flight'. */
function figureCells(m: Omit<CheckpointSummary, 'unaligned'>): string[] {
  return [
    `${m.maxStartDelayMs.toFixed(0)} ms`,
    `${m.maxSyncMs.toFixed(2)} ms`,
    `${m.maxAsyncMs.toFixed(1)} ms`,
    `${m.maxAlignmentMs.toFixed(0)} ms`,
    ...SUMMED.map((k) => bytes(m[k])),
  ];
}

/** A plain-text table, one row per checkpoint; `detail` adds the per-task rows. */
export function formatCheckpointStatsTable(stats: readonly CheckpointStats[], options: { detail?: boolean } = {}): string {
  const header = ['id', 'kind', 'status', 'trigger', 'duration', 'start delay', 'sync max', 'async max', 'align max', 'checkpointed', 'full', 'processed in-flight', 'persisted in-flight', 'note'];
  const rows: string[][] = [];
  for (const s of stats) {
    const m = summarize(s);
    rows.push([
      String(s.checkpointId),
      s.kind === 'SAVEPOINT' ? 'savepoint' : m.unaligned ? 'unaligned' : 'aligned',
      s.status,
      new Date(s.triggerTimestamp).toISOString().slice(11, 23),
      `${s.durationMs.toFixed(0)} ms`,
      ...figureCells(m),
      s.failureReason ?? s.pointer ?? '',
    ]);
    if (options.detail) {
      for (const t of s.tasks) rows.push(['', `  ${t.task}`, '', '', '', ...figureCells(taskFigures(t)), t.unaligned ? 'unaligned' : '']);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
