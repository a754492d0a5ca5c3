import { collectStreamHandles } from '../checkpoint/referenced-files.js';
import { allListed, listCheckpointRoot, METADATA_FILE_NAME, SHARED_STATE_DIR, TASK_OWNED_STATE_DIR, type FsCheckpointStorage } from './fs-checkpoint-storage.js';
import { CHECKPOINT_HISTORY_DIR } from '../checkpoint/checkpoint-history.js';
import { IllegalStateUsageError } from '../errors.js';
import { joinPath } from './paths.js';

export interface GarbageCollectionOptions {
  /** Report what would be deleted without deleting it. */
  readonly dryRun?: boolean;
  /**
   * Checkpoints being written right now, whose files must be left alone (none at job start). Their
   * shared files cannot be told apart from orphans, so while any is in flight `shared/` is skipped.
   */
  readonly inFlightCheckpointIds?: readonly number[];
  /**
   * Refuse (IllegalStateUsageError, nothing deleted) when any file is foreign (see
   * GarbageCollectionResult.foreign): the root is then likely not a job's checkpoint directory at
   * all, and a caller that named it by hand (the CLI) should not reclaim anything in it.
   */
  readonly refuseForeign?: boolean;
}

export interface GarbageCollectionResult {
  readonly completedCheckpoints: readonly string[];
  /**
   * Checkpoints whose metadata references a missing or resized file: never restorable, so they are
   * reclaimed like orphans (their `_metadata` first, so that none of them looks complete on its own).
   */
  readonly incompleteCheckpoints: readonly string[];
  readonly referencedFiles: number;
  /** Paths deleted (or, with dryRun, that would be): unreferenced files of the checkpoint layout only. */
  readonly orphans: readonly string[];
  /**
   * Unreferenced files outside the checkpoint layout (`chk-<id>/`, `shared/`, `taskowned/`; `_history/`
   * is kept): never deleted. Any means the root is not (only) a job's checkpoint directory: a parent
   * of several jobs' directories, a home directory, one with savepoints kept inside it.
   */
  readonly foreign: readonly string[];
  /** Each orphan's size in the collector's listing (absent for an incomplete checkpoint's `_metadata` not listed). */
  readonly orphanSizes: ReadonlyMap<string, number>;
}

/** The files FsCheckpointStorage writes under a job's checkpoint directory (`_history/` is kept apart). */
const CHECKPOINT_LAYOUT = new RegExp(`^(?:chk-\\d+|${SHARED_STATE_DIR}|${TASK_OWNED_STATE_DIR})/`);

/**
 * Deletes every file of the checkpoint layout (`chk-<id>/`, `shared/`, `taskowned/`) under a
 * checkpoint root that no complete checkpoint references: files of
 * aborted, timed-out or crashed checkpoints (exclusive and shared), incomplete checkpoints (see
 * verifyCheckpointComplete), and half-written temporary files. Run it at job start, before new
 * checkpoints begin, or pass the in-flight checkpoints. It never deletes a file referenced by a
 * complete checkpoint: if any checkpoint's metadata cannot be decoded, or storage fails while it
 * looks, it fails without deleting anything. Other unreferenced files under the root (not the
 * history) are reported in `foreign` and never deleted (with the savepoint layout, every one is).
 */
export async function collectGarbage(storage: FsCheckpointStorage, options: GarbageCollectionOptions = {}): Promise<GarbageCollectionResult> {
  const fs = storage.fs;
  // One listing for the scan and the orphans, so that both see the same files. A checkpoint still
  // being written when it is taken has files but no `_metadata` in it: only inFlightCheckpointIds
  // protects those (as with any listing).
  const listing = await listCheckpointRoot(fs);
  const scan = await storage.scanCheckpoints(listing.committed);
  const unreadable = scan.incomplete.find((c) => c.reason === 'UNREADABLE_METADATA');
  if (unreadable !== undefined) throw unreadable.error;
  const referenced = new Set<string>();
  for (const c of scan.complete) {
    referenced.add(joinPath(c.pointer, METADATA_FILE_NAME));
    for (const h of collectStreamHandles(c.metadata)) if (h.type === 'file') referenced.add(h.path);
  }
  const protectedPrefixes = (options.inFlightCheckpointIds ?? []).map((id) => `chk-${id}/`);
  if (protectedPrefixes.length > 0) protectedPrefixes.push(`${SHARED_STATE_DIR}/`);
  // The checkpoint history (`_history/`) is no checkpoint's file but is kept next to them on purpose.
  protectedPrefixes.push(`${CHECKPOINT_HISTORY_DIR}/`);
  const unreferenced = (p: string) => !referenced.has(p) && !protectedPrefixes.some((prefix) => p.startsWith(prefix));
  // Only what FsCheckpointStorage writes: anything else under the root is someone else's.
  const isOrphan = (p: string) => unreferenced(p) && CHECKPOINT_LAYOUT.test(p);
  const incompleteMetadata = scan.incomplete.map((c) => joinPath(c.pointer, METADATA_FILE_NAME)).filter(isOrphan).sort();
  const files = allListed(listing);
  const rest = files
    .map((f) => f.path)
    .filter((p) => isOrphan(p) && !incompleteMetadata.includes(p))
    .sort();
  const foreign = files
    .map((f) => f.path)
    .filter((p) => unreferenced(p) && !CHECKPOINT_LAYOUT.test(p))
    .sort();
  if (options.refuseForeign === true && foreign.length > 0) {
    const some = `${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? `, and ${foreign.length - 3} more` : ''}`;
    throw new IllegalStateUsageError(undefined, `'${fs.displayRoot}' holds files that are no checkpoint's (${some}): it is not a job's checkpoint directory (chk-<id>/, ${SHARED_STATE_DIR}/, ${TASK_OWNED_STATE_DIR}/ only); nothing was deleted`);
  }
  if (options.dryRun !== true) {
    // An incomplete checkpoint's metadata goes first: if deleting it fails, its files stay.
    if (incompleteMetadata.length > 0) await fs.deleteMany(incompleteMetadata);
    if (rest.length > 0) await fs.deleteMany(rest);
  }
  return {
    completedCheckpoints: scan.complete.map((c) => c.pointer),
    incompleteCheckpoints: scan.incomplete.map((c) => c.pointer),
    referencedFiles: referenced.size,
    orphans: [...incompleteMetadata, ...rest].sort(),
    foreign,
    orphanSizes: new Map(files.filter((f) => isOrphan(f.path)).map((f) => [f.path, f.size])),
  };
}
