import type { Stats } from 'node:fs';
import { lstat, readdir, realpath, rmdir, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isNotFoundErrno, PathEscapeError, StorageError } from '@flowstate/core';
import type { FlinkCheckpointMetadata, KeyedStateHandle, StreamStateHandle } from './metadata/types.js';
import { FlinkSavepoint } from './savepoint.js';
import { confinedPath, localHandlePath, resolveHandlePath, within } from './streams.js';

export interface FlinkDisposeResult {
  readonly format: 'apache-flink';
  /** The savepoint/checkpoint directory (the directory of `_metadata`). */
  readonly directory: string;
  /** Files deleted, `_metadata` first. */
  readonly deleted: readonly string[];
  /** Bytes of the state files deleted (`_metadata` excluded). */
  readonly bytes: number;
  /** Referenced files that were already gone (Flink's dispose is best effort too). */
  readonly missing: readonly string[];
  /**
   * Referenced files outside the directory (e.g. `../shared/` SST files of a retained incremental
   * checkpoint, or absolute paths of another location): left alone, where Flink would delete them.
   */
  readonly outside: readonly string[];
  /** File-merging segment files: Flink's SegmentFileStateHandle.discardState() deletes nothing either. */
  readonly segmentFiles: readonly string[];
  /** Files in the directory the metadata does not reference: left alone. */
  readonly leftAlone: readonly string[];
  /** The directory was empty afterwards and was removed (Flink deletes it non-recursively). */
  readonly directoryRemoved: boolean;
}

/** Every stream handle of the metadata, in the order Flink's OperatorState.discardState() meets them. */
export function* referencedStreams(metadata: FlinkCheckpointMetadata): Generator<StreamStateHandle> {
  for (const op of metadata.operators) {
    if (op.coordinatorState !== null) yield op.coordinatorState;
    for (const s of op.subtasks) {
      for (const h of [s.managedOperatorState, s.rawOperatorState]) if (h?.stream != null) yield h.stream;
      for (const h of [s.managedKeyedState, s.rawKeyedState]) yield* keyedStreams(h);
      for (const c of [...s.inputChannelState, ...s.resultSubpartitionState]) if (c.stream !== null) yield c.stream;
    }
  }
}

function* keyedStreams(h: KeyedStateHandle | null): Generator<StreamStateHandle> {
  if (h === null) return;
  switch (h.type) {
    case 'key-groups':
      if (h.stream !== null) yield h.stream;
      return;
    case 'incremental':
      // Flink discards the meta stream, the private files and, for a handle no SharedStateRegistry
      // owns (as in `savepoint -d`), the shared files too.
      if (h.meta !== null) yield h.meta;
      for (const f of [...h.private, ...h.shared]) if (f.handle !== null) yield f.handle;
      return;
    case 'changelog':
      for (const m of [...h.materialized, ...h.nonMaterialized]) yield* keyedStreams(m);
      return;
    case 'changelog-file':
      for (const f of h.handles) if (f.handle !== null) yield f.handle;
      return;
    case 'changelog-in-memory':
      return;
  }
}

/** `lstat` of an inside file when place() already took it (a moved file), for confineDeletions. */
type Placement = { kind: 'inside'; path: string; lstat?: Stats } | { kind: 'outside'; path: string } | { kind: 'segment'; path: string } | { kind: 'inline' };

/** lstat, or undefined when there is nothing at `p` (ENOENT, ENOTDIR); other failures refuse the dispose. */
async function lstatIfAny(p: string): Promise<Stats | undefined> {
  try {
    return await lstat(p);
  } catch (e) {
    if (isNotFoundErrno(e)) return undefined;
    throw new PathEscapeError(p, `cannot be checked before deletion (${(e as Error).message}): nothing was deleted`);
  }
}

/** Where a handle's file is, as StreamResolver reads it: relative (confined), absolute, or moved next to `_metadata`. */
async function place(dir: string, metadataFile: string, h: StreamStateHandle): Promise<Placement> {
  switch (h.type) {
    case 'byte-stream':
    case 'empty-segment-file':
      return { kind: 'inline' };
    case 'key-groups-stream':
      return h.delegate === null ? { kind: 'inline' } : place(dir, metadataFile, h.delegate);
    case 'segment-file':
      return { kind: 'segment', path: h.path };
    case 'relative-file':
      return { kind: 'inside', path: confinedPath(dir, h.relativePath, 'relative state file path leaves the savepoint directory: nothing was deleted') };
    case 'file': {
      // As the reader finds it: inside the directory as written, or (another location) by its name next to `_metadata`.
      const found = resolveHandlePath(dir, metadataFile, h.path);
      // A retained checkpoint's shared/ and taskowned/ files: newer checkpoints may reference them.
      if (found.shared) return { kind: 'outside', path: found.path };
      if (!found.moved) return { kind: 'inside', path: found.path };
      // One lstat, which confineDeletions reuses: the moved file is not looked up again. Not there:
      // a file of another location (`../shared/`), which is only listed.
      const st = await lstatIfAny(found.path);
      return st !== undefined ? { kind: 'inside', path: found.path, lstat: st } : { kind: 'outside', path: localHandlePath(h.path, metadataFile) };
    }
  }
}

/**
 * Deletes an Apache Flink savepoint or retained checkpoint as Flink's `savepoint -d`
 * (Checkpoints.disposeSavepoint) does: `_metadata` first, so that the savepoint is not addressable
 * any more even if the rest fails, then every file its state handles reference, then the directory
 * if it is empty. Unlike Flink, a file outside the directory (the `shared/` SST files of an
 * incremental checkpoint, which newer checkpoints may still reference) is never deleted, only
 * listed. Every path is resolved before anything is deleted: a relative path leaving the
 * directory refuses the whole dispose (PathEscapeError).
 */
export async function disposeFlinkSavepoint(path: string): Promise<FlinkDisposeResult> {
  const sp = await FlinkSavepoint.load(path);
  const dir = sp.directory;
  // Each inside file's size (from its handle) and the lstat place() took, if it took one.
  const files = new Map<string, { size: number; lstat: Stats | undefined }>();
  const outside = new Set<string>();
  const segments = new Set<string>();
  for (const h of referencedStreams(sp.metadata)) {
    const p = await place(dir, sp.metadataFile, h);
    if (p.kind === 'inside' && p.path !== sp.metadataFile) {
      files.set(p.path, { size: 'size' in h ? Number(h.size) : 0, lstat: p.lstat });
    } else if (p.kind === 'outside') outside.add(p.path);
    else if (p.kind === 'segment') segments.add(p.path);
  }
  await confineDeletions(dir, sp.metadataFile, files);
  await remove(sp.metadataFile);
  const deleted = [sp.metadataFile];
  const missing: string[] = [];
  let bytes = 0;
  for (const [f, { size }] of [...files].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    if (await remove(f)) {
      deleted.push(f);
      bytes += size;
    } else missing.push(f);
  }
  const left = (await readdir(dir)).sort();
  if (left.length === 0) await rmdir(dir).catch((e: unknown) => fail(dir, e));
  return { format: 'apache-flink', directory: dir, deleted, bytes, missing, outside: [...outside].sort(), segmentFiles: [...segments].sort(), leftAlone: left.map((f) => join(dir, f)), directoryRemoved: left.length === 0 };
}

/**
 * Refuses the dispose (before anything is deleted) unless every target that exists is a regular
 * file (not a symlink, not a directory) whose real parent directory is inside the real `dir`:
 * a symlinked subdirectory must not let it delete files elsewhere. Reuses the lstat place() took.
 */
async function confineDeletions(dir: string, metadataFile: string, files: ReadonlyMap<string, { lstat: Stats | undefined }>): Promise<void> {
  const root = await realpath(dir);
  for (const t of [metadataFile, ...files.keys()]) {
    const st = files.get(t)?.lstat ?? (await lstatIfAny(t));
    if (st === undefined) continue;
    if (!st.isFile()) throw new PathEscapeError(t, 'is not a regular file (a symlink or directory): nothing was deleted');
    const parent = await realpath(dirname(t));
    if (parent !== root && !within(root, parent)) throw new PathEscapeError(t, `its directory resolves to '${parent}', outside the savepoint directory: nothing was deleted`);
  }
}

/** Deletes one file; false when it was already gone. */
async function remove(file: string): Promise<boolean> {
  try {
    await unlink(file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    return fail(file, e);
  }
}

function fail(path: string, e: unknown): never {
  throw new StorageError(path, `could not delete: ${(e as Error).message}`, { cause: e });
}

/** Human-readable dispose output. */
export function formatFlinkDispose(r: FlinkDisposeResult): string {
  const out = [`disposed Apache Flink savepoint ${r.directory}: ${r.deleted.length} file(s), ${r.bytes} bytes of state${r.directoryRemoved ? ', directory removed' : ''}`];
  for (const f of r.missing) out.push(`  already missing: ${f}`);
  for (const f of r.outside) out.push(`  left alone (outside the savepoint directory; Flink would delete it): ${f}`);
  for (const f of r.segmentFiles) out.push(`  left alone (file-merging segment file, as Flink does): ${f}`);
  for (const f of r.leftAlone) out.push(`  left alone (not referenced by the savepoint): ${f}`);
  return out.join('\n');
}
