import { deserializeCheckpointMetadata } from '../checkpoint/metadata.js';
import { collectStreamHandles } from '../checkpoint/referenced-files.js';
import type { FileStatus } from './file-system.js';
import { METADATA_FILE_NAME, SHARED_STATE_DIR, type FsCheckpointStorage } from './fs-checkpoint-storage.js';
import { joinPath } from './paths.js';

export interface GarbageCollectionOptions {
  /** Report what would be deleted without deleting it. */
  readonly dryRun?: boolean;
  /**
   * Checkpoints being written right now, whose files must be left alone (none at job start). Their
   * shared files cannot be told apart from orphans, so while any is in flight `shared/` is skipped.
   */
  readonly inFlightCheckpointIds?: readonly number[];
}

export interface GarbageCollectionResult {
  readonly completedCheckpoints: readonly string[];
  readonly referencedFiles: number;
  /** Paths deleted (or, with dryRun, that would be). */
  readonly orphans: readonly string[];
}

/**
 * Deletes every file under a checkpoint root that no completed checkpoint references: files of
 * aborted, timed-out or crashed checkpoints (exclusive and shared), and half-written temporary
 * files. Run it at job start, before new checkpoints begin, or pass the in-flight checkpoints.
 * It never deletes a file referenced by a completed checkpoint: if any completed checkpoint's
 * metadata cannot be read, it fails without deleting anything.
 */
export async function collectGarbage(storage: FsCheckpointStorage, options: GarbageCollectionOptions = {}): Promise<GarbageCollectionResult> {
  const fs = storage.fs;
  const completed = await storage.listCompletedCheckpoints();
  const referenced = new Set<string>();
  for (const pointer of completed) {
    const loc = await storage.resolveCheckpoint(pointer);
    referenced.add(joinPath(pointer, METADATA_FILE_NAME));
    const metadata = deserializeCheckpointMetadata(loc.metadata, `${fs.displayRoot}/${joinPath(pointer, METADATA_FILE_NAME)}`);
    for (const h of collectStreamHandles(metadata)) if (h.type === 'file') referenced.add(h.path);
  }
  const protectedPrefixes = (options.inFlightCheckpointIds ?? []).map((id) => `chk-${id}/`);
  if (protectedPrefixes.length > 0) protectedPrefixes.push(`${SHARED_STATE_DIR}/`);
  const files: FileStatus[] = [...(await fs.list('')), ...((await fs.listIncomplete?.('')) ?? [])];
  const orphans = files
    .map((f) => f.path)
    .filter((p) => !referenced.has(p) && !protectedPrefixes.some((prefix) => p.startsWith(prefix)))
    .sort();
  if (options.dryRun !== true && orphans.length > 0) await fs.deleteMany(orphans);
  return { completedCheckpoints: completed, referencedFiles: referenced.size, orphans };
}
