export { S3FileSystem, type S3FileSystemOptions, type S3RetryEvent } from './s3-file-system.js';
export { S3RequestFailure } from './errors.js';
