import { fileSystemRegistry, FsCheckpointStorage, type FsCheckpointStorageOptions } from '@flowstate/core/storage';
import { LocalFileSystem } from './local-file-system.js';
import { localFileSystemProvider } from './provider.js';

export { DirectorySyncs, LocalFileSystem, IN_PROGRESS_SUFFIX, type LocalFileSystemOptions } from './local-file-system.js';
export { localFileSystemProvider } from './provider.js';

// Importing this package makes `file://` URIs and plain paths resolvable (see FileSystemRegistry).
fileSystemRegistry.register(localFileSystemProvider);

/** Checkpoint storage in a local directory (layout: chk-<id>/, shared/, taskowned/). */
export function localCheckpointStorage(directory: string, options?: FsCheckpointStorageOptions): FsCheckpointStorage {
  return new FsCheckpointStorage(new LocalFileSystem(directory), options);
}

/** A self-contained savepoint directory. */
export function localSavepointStorage(directory: string): FsCheckpointStorage {
  return new FsCheckpointStorage(new LocalFileSystem(directory), { layout: 'savepoint' });
}
