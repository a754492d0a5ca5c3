import { collectGarbage, IllegalStateUsageError, METADATA_FILE_NAME } from '@flowstate/core';
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
 * anything it would delete is not a checkpoint file (the root is then not a job's checkpoint
 * directory: a parent of several, a home directory, one with savepoints kept inside it).
 */
export async function garbageCollect(root: CheckpointRoot, apply: boolean, inFlight: readonly number[]): Promise<GcReport> {
  // Always a dry run first: what would be deleted is checked before anything is, and only that is
  // deleted (sizes from the collector's own listing).
  const r = await collectGarbage(root.storage, { dryRun: true, inFlightCheckpointIds: inFlight });
  // Files outside FsCheckpointStorage's layout, which the collector never deletes (`_history/` is none).
  const foreign = r.foreign;
  if (foreign.length > 0) {
    throw new IllegalStateUsageError(
      undefined,
      `'${root.display}' holds files that are no checkpoint's (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? `, and ${foreign.length - 3} more` : ''}): ` +
        "it is not a job's checkpoint directory (chk-<id>/, shared/, taskowned/ only); nothing was deleted",
    );
  }
  if (apply) {
    // As the collector does: an incomplete checkpoint's metadata first, so that its files stay if that fails.
    const metadata = new Set(r.incompleteCheckpoints.map((p) => `${p}/${METADATA_FILE_NAME}`).filter((p) => r.orphans.includes(p)));
    if (metadata.size > 0) await root.storage.fs.deleteMany([...metadata].sort());
    const rest = r.orphans.filter((p) => !metadata.has(p));
    if (rest.length > 0) await root.storage.fs.deleteMany(rest);
  }
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
