import { fileSystemRegistry } from '@flowstate/core';
import { s3FileSystemProvider } from './provider.js';

export { S3FileSystem, type S3FileSystemOptions, type S3RetryEvent } from './s3-file-system.js';
export { S3RequestFailure } from './errors.js';
export { s3FileSystemProvider, type S3FileSystemProviderOptions } from './provider.js';

// Importing this package makes `s3://bucket/prefix` locations resolvable (see FileSystemRegistry).
fileSystemRegistry.register(s3FileSystemProvider());
