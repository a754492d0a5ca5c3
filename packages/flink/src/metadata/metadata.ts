import { UnknownFormatVersionError } from '@flowstate/core';
import { FlinkUnsupportedError } from '../errors.js';
import { JavaDataInput } from '../io/java-input.js';
import { JavaDataOutput } from '../io/java-output.js';
import {
  readChannelHandle,
  readKeyedHandle,
  readOperatorHandle,
  readStreamHandle,
  writeChannelHandle,
  writeKeyedHandle,
  writeOperatorHandle,
  writeStreamHandle,
} from './handles.js';
import type { ChannelStateHandle, FlinkCheckpointMetadata, MasterState, OperatorState, SubtaskState } from './types.js';

/** Checkpoints.HEADER_MAGIC_NUMBER. */
export const FLINK_METADATA_MAGIC = 0x4960672d;
const MASTER_STATE_MAGIC = 0xc96b1696 | 0;
export const FLINK_METADATA_VERSIONS = [2, 3, 4, 5, 6] as const;
/** Flink's own inline threshold is at most 1 MiB per handle; a `_metadata` beyond this is refused unread. */
export const MAX_FLINK_METADATA_BYTES = 256 * 1024 * 1024;

/** True when the bytes start with Flink's `_metadata` magic number. */
export function isFlinkMetadata(head: Uint8Array): boolean {
  return head.length >= 4 && new DataView(head.buffer, head.byteOffset, 4).getUint32(0) === FLINK_METADATA_MAGIC;
}

/**
 * Parses a Flink `_metadata` file of version 2 to 6 to its last byte. `file` names it in errors.
 * The V4+ CheckpointProperties are returned raw; `parseCheckpointProperties` interprets them.
 */
export function readFlinkMetadata(bytes: Uint8Array, file: string): FlinkCheckpointMetadata {
  const input = new JavaDataInput(bytes, file);
  if (bytes.length > MAX_FLINK_METADATA_BYTES) input.fail(`file of ${bytes.length} bytes exceeds the ${MAX_FLINK_METADATA_BYTES} bytes accepted`);
  const magic = input.readInt();
  if (magic !== FLINK_METADATA_MAGIC) input.fail(`not Apache Flink checkpoint metadata (magic 0x${(magic >>> 0).toString(16)})`, 0);
  const version = input.readInt();
  if (version === 1) throw new FlinkUnsupportedError(file, 'metadata version 1 (Flink 1.1/1.2) is no longer readable by Flink itself', 4);
  if (!(FLINK_METADATA_VERSIONS as readonly number[]).includes(version)) {
    throw new UnknownFormatVersionError('Flink checkpoint metadata', version, [...FLINK_METADATA_VERSIONS], file);
  }
  const idAt = input.position;
  const checkpointId = input.readLong();
  if (checkpointId < 0n) input.fail(`invalid checkpoint id ${checkpointId}`, idAt);
  const masterStates = readMasterStates(input);
  const nOps = input.readCount('number of operator states', 24);
  const operators: OperatorState[] = [];
  for (let i = 0; i < nOps; i++) operators.push(readOperatorState(input, version));
  const base = { version, checkpointId, masterStates, operators };
  if (version < 4) {
    if (input.remaining !== 0) input.fail(`${input.remaining} trailing bytes after the last operator state`);
    return base;
  }
  if (input.remaining === 0) input.fail('missing checkpoint properties (metadata V4+)');
  const propertiesOffset = input.position;
  return { ...base, propertiesOffset, propertiesBytes: input.readBytes(input.remaining) };
}

function readMasterStates(input: JavaDataInput): MasterState[] {
  const n = input.readCount('number of master states', 8);
  const out: MasterState[] = [];
  for (let i = 0; i < n; i++) {
    const at = input.position;
    if (input.readInt() !== MASTER_STATE_MAGIC) input.fail('bad master state magic number', at);
    const len = input.readCount('master state length');
    if (len === 0) input.fail('empty master state', at + 4);
    const body = input.slice(len, 'master state');
    const version = body.readInt();
    const name = body.readUTF();
    const data = body.readBytes(body.readCount('master state bytes'));
    if (body.remaining !== 0) body.fail(`${body.remaining} trailing bytes in master state '${name}'`);
    out.push({ name, version, data });
  }
  return out;
}

function operatorIdHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

function readOperatorState(input: JavaDataInput, version: number): OperatorState {
  let name: string | undefined;
  let uid: string | undefined;
  if (version >= 5) {
    name = input.readUTF();
    uid = input.readUTF();
  }
  const operatorId = operatorIdHex(input.readBytes(16));
  const pAt = input.position;
  const parallelism = input.readInt();
  const maxParallelism = input.readInt();
  if (parallelism < 1 || maxParallelism < 1 || maxParallelism > 32768 || parallelism > maxParallelism) {
    input.fail(`invalid parallelism ${parallelism} / maxParallelism ${maxParallelism} of operator ${operatorId}`, pAt);
  }
  const legacyChainLength = version === 2 ? input.readInt() : undefined;
  const coordinatorState = version >= 3 ? readStreamHandle(input) : null;
  if (coordinatorState !== null && coordinatorState.type !== 'byte-stream') input.fail(`coordinator state of operator ${operatorId} is not inline`);
  const nAt = input.position;
  const n = input.readInt();
  const ids = { ...(name === undefined ? {} : { name }), ...(uid === undefined ? {} : { uid }) };
  if (n === -1 && version >= 3) {
    return { ...ids, operatorId, parallelism, maxParallelism, coordinatorState, fullyFinished: true, subtasks: [] };
  }
  input.checkCount(n, 'number of subtask states', 4, nAt);
  const subtasks: SubtaskState[] = [];
  for (let i = 0; i < n; i++) subtasks.push(readSubtask(input, version, parallelism));
  return {
    ...ids, operatorId, parallelism, maxParallelism, coordinatorState, fullyFinished: false, subtasks,
    ...(legacyChainLength === undefined ? {} : { legacyChainLength }),
  };
}

function emptySubtask(index: number, finished: boolean): SubtaskState {
  return {
    index, finished, managedOperatorState: null, rawOperatorState: null, managedKeyedState: null, rawKeyedState: null,
    inputChannelState: [], resultSubpartitionState: [],
  };
}

function readSubtask(input: JavaDataInput, version: number, parallelism: number): SubtaskState {
  const at = input.position;
  const stored = input.readInt();
  if (stored < 0 && version >= 3) return emptySubtask(-stored - 1, true);
  if (stored < 0 || stored >= parallelism) input.fail(`subtask index ${stored} outside [0, ${parallelism})`, at);
  let legacyDuration: bigint | undefined;
  if (version === 2) {
    legacyDuration = input.readLong();
    const legacyAt = input.position;
    if (input.readInt() !== 0) throw new FlinkUnsupportedError(input.file, 'legacy Checkpointed state of Flink <= 1.1', input.baseOffset + legacyAt);
  }
  const f1 = input.readInt();
  const managedOperatorState = f1 !== 0 ? readOperatorHandle(input) : null;
  const f2 = input.readInt();
  const rawOperatorState = f2 !== 0 ? readOperatorHandle(input) : null;
  const managedKeyedState = readKeyedHandle(input);
  const rawKeyedState = readKeyedHandle(input);
  const inputChannelState = version >= 3 ? readChannels(input, version >= 6, false) : [];
  const resultSubpartitionState = version >= 3 ? readChannels(input, version >= 6, true) : [];
  return {
    index: stored, finished: false, managedOperatorState, rawOperatorState, managedKeyedState, rawKeyedState, inputChannelState, resultSubpartitionState,
    ...(legacyDuration === undefined ? {} : { legacyDuration }),
    operatorStateFlags: [f1, f2] as const,
  };
}

function readChannels(input: JavaDataInput, v2: boolean, output: boolean): ChannelStateHandle[] {
  const n = input.readCount('number of channel state handles', 9);
  const out: ChannelStateHandle[] = [];
  for (let i = 0; i < n; i++) out.push(readChannelHandle(input, v2, output));
  return out;
}

/** Writes metadata in its `version` (2..6), byte for byte as Flink's serializers do. */
export function writeFlinkMetadata(m: FlinkCheckpointMetadata): Uint8Array {
  // Only versions it reads back: a model built by hand (FlinkSavepoint.fromModel) may carry any.
  if (!(FLINK_METADATA_VERSIONS as readonly number[]).includes(m.version)) throw new UnknownFormatVersionError('Flink checkpoint metadata to write', m.version, [...FLINK_METADATA_VERSIONS]);
  const out = new JavaDataOutput(4096);
  out.writeInt(FLINK_METADATA_MAGIC);
  out.writeInt(m.version);
  out.writeLong(m.checkpointId);
  out.writeInt(m.masterStates.length);
  for (const ms of m.masterStates) writeMasterState(out, ms);
  out.writeInt(m.operators.length);
  for (const op of m.operators) writeOperatorState(out, op, m.version);
  if (m.version >= 4) out.writeBytes(m.propertiesBytes ?? new Uint8Array(0));
  return out.toBytes();
}

function writeMasterState(out: JavaDataOutput, ms: MasterState): void {
  const body = new JavaDataOutput();
  body.writeInt(ms.version);
  body.writeUTF(ms.name);
  body.writeInt(ms.data.length);
  body.writeBytes(ms.data);
  out.writeInt(MASTER_STATE_MAGIC);
  out.writeInt(body.length);
  out.writeBytes(body.bytesView());
}

function writeOperatorState(out: JavaDataOutput, op: OperatorState, version: number): void {
  if (version >= 5) {
    out.writeUTF(op.name ?? '');
    out.writeUTF(op.uid ?? '');
  }
  out.writeBytes(Buffer.from(op.operatorId, 'hex'));
  out.writeInt(op.parallelism);
  out.writeInt(op.maxParallelism);
  if (version === 2) out.writeInt(op.legacyChainLength ?? 1);
  if (version >= 3) writeStreamHandle(out, op.coordinatorState);
  if (op.fullyFinished) return out.writeInt(-1);
  out.writeInt(op.subtasks.length);
  for (const s of op.subtasks) writeSubtask(out, s, version);
}

function writeSubtask(out: JavaDataOutput, s: SubtaskState, version: number): void {
  if (s.finished) return out.writeInt(-(s.index + 1));
  out.writeInt(s.index);
  if (version === 2) {
    out.writeLong(s.legacyDuration ?? -1n);
    out.writeInt(0);
  }
  // Flink writes 1 before a handle (even a null one) and 0 for none; keep what was read.
  const [f1, f2] = s.operatorStateFlags ?? [s.managedOperatorState === null ? 0 : 1, s.rawOperatorState === null ? 0 : 1];
  out.writeInt(f1);
  if (f1 !== 0) writeOperatorHandle(out, s.managedOperatorState);
  out.writeInt(f2);
  if (f2 !== 0) writeOperatorHandle(out, s.rawOperatorState);
  writeKeyedHandle(out, s.managedKeyedState);
  writeKeyedHandle(out, s.rawKeyedState);
  if (version >= 3) {
    for (const list of [s.inputChannelState, s.resultSubpartitionState]) {
      out.writeInt(list.length);
      for (const h of list) writeChannelHandle(out, h, version >= 6);
    }
  }
}
