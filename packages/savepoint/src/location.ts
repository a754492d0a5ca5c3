import { lstat, realpath, rmdir } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  displayStorageUri,
  fileSystemRegistry,
  isNotFoundErrno,
  parentStorageUri,
  PathEscapeError,
  StorageError,
  storageErrorFromErrno,
  storageUriBaseName,
  type FileStatus,
  type FileSystem,
  type FileSystemRegistry,
} from '@flowstate/core';

/** Where savepoints are read and written: the registry that opens a location's storage. */
export interface SavepointStorageOptions {
  /**
   * Opens `file://`, `s3://`, `webhdfs://`... locations and plain paths. Default: core's
   * process-wide `fileSystemRegistry`, in which each storage package registers its schemes when
   * imported (`@flowstate/storage-local` for paths, `-s3`, `-hdfs`).
   */
  readonly fileSystems?: FileSystemRegistry;
}

export function registryOf(options: SavepointStorageOptions | undefined): FileSystemRegistry {
  return options?.fileSystems ?? fileSystemRegistry;
}

/** Whether `uri` names a file (not a directory, not nothing), asked of its parent's storage. */
export async function isFileAt(uri: URL, fileSystems: FileSystemRegistry): Promise<boolean> {
  const parent = parentStorageUri(uri);
  if (parent === undefined) return false;
  return (await fileSystems.resolve(parent).stat(storageUriBaseName(uri))) !== null;
}

/**
 * Deletes the directory `uri` with everything in it, through its parent's storage so that the
 * directory itself goes too (a file system rooted at it keeps its root).
 */
export async function deleteLocation(uri: URL, fs: FileSystem, fileSystems: FileSystemRegistry): Promise<void> {
  const parent = parentStorageUri(uri);
  if (parent === undefined) await fs.deleteDirectory('');
  else await fileSystems.resolve(parent).deleteDirectory(storageUriBaseName(uri));
}

/**
 * Removes the directory `uri` if nothing at all is left in it, after the sub-directories `owned`
 * (relative paths) that are empty; says whether `uri` went. The storage listings show neither
 * symbolic links nor empty directories, which a recursive delete would take along, so where
 * storage has directories each goes only if empty: locally with a non-recursive rmdir, never
 * through a symbolic link (PathEscapeError); elsewhere (HDFS) with the file system's
 * `deleteEmptyDirectory`. An object store (no `deleteEmptyDirectory`) holds nothing but the
 * objects its listings show: `left`, every file the caller found below the root (allListed).
 */
export async function deleteLocationIfEmpty(uri: URL, fs: FileSystem, fileSystems: FileSystemRegistry, owned: Iterable<string>, left: readonly FileStatus[]): Promise<boolean> {
  if (uri.protocol === 'file:' && fs.scheme === 'file') return removeLocalIfEmpty(fileURLToPath(uri), owned);
  if (hasEmptyDirectoryRemoval(fs)) return removeEmptyDirectories(uri, fs, fileSystems, owned);
  if (left.length > 0) return false;
  await deleteLocation(uri, fs, fileSystems);
  return true;
}

type EmptyDirectoryRemoval = FileSystem & Required<Pick<FileSystem, 'deleteEmptyDirectory'>>;

function hasEmptyDirectoryRemoval(fs: FileSystem): fs is EmptyDirectoryRemoval {
  return fs.deleteEmptyDirectory !== undefined;
}

/** Deepest first: a directory is empty only once the ones in it went. */
function deepestFirst(owned: Iterable<string>): string[] {
  const depth = (p: string) => p.split('/').length;
  return [...new Set(owned)].sort((a, b) => depth(b) - depth(a));
}

/**
 * The savepoint's own directories, then `uri` itself, each only if empty (deleteEmptyDirectory):
 * `uri` goes through its parent's file system, as in deleteLocation (a file system keeps its
 * root). It stays (false) when something is left in it, listed or not (someone else's empty
 * directory), and when it cannot go without a recursive delete: a storage root (no parent), or a
 * parent whose file system has no deleteEmptyDirectory.
 */
async function removeEmptyDirectories(uri: URL, fs: EmptyDirectoryRemoval, fileSystems: FileSystemRegistry, owned: Iterable<string>): Promise<boolean> {
  for (const d of deepestFirst(owned)) await fs.deleteEmptyDirectory(d);
  const parent = parentStorageUri(uri);
  if (parent === undefined) return false;
  const parentFs = fileSystems.resolve(parent);
  if (!hasEmptyDirectoryRemoval(parentFs)) return false;
  return parentFs.deleteEmptyDirectory(storageUriBaseName(uri));
}

async function removeLocalIfEmpty(dir: string, owned: Iterable<string>): Promise<boolean> {
  for (const d of deepestFirst(owned)) await rmdirIfEmpty(dir, d.split('/'));
  return rmdirIfEmpty(dir, []);
}

/**
 * Removes the directory `parts` below `dir` ([]: `dir` itself) if it is empty; says whether it is
 * gone. rmdir does not follow a symbolic link in the last component (ENOTDIR: not ours), but it
 * does in every component above it, where a link swapped in after the listing would make it remove
 * an empty directory outside the savepoint: those are checked first (reachedWithoutLinks).
 */
async function rmdirIfEmpty(dir: string, parts: readonly string[]): Promise<boolean> {
  const path = join(dir, ...parts);
  if (!(await reachedWithoutLinks(dir, parts))) return false;
  try {
    await rmdir(path);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return true;
    // Not empty, or not a directory (a symbolic link): not ours to remove.
    if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOTDIR') return false;
    throw new StorageError(path, `cannot remove the directory (${code ?? String(e)})`, { cause: e });
  }
}

/**
 * Whether the directory `parts` names below `dir` may be removed with rmdir, which follows a
 * symbolic link in every component but the last. A component that is a link makes it not ours to
 * remove (false): left alone when the link stays inside the savepoint (someone linked within it),
 * a PathEscapeError naming the link when it leads outside (removing through it could remove an
 * empty directory there). Stricter than the local file system's confinement, which admits a link
 * that stays inside the root: a directory of the savepoint is its own only when it is reached
 * through its own directories. It looks just before the rmdir; a link swapped in between the two
 * is not seen, which only an rmdirat of an opened directory would rule out, and Node has none. A
 * missing component or a file is left for rmdir to answer (ENOENT: gone; ENOTDIR: not ours).
 */
async function reachedWithoutLinks(dir: string, parts: readonly string[]): Promise<boolean> {
  let at = dir;
  for (const p of parts.slice(0, -1)) {
    at = join(at, p);
    let linked: boolean;
    try {
      linked = (await lstat(at)).isSymbolicLink();
    } catch (e) {
      if (isNotFoundErrno(e)) return true;
      throw storageErrorFromErrno(at, 'lstat', e);
    }
    if (!linked) continue;
    if (!(await leadsOutside(at, dir))) return false;
    throw new PathEscapeError(at, `is a symbolic link out of the savepoint: removing the directory '${join(dir, ...parts)}' through it could remove one outside`);
  }
  return true;
}

/** Whether the link at `link` resolves to a path outside `dir` (one that leads nowhere does not). */
async function leadsOutside(link: string, dir: string): Promise<boolean> {
  let target: string;
  try {
    target = await realpath(link);
  } catch (e) {
    if (isNotFoundErrno(e)) return false;
    throw storageErrorFromErrno(link, 'realpath', e);
  }
  const root = await realpath(dir);
  return target !== root && !target.startsWith(root + sep);
}

export { displayStorageUri };
