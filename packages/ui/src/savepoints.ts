// The savepoint inspector's data: the savepoints below one directory, and the inspection report
// of one of them, produced by @flowstate/savepoint exactly as `flowstate savepoint inspect --json`.
import {
  childStorageUri,
  confinePath,
  displayStorageUri,
  fileSystemRegistry,
  FileSystemRegistry,
  FlowstateError,
  ForwardingFileSystem,
  IllegalStateUsageError,
  PathEscapeError,
  storageUri,
  SubdirectoryFileSystem,
  type FileStatus,
  type FileSystem,
  type ReadRange,
} from '@flowstate/core';
import { inspectSavepoint, SavepointReader, type InspectReport } from '@flowstate/savepoint';
import { CheckpointUiCancelledError } from './errors.js';

export interface SavepointListing {
  readonly name: string;
  readonly bytes: number;
}

/** Child directories that hold a `_metadata` file (one level deep, as `state.savepoints.dir` is laid out). */
export async function listSavepoints(fs: FileSystem): Promise<SavepointListing[]> {
  const files = await fs.list('');
  const bytes = new Map<string, number>();
  const withMetadata = new Set<string>();
  for (const f of files) {
    const [name, ...rest] = f.path.split('/');
    if (name === undefined || rest.length === 0) continue;
    bytes.set(name, (bytes.get(name) ?? 0) + f.size);
    if (rest.join('/') === '_metadata') withMetadata.add(name);
  }
  return [...withMetadata].sort().map((name) => ({ name, bytes: bytes.get(name) ?? 0 }));
}

export interface InspectSavepointOptions {
  /** Stops the inspection at its next read once aborted. */
  readonly signal?: AbortSignal;
}

/**
 * Inspects `<location>/<name>`; `name` must be a single path segment. With `fileSystem` (the
 * savepoint directory `location` names), every read goes through it: the process-wide registry
 * would open `location` with a file system of its own (other client, credentials or root).
 */
export async function inspectSavepointByName(savepoints: { readonly location: string; readonly fileSystem?: FileSystem }, name: string, options: InspectSavepointOptions = {}): Promise<InspectReport> {
  if (name === '' || name === '.' || name === '..' || /[/\\]/.test(name)) {
    throw new IllegalStateUsageError(undefined, `savepoint name '${name}' is not one directory name`);
  }
  const { signal } = options;
  const base = storageUri(savepoints.location);
  const fileSystems = savepoints.fileSystem === undefined && signal === undefined ? fileSystemRegistry : registryBelow(base, savepoints.fileSystem ?? fileSystemRegistry.resolve(base), signal);
  // The name is one path segment, percent-encoded into the location's URI: spliced in as it is,
  // '%2e%2e' would be read as '..' (the directory above) and 'sp%41' as 'spA'.
  const reader = await SavepointReader.load(childStorageUri(base, name).href, { fileSystems });
  await reader.verifyComplete();
  // Cancelled at its next read: every read goes through the registry's CancellableFileSystem.
  return inspectSavepoint(reader, { scan: true });
}

/** A registry that opens `base` and the directories below it through `fs` (checking `signal` before each call), and nothing else. */
function registryBelow(base: URL, fs: FileSystem, signal: AbortSignal | undefined): FileSystemRegistry {
  const open = (uri: URL): FileSystem => {
    const dir = pathBelow(base, uri);
    const inside = dir === '' ? fs : new SubdirectoryFileSystem(fs, dir);
    return signal === undefined ? inside : new CancellableFileSystem(inside, signal);
  };
  return new FileSystemRegistry().register({ schemes: [base.protocol.slice(0, -1).toLowerCase()], open });
}

/** `uri`'s path relative to `base` ('' for `base` itself), decoded; a location outside `base` is refused. */
function pathBelow(base: URL, uri: URL): string {
  const root = base.pathname.replace(/\/+$/, '');
  const path = uri.pathname.replace(/\/+$/, '');
  if (uri.host !== base.host || (path !== root && !path.startsWith(`${root}/`))) {
    throw new PathEscapeError(displayStorageUri(uri), `outside the savepoint directory '${displayStorageUri(base)}' the UI reads`);
  }
  return confinePath(path.slice(root.length + 1).split('/').map(decodeURIComponent).join('/'));
}

function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted !== true) return;
  throw signal.reason instanceof FlowstateError ? signal.reason : new CheckpointUiCancelledError('aborted by the caller', { cause: signal.reason });
}

/** Refuses every call once `signal` is aborted: a scan stops at its next read, not at its end. */
class CancellableFileSystem extends ForwardingFileSystem {
  constructor(
    inner: FileSystem,
    private readonly signal: AbortSignal,
  ) {
    super(inner);
  }
  override async read(path: string, range?: ReadRange): Promise<Uint8Array> {
    throwIfCancelled(this.signal);
    return super.read(path, range);
  }
  override async stat(path: string): Promise<FileStatus | null> {
    throwIfCancelled(this.signal);
    return super.stat(path);
  }
  override async list(dir: string): Promise<FileStatus[]> {
    throwIfCancelled(this.signal);
    return super.list(dir);
  }
}
