import {
  CorruptCheckpointError,
  deserializeCheckpointMetadata,
  METADATA_MAGIC,
  serializeCheckpointMetadata,
  UnknownFormatVersionError,
  type CheckpointMetadata,
} from '@flowstate/core';

/**
 * Savepoint format versions. The version of a savepoint is the u16 after the magic of its
 * `_metadata` file; it fixes the versions of every stream the metadata references (see
 * docs/savepoint-format.md, "Versions"). Dispatch is explicit: one reader per released version,
 * one writer for the latest. Adding version 2 means adding a row to both tables, never editing
 * the row of version 1.
 */
export const LATEST_FORMAT_VERSION = 1;

export interface SavepointFormatReader {
  readonly version: number;
  /** What changed in this version, for `flowstate savepoint inspect`. */
  readonly description: string;
  /** Versions of the keyed (FSKS) and operator (FSOS) streams a savepoint of this version holds. */
  readonly keyedStreamVersion: number;
  readonly operatorStreamVersion: number;
  /** Decodes `_metadata` and validates its structure; `file` names it in errors. */
  readMetadata(bytes: Uint8Array, file: string): CheckpointMetadata;
}

export interface SavepointFormatWriter {
  readonly version: number;
  writeMetadata(metadata: CheckpointMetadata): Uint8Array;
}

const V1_READER: SavepointFormatReader = {
  version: 1,
  description: 'initial format: FSMD metadata (MessagePack body), FSKS keyed streams, FSOS operator streams',
  keyedStreamVersion: 1,
  operatorStreamVersion: 1,
  // Core's decoder checks the frame, the CRC32C and the structure of every field (the one
  // metadata validator every reader shares).
  readMetadata: deserializeCheckpointMetadata,
};

/** The structural checks moved to core (one validator for every reader); kept here for importers of this package. */
export { checkMetadataStructure } from '@flowstate/core';

const V1_WRITER: SavepointFormatWriter = { version: 1, writeMetadata: serializeCheckpointMetadata };

/** version -> reader, for every released version. */
export const FORMAT_READERS: ReadonlyMap<number, SavepointFormatReader> = new Map([[1, V1_READER]]);
/** version -> writer; only the latest version is written. */
export const FORMAT_WRITERS: ReadonlyMap<number, SavepointFormatWriter> = new Map([[LATEST_FORMAT_VERSION, V1_WRITER]]);

/** The fixed 12-byte prefix (magic, version, flags, body length) plus the trailing CRC32C. */
const FRAME_BYTES = 16;

/** Reads the format version from `_metadata` bytes without decoding the body. */
export function peekFormatVersion(bytes: Uint8Array, file: string): number {
  if (bytes.length < FRAME_BYTES) {
    throw new CorruptCheckpointError(file, `file has ${bytes.length} bytes, fewer than the ${FRAME_BYTES}-byte metadata frame (truncated?)`, undefined, bytes.length);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  if (magic !== METADATA_MAGIC) {
    throw new CorruptCheckpointError(file, `bad magic 0x${magic.toString(16).padStart(8, '0')}, expected 0x${METADATA_MAGIC.toString(16)} ("FSMD"): not flowstate savepoint metadata`, undefined, 0);
  }
  return view.getUint16(4);
}

export function formatReaderFor(version: number, file: string): SavepointFormatReader {
  const r = FORMAT_READERS.get(version);
  if (r === undefined) throw new UnknownFormatVersionError('savepoint metadata', version, [...FORMAT_READERS.keys()], file);
  return r;
}

export function formatWriterFor(version: number, file?: string): SavepointFormatWriter {
  const w = FORMAT_WRITERS.get(version);
  if (w === undefined) throw new UnknownFormatVersionError('savepoint writer target', version, [...FORMAT_WRITERS.keys()], file);
  return w;
}

/** Dispatches on the version and returns the decoded, structurally checked metadata. */
export function decodeSavepointMetadata(bytes: Uint8Array, file: string): { version: number; metadata: CheckpointMetadata } {
  const version = peekFormatVersion(bytes, file);
  return { version, metadata: formatReaderFor(version, file).readMetadata(bytes, file) };
}
