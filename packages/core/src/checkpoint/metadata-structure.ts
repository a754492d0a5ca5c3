import { CorruptCheckpointError, PathEscapeError } from '../errors.js';
import { UPPER_BOUND_MAX_PARALLELISM } from '../keygroups/key-group-assignment.js';
import { confinePath } from '../storage/paths.js';
import type { StreamStateHandle } from '../storage/handles.js';
import type { CheckpointMetadata } from './metadata-types.js';

/**
 * The structural checks of `_metadata`, the one validator every reader runs (runtime restore,
 * CompletedCheckpointStore, garbage collection, savepoint tools, CLI) through
 * deserializeCheckpointMetadata. The MessagePack body is untrusted input even behind a valid
 * CRC32C, so nothing is indexed, iterated or compared before its shape is checked here: later code
 * may build key-group ranges, index subtasks and repartition offsets without crashing.
 *
 * Handle types other than 'key-groups' are native snapshots of a backend (e.g. RocksDB's
 * incremental handles): their common fields (type, keyGroupRange, stateSize) and every stream
 * handle nested in them are checked here; the backend checks the rest of its own handle.
 */

/** Reports a malformed field; `where` is a path into the metadata like `operators[0].subtasks[1]`. */
export type MalformedField = (where: string, what: string) => never;

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}
const isUint = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isU32 = (v: unknown): v is number => isUint(v) && (v as number) <= 0xffffffff;

/** A reporter that throws CorruptCheckpointError naming `file` and the field of `subject`. */
export function malformedField(file: string, subject = 'metadata', checkpointId?: number): MalformedField {
  return (where, what) => {
    throw new CorruptCheckpointError(file, `${subject} is malformed at ${where}: ${what}`, checkpointId);
  };
}

/**
 * A handle's name in errors once its structure was checked: the full path or URI when the reader
 * can tell it (see StateHandleReader.describeHandle), so every error names a file the same way.
 */
export function readerHandleName(reader: { describeHandle?(h: StreamStateHandle): string }, h: { stream: StreamStateHandle }): string {
  return reader.describeHandle?.(h.stream) ?? untrustedHandleName(h);
}

/** A name for a handle in errors that never trusts the handle's shape. */
export function untrustedHandleName(h: unknown): string {
  const stream = isObj(h) ? h.stream : undefined;
  if (isObj(stream) && typeof stream.path === 'string') return stream.path;
  if (isObj(stream) && typeof stream.name === 'string') return `inline:${stream.name}`;
  return '<state handle>';
}

/**
 * Checks a stream handle (file or inline bytes) and returns the size of its stream. File paths
 * must be canonical and confined to the root (PathEscapeError otherwise) and never name a
 * `_metadata` file.
 */
export function checkStreamHandleStructure(h: unknown, where: string, bad: MalformedField, file: string): number {
  if (!isObj(h)) bad(where, 'expected a stream handle');
  if (h.type === 'file') {
    if (typeof h.path !== 'string') bad(`${where}.path`, 'expected a string');
    let canonical: string;
    try {
      canonical = confinePath(h.path);
    } catch (e) {
      if (e instanceof PathEscapeError) throw new PathEscapeError(h.path, `${e.message.replace(/^path '.*' is not allowed: /s, '')} (referenced by '${file}' at ${where}.path)`);
      throw e;
    }
    if (canonical !== h.path || canonical === '' || canonical.split('/').pop() === '_metadata') bad(`${where}.path`, `'${h.path}' is not a canonical state file path`);
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

function checkKeyGroupRange(r: unknown, maxParallelism: number, where: string, bad: MalformedField): { start: number; end: number } {
  if (!isObj(r) || !isUint(r.start) || !isUint(r.end)) bad(where, 'expected {start, end} integers');
  if (r.start > r.end || r.end >= maxParallelism) bad(where, `[${r.start}, ${r.end}] is not inside [0, ${maxParallelism - 1}]`);
  return { start: r.start, end: r.end };
}

function checkKeyGroupsHandle(h: Record<string, unknown>, maxParallelism: number, where: string, bad: MalformedField, file: string): void {
  const r = checkKeyGroupRange(h.keyGroupRange, maxParallelism, `${where}.keyGroupRange`, bad);
  const size = checkStreamHandleStructure(h.stream, `${where}.stream`, bad, file);
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

/** Every stream handle nested in a native handle (any map whose type is 'file' or 'bytes'). */
function checkNestedStreams(v: unknown, where: string, bad: MalformedField, file: string, depth: number): void {
  if (depth > 16) bad(where, 'nested too deeply');
  if (Array.isArray(v)) {
    v.forEach((x, i) => checkNestedStreams(x, `${where}[${i}]`, bad, file, depth + 1));
    return;
  }
  if (!isObj(v)) return;
  if (v.type === 'file' || v.type === 'bytes') {
    checkStreamHandleStructure(v, where, bad, file);
    return;
  }
  for (const [k, x] of Object.entries(v)) checkNestedStreams(x, `${where}.${k}`, bad, file, depth + 1);
}

/** Checks a keyed state handle of an operator with `maxParallelism` key groups. */
export function checkKeyedStateHandleStructure(h: unknown, maxParallelism: number, where: string, bad: MalformedField, file: string): void {
  if (!isObj(h) || typeof h.type !== 'string' || h.type === '') bad(where, 'expected a keyed state handle');
  if (!isUint(h.stateSize)) bad(`${where}.stateSize`, 'expected a non-negative integer');
  if (h.type === 'key-groups') {
    checkKeyGroupsHandle(h, maxParallelism, where, bad, file);
    return;
  }
  checkKeyGroupRange(h.keyGroupRange, maxParallelism, `${where}.keyGroupRange`, bad);
  for (const [k, x] of Object.entries(h)) if (k !== 'keyGroupRange') checkNestedStreams(x, `${where}.${k}`, bad, file, 0);
}

const MODES = new Set(['SPLIT_DISTRIBUTE', 'UNION', 'BROADCAST']);

/** Checks an operator state handle; `modes` collects each state's mode to check it is the same everywhere. */
export function checkOperatorStateHandleStructure(h: unknown, where: string, bad: MalformedField, file: string, modes: Map<string, string> = new Map()): void {
  if (!isObj(h) || h.type !== 'operator') bad(where, "expected an operator state handle (type 'operator')");
  const size = checkStreamHandleStructure(h.stream, `${where}.stream`, bad, file);
  if (!isUint(h.stateSize)) bad(`${where}.stateSize`, 'expected a non-negative integer');
  if (!isObj(h.states)) bad(`${where}.states`, 'expected a map of state name to {mode, offsets}');
  for (const [name, e] of Object.entries(h.states)) {
    const w = `${where}.states[${JSON.stringify(name)}]`;
    if (!isObj(e) || typeof e.mode !== 'string' || !MODES.has(e.mode)) bad(`${w}.mode`, 'expected SPLIT_DISTRIBUTE, UNION or BROADCAST');
    const seen = modes.get(name);
    if (seen !== undefined && seen !== e.mode) bad(`${w}.mode`, `operator state '${name}' is ${e.mode} here and ${seen} in another handle`);
    modes.set(name, e.mode);
    if (!Array.isArray(e.offsets)) bad(`${w}.offsets`, 'expected an array');
    for (const o of e.offsets as unknown[]) if (!isUint(o) || o >= size) bad(`${w}.offsets`, `offset ${String(o)} is outside the ${size}-byte stream`);
  }
}

function checkSubtask(st: unknown, op: { parallelism: number; maxParallelism: number }, seen: Set<number>, modes: Map<string, string>, ws: string, bad: MalformedField, file: string): void {
  if (!isObj(st)) bad(ws, 'expected a map');
  if (!isUint(st.subtaskIndex) || st.subtaskIndex >= op.parallelism || seen.has(st.subtaskIndex)) {
    bad(`${ws}.subtaskIndex`, `expected a unique index in [0, ${op.parallelism})`);
  }
  seen.add(st.subtaskIndex);
  if (!Array.isArray(st.keyed)) bad(`${ws}.keyed`, 'expected an array');
  if (!Array.isArray(st.operator)) bad(`${ws}.operator`, 'expected an array');
  (st.keyed as unknown[]).forEach((h, k) => checkKeyedStateHandleStructure(h, op.maxParallelism, `${ws}.keyed[${k}]`, bad, file));
  (st.operator as unknown[]).forEach((h, k) => checkOperatorStateHandleStructure(h, `${ws}.operator[${k}]`, bad, file, modes));
  if (st.channelState !== undefined) {
    if (!Array.isArray(st.channelState)) bad(`${ws}.channelState`, 'expected an array of stream handles');
    (st.channelState as unknown[]).forEach((h, k) => checkStreamHandleStructure(h, `${ws}.channelState[${k}]`, bad, file));
  }
  if (st.finished !== undefined && typeof st.finished !== 'boolean') bad(`${ws}.finished`, 'expected a boolean');
  // A subtask that had finished its input drained every channel: in-flight records next to it
  // would be replayed into a subtask that does not process input any more.
  if (st.finished === true && Array.isArray(st.channelState) && st.channelState.length > 0) bad(`${ws}.channelState`, 'a finished subtask has no in-flight records');
}

function checkOperator(op: unknown, uids: Set<string>, w: string, bad: MalformedField, file: string): void {
  if (!isObj(op)) bad(w, 'expected a map');
  if (typeof op.uid !== 'string' || op.uid === '') bad(`${w}.uid`, 'expected a non-empty string');
  if (uids.has(op.uid)) bad(`${w}.uid`, `duplicate operator uid '${op.uid}'`);
  uids.add(op.uid);
  const maxParallelism = op.maxParallelism;
  if (!isUint(maxParallelism) || maxParallelism < 1 || maxParallelism > UPPER_BOUND_MAX_PARALLELISM) bad(`${w}.maxParallelism`, `expected an integer in [1, ${UPPER_BOUND_MAX_PARALLELISM}]`);
  if (!isUint(op.parallelism) || op.parallelism < 1 || op.parallelism > maxParallelism) bad(`${w}.parallelism`, `expected an integer in [1, ${maxParallelism}]`);
  if (!Array.isArray(op.subtasks) || op.subtasks.length > op.parallelism) bad(`${w}.subtasks`, `expected an array of at most ${op.parallelism} subtasks`);
  const seen = new Set<number>();
  const modes = new Map<string, string>();
  const shape = { parallelism: op.parallelism, maxParallelism };
  (op.subtasks as unknown[]).forEach((st, j) => checkSubtask(st, shape, seen, modes, `${w}.subtasks[${j}]`, bad, file));
}

/**
 * Throws CorruptCheckpointError (or PathEscapeError for a path leaving the root) naming `file`
 * and the offending field, unless `m` has the shape of CheckpointMetadata with consistent
 * parallelism, key-group ranges, offsets and checksums (docs/savepoint-format.md §6.3).
 */
export function checkMetadataStructure(m: unknown, file: string): asserts m is CheckpointMetadata {
  const bad: MalformedField = malformedField(file);
  if (!isObj(m)) bad('(root)', 'expected a map');
  if (!isUint(m.checkpointId)) bad('checkpointId', 'expected a non-negative integer');
  if (m.kind !== 'CHECKPOINT' && m.kind !== 'SAVEPOINT') bad('kind', "expected 'CHECKPOINT' or 'SAVEPOINT'");
  if (!Number.isSafeInteger(m.timestamp)) bad('timestamp', 'expected an integer');
  if (m.properties !== undefined) {
    if (!isObj(m.properties)) bad('properties', 'expected a map');
    for (const [k, v] of Object.entries(m.properties)) {
      if (!['string', 'number', 'boolean'].includes(typeof v)) bad(`properties.${k}`, 'expected a string, number or boolean');
    }
  }
  if (!Array.isArray(m.operators)) bad('operators', 'expected an array');
  const uids = new Set<string>();
  (m.operators as unknown[]).forEach((op, i) => checkOperator(op, uids, `operators[${i}]`, bad, file));
}
