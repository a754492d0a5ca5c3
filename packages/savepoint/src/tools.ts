import { IllegalStateUsageError, isKeyGroupsStateHandle, type FileSystemRegistry, type OperatorSnapshotMetadata, type SerializerSnapshotRegistry } from '@flowstate/core';
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

/** What rescaleSavepoint changes. Parallelism: the first of these that names an operator wins. */
export interface RescaleTarget {
  /** New maxParallelism of every operator in scope. */
  readonly maxParallelism: number;
  /** Per operator uid (any operator, keyed or not). */
  readonly operatorParallelism?: Readonly<Record<string, number>>;
  /** Every operator in scope that has keyed state (sources and other operators without keyed state keep theirs). */
  readonly keyedParallelism?: number;
  /** Every operator in scope. */
  readonly parallelism?: number;
  /** Only these operators (default: all). Operators left unchanged keep parallelism and maxParallelism. */
  readonly operators?: readonly string[];
}

/** The parallelism an operator gets from `target`, or undefined (unchanged, capped at the new maxParallelism). */
function targetParallelism(op: OperatorSnapshotMetadata, target: RescaleTarget): number | undefined {
  const keyed = op.subtasks.some((s) => s.keyed.length > 0);
  const own = target.operatorParallelism !== undefined && Object.hasOwn(target.operatorParallelism, op.uid) ? target.operatorParallelism[op.uid] : undefined;
  return own ?? (keyed ? target.keyedParallelism : undefined) ?? target.parallelism;
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
  target: RescaleTarget,
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
  const scope = target.operators ?? reader.metadata.operators.map((o) => o.uid);
  for (const uid of Object.keys(target.operatorParallelism ?? {})) {
    if (!scope.includes(uid)) throw new IllegalStateUsageError(undefined, `parallelism given for operator '${uid}', which is not rescaled (operators rescaled: ${scope.join(', ') || 'none'})`);
  }
  for (const uid of scope) {
    const p = targetParallelism(reader.operator(uid), target);
    w.rescale(uid, { maxParallelism: target.maxParallelism, ...(p === undefined ? {} : { parallelism: p }) });
  }
  return w.write(output, { ...progress(reader, options), ...(options.spillBudget === undefined ? {} : { spillBudget: options.spillBudget }) });
}

export { LATEST_FORMAT_VERSION };
