import { fileSystemRegistry } from '@flowstate/core';
import { webHdfsFileSystemProvider } from './provider.js';

export * from './errors.js';
export * from './webhdfs-client.js';
export * from './webhdfs-file-system.js';
export { webHdfsFileSystemProvider, type WebHdfsFileSystemProviderOptions } from './provider.js';

// Importing this package makes `webhdfs://`, `swebhdfs://` and `hdfs://` locations resolvable (see FileSystemRegistry).
fileSystemRegistry.register(webHdfsFileSystemProvider());
