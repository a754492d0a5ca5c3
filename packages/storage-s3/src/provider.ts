import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { StorageError, type FileSystemProvider, type StorageEnvironment } from '@flowstate/core';
import { S3FileSystem, type S3FileSystemOptions } from './s3-file-system.js';

export interface S3FileSystemProviderOptions {
  /** Merged over what the environment gives (endpoint, region, path style). */
  readonly clientConfig?: S3ClientConfig;
  /** Path-style addressing (`http://endpoint/bucket/key`), as MinIO and s3rver need. Default: env FLOWSTATE_S3_PATH_STYLE. */
  readonly forcePathStyle?: boolean;
  /** Everything else an S3FileSystem takes (part size, retries...). */
  readonly fileSystem?: Omit<S3FileSystemOptions, 'bucket' | 'prefix' | 'client' | 'clientConfig'>;
}

const TRUE = new Set(['1', 'true', 'yes']);

/**
 * Opens `s3://bucket/prefix` locations. Credentials come from the AWS SDK's default chain
 * (environment, shared config and credentials files, SSO, container and instance metadata), never
 * from the URI. The endpoint is `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` when set (S3-compatible
 * stores), the region `AWS_REGION` / `AWS_DEFAULT_REGION` (us-east-1 for a custom endpoint that
 * names none), and `FLOWSTATE_S3_PATH_STYLE=true` switches to path-style addressing.
 */
export function s3FileSystemProvider(options: S3FileSystemProviderOptions = {}): FileSystemProvider {
  return {
    schemes: ['s3'],
    open: (uri, env) => new S3FileSystem({ ...options.fileSystem, ...s3Location(uri), clientConfig: s3ClientConfig(env, options) }),
  };
}

function s3Location(uri: URL): { bucket: string; prefix: string } {
  if (uri.port !== '') throw new StorageError(`s3://${uri.host}`, 'an s3:// URI names a bucket, not a host and port: set AWS_ENDPOINT_URL_S3 for another endpoint');
  const prefix = uri.pathname
    .split('/')
    .filter((s) => s !== '')
    .map((s) => decodeURIComponent(s))
    .join('/');
  return { bucket: uri.hostname, prefix };
}

function s3ClientConfig(env: StorageEnvironment, options: S3FileSystemProviderOptions): S3ClientConfig {
  const endpoint = env['AWS_ENDPOINT_URL_S3'] || env['AWS_ENDPOINT_URL'] || undefined;
  const region = env['AWS_REGION'] || env['AWS_DEFAULT_REGION'] || (endpoint !== undefined ? 'us-east-1' : undefined);
  const pathStyle = options.forcePathStyle ?? TRUE.has((env['FLOWSTATE_S3_PATH_STYLE'] ?? '').toLowerCase());
  return {
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(region === undefined ? {} : { region }),
    ...(pathStyle ? { forcePathStyle: true } : {}),
    ...options.clientConfig,
  };
}
