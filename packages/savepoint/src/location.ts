import {
  displayStorageUri,
  fileSystemRegistry,
  parentStorageUri,
  storageUriBaseName,
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

export { displayStorageUri };
