import { fileURLToPath } from 'node:url';
import type { FileSystemProvider } from '@flowstate/core/storage';
import { LocalFileSystem } from './local-file-system.js';

/** `file:///abs/dir` (and plain paths, which the registry turns into file URLs). */
export const localFileSystemProvider: FileSystemProvider = {
  schemes: ['file'],
  open: (uri) => new LocalFileSystem(fileURLToPath(uri)),
};
