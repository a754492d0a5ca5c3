import { readCheckpointHistory, type CheckpointHistoryEntry } from '@flowstate/core';
import { bytes, table } from '../format.js';
import type { CheckpointRoot } from './root.js';

export interface HistoryReport {
  readonly root: string;
  /** Oldest first. */
  readonly entries: readonly CheckpointHistoryEntry[];
  /** History files that could not be read (corrupt, unknown version); they hide nothing else. */
  readonly unreadable: ReadonlyArray<{ readonly file: string; readonly message: string }>;
  /** Older history files not read: beyond the limit of entries, or of bytes read (core's readCheckpointHistory). */
  readonly omitted: number;
}

/** The persisted checkpoint statistics under `_history/` (core's reader; see docs/formats.md). */
export async function historyReport(root: CheckpointRoot, limit: number | undefined): Promise<HistoryReport> {
  const h = await readCheckpointHistory(root.fs, limit === undefined ? {} : { maxEntries: limit });
  return { root: root.display, entries: h.entries, unreadable: h.unreadable.map((u) => ({ file: u.file, message: u.error.message })), omitted: h.omitted };
}

const ms = (n: number) => (n < 1000 ? `${n} ms` : `${(n / 1000).toFixed(1)} s`);

export function formatHistory(r: HistoryReport): string {
  const out = [`checkpoint history in ${r.root}: ${r.entries.length} entr${r.entries.length === 1 ? 'y' : 'ies'}`];
  const rows = [['ID', 'KIND', 'TYPE', 'STATUS', 'TRIGGERED', 'DURATION', 'SYNC', 'ASYNC', 'ALIGN', 'UPLOADED', 'FULL SIZE', 'SUBTASKS']];
  for (const e of r.entries) {
    rows.push([
      String(e.checkpointId),
      e.kind,
      e.snapshotType,
      e.status,
      new Date(e.triggerTimestamp).toISOString(),
      ms(e.durationMs),
      ms(e.syncDurationMaxMs),
      ms(e.asyncDurationMaxMs),
      ms(e.alignmentDurationMaxMs),
      bytes(e.checkpointedSize),
      bytes(e.fullSize),
      String(e.subtasks.length),
    ]);
  }
  if (r.entries.length > 0) out.push(...table(rows));
  else out.push('  (none: the history is written by @flowstate/coordinator and the runtime)');
  for (const e of r.entries) if (e.failureCause !== undefined) out.push(`  ${e.checkpointId} failed: ${e.failureCause}`);
  for (const u of r.unreadable) out.push(`  unreadable: ${u.message}`);
  if (r.omitted > 0) out.push(`  ${r.omitted} older history file${r.omitted === 1 ? '' : 's'} not read (see --limit)`);
  return out.join('\n');
}
