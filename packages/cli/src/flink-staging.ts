import { mkdir, mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { FlowstateError, forEachLimit, StorageError, storageErrorFromErrno, writeCommitted, type FileStatus, type FileSystem } from '@flowstate/core';
import { confinedPath, FlinkUnsupportedError, MAX_FLINK_METADATA_BYTES, readFlinkMetadata, readWholeFileUpTo, referencedStreams, type FlinkCheckpointMetadata } from '@flowstate/flink';
import type { SavepointOutput } from '@flowstate/savepoint';
import type { FlinkInput, FlinkOutput, RemoteFlinkSavepoint } from './flink-locations.js';

// @flowstate/flink reads and writes savepoints through node:fs. For a savepoint on remote storage
// the Flink verbs copy its directory to a local temporary directory, run the local code on the
// copy and remove it; a savepoint they write to remote storage is written to a local temporary
// directory and then uploaded. The disk space needed is the savepoint's size.

/** How much a remote savepoint may hold to be staged: all of it lands on local disk first. */
export interface StagingLimits {
  readonly maxFiles: number;
  readonly maxBytes: number;
}

/**
 * Files staged at most. A Flink savepoint holds `_metadata` and about one file per stateful
 * subtask (a RocksDB-native one a few per subtask): 100 000 covers parallelism 1000 with dozens of
 * stateful operators, while a wrong location (a bucket's root) is refused before anything is
 * copied. Not before it is listed: core's FileSystem.list has no paging, so the storage's whole
 * listing is read first (its memory is the storage's, as for every verb that lists).
 */
export const MAX_STAGED_FILES = 100_000;

/**
 * Bytes staged at most (local disk). @flowstate/flink reads every state file whole into memory
 * (at most 1 GiB each, MAX_STATE_FILE_BYTES), so savepoints far beyond tens of GiB are not what
 * these verbs are for; 64 GiB bounds the disk a mistaken location can fill.
 */
export const MAX_STAGED_BYTES = 64 * 1024 ** 3;

export const DEFAULT_STAGING_LIMITS: StagingLimits = { maxFiles: MAX_STAGED_FILES, maxBytes: MAX_STAGED_BYTES };

/** Prefixes of the temporary directories under os.tmpdir() (removed when the verb ends, also on failure). */
export const STAGED_INPUT_PREFIX = 'flowstate-flink-stage-';
export const STAGED_OUTPUT_PREFIX = 'flowstate-flink-upload-';

/** Bytes copied per read or write call; one buffer per file being copied. */
const COPY_CHUNK_BYTES = 4 << 20;
/** Files copied at once: remote storage answers each request with latency, so several overlap. */
const CONCURRENT_COPIES = 8;

/** Names the staged copy in a string, report or error after the remote location it came from. */
export type Renamer = <T>(value: T) => T;

const unchanged: Renamer = (value) => value;

/**
 * Runs `work` on a local copy of `input`: a local savepoint as it is, a remote one staged into a
 * temporary directory that is removed afterwards, also when staging or `work` fails. `work` gets
 * the path to read (the directory, or its `_metadata` when the location named that file) and a
 * Renamer; errors it throws already name the remote location instead of the copy.
 */
export async function withLocalCopy<T>(input: FlinkInput, limits: StagingLimits, work: (path: string, shown: Renamer) => Promise<T>): Promise<T> {
  if (input.kind === 'local') return work(input.path, unchanged);
  const sp = input.savepoint;
  const files = await sp.fs.list('');
  checkStagingLimits(sp.display, files, limits);
  const tmp = await temporaryDirectory(STAGED_INPUT_PREFIX);
  try {
    const dir = join(tmp, 'savepoint');
    await downloadFiles(sp, files, dir);
    await refuseStateOutsideDirectory(sp, dir, files);
    const shown = renamer(dir, sp.display);
    return await renamingErrors(shown, () => work(sp.metadataFile ? join(dir, '_metadata') : dir, shown));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Runs `write` with the local directory to write a savepoint into: the output itself, or for a
 * remote output a temporary directory whose files are then uploaded (`_metadata` last) and which
 * is removed afterwards. A failed upload removes what it uploaded (SavepointOutput.discard).
 */
export async function writingTo<T>(output: FlinkOutput, write: (dir: string) => Promise<T>): Promise<T> {
  if (output.kind === 'local') return write(output.path);
  const tmp = await temporaryDirectory(STAGED_OUTPUT_PREFIX);
  try {
    const dir = join(tmp, 'savepoint');
    const result = await renamingErrors(renamer(dir, output.output.path), () => write(dir));
    await uploadDirectory(dir, output.output);
    return result;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** A remote savepoint beyond the limits is refused before anything is copied. */
function checkStagingLimits(display: string, files: readonly FileStatus[], limits: StagingLimits): void {
  const refuse = (what: string): never => {
    throw new FlinkUnsupportedError(display, `${what}: a remote savepoint is copied to a local temporary directory, and this is more than that copy takes`);
  };
  if (files.length > limits.maxFiles) refuse(`it holds ${files.length} files, more than ${limits.maxFiles}`);
  const bytes = files.reduce((n, f) => n + f.size, 0);
  if (bytes > limits.maxBytes) refuse(`it holds ${bytes} bytes, more than ${limits.maxBytes}`);
}

/**
 * Copies every listed file of `sp` under `dir`, keeping its relative path. A listed name that is
 * empty, absolute or climbs out of `dir` is refused (PathEscapeError) before any file is copied.
 */
async function downloadFiles(sp: RemoteFlinkSavepoint, files: readonly FileStatus[], dir: string): Promise<void> {
  const targets = files.map((file) => ({ file, local: confinedPath(dir, file.path, `a file listed in '${sp.display}' would be staged outside its temporary directory`) }));
  await forEachLimit(targets, CONCURRENT_COPIES, ({ file, local }) => downloadFile(sp, file, local));
}

/** One file, in ranged reads of COPY_CHUNK_BYTES, into a new local file ('wx': a name listed twice is not overwritten). */
async function downloadFile(sp: RemoteFlinkSavepoint, file: FileStatus, local: string): Promise<void> {
  await onLocalDisk(local, 'staging', async () => {
    await mkdir(dirname(local), { recursive: true });
    const out = await open(local, 'wx');
    try {
      const into = new Uint8Array(Math.min(COPY_CHUNK_BYTES, file.size));
      for (let at = 0; at < file.size; ) {
        const length = Math.min(COPY_CHUNK_BYTES, file.size - at);
        const chunk = await sp.fs.read(file.path, { offset: at, length, into });
        // Ranged reads past the end fail; a short answer would otherwise loop forever.
        if (chunk.length !== length) throw new StorageError(`${sp.display}/${file.path}`, `read ${chunk.length} bytes at ${at} where ${length} were asked (changed while staged?)`);
        for (let done = 0; done < length; ) done += (await out.write(chunk, done, length - done, at + done)).bytesWritten;
        at += length;
      }
    } finally {
      await out.close();
    }
  });
}

/**
 * Staging copies the savepoint's directory only. A retained incremental checkpoint (`chk-<n>`)
 * keeps most of its state in its job's `shared/` (and `taskowned/`) directory, named by absolute
 * URI: such a file, not inside the directory and not staged under its name next to `_metadata`
 * (where @flowstate/flink looks for moved files), is refused here by name instead of failing later
 * as a missing file of the temporary copy. Unreadable metadata is left to the verb to report.
 */
async function refuseStateOutsideDirectory(sp: RemoteFlinkSavepoint, dir: string, files: readonly FileStatus[]): Promise<void> {
  const metadata = await stagedMetadata(join(dir, '_metadata'));
  if (metadata === undefined) return;
  const own = `${decodeURIComponent(sp.directory.pathname).replace(/\/+$/, '')}/`;
  const nextToMetadata = new Set(files.map((f) => f.path).filter((p) => !p.includes('/')));
  for (const h of referencedStreams(metadata)) {
    if (h.type !== 'file' || pathPart(h.path).startsWith(own) || nextToMetadata.has(h.path.slice(h.path.lastIndexOf('/') + 1))) continue;
    throw new FlinkUnsupportedError(
      sp.display,
      `its state file '${h.path}' lies outside the directory (a retained incremental checkpoint's files are in its job's shared/ directory): ` +
        'only the directory is copied from remote storage; copy the job\'s checkpoint directory to local disk and name its chk-<n> there',
    );
  }
}

/** The staged `_metadata` parsed, or undefined when it cannot be (the verb reports that). */
async function stagedMetadata(file: string): Promise<FlinkCheckpointMetadata | undefined> {
  try {
    const bytes = await readWholeFileUpTo(file, MAX_FLINK_METADATA_BYTES, (size) => new FlinkUnsupportedError(file, `_metadata of ${size} bytes exceeds ${MAX_FLINK_METADATA_BYTES}`));
    return readFlinkMetadata(bytes, file);
  } catch {
    return undefined;
  }
}

/** A handle's path without scheme and authority ('s3://bucket/job/shared/x' -> '/job/shared/x'). */
function pathPart(path: string): string {
  return path.replace(/^[A-Za-z][A-Za-z0-9+.-]*:(\/\/[^/]*)?/, '');
}

/**
 * Uploads every file under `dir` to the output, `_metadata` last: the remote location never
 * looks like a complete savepoint before all its state files are there. Each file is committed
 * through the output's file system (atomically, as the storage commits a file). On failure what
 * was uploaded is removed with the output directory (it was empty or absent before).
 */
async function uploadDirectory(dir: string, output: SavepointOutput): Promise<void> {
  try {
    const files = await localFiles(dir);
    await forEachLimit(
      files.filter((f) => f !== '_metadata'),
      CONCURRENT_COPIES,
      (f) => uploadFile(join(dir, f), output.fs, f),
    );
    if (files.includes('_metadata')) await uploadFile(join(dir, '_metadata'), output.fs, '_metadata');
  } catch (e) {
    await output.discard();
    throw e;
  }
}

/** Relative '/'-separated paths of the regular files under `dir`. */
async function localFiles(dir: string): Promise<string[]> {
  const entries = await onLocalDisk(dir, 'listing', () => readdir(dir, { recursive: true, withFileTypes: true }));
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'));
}

/** One local file committed at `path` of `fs`, in chunks of COPY_CHUNK_BYTES through one buffer. */
async function uploadFile(local: string, fs: FileSystem, path: string): Promise<void> {
  await onLocalDisk(local, 'uploading', async () => {
    const fh = await open(local, 'r');
    try {
      const buffer = new Uint8Array(Math.max(1, Math.min(COPY_CHUNK_BYTES, (await fh.stat()).size)));
      await writeCommitted(fs, path, async (w) => {
        for (let n = (await fh.read(buffer, 0, buffer.length, null)).bytesRead; n > 0; n = (await fh.read(buffer, 0, buffer.length, null)).bytesRead) {
          await w.write(buffer.subarray(0, n));
        }
      });
    } finally {
      await fh.close();
    }
  });
}

/** A new directory under os.tmpdir(). */
function temporaryDirectory(prefix: string): Promise<string> {
  return onLocalDisk(join(tmpdir(), prefix), 'creating a temporary directory', () => mkdtemp(join(tmpdir(), prefix)));
}

/**
 * Runs a local disk operation; its errno failures (ENOSPC, EACCES) become StorageErrors naming
 * `path`, not internal errors. Typed errors (the remote storage's) pass unchanged.
 */
async function onLocalDisk<T>(path: string, what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (e) {
    throw e instanceof FlowstateError ? e : storageErrorFromErrno(path, what, e);
  }
}

/** A Renamer replacing the local path `from` (a staged copy) by the location `to` it stands for. */
function renamer(from: string, to: string): Renamer {
  const rename = (v: unknown): unknown => {
    // split/join, not replaceAll: a replacement string reads `$&` and `$'` in `to` (S3 keys may hold `$`).
    if (typeof v === 'string') return v.split(from).join(to);
    if (Array.isArray(v)) return v.map(rename);
    if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rename(x)]));
    return v;
  };
  return <T>(value: T): T => rename(value) as T;
}

/** Runs `work`; an error it throws names the remote location instead of the staged copy. */
async function renamingErrors<T>(shown: Renamer, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    try {
      if (e instanceof Error) e.message = shown(e.message);
    } catch {
      // A read-only message (a DOMException's getter): the error goes on as it is, not hidden by a TypeError.
    }
    throw e;
  }
}
