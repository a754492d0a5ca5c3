import { CorruptCheckpointError, FlowstateError } from '../errors.js';
import type { FileStatus } from '../storage/file-system.js';
import type { CheckpointMetadata } from './metadata.js';
import { collectStreamHandles } from './referenced-files.js';

/** Where a checkpoint lives, for error messages: the storage root and the checkpoint's pointer. */
export interface CheckpointLocationName {
  readonly root: string;
  readonly pointer: string;
  readonly checkpointId?: number;
}

/** Looks a file up (stat); `null` when it does not exist. Other failures propagate. */
export type FileLookup = (path: string) => Promise<FileStatus | null>;

/** Files stat'ed at once when checking one checkpoint against remote storage. */
const STAT_CONCURRENCY = 16;

/**
 * The one completeness check every reader of a checkpoint runs before trusting it: every file its
 * metadata references exists with the size its handle records, and every inline handle carries the
 * bytes it declares. A `_metadata` alone does not make a checkpoint complete: an abort whose
 * metadata delete failed, or a file lost afterwards, leaves metadata that references missing files.
 * Contents (CRC32C) are verified when the state is read, not here: this check costs one listing or
 * one stat per file.
 * @throws CorruptCheckpointError naming the first missing or resized file and the checkpoint.
 */
export async function verifyCheckpointComplete(metadata: CheckpointMetadata, lookup: FileLookup, where: CheckpointLocationName): Promise<void> {
  const handles = collectStreamHandles(metadata);
  const checkpointId = where.checkpointId ?? metadata.checkpointId;
  for (const h of handles) {
    if (h.type === 'bytes' && h.data.length !== h.size) {
      throw new CorruptCheckpointError(`inline:${h.name}`, `checkpoint '${where.pointer}' is incomplete: the handle carries ${h.data.length} bytes, it says ${h.size}`, checkpointId);
    }
  }
  const paths = [...new Map(handles.flatMap((h) => (h.type === 'file' ? [[h.path, h.size] as const] : []))).entries()];
  for (let i = 0; i < paths.length; i += STAT_CONCURRENCY) {
    const batch = paths.slice(i, i + STAT_CONCURRENCY);
    const found = await Promise.all(batch.map(([p]) => lookup(p)));
    batch.forEach(([path, size], j) => {
      const st = found[j];
      const file = `${where.root}/${path}`;
      if (st === null || st === undefined) throw new CorruptCheckpointError(file, `checkpoint '${where.pointer}' is incomplete: the file is missing`, checkpointId);
      if (st.size !== size) throw new CorruptCheckpointError(file, `checkpoint '${where.pointer}' is incomplete: the file has ${st.size} bytes, its handle says ${size}`, checkpointId);
    });
  }
}

/** A lookup answered from one listing (a scan of a whole checkpoint directory costs one LIST). */
export function lookupInListing(files: readonly FileStatus[]): FileLookup {
  const byPath = new Map(files.map((f) => [f.path, f]));
  return async (path) => byPath.get(path) ?? null;
}

/** A checkpoint with `_metadata` that passed the completeness check. */
export interface CompleteCheckpointEntry {
  readonly pointer: string;
  readonly checkpointId: number;
  readonly metadata: CheckpointMetadata;
}

/**
 * A checkpoint with `_metadata` that cannot be trusted. MISSING_FILES: the metadata decodes but a
 * file it references is missing or has another size (the checkpoint can be discarded: what it
 * references is known). UNREADABLE_METADATA: the metadata itself is corrupt or of an unknown
 * version (nothing it references is known, so nothing may be deleted on its behalf).
 */
export interface IncompleteCheckpointEntry {
  readonly pointer: string;
  readonly checkpointId: number;
  readonly reason: 'MISSING_FILES' | 'UNREADABLE_METADATA';
  readonly error: FlowstateError;
  /** Present for MISSING_FILES. */
  readonly metadata?: CheckpointMetadata;
}

/** Every checkpoint under a storage root that has `_metadata`, oldest first, sorted by completeness. */
export interface CheckpointScan {
  readonly complete: readonly CompleteCheckpointEntry[];
  readonly incomplete: readonly IncompleteCheckpointEntry[];
}

/** The highest checkpoint id a scan saw (complete or not): new checkpoints must not reuse it. */
export function highestScannedCheckpointId(scan: CheckpointScan): number | undefined {
  const ids = [...scan.complete, ...scan.incomplete].map((c) => c.checkpointId).filter((id) => id >= 0);
  return ids.length === 0 ? undefined : Math.max(...ids);
}
