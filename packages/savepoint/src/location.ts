import { rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  displayStorageUri,
  fileSystemRegistry,
  parentStorageUri,
  StorageError,
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
 * (relative paths) that are empty; says whether `uri` went. Locally each goes with a
 * non-recursive rmdir: the storage listings show neither symbolic links nor empty directories,
 * which a recursive delete would take along. An object store holds nothing but the objects its
 * listings show: `left`, every file the caller found below the root (allListed).
 */
export async function deleteLocationIfEmpty(uri: URL, fs: FileSystem, fileSystems: FileSystemRegistry, owned: Iterable<string>, left: readonly FileStatus[]): Promise<boolean> {
  if (uri.protocol === 'file:' && fs.scheme === 'file') return removeLocalIfEmpty(fileURLToPath(uri), owned);
  if (left.length > 0) return false;
  await deleteLocation(uri, fs, fileSystems);
  return true;
}

async function removeLocalIfEmpty(dir: string, owned: Iterable<string>): Promise<boolean> {
  // Deepest first: a directory is empty only once the ones in it went.
  const depth = (p: string) => p.split('/').length;
  for (const d of [...new Set(owned)].sort((a, b) => depth(b) - depth(a))) await rmdirIfEmpty(join(dir, d));
  return rmdirIfEmpty(dir);
}

async function rmdirIfEmpty(path: string): Promise<boolean> {
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

export { displayStorageUri };
