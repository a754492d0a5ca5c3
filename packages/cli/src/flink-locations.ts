import { opendir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { displayStorageUri, FlowstateError, IllegalStateUsageError, parentStorageUri, storageUri, storageUriBaseName, type FileSystem, type FileSystemRegistry } from '@flowstate/core';
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
 * A malformed URI, or a file: URI that names no local path (a host, an encoded '/'), is a usage error.
 */
export function locate(location: string): { readonly local: string } | { readonly remote: URL } {
  if (!URI.test(location)) return { local: location };
  const uri = storageUri(location);
  if (uri.protocol !== 'file:') return { remote: uri };
  try {
    return { local: fileURLToPath(uri) };
  } catch (e) {
    throw new IllegalStateUsageError(undefined, `'${location}' is not a local file URI: ${(e as Error).message}`);
  }
}

/**
 * The Apache Flink savepoint or checkpoint at `location` (a directory or its `_metadata` file),
 * recognized by the magic number of its `_metadata`; undefined for anything else (the caller goes
 * on with flowstate's format, which reports unreadable and malformed locations). `fileSystems`
 * opens remote locations.
 */
export async function flinkInputAt(location: string, fileSystems: FileSystemRegistry): Promise<FlinkInput | undefined> {
  let where: ReturnType<typeof locate>;
  try {
    where = locate(location);
  } catch {
    return undefined;
  }
  if ('local' in where) return (await isFlinkSavepoint(where.local)) ? { kind: 'local', path: where.local } : undefined;
  const savepoint = await remoteFlinkSavepoint(where.remote, fileSystems);
  return savepoint === undefined ? undefined : { kind: 'remote', savepoint };
}

/** The remote savepoint whose directory is `uri`, or whose `_metadata` file it names. */
async function remoteFlinkSavepoint(uri: URL, fileSystems: FileSystemRegistry): Promise<RemoteFlinkSavepoint | undefined> {
  let directory: URL;
  let metadataFile: boolean;
  let fs: FileSystem;
  try {
    const parent = parentStorageUri(uri);
    metadataFile = storageUriBaseName(uri) === METADATA && parent !== undefined;
    directory = metadataFile ? parent! : uri;
    fs = fileSystems.resolve(directory);
  } catch {
    // A location no file system opens (a malformed escape, an unknown scheme): not recognized as
    // Flink's; flowstate's format reports it.
    return undefined;
  }
  return (await hasFlinkMetadata(fs)) ? { display: displayStorageUri(directory), directory, fs, metadataFile } : undefined;
}

/**
 * Whether `_metadata` starts with Flink's magic number: 4 bytes are read, as isFlinkSavepoint reads
 * locally. A storage's typed failure (unreachable, refused, 503) is thrown, not taken for "not
 * Flink": the flowstate reader would then report a Flink savepoint's metadata as a bad magic number.
 */
async function hasFlinkMetadata(fs: FileSystem): Promise<boolean> {
  try {
    const st = await fs.stat(METADATA);
    if (st === null || st.size < 4) return false;
    return isFlinkMetadata(await fs.read(METADATA, { offset: 0, length: 4 }));
  } catch (e) {
    if (e instanceof FlowstateError) throw e;
    return false;
  }
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
export async function flinkOutputAt(location: string, remoteInput: string | undefined, fileSystems: FileSystemRegistry): Promise<FlinkOutput> {
  const where = locate(location);
  if ('remote' in where) {
    const spec = { checkpointId: 0, names: randomFileNames(), inputs: remoteInput === undefined ? [] : [remoteInput] };
    return { kind: 'remote', output: await SavepointOutput.create(location, spec, { fileSystems }) };
  }
  if (remoteInput !== undefined) await refuseLocalOutputWithFiles(where.local);
  return { kind: 'local', path: where.local };
}

/** A local output that is a directory holding files is refused; anything else is left to the writer's own checks. */
async function refuseLocalOutputWithFiles(dir: string): Promise<void> {
  // One entry tells: the directory is not read whole.
  const handle = await opendir(dir).catch(() => undefined);
  if (handle === undefined) return;
  const first = await handle.read().finally(() => handle.close());
  if (first !== null) throw new SavepointOutputError(dir, 'the directory exists and is not empty');
}
