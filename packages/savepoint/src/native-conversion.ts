import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  collectStreamHandles,
  ConcurrencyLimiter,
  isKeyGroupsStateHandle,
  KeyGroupRange,
  readKeyedStateHeader,
  settleAll,
  type CheckpointMetadata,
  type KeyedStateHandle,
  type KeyedStateStreamHeader,
  type NativeSnapshotFormat,
  type OperatorSnapshotMetadata,
  type SerializerSnapshotRegistry,
  type SubtaskStateMetadata,
  type TypeSerializer,
} from '@flowstate/core';
import type { SavepointDirectory } from './directory.js';
import { UnsupportedSavepointOperationError } from './errors.js';
import { formatWriterFor, LATEST_FORMAT_VERSION } from './format.js';
import type { SavepointStorageOptions } from './location.js';
import { randomFileNames, SavepointOutput, seededFileNames } from './output.js';
import { SavepointReader } from './reader.js';
import type { SavepointWriteResult } from './writer.js';

/** 'canonical', or the name of a native format (e.g. 'native-rocksdb'). */
export type KeyedFormat = string;

export const CANONICAL = 'canonical';

export interface NativeFormatOptions {
  /**
   * The native snapshot formats this build converts and validates, each with the backend that
   * converts it (e.g. `ROCKSDB_NATIVE_FORMAT` of `@flowstate/rocksdb`). None by default: native
   * handles are then refused as unsupported.
   */
  readonly nativeFormats?: readonly NativeSnapshotFormat[];
}

export interface NativeConversionOptions extends NativeFormatOptions, SavepointStorageOptions {
  readonly registry?: SerializerSnapshotRegistry;
  readonly fileNameSeed?: string;
  /** Local working directory for the backend instances used during conversion (default: OS temp). */
  readonly localDirectory?: string;
}

/** The conversion targets: canonical and every native format given. */
export function conversionTargets(options: NativeFormatOptions = {}): string[] {
  return [CANONICAL, ...(options.nativeFormats ?? []).map((f) => f.name)];
}

/** The format of a keyed handle: canonical, a known native format, or undefined. */
export function formatOf(h: KeyedStateHandle, formats: readonly NativeSnapshotFormat[]): KeyedFormat | undefined {
  if (isKeyGroupsStateHandle(h)) return CANONICAL;
  return formats.find((f) => f.isHandle(h))?.name;
}

/**
 * Converts the keyed state of a savepoint between the canonical format and a backend's native
 * format, by restoring each subtask's handle into that backend and snapshotting it in the target
 * format (native -> canonical streams the key groups out; canonical -> native rebuilds the state
 * and takes a native snapshot). Handles already in the target format, all operator state and the
 * channel state of an unaligned checkpoint are copied verbatim (verified). The result restores
 * into the target backend with identical state.
 */
export async function convertKeyedFormat(input: string | SavepointReader, output: string, to: KeyedFormat, options: NativeConversionOptions = {}): Promise<SavepointWriteResult> {
  const formats = options.nativeFormats ?? [];
  // Through the reader: format-version dispatch and the structural checks of every handle.
  const reader = typeof input === 'string' ? await SavepointReader.load(input, options) : input;
  const metadata = reader.metadata;
  const inputFiles = collectStreamHandles(metadata).flatMap((h) => (h.type === 'file' ? [h.path] : []));
  const names = options.fileNameSeed === undefined ? randomFileNames() : seededFileNames(options.fileNameSeed);
  const out = await SavepointOutput.create(output, { checkpointId: metadata.checkpointId, names, inputs: [reader.directory], reserved: inputFiles }, reader.storage);
  const work = await mkdtemp(join(options.localDirectory ?? tmpdir(), 'flowstate-convert-'));
  const scratchRemovals: Promise<void>[] = [];
  try {
    const operators: OperatorSnapshotMetadata[] = [];
    // Seeded file names follow the order streams are created in: only one subtask at a time then.
    const concurrency = options.fileNameSeed === undefined ? conversionConcurrency(to) : { subtasks: 1, restores: 1 };
    const restores = new ConcurrencyLimiter(concurrency.restores);
    for (const op of metadata.operators) {
      const subtasks = await mapBounded(op.subtasks, concurrency.subtasks, (st) => convertSubtask(st, op, to, { reader, out, formats, work, scratchRemovals, restores }));
      operators.push({ ...op, subtasks });
    }
    const result: CheckpointMetadata = { ...metadata, operators };
    await out.writeMetadata(formatWriterFor(LATEST_FORMAT_VERSION).writeMetadata(result));
    return { directory: out.path, metadata: result, formatVersion: LATEST_FORMAT_VERSION };
  } catch (e) {
    await out.discard();
    throw e;
  } finally {
    await Promise.all(scratchRemovals);
    // Scratch only: a failed removal (left in the OS temp directory) must not replace the
    // conversion's result or its error.
    await rm(work, { recursive: true, force: true }).catch(() => {});
  }
}

/** How many subtasks a conversion runs at once, and how many of those restore at once. */
interface ConversionConcurrency {
  readonly subtasks: number;
  readonly restores: number;
}

/**
 * Converting to a native format. A conversion alternates JS work (decoding, packing rows) with
 * work RocksDB does off the main thread (building and ingesting SSTs, checkpoints, fsyncs): one
 * subtask at a time left the main thread idle about 40% of the time (issue 16). A restore holds
 * its bulk load (up to 64 MiB of rows), so memory bounds restores: two overlap the main thread
 * with the thread pool, and four were 3–6% slower (session 24, in-process A/B). Past its restore
 * a subtask holds only its database while it takes and uploads its native snapshot, and the next
 * subtasks restore meanwhile: with only two subtasks in flight they waited for those uploads, and
 * a conversion took about 8% longer (session 25, in-process A/B).
 */
export const TO_NATIVE_CONCURRENCY: ConversionConcurrency = { subtasks: 4, restores: 2 };

/**
 * Converting to canonical (each subtask restores as it starts). Each holds a database opened on
 * its handle's linked SSTs, a 1 MiB scan buffer and its stream's write buffer: no bulk load, so
 * memory does not bound it as it does converting to native. With four, the later subtasks'
 * restores (links, read-back checksums, opens) and the earlier ones' closing writes overlap the
 * scans that keep the main thread busy: 9–12% less wall time than with two for the same CPU
 * (session 24: 64 MiB, four subtasks, the two alternating in one process over 20 rounds, three
 * processes).
 */
export const TO_CANONICAL_CONCURRENCY: ConversionConcurrency = { subtasks: 4, restores: 4 };

/** The concurrency of a conversion towards `to`. */
function conversionConcurrency(to: KeyedFormat): ConversionConcurrency {
  return to === CANONICAL ? TO_CANONICAL_CONCURRENCY : TO_NATIVE_CONCURRENCY;
}

/** `fn` over `items` with at most `limit` calls in flight; results in input order. Waits for every started call before rethrowing the first failure. */
async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    // After a failure no new call starts: the output is discarded anyway.
    while (next < items.length && !failed) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await settleAll(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

interface ConversionContext {
  readonly reader: SavepointReader;
  readonly out: SavepointOutput;
  readonly formats: readonly NativeSnapshotFormat[];
  readonly work: string;
  readonly scratchRemovals: Promise<void>[];
  readonly restores: ConcurrencyLimiter;
}

async function convertSubtask(st: SubtaskStateMetadata, op: OperatorSnapshotMetadata, to: KeyedFormat, ctx: ConversionContext): Promise<SubtaskStateMetadata> {
  const { reader, out } = ctx;
  const keyed: KeyedStateHandle[] = [];
  for (const h of st.keyed) {
    const from = formatOf(h, ctx.formats);
    if (from === undefined) {
      throw new UnsupportedSavepointOperationError(`converting keyed state of type '${h.type}' (operator '${op.uid}')`, `the known formats are ${conversionTargets({ nativeFormats: ctx.formats }).join(', ')}`);
    }
    if (from === to) {
      for (const f of collectStreamHandles(h)) await out.copy(reader.dir, f);
      keyed.push(h);
      continue;
    }
    const converted = await convertHandle(h, from, to, op, reader.metadata, { ...ctx, dir: reader.dir, registry: reader.registry });
    if (converted !== null) keyed.push(converted);
  }
  for (const oh of st.operator) for (const f of collectStreamHandles(oh)) await out.copy(reader.dir, f);
  // In-flight records of an unaligned checkpoint: the copy references them as the input does.
  for (const f of st.channelState ?? []) await out.copy(reader.dir, f);
  return { ...st, keyed };
}

/** Where one handle is converted: its savepoint, the output, the formats, local scratch. */
export interface HandleConversionContext {
  readonly dir: SavepointDirectory;
  readonly out: SavepointOutput;
  readonly registry: SerializerSnapshotRegistry;
  readonly formats: readonly NativeSnapshotFormat[];
  readonly work: string;
  /**
   * Where the removals of per-handle scratch directories go, for the caller to await later (they
   * never reject); without it each is awaited before convertHandle returns.
   */
  readonly scratchRemovals?: Promise<void>[];
  /** Bounds the restores running at once (the snapshots that follow them are not bounded by it); none by default. */
  readonly restores?: ConcurrencyLimiter;
}

/** Converts one keyed handle by restoring it into the native format's backend and snapshotting it in the target format. */
export async function convertHandle(
  h: KeyedStateHandle,
  from: KeyedFormat,
  to: KeyedFormat,
  op: OperatorSnapshotMetadata,
  metadata: CheckpointMetadata,
  ctx: HandleConversionContext,
): Promise<KeyedStateHandle | null> {
  const native = ctx.formats.find((f) => f.name === (from === CANONICAL ? to : from));
  if (native === undefined) throw new UnsupportedSavepointOperationError(`converting '${h.type}' to '${to}'`, `the known formats are ${conversionTargets({ nativeFormats: ctx.formats }).join(', ')}`);
  // The key serializer comes from the snapshot itself, so no user code is needed to convert.
  const header: KeyedStateStreamHeader = isKeyGroupsStateHandle(h) ? await readKeyedStateHeader(ctx.dir.reader, h, ctx.registry) : await native.readHeader(h, ctx.dir.reader, ctx.registry);
  // One scratch directory per handle, deleted asynchronously once its backend is disposed
  // (NativeSnapshotFormat.createBackend): while it goes, the other subtasks convert on.
  const work = await mkdtemp(join(ctx.work, 'handle-'));
  try {
    const restore = () =>
      native.createBackend(work).createKeyedStateBackend({
        operatorIdentifier: op.uid,
        keySerializer: header.keySerializerSnapshot.restoreSerializer() as TypeSerializer<unknown>,
        maxParallelism: op.maxParallelism,
        keyGroupRange: KeyGroupRange.fromJSON(h.keyGroupRange),
        restoreState: [h],
        stateHandleReader: ctx.dir.reader,
        serializerRegistry: ctx.registry,
      });
    const backend = await (ctx.restores === undefined ? restore() : ctx.restores.run(restore));
    try {
      const res = await backend.snapshot(metadata.checkpointId, metadata.timestamp, ctx.out.streamFactory, {
        checkpointType: 'SAVEPOINT',
        formatType: to === CANONICAL ? 'CANONICAL' : 'NATIVE',
      }).result;
      return res.jobManagerOwnedSnapshot;
    } finally {
      backend.dispose();
    }
  } finally {
    // Not awaited here when the caller collects it: the caller's slot goes to the next subtask at
    // once. A failed removal never replaces the conversion's result or error (the caller's
    // work directory is removed after it anyway).
    const removal = rm(work, { recursive: true, force: true }).catch(() => {});
    if (ctx.scratchRemovals !== undefined) ctx.scratchRemovals.push(removal);
    else await removal;
  }
}
