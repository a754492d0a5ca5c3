import { isKeyGroupsStateHandle, type FileSystemRegistry, type SerializerSnapshotRegistry } from '@flowstate/core';
import { UnsupportedSavepointOperationError } from './errors.js';
import type { SavepointStorageOptions } from './location.js';
import { CANONICAL, conversionTargets, convertKeyedFormat, type KeyedFormat, type NativeFormatOptions } from './native-conversion.js';
import { formatWriterFor, LATEST_FORMAT_VERSION } from './format.js';
import { SavepointReader } from './reader.js';
import { SavepointWriter, type SavepointWriteResult } from './writer.js';

export type ConversionTarget = KeyedFormat;

export interface ToolOptions extends NativeFormatOptions, SavepointStorageOptions {
  readonly registry?: SerializerSnapshotRegistry;
  readonly onProgress?: (done: number, total: number) => void;
  readonly fileNameSeed?: string;
}

function progress(reader: SavepointReader, options: ToolOptions): { onBytes?: (n: number) => void } {
  if (options.onProgress === undefined) return {};
  const total = reader.operators().reduce((a, o) => a + o.stateSize, 0);
  let done = 0;
  const cb = options.onProgress;
  return { onBytes: (n) => cb((done += n), total) };
}


function readerOptions(options: ToolOptions): { registry?: SerializerSnapshotRegistry; fileSystems?: FileSystemRegistry } {
  return { ...(options.registry === undefined ? {} : { registry: options.registry }), ...(options.fileSystems === undefined ? {} : { fileSystems: options.fileSystems }) };
}

function nativeOperators(r: SavepointReader): string[] {
  return r.metadata.operators.filter((o) => o.subtasks.some((s) => s.keyed.some((h) => !isKeyGroupsStateHandle(h)))).map((o) => o.uid);
}

/**
 * Converts a savepoint between state formats. Canonical -> canonical is a verified copy (every
 * file's CRC32C is checked on the way; files keep their names, so streams are byte-identical).
 * Native RocksDB keyed state is converted to canonical (and canonical to native with
 * `--to native-rocksdb`) through the RocksDB backend: see native-conversion.ts.
 */
export async function convertSavepoint(input: string, output: string, to: ConversionTarget, options: ToolOptions = {}): Promise<SavepointWriteResult> {
  const targets = conversionTargets(options);
  if (!targets.includes(to)) throw new UnsupportedSavepointOperationError(`conversion to '${String(to)}'`, `known targets are ${targets.join(', ')}`);
  const nativeOptions = { ...options, ...(options.fileNameSeed === undefined ? {} : { fileNameSeed: options.fileNameSeed }) };
  const reader = await SavepointReader.load(input, readerOptions(options));
  // An incomplete input is refused before anything is written.
  await reader.verifyComplete();
  if (to !== CANONICAL || nativeOperators(reader).length > 0) return convertKeyedFormat(reader, output, to, nativeOptions);
  return SavepointWriter.fromExisting(reader).write(output, { ...progress(reader, options), ...(options.fileNameSeed === undefined ? {} : { fileNameSeed: options.fileNameSeed }) });
}

/**
 * Rewrites a savepoint of any readable format version in format `toVersion` (only the latest
 * is writable). Version 1 is the only version today, so this is a verified copy; when version 2
 * exists, streams whose layout changed are re-encoded here, one key-group block at a time.
 */
export async function migrateSavepoint(input: string, output: string, toVersion: number, options: ToolOptions = {}): Promise<SavepointWriteResult> {
  formatWriterFor(toVersion, output);
  const reader = await SavepointReader.load(input, readerOptions(options));
  // An incomplete input is refused before anything is written.
  await reader.verifyComplete();
  if (toVersion < reader.formatVersion) {
    throw new UnsupportedSavepointOperationError(`migrating a version ${reader.formatVersion} savepoint to version ${toVersion}`, 'savepoints are only migrated forward');
  }
  return SavepointWriter.fromExisting(reader).write(output, { formatVersion: toVersion, ...progress(reader, options) });
}

/**
 * Changes maxParallelism (and optionally parallelism) of every operator. Possible for canonical
 * savepoints only: their keyed streams hold serialized keys, from which key groups are recomputed
 * (murmur3 of the key bytes mod maxParallelism). Native snapshots keep keys inside backend files
 * whose layout depends on the key groups they were written for, so they cannot be rescaled here.
 */
export async function rescaleSavepoint(
  input: string,
  output: string,
  target: { maxParallelism: number; parallelism?: number; operators?: readonly string[] },
  options: ToolOptions & { spillBudget?: number } = {},
): Promise<SavepointWriteResult> {
  const reader = await SavepointReader.load(input, readerOptions(options));
  // An incomplete input is refused before anything is written.
  await reader.verifyComplete();
  const native = nativeOperators(reader);
  if (native.length > 0) {
    throw new UnsupportedSavepointOperationError(
      `rescaling operators ${native.join(', ')}`,
      'their keyed state is a native backend snapshot: key groups are baked into its files and can only be recomputed from the serialized keys of a canonical savepoint',
    );
  }
  const w = SavepointWriter.fromExisting(reader);
  const opts = { maxParallelism: target.maxParallelism, ...(target.parallelism === undefined ? {} : { parallelism: target.parallelism }) };
  if (target.operators === undefined) w.rescale(undefined, opts);
  else for (const uid of target.operators) w.rescale(uid, opts);
  return w.write(output, { ...progress(reader, options), ...(options.spillBudget === undefined ? {} : { spillBudget: options.spillBudget }) });
}

export { LATEST_FORMAT_VERSION };
