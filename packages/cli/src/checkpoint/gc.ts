import { collectGarbage } from '@flowstate/core';
import { bytes } from '../format.js';
import type { CheckpointRoot } from './root.js';

export interface GcReport {
  readonly root: string;
  readonly applied: boolean;
  readonly completedCheckpoints: readonly string[];
  readonly incompleteCheckpoints: readonly string[];
  /** Files no completed checkpoint references: deleted with --apply, else what would be. */
  readonly files: ReadonlyArray<{ readonly path: string; readonly size: number | undefined }>;
  readonly bytes: number;
}

/**
 * Core's garbage collector over the root: a dry run unless `apply`. It refuses to delete anything
 * while any checkpoint's metadata is unreadable (then nobody knows what it references), and when
 * any unreferenced file is not a checkpoint file (refuseForeign: the root is then not a job's
 * checkpoint directory, but a parent of several, a home directory, one with savepoints inside).
 */
export async function garbageCollect(root: CheckpointRoot, apply: boolean, inFlight: readonly number[]): Promise<GcReport> {
  // Sizes from the collector's own listing (taken before anything is deleted).
  const r = await collectGarbage(root.storage, { dryRun: !apply, inFlightCheckpointIds: inFlight, refuseForeign: true });
  const files = r.orphans.map((path) => ({ path, size: r.orphanSizes.get(path) }));
  return {
    root: root.display,
    applied: apply,
    completedCheckpoints: r.completedCheckpoints,
    incompleteCheckpoints: r.incompleteCheckpoints,
    files,
    bytes: files.reduce((a, f) => a + (f.size ?? 0), 0),
  };
}

export function formatGc(r: GcReport): string {
  const verb = r.applied ? 'deleted' : 'would delete';
  const out = [`${r.root}: ${verb} ${r.files.length} file(s), ${bytes(r.bytes)}; kept ${r.completedCheckpoints.length} completed checkpoint(s)${r.completedCheckpoints.length > 0 ? ` (${r.completedCheckpoints.join(', ')})` : ''}`];
  if (r.incompleteCheckpoints.length > 0) out.push(`  incomplete checkpoints reclaimed: ${r.incompleteCheckpoints.join(', ')}`);
  for (const f of r.files) out.push(`  ${verb === 'deleted' ? 'deleted' : 'would delete'} ${r.root}/${f.path}${f.size === undefined ? '' : `  ${bytes(f.size)}`}`);
  if (!r.applied && r.files.length > 0) out.push('dry run: nothing was deleted; run again with --apply to delete these files');
  return out.join('\n');
}
