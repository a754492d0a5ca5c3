import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { displayStorageUri, parentStorageUri, storageUri, storageUriBaseName, type FileSystem, type FileSystemRegistry } from '@flowstate/core';
import { isFlinkMetadata, isFlinkSavepoint } from '@flowstate/flink';
import { randomFileNames, SavepointOutput, SavepointOutputError } from '@flowstate/savepoint';

// Where the Apache Flink verbs read and write. @flowstate/flink works on local paths (node:fs), so
// a savepoint on remote storage (s3://, webhdfs://, hdfs://) is found here by its `_metadata` and
// then staged through a local temporary directory (flink-staging.ts). Local paths and file: URIs
// are read in place, as before.

/** An Apache Flink savepoint or checkpoint on remote storage. */
export interface RemoteFlinkSavepoint {
  /** Its directory as users see it (the URI): what messages name instead of the staged copy. */
  readonly display: string;
  /** Its directory. */
  readonly directory: URL;
  /** A file system rooted at its directory. */
  readonly fs: FileSystem;
  /** The location named its `_metadata` file rather than its directory. */
  readonly metadataFile: boolean;
}

/** An Apache Flink savepoint a verb reads: a local path (read in place) or a remote one (staged). */
export type FlinkInput = { readonly kind: 'local'; readonly path: string } | { readonly kind: 'remote'; readonly savepoint: RemoteFlinkSavepoint };

/** Where a verb writes a savepoint: a local directory, or a remote location checked to be usable. */
export type FlinkOutput = { readonly kind: 'local'; readonly path: string } | { readonly kind: 'remote'; readonly output: SavepointOutput };

const URI = /^[a-z][a-z0-9+.-]*:\/\//i;
const METADATA = '_metadata';

/**
 * A location as a local path (a plain path as given, or a file: URI's path) or a remote URI.
 * A malformed URI throws core's usage error.
 */
export function locate(location: string): { readonly local: string } | { readonly remote: URL } {
  if (!URI.test(location)) return { local: location };
  const uri = storageUri(location);
  return uri.protocol === 'file:' ? { local: fileURLToPath(uri) } : { remote: uri };
}

/**
 * The Apache Flink savepoint or checkpoint at `location` (a directory or its `_metadata` file),
 * recognized by the magic number of its `_metadata`; undefined for anything else (the caller goes
 * on with flowstate's format, which reports unreadable and malformed locations). `fileSystems` is
 * asked for remote locations only, and its failures (an invalid --config) are not swallowed.
 */
export async function flinkInputAt(location: string, fileSystems: () => FileSystemRegistry): Promise<FlinkInput | undefined> {
  let where: ReturnType<typeof locate>;
  try {
    where = locate(location);
  } catch {
    return undefined;
  }
  if ('local' in where) return (await isFlinkSavepoint(where.local)) ? { kind: 'local', path: where.local } : undefined;
  const savepoint = await remoteFlinkSavepoint(where.remote, fileSystems());
  return savepoint === undefined ? undefined : { kind: 'remote', savepoint };
}

/** The remote savepoint whose directory is `uri`, or whose `_metadata` file it names. */
async function remoteFlinkSavepoint(uri: URL, fileSystems: FileSystemRegistry): Promise<RemoteFlinkSavepoint | undefined> {
  const parent = parentStorageUri(uri);
  const metadataFile = storageUriBaseName(uri) === METADATA && parent !== undefined;
  const directory = metadataFile ? parent : uri;
  try {
    const fs = fileSystems.resolve(directory);
    return (await hasFlinkMetadata(fs)) ? { display: displayStorageUri(directory), directory, fs, metadataFile } : undefined;
  } catch {
    // Like isFlinkSavepoint: whatever cannot be read is not recognized as Flink's.
    return undefined;
  }
}

/** Whether `_metadata` starts with Flink's magic number: 4 bytes are read, as isFlinkSavepoint reads locally. */
async function hasFlinkMetadata(fs: FileSystem): Promise<boolean> {
  const st = await fs.stat(METADATA);
  if (st === null || st.size < 4) return false;
  return isFlinkMetadata(await fs.read(METADATA, { offset: 0, length: 4 }));
}

/** The remote input's directory, which a remote output must neither be nor lie in. */
export function remoteDirectoryOf(input: FlinkInput): string | undefined {
  return input.kind === 'remote' ? input.savepoint.display : undefined;
}

/**
 * Where a verb writes, checked before any work. A remote output must be an empty or absent
 * directory, not a file, not `remoteInput` nor inside it (SavepointOutput's rules, those of every
 * other verb's remote output; SAVEPOINT_OUTPUT, exit 2). A local output is checked by the code
 * that writes it; with a remote input it is also refused here when it already holds files, so a
 * mistyped output costs no download.
 */
export async function flinkOutputAt(location: string, remoteInput: string | undefined, fileSystems: () => FileSystemRegistry): Promise<FlinkOutput> {
  const where = locate(location);
  if ('remote' in where) {
    const spec = { checkpointId: 0, names: randomFileNames(), inputs: remoteInput === undefined ? [] : [remoteInput] };
    return { kind: 'remote', output: await SavepointOutput.create(location, spec, { fileSystems: fileSystems() }) };
  }
  if (remoteInput !== undefined) await refuseLocalOutputWithFiles(where.local);
  return { kind: 'local', path: where.local };
}

/** A local output that is a directory holding files is refused; anything else is left to the writer's own checks. */
async function refuseLocalOutputWithFiles(dir: string): Promise<void> {
  const entries = await readdir(dir).catch(() => []);
  if (entries.length > 0) throw new SavepointOutputError(dir, 'the directory exists and is not empty');
}
