import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  collectStreamHandles,
  DataInputDeserializer,
  decodeHeader,
  isKeyGroupsStateHandle,
  KeyGroupRange,
  readKeyedStateHeader,
  type CheckpointMetadata,
  type KeyedStateHandle,
  type OperatorSnapshotMetadata,
  type SerializerSnapshotRegistry,
  type TypeSerializer,
} from '@flowstate/core';
import { isIncrementalRocksDBStateHandle, RocksDBStateBackend } from '@flowstate/rocksdb';
import { randomFileNames, SavepointOutput, seededFileNames, type SavepointDirectory } from './directory.js';
import { UnsupportedSavepointOperationError } from './errors.js';
import { formatWriterFor, LATEST_FORMAT_VERSION } from './format.js';
import { SavepointReader } from './reader.js';
import type { SavepointWriteResult } from './writer.js';

export type KeyedFormat = 'canonical' | 'native-rocksdb';

export interface NativeConversionOptions {
  readonly registry?: SerializerSnapshotRegistry;
  readonly fileNameSeed?: string;
  /** Working directory for the RocksDB instances used during conversion (default: OS temp). */
  readonly localDirectory?: string;
}

function formatOf(h: KeyedStateHandle): KeyedFormat | undefined {
  if (isKeyGroupsStateHandle(h)) return 'canonical';
  if (isIncrementalRocksDBStateHandle(h)) return 'native-rocksdb';
  return undefined;
}

/**
 * Converts the keyed state of a savepoint between the canonical format and RocksDB's native
 * format, by restoring each subtask's handle into a RocksDB instance and snapshotting it in the
 * target format:
 * - native -> canonical opens the native files with RocksDB and streams the key groups out;
 * - canonical -> native rebuilds the column families and takes a native (SST file) snapshot.
 * Handles already in the target format and all operator state are copied verbatim (verified).
 * The result restores into the target backend with identical state.
 */
export async function convertKeyedFormat(input: string | SavepointReader, output: string, to: KeyedFormat, options: NativeConversionOptions = {}): Promise<SavepointWriteResult> {
  // Through the reader: format-version dispatch and the structural checks of every handle.
  const reader = typeof input === 'string' ? await SavepointReader.load(input, options.registry === undefined ? {} : { registry: options.registry }) : input;
  const dir = reader.dir;
  const metadata = reader.metadata;
  const registry = reader.registry;
  const names = options.fileNameSeed === undefined ? randomFileNames() : seededFileNames(options.fileNameSeed);
  const inputFiles = collectStreamHandles(metadata).flatMap((h) => (h.type === 'file' ? [h.path] : []));
  const out = await SavepointOutput.create(output, metadata.checkpointId, names, [reader.directory], inputFiles);
  const work = mkdtempSync(join(options.localDirectory ?? tmpdir(), 'flowstate-convert-'));
  try {
    const operators: OperatorSnapshotMetadata[] = [];
    for (const op of metadata.operators) {
      const subtasks = [];
      for (const st of op.subtasks) {
        const keyed: KeyedStateHandle[] = [];
        for (const h of st.keyed) {
          const from = formatOf(h);
          if (from === undefined) throw new UnsupportedSavepointOperationError(`converting keyed state of type '${h.type}' (operator '${op.uid}')`, 'only canonical and native RocksDB handles are known');
          if (from === to) {
            for (const f of collectStreamHandles(h)) await out.copy(dir, f);
            keyed.push(h);
            continue;
          }
          const converted = await convertHandle(h, from, to, op, metadata, dir, out, registry, work);
          if (converted !== null) keyed.push(converted);
        }
        for (const oh of st.operator) for (const f of collectStreamHandles(oh)) await out.copy(dir, f);
        subtasks.push({ ...st, keyed });
      }
      operators.push({ ...op, subtasks });
    }
    const result: CheckpointMetadata = { ...metadata, operators };
    await out.writeMetadata(formatWriterFor(LATEST_FORMAT_VERSION).writeMetadata(result));
    return { directory: out.path, metadata: result, formatVersion: LATEST_FORMAT_VERSION };
  } catch (e) {
    rmSync(output, { recursive: true, force: true });
    throw e;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Converts one keyed handle by restoring it into RocksDB and snapshotting it in the target format. */
export async function convertHandle(
  h: KeyedStateHandle,
  from: KeyedFormat,
  to: KeyedFormat,
  op: OperatorSnapshotMetadata,
  metadata: CheckpointMetadata,
  dir: SavepointDirectory,
  out: SavepointOutput,
  registry: SerializerSnapshotRegistry,
  work: string,
): Promise<KeyedStateHandle | null> {
  // The key serializer comes from the snapshot itself, so no user code is needed to convert.
  const header =
    from === 'canonical' && isKeyGroupsStateHandle(h)
      ? await readKeyedStateHeader(dir.reader, h, registry)
      : isIncrementalRocksDBStateHandle(h)
        ? decodeHeader(new DataInputDeserializer(await dir.reader.readFully(h.meta)), registry)
        : undefined;
  if (header === undefined) throw new UnsupportedSavepointOperationError(`converting '${h.type}'`, 'unknown handle');
  const backend = await new RocksDBStateBackend({ incrementalCheckpoints: true, localDirectory: work }).createKeyedStateBackend({
    operatorIdentifier: op.uid,
    keySerializer: header.keySerializerSnapshot.restoreSerializer() as TypeSerializer<unknown>,
    numberOfKeyGroups: op.maxParallelism,
    keyGroupRange: KeyGroupRange.fromJSON(h.keyGroupRange),
    restoreState: [h],
    stateHandleReader: dir.reader,
    serializerRegistry: registry,
  });
  try {
    const res = await backend.snapshot(metadata.checkpointId, metadata.timestamp, out.streamFactory, {
      checkpointType: 'SAVEPOINT',
      formatType: to === 'native-rocksdb' ? 'NATIVE' : 'CANONICAL',
    }).result;
    return res.jobManagerOwnedSnapshot;
  } finally {
    backend.dispose();
  }
}
