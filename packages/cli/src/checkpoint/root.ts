import {
  referencedFileSizes,
  displayStorageUri,
  fileSystemRegistry,
  FsCheckpointStorage,
  IllegalStateUsageError,
  listCheckpointRoot,
  allListed,
  METADATA_FILE_NAME,
  SHARED_STATE_DIR,
  StorageNotFoundError,
  storageUri,
  storageUriBaseName,
  type CheckpointMetadata,
  type FileStatus,
  type FileSystem,
  type FileSystemRegistry,
} from '@flowstate/core';

/** A job's checkpoint directory (`chk-<id>/`, `shared/`, `taskowned/`, `_history/`) on any storage. */
export interface CheckpointRoot {
  /** As shown to users: a local path or a URI. */
  readonly display: string;
  readonly uri: URL;
  readonly fs: FileSystem;
  readonly storage: FsCheckpointStorage;
}

/**
 * Opens `location` as a job's checkpoint directory. A savepoint or a single checkpoint directory is
 * refused: the checkpoint verbs look at all checkpoints of a job (the savepoint verbs at one).
 */
export async function openCheckpointRoot(location: string, fileSystems: FileSystemRegistry = fileSystemRegistry): Promise<CheckpointRoot> {
  const uri = storageUri(location);
  const display = displayStorageUri(uri);
  const fs = fileSystems.resolve(uri);
  if (/^chk-\d+$/.test(storageUriBaseName(uri)) || (await fs.stat(METADATA_FILE_NAME)) !== null) {
    throw new IllegalStateUsageError(undefined, `'${display}' is one checkpoint or savepoint, not a job's checkpoint directory: name the directory that holds chk-<id>/ and shared/ (or use 'flowstate savepoint')`);
  }
  return { display, uri, fs, storage: new FsCheckpointStorage(fs) };
}

export type CheckpointStatus = 'COMPLETED' | 'INCOMPLETE' | 'IN_PROGRESS';

export interface CheckpointSummary {
  readonly checkpointId: number;
  readonly pointer: string;
  /** Where it lives (path or URI). */
  readonly location: string;
  /**
   * COMPLETED: `_metadata` and every file it references (core's verifyCheckpointComplete).
   * INCOMPLETE: `_metadata` that references a missing or resized file, or that cannot be read.
   * IN_PROGRESS: files but no `_metadata` (being written, or left by an aborted or crashed one).
   */
  readonly status: CheckpointStatus;
  /** Why INCOMPLETE: MISSING_FILES or UNREADABLE_METADATA. */
  readonly reason?: string;
  readonly problem?: string;
  readonly kind?: CheckpointMetadata['kind'];
  readonly timestamp?: number;
  /** Kept by the job: the newest `retained` completed checkpoints (all completed ones by default). */
  readonly retained: boolean;
  readonly files: number;
  /** Bytes of every file it references (and its `_metadata`). */
  readonly bytes: number;
  /** Bytes in its own directory (`chk-<id>/`). */
  readonly exclusiveBytes: number;
  /** Bytes it references in `shared/` (incremental state, possibly also referenced by others). */
  readonly sharedBytes: number;
  /** Of its shared files, how many other checkpoints here reference too. */
  readonly sharedWithOthers: number;
}

export interface RootScan {
  readonly root: string;
  readonly checkpoints: readonly CheckpointSummary[];
  /** Decoded metadata of the completed and INCOMPLETE (MISSING_FILES) checkpoints. */
  readonly metadata: ReadonlyMap<number, CheckpointMetadata>;
  /** Which checkpoints reference each shared file. */
  readonly sharedFileUsers: ReadonlyMap<string, readonly number[]>;
  readonly files: readonly FileStatus[];
}


const isShared = (p: string) => p.startsWith(`${SHARED_STATE_DIR}/`);

/**
 * Every checkpoint under the root with its state: core's scanCheckpoints (the one completeness
 * check) for those with `_metadata`, and the `chk-<id>/` directories without one.
 */
export async function scanRoot(root: CheckpointRoot, retained?: number): Promise<RootScan> {
  const listing = await listCheckpointRoot(root.fs);
  const files = allListed(listing);
  if (files.length === 0) throw new StorageNotFoundError(root.display, 'nothing there: not a checkpoint directory, or no checkpoint was written to it');
  const scan = await root.storage.scanCheckpoints(listing.committed);
  const metadata = new Map<number, CheckpointMetadata>();
  for (const c of scan.complete) metadata.set(c.checkpointId, c.metadata);
  for (const c of scan.incomplete) if (c.metadata !== undefined) metadata.set(c.checkpointId, c.metadata);
  const sharedFileUsers = new Map<string, number[]>();
  for (const c of scan.complete) for (const p of referencedFileSizes(c.metadata).keys()) if (isShared(p)) sharedFileUsers.set(p, [...(sharedFileUsers.get(p) ?? []), c.checkpointId]);
  const metaSize = new Map(files.filter((f) => f.path.endsWith(`/${METADATA_FILE_NAME}`)).map((f) => [f.path, f.size]));
  const keep = new Set(scan.complete.map((c) => c.checkpointId).slice(retained === undefined ? 0 : -retained));
  const location = (pointer: string) => `${root.display}/${pointer}`;
  const sized = (id: number, pointer: string) => {
    const refs = metadata.get(id) === undefined ? new Map<string, number>() : referencedFileSizes(metadata.get(id)!);
    const meta = metaSize.get(`${pointer}/${METADATA_FILE_NAME}`) ?? 0;
    let shared = 0;
    let others = 0;
    for (const [p, size] of refs) {
      if (!isShared(p)) continue;
      shared += size;
      if ((sharedFileUsers.get(p) ?? []).some((u) => u !== id)) others++;
    }
    const exclusive = [...refs].filter(([p]) => p.startsWith(`${pointer}/`)).reduce((a, [, s]) => a + s, 0) + meta;
    return { files: refs.size + 1, bytes: [...refs.values()].reduce((a, b) => a + b, 0) + meta, exclusiveBytes: exclusive, sharedBytes: shared, sharedWithOthers: others };
  };
  const out: CheckpointSummary[] = [];
  for (const c of scan.complete) {
    out.push({ checkpointId: c.checkpointId, pointer: c.pointer, location: location(c.pointer), status: 'COMPLETED', kind: c.metadata.kind, timestamp: c.metadata.timestamp, retained: keep.has(c.checkpointId), ...sized(c.checkpointId, c.pointer) });
  }
  for (const c of scan.incomplete) {
    const m = c.metadata;
    out.push({
      checkpointId: c.checkpointId,
      pointer: c.pointer,
      location: location(c.pointer),
      status: 'INCOMPLETE',
      reason: c.reason,
      problem: c.error.message,
      ...(m === undefined ? {} : { kind: m.kind, timestamp: m.timestamp }),
      retained: false,
      ...sized(c.checkpointId, c.pointer),
    });
  }
  const seen = new Set(out.map((c) => c.pointer));
  const inProgress = new Map<string, FileStatus[]>();
  for (const f of files) {
    const m = /^(chk-\d+)\//.exec(f.path);
    if (m !== null && !seen.has(m[1]!)) inProgress.set(m[1]!, [...(inProgress.get(m[1]!) ?? []), f]);
  }
  for (const [pointer, fs] of inProgress) {
    const bytes = fs.reduce((a, f) => a + f.size, 0);
    out.push({ checkpointId: Number(pointer.slice(4)), pointer, location: location(pointer), status: 'IN_PROGRESS', retained: false, files: fs.length, bytes, exclusiveBytes: bytes, sharedBytes: 0, sharedWithOthers: 0 });
  }
  out.sort((a, b) => a.checkpointId - b.checkpointId);
  return { root: root.display, checkpoints: out, metadata, sharedFileUsers, files };
}

/** `42` or `chk-42`. */
export function parseCheckpointId(v: string): number {
  const m = /^(?:chk-)?(\d{1,15})$/.exec(v);
  if (m === null) throw new IllegalStateUsageError(undefined, `a checkpoint id is a number or chk-<number>, got '${v}'`);
  return Number(m[1]);
}
