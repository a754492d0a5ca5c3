import type { TaskCheckpointStats } from './task.js';

import type { CheckpointStats as CoordinatorCheckpointStats } from '@flowstate/coordinator';

export type { CheckpointStatus } from '@flowstate/coordinator';

/** Flink's checkpoint statistics, per checkpoint, with the per-task breakdown. */
export type CheckpointStats = CoordinatorCheckpointStats<TaskCheckpointStats>;

export function summarize(s: CheckpointStats): {
  checkpointedSize: number;
  fullSize: number;
  processedInflightBytes: number;
  persistedInflightBytes: number;
  maxStartDelayMs: number;
  maxSyncMs: number;
  maxAsyncMs: number;
  maxAlignmentMs: number;
  unaligned: boolean;
} {
  let checkpointedSize = 0;
  let fullSize = 0;
  let processed = 0;
  let persisted = 0;
  let maxStartDelayMs = 0;
  let maxSyncMs = 0;
  let maxAsyncMs = 0;
  let maxAlignmentMs = 0;
  let unaligned = false;
  for (const t of s.tasks) {
    checkpointedSize += t.checkpointedSize;
    fullSize += t.fullSize;
    processed += t.processedInflightBytes;
    persisted += t.persistedInflightBytes;
    maxStartDelayMs = Math.max(maxStartDelayMs, t.startDelayMs);
    maxSyncMs = Math.max(maxSyncMs, t.syncDurationMs);
    maxAsyncMs = Math.max(maxAsyncMs, t.asyncDurationMs);
    maxAlignmentMs = Math.max(maxAlignmentMs, t.alignmentDurationMs);
    unaligned ||= t.unaligned;
  }
  return { checkpointedSize, fullSize, processedInflightBytes: processed, persistedInflightBytes: persisted, maxStartDelayMs, maxSyncMs, maxAsyncMs, maxAlignmentMs, unaligned };
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
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
      `${m.maxStartDelayMs.toFixed(0)} ms`,
      `${m.maxSyncMs.toFixed(2)} ms`,
      `${m.maxAsyncMs.toFixed(1)} ms`,
      `${m.maxAlignmentMs.toFixed(0)} ms`,
      bytes(m.checkpointedSize),
      bytes(m.fullSize),
      bytes(m.processedInflightBytes),
      bytes(m.persistedInflightBytes),
      s.failureReason ?? s.pointer ?? '',
    ]);
    if (options.detail) {
      for (const t of s.tasks) {
        rows.push([
          '',
          `  ${t.task}`,
          '',
          '',
          '',
          `${t.startDelayMs.toFixed(0)} ms`,
          `${t.syncDurationMs.toFixed(2)} ms`,
          `${t.asyncDurationMs.toFixed(1)} ms`,
          `${t.alignmentDurationMs.toFixed(0)} ms`,
          bytes(t.checkpointedSize),
          bytes(t.fullSize),
          bytes(t.processedInflightBytes),
          bytes(t.persistedInflightBytes),
          t.unaligned ? 'unaligned' : '',
        ]);
      }
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
