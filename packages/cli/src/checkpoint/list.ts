import { bytes, table } from '../format.js';
import type { CheckpointSummary, RootScan } from './root.js';

export interface ListReport {
  readonly root: string;
  readonly checkpoints: readonly CheckpointSummary[];
  /** Distinct files in `shared/` that completed checkpoints reference, and their bytes. */
  readonly sharedFiles: { readonly count: number; readonly bytes: number };
}

export function listReport(scan: RootScan): ListReport {
  const sizes = new Map(scan.files.map((f) => [f.path, f.size]));
  let sharedBytes = 0;
  for (const p of scan.sharedFileUsers.keys()) sharedBytes += sizes.get(p) ?? 0;
  return { root: scan.root, checkpoints: scan.checkpoints, sharedFiles: { count: scan.sharedFileUsers.size, bytes: sharedBytes } };
}

function state(c: CheckpointSummary): string {
  if (c.status === 'COMPLETED') return c.retained ? 'completed, retained' : 'completed, subsumed';
  if (c.status === 'INCOMPLETE') return `incomplete (${c.reason === 'MISSING_FILES' ? 'references missing files' : 'unreadable metadata'})`;
  return 'in progress or abandoned (no _metadata)';
}

export function formatList(r: ListReport): string {
  const out = [`checkpoints in ${r.root}:`];
  const rows = [['ID', 'STATE', 'TAKEN', 'FILES', 'SIZE', 'OWN', 'SHARED']];
  for (const c of r.checkpoints) {
    rows.push([
      String(c.checkpointId),
      state(c),
      c.timestamp === undefined ? '-' : new Date(c.timestamp).toISOString(),
      String(c.files),
      bytes(c.bytes),
      bytes(c.exclusiveBytes),
      c.sharedBytes === 0 ? '-' : `${bytes(c.sharedBytes)} (${c.sharedWithOthers} file(s) shared with others)`,
    ]);
  }
  out.push(...table(rows));
  if (r.checkpoints.length === 0) out.push('  (none)');
  out.push(`shared files referenced by completed checkpoints: ${r.sharedFiles.count} (${bytes(r.sharedFiles.bytes)})`);
  for (const c of r.checkpoints) if (c.problem !== undefined) out.push(`  ${c.pointer}: ${c.problem}`);
  return out.join('\n');
}
