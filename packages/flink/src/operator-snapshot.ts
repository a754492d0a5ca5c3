import { basename, dirname } from 'node:path';
import { FlinkUnsupportedError } from './errors.js';
import { JavaDataInput } from './io/java-input.js';
import { readWholeFileUpTo } from './streams.js';
import { JavaDataOutput } from './io/java-output.js';
import { readChannelHandle, readKeyedHandle, readOperatorHandle, readStreamHandle, writeChannelHandle, writeKeyedHandle, writeOperatorHandle, writeStreamHandle } from './metadata/handles.js';
import type { ChannelStateHandle, KeyedStateHandle, OperatorState, OperatorStreamHandle } from './metadata/types.js';
import { referencedStreams } from './dispose.js';
import { FlinkSavepoint, type FlinkSavepointOptions } from './savepoint.js';
import { rewriteOperatorUnchanged, StreamEmitter } from './writer.js';

/**
 * A file of Flink's test utility OperatorSnapshotUtil (`writeStateHandle`): one operator subtask's
 * state handles, as Flink's migration tests store them (`win-op-migration-test-*`, the Kafka
 * connector's legacy snapshots). No magic number: a version int (MetadataV3Serializer.VERSION = 3
 * since Flink 1.11; earlier files hold other values and no channel state), a null stream handle,
 * then four handle lists (raw operator, managed operator, raw keyed, managed keyed; -1 = null)
 * and, for version 3, the channel state handles.
 */
export interface OperatorSnapshotFile {
  readonly version: number;
  readonly rawOperatorState: readonly OperatorStreamHandle[] | null;
  readonly managedOperatorState: readonly OperatorStreamHandle[] | null;
  readonly rawKeyedState: readonly KeyedStateHandle[] | null;
  readonly managedKeyedState: readonly KeyedStateHandle[] | null;
  readonly inputChannelState: readonly ChannelStateHandle[];
  readonly resultSubpartitionState: readonly ChannelStateHandle[];
}

/** MetadataV3Serializer.VERSION: the only version whose files carry channel state. */
const CHANNEL_STATE_VERSION = 3;
/** Larger files are refused before they are read (Flink's are a few KiB). */
export const MAX_OPERATOR_SNAPSHOT_BYTES = 64 * 1024 * 1024;

function readList<T>(input: JavaDataInput, what: string, read: () => T | null): T[] | null {
  const at = input.position;
  const n = input.readInt();
  if (n === -1) return null;
  if (n < 0 || n > input.remaining) input.fail(`${what}: count ${n} is negative or exceeds the ${input.remaining} bytes left`, at);
  const out: T[] = [];
  for (let i = 0; i < n; i++) {
    const h = read();
    if (h === null) input.fail(`${what}: null handle in the list`, at);
    out.push(h);
  }
  return out;
}

/** Parses an OperatorSnapshotUtil file to its last byte; corrupt input is CORRUPT_CHECKPOINT naming file and offset. */
export function readOperatorSnapshotFile(bytes: Uint8Array, file: string): OperatorSnapshotFile {
  const input = new JavaDataInput(bytes, file);
  const version = input.readInt();
  const legacyAt = input.position;
  if (readStreamHandle(input) !== null) input.fail('the legacy stream handle must be null', legacyAt);
  const rawOperatorState = readList(input, 'raw operator state', () => readOperatorHandle(input));
  const managedOperatorState = readList(input, 'managed operator state', () => readOperatorHandle(input));
  const rawKeyedState = readList(input, 'raw keyed state', () => readKeyedHandle(input));
  const managedKeyedState = readList(input, 'managed keyed state', () => readKeyedHandle(input));
  let inputChannelState: ChannelStateHandle[] = [];
  let resultSubpartitionState: ChannelStateHandle[] = [];
  if (version === CHANNEL_STATE_VERSION) {
    inputChannelState = readList(input, 'input channel state', () => readChannelHandle(input, false, false)) ?? [];
    resultSubpartitionState = readList(input, 'result subpartition state', () => readChannelHandle(input, false, true)) ?? [];
  }
  if (input.remaining !== 0) input.fail(`${input.remaining} bytes after the last handle`);
  return { version, rawOperatorState, managedOperatorState, rawKeyedState, managedKeyedState, inputChannelState, resultSubpartitionState };
}

/** Writes the file as OperatorSnapshotUtil.writeStateHandle does, byte for byte. */
export function writeOperatorSnapshotFile(s: OperatorSnapshotFile): Uint8Array {
  const out = new JavaDataOutput();
  out.writeInt(s.version);
  writeStreamHandle(out, null);
  const list = <T>(l: readonly T[] | null, write: (h: T) => void): void => {
    out.writeInt(l === null ? -1 : l.length);
    for (const h of l ?? []) write(h);
  };
  list(s.rawOperatorState, (h) => writeOperatorHandle(out, h));
  list(s.managedOperatorState, (h) => writeOperatorHandle(out, h));
  list(s.rawKeyedState, (h) => writeKeyedHandle(out, h));
  list(s.managedKeyedState, (h) => writeKeyedHandle(out, h));
  if (s.version === CHANNEL_STATE_VERSION) {
    list(s.inputChannelState, (h) => writeChannelHandle(out, h, false));
    // Flink writes the input channel count before the result subpartition handles too (a bug in
    // the test utility); both are empty in every file, so the count read back is the same.
    out.writeInt(s.inputChannelState.length);
    for (const h of s.resultSubpartitionState) writeChannelHandle(out, h, false);
  }
  return out.toBytes();
}

/** The key-group range a keyed handle covers. */
function rangeEnd(h: KeyedStateHandle): number {
  if (h.type === 'key-groups') return h.startKeyGroup + h.offsets.length;
  return h.startKeyGroup + h.numKeyGroups;
}

function single<T>(file: string, what: string, l: readonly T[] | null): T | null {
  if (l === null || l.length === 0) return null;
  if (l.length > 1) throw new FlinkUnsupportedError(file, `${l.length} ${what} handles in one operator snapshot (flowstate reads one per kind)`);
  return l[0]!;
}

/**
 * Opens an OperatorSnapshotUtil file as a one-operator, one-subtask FlinkSavepoint, so that every
 * reader (keyed streams, records, timers, operator state) works on it. The file stores no
 * maxParallelism: it is `maxParallelism` if given, else the end of the keyed state's key-group
 * range (the test harnesses' subtask 0 of parallelism 1 owns [0, maxParallelism)).
 */
export async function loadOperatorSnapshot(path: string, options: FlinkSavepointOptions & { maxParallelism?: number } = {}): Promise<{ file: OperatorSnapshotFile; savepoint: FlinkSavepoint }> {
  const bytes = await readWholeFileUpTo(path, MAX_OPERATOR_SNAPSHOT_BYTES, (size) => new FlinkUnsupportedError(path, `operator snapshot of ${size} bytes exceeds ${MAX_OPERATOR_SNAPSHOT_BYTES}`));
  const file = readOperatorSnapshotFile(bytes, path);
  const managedKeyedState = single(path, 'managed keyed state', file.managedKeyedState);
  const operator: OperatorState = {
    uid: basename(path),
    operatorId: '00000000000000000000000000000000',
    parallelism: 1,
    maxParallelism: options.maxParallelism ?? (managedKeyedState === null ? 1 : rangeEnd(managedKeyedState)),
    coordinatorState: null,
    fullyFinished: false,
    subtasks: [{
      index: 0, finished: false,
      managedOperatorState: single(path, 'managed operator state', file.managedOperatorState),
      rawOperatorState: single(path, 'raw operator state', file.rawOperatorState),
      managedKeyedState,
      rawKeyedState: single(path, 'raw keyed state', file.rawKeyedState),
      inputChannelState: file.inputChannelState,
      resultSubpartitionState: file.resultSubpartitionState,
    }],
  };
  // The file's version is OperatorSnapshotUtil's, not a metadata version: its handles are written
  // as MetadataV2 wrote them before 3 (Flink 1.11's V3, which added channel state). Version 0 (the
  // 1.8 Kafka consumer's) taken as the metadata version was written back as an unreadable _metadata.
  const metadata = { version: file.version === CHANNEL_STATE_VERSION ? 3 : 2, checkpointId: 0n, masterStates: [], operators: [operator] };
  return { file, savepoint: FlinkSavepoint.fromModel(dirname(path), path, metadata, options) };
}

/**
 * The file written again from what flowstate decoded: heap-native key groups re-encoded through
 * the serializers, operator state from its elements, handles from their model (what the
 * round-trip tests compare with Flink's bytes). Only inline state can be re-encoded: these files
 * come from in-memory test harnesses; a handle to another file is refused.
 */
export async function reencodeOperatorSnapshot(file: OperatorSnapshotFile, sp: FlinkSavepoint): Promise<Uint8Array> {
  for (const h of referencedStreams(sp.metadata)) {
    if (h.type !== 'byte-stream') throw new FlinkUnsupportedError(sp.metadataFile, `re-encoding an operator snapshot with a ${h.type} stream handle (only inline state)`);
  }
  const op = await rewriteOperatorUnchanged(sp, new StreamEmitter(sp.directory), sp.operators[0]!);
  const s = op.subtasks[0]!;
  const list = <T>(l: readonly T[] | null, h: T | null): T[] | null => (l === null ? null : h === null ? [] : [h]);
  return writeOperatorSnapshotFile({
    ...file,
    rawOperatorState: list(file.rawOperatorState, s.rawOperatorState),
    managedOperatorState: list(file.managedOperatorState, s.managedOperatorState),
    rawKeyedState: list(file.rawKeyedState, s.rawKeyedState),
    managedKeyedState: list(file.managedKeyedState, s.managedKeyedState),
  });
}
