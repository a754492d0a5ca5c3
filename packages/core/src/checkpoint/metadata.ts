import { Packr } from 'msgpackr';
import { crc32c, formatChecksum } from '../checksum.js';
import { CorruptCheckpointError, FlowstateError, UnknownFormatVersionError } from '../errors.js';
import { DataInputDeserializer } from '../io/data-input.js';
import { DataOutputSerializer } from '../io/data-output.js';
import { checkMetadataStructure } from './metadata-structure.js';
import type { CheckpointMetadata } from './metadata-types.js';

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
