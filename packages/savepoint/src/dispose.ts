import { allListed, listCheckpointRoot, referencedFileSizes, displayStorageUri, FsCheckpointStorage, METADATA_FILE_NAME, storageUri, storageUriBaseName, verifyCheckpointComplete } from '@flowstate/core';
import { SavepointDirectory } from './directory.js';
import { NotASavepointError } from './errors.js';
import { decodeSavepointMetadata } from './format.js';
import { deleteLocationIfEmpty, registryOf, type SavepointStorageOptions } from './location.js';

export interface DisposeResult {
  /** The savepoint directory (path or URI). */
  readonly directory: string;
  /** Files deleted, `_metadata` first (full paths or URIs). */
  readonly deleted: readonly string[];
  /** Bytes of the state files deleted. */
  readonly bytes: number;
  /** Files in the directory the savepoint did not reference, those being written too: left alone (not ours to delete). */
  readonly leftAlone: readonly string[];
  /** The directory itself was removed (nothing at all was left in it: no file, link or directory). */
  readonly directoryRemoved: boolean;
}

/**
 * Deletes a savepoint (Flink's `savepoint -d`): its `_metadata` first, so that a half-deleted
 * savepoint never looks complete, then every file it references, then the directories they were
 * in and its own, each only if it is empty (files being written, links, other directories: what
 * is not the savepoint's is left alone). Refuses (NotASavepointError) a job's checkpoint directory
 * and a checkpoint in it, whose files other checkpoints may share, and (CorruptCheckpointError) a
 * savepoint that is not complete: nothing is deleted then. A self-contained copy of a checkpoint
 * (`savepoint convert` of a chk-<id>, metadata kind CHECKPOINT) is a savepoint here: all its
 * files are its own.
 */
export async function disposeSavepoint(location: string, options: SavepointStorageOptions = {}): Promise<DisposeResult> {
  await refuseJobCheckpointDirectory(location, options);
  const { dir: opened, bytes } = await SavepointDirectory.open(location, options);
  const { metadata } = decodeSavepointMetadata(bytes, opened.metadataFile);
  const dir = opened.withRootFor(metadata);
  if (dir.exclusiveDir !== '') {
    throw new NotASavepointError(dir.path, `it is a retained checkpoint of the job checkpoint directory '${dir.root}' (its files are shared with other checkpoints); 'flowstate checkpoint gc' reclaims checkpoints`);
  }
  await verifyCheckpointComplete(metadata, (p) => dir.fs.stat(p), { root: dir.root, pointer: dir.path, checkpointId: metadata.checkpointId });
  const files = referencedFileSizes(metadata);
  await dir.fs.delete(METADATA_FILE_NAME);
  await dir.fs.deleteMany([...files.keys()]);
  // Files being written (hidden by a plain listing) are someone else's too.
  const listed = allListed(await listCheckpointRoot(dir.fs));
  const left = listed.map((f) => f.path).sort();
  // Only what is empty goes: never a recursive delete of what the listings may not show.
  const directoryRemoved = await deleteLocationIfEmpty(dir.uri, dir.fs, registryOf(options), directoriesOf(files.keys()), listed);
  return {
    directory: dir.path,
    deleted: [dir.metadataFile, ...[...files.keys()].sort().map((p) => dir.fileName(p))],
    bytes: [...files.values()].reduce((a, b) => a + b, 0),
    leftAlone: left.map((p) => dir.fileName(p)),
    directoryRemoved,
  };
}

/** The directories the savepoint's files are in (`chk-1/` of a copied checkpoint), below its own. */
function directoriesOf(paths: Iterable<string>): Set<string> {
  const dirs = new Set<string>();
  for (const p of paths) for (let i = p.lastIndexOf('/'); i > 0; i = p.lastIndexOf('/', i - 1)) dirs.add(p.slice(0, i));
  return dirs;
}

/** A job's checkpoint directory (completed checkpoints, no `_metadata` of its own) is no savepoint. */
async function refuseJobCheckpointDirectory(location: string, options: SavepointStorageOptions): Promise<void> {
  const uri = storageUri(location);
  if (storageUriBaseName(uri) === METADATA_FILE_NAME) return;
  const fs = registryOf(options).resolve(uri);
  if ((await fs.stat(METADATA_FILE_NAME)) !== null) return;
  const completed = await new FsCheckpointStorage(fs).listCompletedCheckpoints();
  if (completed.length > 0) {
    throw new NotASavepointError(displayStorageUri(uri), `it is a job's checkpoint directory (completed checkpoints: ${completed.slice(-5).join(', ')}); 'flowstate checkpoint gc' reclaims checkpoints`);
  }
}
