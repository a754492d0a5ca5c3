import { Packr } from 'msgpackr';
import { assert } from '../assert.js';
import { crc32c, formatChecksum } from '../checksum.js';
import { CorruptCheckpointError, FlowstateError, UnknownFormatVersionError } from '../errors.js';
import { DataInputDeserializer } from '../io/data-input.js';
import { DataOutputSerializer } from '../io/data-output.js';
import { checkMetadataStructure } from './metadata-structure.js';
import type { CheckpointMetadata, OperatorSnapshotMetadata } from './metadata-types.js';

/** "FSMD": flowstate checkpoint metadata. */
export const METADATA_MAGIC = 0x46534d44;
export const METADATA_FORMAT_VERSION = 1;
const SUPPORTED = [1];
/** Metadata larger than this is rejected before it is decoded. */
export const MAX_METADATA_BYTES = 256 * 1024 * 1024;

export type { CheckpointMetadata, OperatorSnapshotMetadata, SubtaskStateMetadata } from './metadata-types.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false, variableMapSize: true });

/**
 * Layout: magic u32, version u16, flags u16, body length u32, body (MessagePack of
 * CheckpointMetadata), CRC32C u32 of everything before it. All integers big-endian.
 */
export function serializeCheckpointMetadata(metadata: CheckpointMetadata): Uint8Array {
  const body = packr.pack(metadata);
  const out = new DataOutputSerializer(body.length + 16);
  out.writeUint32(METADATA_MAGIC);
  out.writeUint16(METADATA_FORMAT_VERSION);
  out.writeUint16(0);
  out.writeUint32(body.length);
  out.writeBytes(body);
  out.writeUint32(crc32c(out.bytesView()));
  return out.toBytes();
}

/**
 * Decodes `_metadata` and checks its frame (magic, version, flags, length, CRC32C) and the
 * structure of everything in it (checkMetadataStructure): the one metadata validator of every
 * reader. Errors are typed and name `file`.
 */
export function deserializeCheckpointMetadata(bytes: Uint8Array, file: string): CheckpointMetadata {
  if (bytes.length > MAX_METADATA_BYTES) throw new CorruptCheckpointError(file, `metadata of ${bytes.length} bytes exceeds the limit of ${MAX_METADATA_BYTES}`);
  const input = new DataInputDeserializer(bytes);
  let decoded: unknown;
  try {
    const magic = input.readUint32();
    if (magic !== METADATA_MAGIC) throw new CorruptCheckpointError(file, `bad magic 0x${magic.toString(16)} (not flowstate checkpoint metadata)`, undefined, 0);
    const version = input.readUint16();
    if (!SUPPORTED.includes(version)) throw new UnknownFormatVersionError('checkpoint metadata', version, SUPPORTED, file);
    const flags = input.readUint16();
    if (flags !== 0) throw new CorruptCheckpointError(file, `unknown metadata flags 0x${flags.toString(16)}`, undefined, 6);
    const len = input.readUint32();
    if (len !== bytes.length - 16) throw new CorruptCheckpointError(file, `metadata body length ${len} does not match the file size ${bytes.length}`, undefined, 8);
    const body = input.readBytes(len);
    const expected = input.readUint32();
    const actual = crc32c(bytes.subarray(0, 12 + len));
    if (actual !== expected) {
      throw new CorruptCheckpointError(file, `metadata CRC32C is ${formatChecksum(actual)}, expected ${formatChecksum(expected)}`, undefined, 12 + len);
    }
    decoded = packr.unpack(body);
  } catch (e) {
    // A truncated frame surfaces as CorruptDataError from the reader: name the file.
    if (e instanceof FlowstateError && e.code !== 'CORRUPT_DATA') throw e;
    throw new CorruptCheckpointError(file, `cannot decode metadata: ${(e as Error).message}`, undefined, undefined, { cause: e });
  }
  checkMetadataStructure(decoded, file);
  return decoded;
}

/** How an operator's state reaches its subtasks on a restore or a rewrite (finishedOnRestore). */
export interface FinishedOnRestoreOptions {
  /**
   * The state of an old subtask may go to other new subtasks: true when the parallelism changes
   * (the default), and for the savepoint tools also when the maxParallelism or the key serializer
   * does (the key groups of a subtask change at the same parallelism). False only at the same
   * parallelism: new subtask i restores old subtask i's state.
   */
  readonly redistributed?: boolean;
}

/**
 * Which subtasks of `op`, restored (or rewritten) at `parallelism`, start finished: Flink's
 * FINISHED_ON_RESTORE, they keep their state but run neither endInput nor finish again. The one
 * rule of the runtime's restore and of the savepoint tools' rewrites, so that a savepoint restores
 * the same whether or not it was rewritten first.
 *
 * Where each new subtask restores its own old subtask's state, it keeps that subtask's flag; one
 * the metadata does not list never said it finished, so it did not. Otherwise a new subtask's
 * state may come from any old subtask: all start finished or none, and all only when the operator
 * is fully finished (Flink's FullyFinishedOperatorState), every one of its `op.parallelism`
 * subtasks listed and finished. A rule over the listed subtasks alone would take an operator with
 * an unlisted, unfinished subtask for a finished one.
 */
export function finishedOnRestore(op: OperatorSnapshotMetadata, parallelism: number, options: FinishedOnRestoreOptions = {}): boolean[] {
  const redistributed = options.redistributed ?? op.parallelism !== parallelism;
  assert(Number.isSafeInteger(parallelism) && parallelism > 0, `operator '${op.uid}': parallelism ${parallelism} is not a positive integer`);
  assert(redistributed || op.parallelism === parallelism, `operator '${op.uid}': subtasks keep their own state only at the same parallelism (${op.parallelism} -> ${parallelism})`);
  if (redistributed) return new Array<boolean>(parallelism).fill(isFullyFinished(op));
  const flags = new Array<boolean>(parallelism).fill(false);
  for (const s of op.subtasks) flags[s.subtaskIndex] = s.finished === true;
  return flags;
}

/** Every subtask of `op` finished; subtask indices are unique and below its parallelism (checkMetadataStructure), so all are listed when as many are. */
function isFullyFinished(op: OperatorSnapshotMetadata): boolean {
  return op.subtasks.length > 0 && op.subtasks.length === op.parallelism && op.subtasks.every((s) => s.finished === true);
}
