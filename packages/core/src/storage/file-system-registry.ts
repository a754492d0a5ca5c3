import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { IllegalStateUsageError } from '../errors.js';
import type { FileSystem } from './file-system.js';
import { memoryFileSystemProvider } from './memory-file-system-provider.js';

/** Environment variables a provider may read (endpoints, users); `process.env` by default. */
export type StorageEnvironment = Readonly<Record<string, string | undefined>>;

/**
 * Opens file systems for the URI schemes of one storage (Flink's FileSystemFactory): local disk
 * for `file`, S3 for `s3`, WebHDFS for `webhdfs`/`hdfs`. A provider never puts credentials in a
 * URI; it takes them from the environment or its own options.
 */
export interface FileSystemProvider {
  /** Lower-case URI schemes, e.g. ['s3'] or ['webhdfs', 'swebhdfs', 'hdfs']. */
  readonly schemes: readonly string[];
  /** A file system rooted at the directory `uri` names (it need not exist yet). */
  open(uri: URL, env: StorageEnvironment): FileSystem;
}

/** Where the schemes flowstate ships live, for the error that names a missing one. */
const KNOWN_PROVIDERS: Readonly<Record<string, string>> = {
  file: '@flowstate/storage-local',
  s3: '@flowstate/storage-s3',
  webhdfs: '@flowstate/storage-hdfs',
  swebhdfs: '@flowstate/storage-hdfs',
  hdfs: '@flowstate/storage-hdfs',
};

const URI_RE = /^([a-z][a-z0-9+.-]*):\/\//i;

/**
 * A storage location as a URL: `scheme://...` as given (without a trailing slash), anything else
 * is a local path, resolved against the working directory into a `file:` URL. User information in
 * a URI is refused: credentials belong to the environment, never to a location that is logged.
 */
export function storageUri(location: string): URL {
  if (typeof location !== 'string' || location === '') throw new IllegalStateUsageError(undefined, 'a storage location must be a non-empty path or URI');
  if (!URI_RE.test(location)) return withoutTrailingSlash(pathToFileURL(isAbsolute(location) ? location : resolve(location)));
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    throw new IllegalStateUsageError(undefined, `'${location}' is not a valid storage URI`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new IllegalStateUsageError(undefined, `storage URI for '${url.protocol}//${url.host}${url.pathname}' carries user information: pass credentials through the environment`);
  }
  if (url.search !== '' || url.hash !== '') throw new IllegalStateUsageError(undefined, `storage URI '${url.protocol}//${url.host}${url.pathname}' must not have a query or fragment`);
  return withoutTrailingSlash(url);
}

/** 'dir/' and 'dir' name the same directory: one spelling, so locations compare equal. */
function withoutTrailingSlash(url: URL): URL {
  url.pathname = url.pathname.replace(/\/+$/, '');
  return url;
}

/** How a location is shown to users: a local path for `file:` URLs, the URI otherwise. */
export function displayStorageUri(uri: URL): string {
  return uri.protocol === 'file:' ? fileURLToPath(uri) : `${uri.protocol}//${uri.host}${uri.pathname}`;
}

/** The location of `name` inside the directory `uri`. */
export function childStorageUri(uri: URL, name: string): URL {
  const u = new URL(uri.href);
  u.pathname = `${uri.pathname.replace(/\/+$/, '')}/${encodeURIComponent(name)}`;
  return u;
}

/** The directory holding `uri`, or undefined at the root of its authority. */
export function parentStorageUri(uri: URL): URL | undefined {
  const path = uri.pathname.replace(/\/+$/, '');
  const cut = path.lastIndexOf('/');
  if (path === '' || cut < 0) return undefined;
  const u = new URL(uri.href);
  u.pathname = path.slice(0, cut);
  return u;
}

/** The last path segment of `uri`, decoded ('' at the root). */
export function storageUriBaseName(uri: URL): string {
  const path = uri.pathname.replace(/\/+$/, '');
  return decodeURIComponent(path.slice(path.lastIndexOf('/') + 1));
}

/**
 * Maps URI schemes to the providers that open them. `fileSystemRegistry` is the process-wide
 * instance: each storage package registers its schemes there when it is imported, so that a
 * location from a command line or a configuration (`s3://bucket/savepoints`) opens the right
 * storage without the code that reads it depending on every storage package.
 */
export class FileSystemRegistry {
  private providers = new Map<string, FileSystemProvider>();
  private environment: StorageEnvironment | undefined;

  /**
   * This registry's providers (shared: later registrations show in both) with another default
   * environment, e.g. one in which a configuration's S3 endpoint is set.
   */
  withEnvironment(env: StorageEnvironment): FileSystemRegistry {
    const r = new FileSystemRegistry();
    r.providers = this.providers;
    r.environment = env;
    return r;
  }

  /** Adds a provider's schemes; a scheme already taken by another provider is an error. */
  register(provider: FileSystemProvider): this {
    for (const s of provider.schemes) {
      const scheme = s.toLowerCase();
      const prev = this.providers.get(scheme);
      if (prev !== undefined && prev !== provider) throw new IllegalStateUsageError(undefined, `storage scheme '${scheme}' is registered twice`);
      this.providers.set(scheme, provider);
    }
    return this;
  }

  schemes(): string[] {
    return [...this.providers.keys()].sort();
  }

  /** A file system rooted at `location` (a URI, or a local path). */
  resolve(location: string | URL, env: StorageEnvironment = this.environment ?? process.env): FileSystem {
    const uri = typeof location === 'string' ? storageUri(location) : location;
    const scheme = uri.protocol.slice(0, -1).toLowerCase();
    const provider = this.providers.get(scheme);
    if (provider === undefined) {
      const known = this.schemes();
      const pkg = KNOWN_PROVIDERS[scheme];
      throw new IllegalStateUsageError(
        undefined,
        `no storage is registered for '${scheme}://' (${displayStorageUri(uri)})` +
          (pkg === undefined ? '' : `; importing ${pkg} registers it`) +
          `; registered: ${known.length === 0 ? 'none' : known.join(', ')}`,
      );
    }
    return provider.open(uri, env);
  }
}

/** The process-wide registry storage packages register with on import; `memory://` (tests) is built in. */
export const fileSystemRegistry = new FileSystemRegistry().register(memoryFileSystemProvider);
