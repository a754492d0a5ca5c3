import {
  confinePath,
  CorruptCheckpointError,
  deserializeCheckpointMetadata,
  METADATA_MAGIC,
  PathEscapeError,
  serializeCheckpointMetadata,
  UnknownFormatVersionError,
  UPPER_BOUND_MAX_PARALLELISM,
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
  readMetadata(bytes, file) {
    const m = deserializeCheckpointMetadata(bytes, file);
    checkMetadataStructure(m, file);
    return m;
  },
};

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

// ---- structural checks ------------------------------------------------------------------------
// Core checks the frame and CRC; everything inside the MessagePack body is untrusted until it is
// checked here, so that later code can index arrays and build key-group ranges without crashing.

type Bad = (where: string, what: string) => never;

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}
const isUint = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isU32 = (v: unknown): v is number => isUint(v) && (v as number) <= 0xffffffff;

function checkStream(h: unknown, where: string, bad: Bad, file: string): number {
  if (!isObj(h)) bad(where, 'expected a stream handle');
  if (h.type === 'file') {
    if (typeof h.path !== 'string') bad(`${where}.path`, 'expected a string');
    let canonical: string;
    try {
      canonical = confinePath(h.path);
    } catch (e) {
      if (e instanceof PathEscapeError) throw new PathEscapeError(h.path, `${e.message.replace(/^path '.*' is not allowed: /, '')} (referenced by '${file}' at ${where}.path)`);
      throw e;
    }
    if (canonical !== h.path || canonical === '' || canonical === '_metadata') bad(`${where}.path`, `'${h.path}' is not a canonical state file path`);
    if (!isUint(h.size)) bad(`${where}.size`, 'expected a non-negative integer');
    if (!isU32(h.checksum)) bad(`${where}.checksum`, 'expected a u32');
    return h.size;
  }
  if (h.type === 'bytes') {
    if (typeof h.name !== 'string') bad(`${where}.name`, 'expected a string');
    if (!(h.data instanceof Uint8Array)) bad(`${where}.data`, 'expected binary data');
    if (h.size !== h.data.length) bad(`${where}.size`, `${String(h.size)} does not match the ${h.data.length} inline bytes`);
    if (!isU32(h.checksum)) bad(`${where}.checksum`, 'expected a u32');
    return h.data.length;
  }
  return bad(`${where}.type`, `unknown stream handle type '${String(h.type)}'`);
}

function checkKeyGroupsHandle(h: Record<string, unknown>, maxParallelism: number, where: string, bad: Bad, file: string): void {
  const r = h.keyGroupRange;
  if (!isObj(r) || !isUint(r.start) || !isUint(r.end)) bad(`${where}.keyGroupRange`, 'expected {start, end} integers');
  if (r.start > r.end || r.end >= maxParallelism) bad(`${where}.keyGroupRange`, `[${r.start}, ${r.end}] is not inside [0, ${maxParallelism - 1}]`);
  const size = checkStream(h.stream, `${where}.stream`, bad, file);
  if (!isUint(h.stateSize)) bad(`${where}.stateSize`, 'expected a non-negative integer');
  if (!isUint(h.headerLength) || h.headerLength > size) bad(`${where}.headerLength`, `expected an integer in [0, ${size}]`);
  if (!isU32(h.headerChecksum)) bad(`${where}.headerChecksum`, 'expected a u32');
  const n = r.end - r.start + 1;
  const offs = h.keyGroupOffsets;
  const sums = h.keyGroupChecksums;
  if (!Array.isArray(offs) || offs.length !== n + 1) bad(`${where}.keyGroupOffsets`, `expected ${n + 1} offsets`);
  if (!Array.isArray(sums) || sums.length !== n) bad(`${where}.keyGroupChecksums`, `expected ${n} checksums`);
  let prev = h.headerLength;
  for (let i = 0; i <= n; i++) {
    const o: unknown = offs[i];
    if (!isUint(o) || o < prev || o > size) bad(`${where}.keyGroupOffsets[${i}]`, `expected a non-decreasing offset in [${prev}, ${size}]`);
    prev = o;
  }
  if (offs[0] !== h.headerLength) bad(`${where}.keyGroupOffsets[0]`, 'must equal headerLength');
  if (offs[n] !== size) bad(`${where}.keyGroupOffsets[${n}]`, `must equal the stream size ${size}`);
  for (let i = 0; i < n; i++) if (!isU32(sums[i])) bad(`${where}.keyGroupChecksums[${i}]`, 'expected a u32');
}

const MODES = new Set(['SPLIT_DISTRIBUTE', 'UNION', 'BROADCAST']);

function checkOperatorHandle(h: unknown, where: string, bad: Bad, file: string): void {
  if (!isObj(h) || h.type !== 'operator') bad(where, "expected an operator state handle (type 'operator')");
  const size = checkStream(h.stream, `${where}.stream`, bad, file);
  if (!isUint(h.stateSize)) bad(`${where}.stateSize`, 'expected a non-negative integer');
  if (!isObj(h.states)) bad(`${where}.states`, 'expected a map of state name to {mode, offsets}');
  for (const [name, e] of Object.entries(h.states)) {
    const w = `${where}.states[${JSON.stringify(name)}]`;
    if (!isObj(e) || typeof e.mode !== 'string' || !MODES.has(e.mode)) bad(`${w}.mode`, 'expected SPLIT_DISTRIBUTE, UNION or BROADCAST');
    if (!Array.isArray(e.offsets)) bad(`${w}.offsets`, 'expected an array');
    for (const o of e.offsets as unknown[]) if (!isUint(o) || o >= size) bad(`${w}.offsets`, `offset ${String(o)} is outside the ${size}-byte stream`);
  }
}

/** Throws CorruptCheckpointError (or PathEscapeError) naming `file` and the offending field. */
export function checkMetadataStructure(m: CheckpointMetadata, file: string): void {
  const bad: Bad = (where, what) => {
    throw new CorruptCheckpointError(file, `metadata is malformed at ${where}: ${what}`);
  };
  const root = m as unknown as Record<string, unknown>;
  if (!isObj(root)) bad('(root)', 'expected a map');
  if (!isUint(root.checkpointId)) bad('checkpointId', 'expected a non-negative integer');
  if (root.kind !== 'CHECKPOINT' && root.kind !== 'SAVEPOINT') bad('kind', "expected 'CHECKPOINT' or 'SAVEPOINT'");
  if (!Number.isSafeInteger(root.timestamp)) bad('timestamp', 'expected an integer');
  if (root.properties !== undefined) {
    if (!isObj(root.properties)) bad('properties', 'expected a map');
    for (const [k, v] of Object.entries(root.properties)) {
      if (!['string', 'number', 'boolean'].includes(typeof v)) bad(`properties.${k}`, 'expected a string, number or boolean');
    }
  }
  if (!Array.isArray(root.operators)) bad('operators', 'expected an array');
  const uids = new Set<string>();
  (root.operators as unknown[]).forEach((op, i) => {
    const w = `operators[${i}]`;
    if (!isObj(op)) bad(w, 'expected a map');
    if (typeof op.uid !== 'string' || op.uid === '') bad(`${w}.uid`, 'expected a non-empty string');
    if (uids.has(op.uid)) bad(`${w}.uid`, `duplicate operator uid '${op.uid}'`);
    uids.add(op.uid);
    const maxP = op.maxParallelism;
    if (!isUint(maxP) || maxP < 1 || maxP > UPPER_BOUND_MAX_PARALLELISM) bad(`${w}.maxParallelism`, `expected an integer in [1, ${UPPER_BOUND_MAX_PARALLELISM}]`);
    if (!isUint(op.parallelism) || op.parallelism < 1 || op.parallelism > maxP) bad(`${w}.parallelism`, `expected an integer in [1, ${maxP}]`);
    if (!Array.isArray(op.subtasks) || op.subtasks.length > op.parallelism) bad(`${w}.subtasks`, `expected an array of at most ${op.parallelism} subtasks`);
    const seen = new Set<number>();
    (op.subtasks as unknown[]).forEach((st, j) => {
      const ws = `${w}.subtasks[${j}]`;
      if (!isObj(st)) bad(ws, 'expected a map');
      if (!isUint(st.subtaskIndex) || st.subtaskIndex >= (op.parallelism as number) || seen.has(st.subtaskIndex)) {
        bad(`${ws}.subtaskIndex`, `expected a unique index in [0, ${String(op.parallelism)})`);
      }
      seen.add(st.subtaskIndex);
      if (!Array.isArray(st.keyed)) bad(`${ws}.keyed`, 'expected an array');
      if (!Array.isArray(st.operator)) bad(`${ws}.operator`, 'expected an array');
      (st.keyed as unknown[]).forEach((h, k) => {
        const wk = `${ws}.keyed[${k}]`;
        if (!isObj(h) || typeof h.type !== 'string') bad(wk, 'expected a keyed state handle');
        // Other handle types are native snapshots of a backend (RocksDB, later); they are
        // structurally opaque to this package and rejected where their content is needed.
        if (h.type === 'key-groups') checkKeyGroupsHandle(h, maxP, wk, bad, file);
      });
      (st.operator as unknown[]).forEach((h, k) => checkOperatorHandle(h, `${ws}.operator[${k}]`, bad, file));
    });
  });
}
