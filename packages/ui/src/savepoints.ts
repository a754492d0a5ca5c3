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
  /** Bytes of the files below the savepoint's directory that the listing examined (all of them unless it was truncated). */
  readonly bytes: number;
}

/**
 * Most listing entries (files) one listing of the savepoint directory examines. Core's
 * `FileSystem.list` has no paging or limit, so this bound cannot shorten the listing itself: its
 * requests to the storage and the array it returns are the storage's. What it bounds is what the
 * UI does with that array and keeps from it: a byte count per directory name (at most one per
 * entry examined, a few MB at 50,000 names) and the time spent on it. 50,000 files hold dozens of
 * savepoints of a job with a thousand subtask states (one file each, plus `_metadata`), or
 * thousands of small ones; a directory holding more is listed in part, and the answer says so.
 */
export const MAX_LISTED_FILES = 50_000;

/**
 * Most savepoints one listing returns (the first by name). The page shows each as a button and
 * the answer stays around a hundred KB at most (a name is one directory name); as many as the
 * checkpoint history reader's newest entries.
 */
export const MAX_LISTED_SAVEPOINTS = 1_000;

/** Bounds of one listing, MAX_LISTED_FILES and MAX_LISTED_SAVEPOINTS by default (smaller ones for tests). */
export interface SavepointListLimits {
  readonly files?: number;
  readonly savepoints?: number;
}

export interface SavepointList {
  readonly savepoints: readonly SavepointListing[];
  /**
   * A bound was hit: the directory holds more than `limits.files` files (those past the bound
   * were not examined, so savepoints may be missing and a listed savepoint's `bytes` may count
   * only some of its files) or more than `limits.savepoints` savepoints (the first by name are
   * listed).
   */
  readonly truncated: boolean;
  /** The bounds this listing ran with. */
  readonly limits: Required<SavepointListLimits>;
}

/**
 * Child directories that hold a `_metadata` file (one level deep, as `state.savepoints.dir` is
 * laid out), within `limits`: see SavepointList.truncated.
 */
export async function listSavepoints(fs: FileSystem, limits: SavepointListLimits = {}): Promise<SavepointList> {
  const bounds = { files: listLimit(limits.files, MAX_LISTED_FILES, 'files'), savepoints: listLimit(limits.savepoints, MAX_LISTED_SAVEPOINTS, 'savepoints') };
  const files = await fs.list('');
  const { bytes, withMetadata } = directoriesOf(files, bounds.files);
  const names = [...withMetadata].sort().slice(0, bounds.savepoints);
  return {
    savepoints: names.map((name) => ({ name, bytes: bytes.get(name) ?? 0 })),
    truncated: files.length > bounds.files || withMetadata.size > bounds.savepoints,
    limits: bounds,
  };
}

function listLimit(given: number | undefined, fallback: number, what: string): number {
  if (given === undefined) return fallback;
  if (!Number.isSafeInteger(given) || given < 1) throw new IllegalStateUsageError(undefined, `a savepoint listing's limit of ${what} must be a positive integer, not ${given}`);
  return given;
}

/** The bytes below each child directory and the children holding `_metadata`, from the first `maxFiles` entries of `files` only. */
function directoriesOf(files: readonly FileStatus[], maxFiles: number): { bytes: Map<string, number>; withMetadata: Set<string> } {
  const bytes = new Map<string, number>();
  const withMetadata = new Set<string>();
  const examined = Math.min(files.length, maxFiles);
  for (let i = 0; i < examined; i++) {
    const { path, size } = files[i]!;
    const slash = path.indexOf('/');
    // A file directly in the savepoint directory belongs to no savepoint.
    if (slash <= 0) continue;
    const name = path.slice(0, slash);
    bytes.set(name, (bytes.get(name) ?? 0) + size);
    if (path.slice(slash + 1) === '_metadata') withMetadata.add(name);
  }
  return { bytes, withMetadata };
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
