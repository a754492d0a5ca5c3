import {
  collectSharedFileReferences,
  collectStreamHandles,
  CompletedCheckpointStore,
  SharedStateRegistry,
  type CheckpointScan,
  type CheckpointStorage,
  type CompletedCheckpoint as StoredCheckpoint,
} from '@flowstate/core';
import { CheckpointFailedError } from './errors.js';
import type { RestorePoint } from './restore.js';

/**
 * Who owns the checkpoint a run restores (Flink 1.15+ restore modes).
 * - NO_CLAIM (default): the run never deletes it nor any file of it, and no checkpoint of the run
 *   may reference its files (the first checkpoint after the restore is a full one), so the user
 *   may delete it as soon as one new checkpoint completed.
 * - CLAIM: the run owns it (and every checkpoint of the storage it recovered): retention subsumes
 *   it like its own, deleting its files once no retained checkpoint references them.
 * - LEGACY: not owned and never deleted, but later checkpoints may reference its files: it must be
 *   kept as long as any checkpoint descending from it (Flink's pre-1.15 behaviour, deprecated).
 */
export type RestoreMode = 'NO_CLAIM' | 'CLAIM' | 'LEGACY';

/** The checkpoints of a scan a run owns: all of them in CLAIM mode, none otherwise. */
export function ownedCheckpoints(mode: RestoreMode, scan: CheckpointScan): { complete: StoredCheckpoint[]; unusable: StoredCheckpoint[] } {
  if (mode !== 'CLAIM') return { complete: [], unusable: [] };
  return {
    complete: [...scan.complete],
    unusable: scan.incomplete.flatMap((c) => (c.metadata ? [{ checkpointId: c.checkpointId, pointer: c.pointer, metadata: c.metadata }] : [])),
  };
}

/** Every file (path) the restored checkpoint references. */
export function filesOf(point: RestorePoint | undefined): ReadonlySet<string> {
  return new Set(point === undefined ? [] : collectStreamHandles(point.metadata).flatMap((h) => (h.type === 'file' ? [h.path] : [])));
}

/**
 * The files a run does not own of a checkpoint it restores (or falls back to): all of them
 * unless it claims what it restores, and only of a checkpoint in the run's own storage.
 */
export function unownedFilesOf(mode: RestoreMode, point: RestorePoint | undefined, storage: CheckpointStorage | undefined): ReadonlySet<string> {
  return mode === 'CLAIM' || point === undefined || point.reader !== storage ? new Set<string>() : filesOf(point);
}

/**
 * The completed-checkpoint store of a run. Unless the run claimed what it restored, the registry
 * never deletes a file of it, whatever later checkpoints reference (LEGACY) or what a bug makes
 * them reference (NO_CLAIM, where the coordinator also declines such checkpoints).
 */
export function storeFor(
  storage: CheckpointStorage,
  retained: number,
  mode: RestoreMode,
  restored: RestorePoint | undefined,
  /** The files never deleted (unownedFilesOf `restored`); a restore that falls back to an older checkpoint adds its files. */
  protectedFiles: ReadonlySet<string>,
): CompletedCheckpointStore {
  const registry = new SharedStateRegistry((h) => (h.type === 'file' && protectedFiles.has(h.path) ? Promise.resolve() : storage.discardStateHandle(h)));
  if (mode === 'LEGACY' && restored !== undefined && restored.reader === storage) {
    // Later checkpoints may reference the restored files: the registry vouches for them (never deletes them, see above).
    registry.registerCheckpoint(restored.checkpointId, collectSharedFileReferences(restored.metadata, true));
    registry.checkpointCompleted(restored.checkpointId);
  }
  return new CompletedCheckpointStore(storage, retained, registry);
}

/**
 * NO_CLAIM: a checkpoint must not reference a file of the restored checkpoint, which the run does
 * not own (the user may delete it once a new checkpoint completed). Backends make the first
 * checkpoint after a restore a full one; this check declines any checkpoint that would break that.
 */
export function checkNoClaimReferences(checkpointId: number, metadata: object, restoredFiles: ReadonlySet<string>, restoredId: number | undefined): void {
  if (restoredFiles.size === 0) return;
  const reused = collectStreamHandles(metadata).find((h) => h.type === 'file' && restoredFiles.has(h.path));
  if (reused !== undefined && reused.type === 'file') {
    throw new CheckpointFailedError(checkpointId, 'DECLINED', `restore mode NO_CLAIM: it references '${reused.path}' of restored checkpoint ${restoredId}, which this run does not own`);
  }
}
