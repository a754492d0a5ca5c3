import { userInfo } from 'node:os';
import type { FileSystemProvider, StorageEnvironment } from '@flowstate/core';
import type { WebHdfsClientOptions } from './webhdfs-client.js';
import { WebHdfsFileSystem, type WebHdfsFileSystemOptions } from './webhdfs-file-system.js';

export interface WebHdfsFileSystemProviderOptions {
  /** Merged over the endpoint and user taken from the URI and the environment (e.g. a delegation token). */
  readonly client?: Partial<WebHdfsClientOptions>;
  readonly fileSystem?: Omit<WebHdfsFileSystemOptions, 'client' | 'basePath'>;
}

/** The namenode's default HTTP(S) ports (Hadoop 3: dfs.namenode.http-address / https-address). */
const DEFAULT_HTTP_PORT = 9870;
const DEFAULT_HTTPS_PORT = 9871;

/**
 * Opens `webhdfs://namenode:port/path` (HTTP), `swebhdfs://...` (HTTPS) and `hdfs://namenode[:port]/path`
 * locations, all through WebHDFS, the only protocol flowstate speaks: the port is the namenode's
 * HTTP port (default 9870, 9871 for swebhdfs), so an `hdfs://` URI carrying the RPC port (8020)
 * must name the HTTP port instead. The user is `HADOOP_USER_NAME`, or the OS user, as Hadoop's
 * simple authentication takes it.
 */
export function webHdfsFileSystemProvider(options: WebHdfsFileSystemProviderOptions = {}): FileSystemProvider {
  return {
    schemes: ['webhdfs', 'swebhdfs', 'hdfs'],
    open: (uri, env) => {
      const secure = uri.protocol === 'swebhdfs:';
      const port = uri.port === '' ? (secure ? DEFAULT_HTTPS_PORT : DEFAULT_HTTP_PORT) : Number(uri.port);
      const basePath = `/${uri.pathname.split('/').filter((s) => s !== '').map((s) => decodeURIComponent(s)).join('/')}`;
      return new WebHdfsFileSystem({
        ...options.fileSystem,
        client: { endpoint: `${secure ? 'https' : 'http'}://${uri.hostname}:${port}`, user: hadoopUser(env), ...options.client },
        basePath,
      });
    },
  };
}

function hadoopUser(env: StorageEnvironment): string {
  const fromEnv = env['HADOOP_USER_NAME'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return userInfo().username;
}
