import { assert } from '../assert.js';
import { crc32c, formatChecksum } from '../checksum.js';
import { CorruptCheckpointError, CorruptDataError, FlowstateError, UnknownFormatVersionError } from '../errors.js';
import { DataInputDeserializer } from '../io/data-input.js';
import { DataOutputSerializer } from '../io/data-output.js';
import { checkKeyedStateHandleStructure, malformedField, untrustedHandleName } from '../checkpoint/metadata-structure.js';
import { UPPER_BOUND_MAX_PARALLELISM } from '../keygroups/key-group-assignment.js';
import type { KeyGroupRange } from '../keygroups/key-group-range.js';
import { readSerializerSnapshot, writeSerializerSnapshot, type SerializerSnapshotRegistry } from '../serialization/snapshot-registry.js';
import type { TypeSerializerSnapshot } from '../serialization/type-serializer.js';
import { STATE_KIND_CODES, stateKindFromCode, type StateKind } from '../state/descriptors.js';
import { streamHandleName, type KeyGroupsStateHandle, type StreamStateHandle } from '../storage/handles.js';
import type { StateHandleReader } from '../storage/spi.js';

/** "FSKS": flowstate keyed state stream. */
export const KEYED_STATE_MAGIC = 0x46534b53;
export const KEYED_STATE_FORMAT_VERSION = 1;
export const SUPPORTED_KEYED_STATE_VERSIONS: readonly number[] = [1];

/** Per-state meta information stored in the stream header (Flink's StateMetaInfoSnapshot). */
export interface KeyedStateMetaInfo {
  readonly name: string;
  readonly kind: StateKind;
  readonly namespaceSerializerSnapshot: TypeSerializerSnapshot<unknown>;
  readonly stateSerializerSnapshot: TypeSerializerSnapshot<unknown>;
}

export interface KeyedStateStreamHeader {
  readonly version: number;
  readonly keySerializerSnapshot: TypeSerializerSnapshot<unknown>;
  readonly states: readonly KeyedStateMetaInfo[];
  readonly startKeyGroup: number;
  readonly numberOfKeyGroups: number;
}

/**
 * Encodes the canonical keyed state stream synchronously: a header, then one block per key group,
 * in ascending order with none skipped. Encoding is synchronous so that a key group is serialized
 * without interleaved state access; the caller writes each returned block to the output stream.
 *
 * Block: u32 key group id, records, varuint 0. Record: varuint (state index + 1), key and namespace
 * bytes (length-prefixed), then for MAP states the user key (length-prefixed), a presence byte and
 * the user value (length-prefixed, if present), for all other kinds the value (length-prefixed).
 */
export class KeyedStateStreamEncoder {
  private readonly block = new DataOutputSerializer(64 * 1024);
  private currentKeyGroup: number;
  private open = false;
  private position = 0;
  private readonly offsets: number[] = [];
  private readonly checksums: number[] = [];
  private headerLength = -1;
  private headerChecksum = 0;

  constructor(
    private readonly keyGroupRange: KeyGroupRange,
    private readonly keySerializerSnapshot: TypeSerializerSnapshot<unknown>,
    private readonly states: readonly KeyedStateMetaInfo[],
  ) {
    this.currentKeyGroup = keyGroupRange.startKeyGroup - 1;
  }

  encodeHeader(): Uint8Array {
    assert(this.headerLength < 0, 'header is encoded once, first');
    const h = new DataOutputSerializer(1024);
    h.writeUint32(KEYED_STATE_MAGIC);
    h.writeUint16(KEYED_STATE_FORMAT_VERSION);
    h.writeUint16(0); // flags: none defined in version 1
    h.writeUint32(this.keyGroupRange.startKeyGroup);
    h.writeUint32(this.keyGroupRange.numberOfKeyGroups);
    writeSerializerSnapshot(h, this.keySerializerSnapshot);
    h.writeVarUint(this.states.length);
    for (const s of this.states) {
      h.writeString(s.name);
      h.writeUint8(STATE_KIND_CODES[s.kind]);
      writeSerializerSnapshot(h, s.namespaceSerializerSnapshot);
      writeSerializerSnapshot(h, s.stateSerializerSnapshot);
    }
    const bytes = h.toBytes();
    this.headerLength = bytes.length;
    this.headerChecksum = crc32c(bytes);
    this.position = bytes.length;
    return bytes;
  }

  /** Starts the block of the next key group. */
  beginKeyGroup(keyGroup: number): void {
    assert(this.headerLength >= 0, 'header was encoded');
    assert(!this.open, 'previous key group block was ended');
    assert(keyGroup === this.currentKeyGroup + 1, `key group ${keyGroup} follows ${this.currentKeyGroup}`);
    assert(this.keyGroupRange.contains(keyGroup), `key group ${keyGroup} in ${this.keyGroupRange}`);
    this.currentKeyGroup = keyGroup;
    this.open = true;
    this.block.clear();
    this.block.writeUint32(keyGroup);
  }

  writeEntry(stateIndex: number, key: Uint8Array, namespace: Uint8Array, value: Uint8Array): void {
    const b = this.block;
    b.writeVarUint(stateIndex + 1);
    b.writeLengthPrefixed(key);
    b.writeLengthPrefixed(namespace);
    b.writeLengthPrefixed(value);
  }

  writeMapEntry(stateIndex: number, key: Uint8Array, namespace: Uint8Array, userKey: Uint8Array, userValue: Uint8Array | null): void {
    const b = this.block;
    b.writeVarUint(stateIndex + 1);
    b.writeLengthPrefixed(key);
    b.writeLengthPrefixed(namespace);
    b.writeLengthPrefixed(userKey);
    if (userValue === null) {
      b.writeUint8(0);
    } else {
      b.writeUint8(1);
      b.writeLengthPrefixed(userValue);
    }
  }

  /** Ends the current block and returns its bytes, to be written next. */
  endKeyGroup(): Uint8Array {
    assert(this.open, 'a key group block is open');
    this.block.writeVarUint(0);
    const bytes = this.block.toBytes();
    this.offsets.push(this.position);
    this.checksums.push(crc32c(bytes));
    this.position += bytes.length;
    this.open = false;
    return bytes;
  }

  /** The handle, once every block was written to `stream` in the order they were returned. */
  finish(stream: StreamStateHandle): KeyGroupsStateHandle {
    assert(this.currentKeyGroup === this.keyGroupRange.endKeyGroup, 'every key group in the range was encoded');
    assert(!this.open, 'last key group block was ended');
    assert(stream.size === this.position, `stream holds ${stream.size} bytes, encoder produced ${this.position}`);
    return {
      type: 'key-groups',
      keyGroupRange: this.keyGroupRange.toJSON(),
      stateSize: stream.size,
      stream,
      headerLength: this.headerLength,
      headerChecksum: this.headerChecksum,
      keyGroupOffsets: [...this.offsets, this.position],
      keyGroupChecksums: [...this.checksums],
    };
  }
}

/** One record read back from a key group block, as raw bytes. */
export interface KeyedStateRecord {
  readonly stateIndex: number;
  readonly key: Uint8Array;
  readonly namespace: Uint8Array;
  /** The value (non-MAP states) or the user value (MAP; null when the user value is null). */
  readonly value: Uint8Array | null;
  /** Only for MAP states. */
  readonly userKey: Uint8Array | undefined;
}

function wrap(e: unknown, file: string, checkpointId: number | undefined): never {
  if (e instanceof CorruptDataError) throw new CorruptCheckpointError(file, e.detail, checkpointId, e.offset, { cause: e });
  if (e instanceof UnknownFormatVersionError && e.file === undefined) {
    throw new UnknownFormatVersionError(e.what, e.version, e.supported, file);
  }
  if (e instanceof FlowstateError) throw e;
  throw new CorruptCheckpointError(file, `unexpected failure while decoding: ${(e as Error).message}`, checkpointId, undefined, { cause: e });
}

function verifyBlock(bytes: Uint8Array, expected: number, file: string, offset: number, what: string, checkpointId?: number): void {
  const actual = crc32c(bytes);
  if (actual !== expected) {
    throw new CorruptCheckpointError(file, `${what} CRC32C is ${formatChecksum(actual)}, expected ${formatChecksum(expected)}`, checkpointId, offset);
  }
}

export async function readKeyedStateHeader(
  reader: StateHandleReader,
  handle: KeyGroupsStateHandle,
  registry: SerializerSnapshotRegistry,
  checkpointId?: number,
): Promise<KeyedStateStreamHeader> {
  // Backends get handles from any caller, not only from checked metadata: the same checks again.
  const file = untrustedHandleName(handle);
  checkKeyedStateHandleStructure(handle, UPPER_BOUND_MAX_PARALLELISM, 'handle', malformedField(file, 'keyed state handle', checkpointId), file);
  const bytes = await reader.readRange(handle.stream, 0, handle.headerLength, checkpointId);
  verifyBlock(bytes, handle.headerChecksum, file, 0, 'header', checkpointId);
  try {
    return decodeHeader(new DataInputDeserializer(bytes), registry);
  } catch (e) {
    wrap(e, file, checkpointId);
  }
}

export function decodeHeader(input: DataInputDeserializer, registry: SerializerSnapshotRegistry): KeyedStateStreamHeader {
  const magic = input.readUint32();
  if (magic !== KEYED_STATE_MAGIC) input.fail(`bad magic 0x${magic.toString(16)}, expected 0x${KEYED_STATE_MAGIC.toString(16)} (not a keyed state stream)`);
  const version = input.readUint16();
  if (!SUPPORTED_KEYED_STATE_VERSIONS.includes(version)) {
    throw new UnknownFormatVersionError('keyed state stream', version, SUPPORTED_KEYED_STATE_VERSIONS);
  }
  const flags = input.readUint16();
  if (flags !== 0) input.fail(`unknown flags 0x${flags.toString(16)}`);
  const startKeyGroup = input.readUint32();
  const numberOfKeyGroups = input.readUint32();
  const keySerializerSnapshot = readSerializerSnapshot(input, registry);
  const n = input.readLength('state count', 4);
  const states: KeyedStateMetaInfo[] = [];
  for (let i = 0; i < n; i++) {
    const name = input.readString();
    const code = input.readUint8();
    const kind = stateKindFromCode(code);
    if (kind === undefined) input.fail(`unknown state kind code ${code} for state '${name}'`);
    const namespaceSerializerSnapshot = readSerializerSnapshot(input, registry);
    const stateSerializerSnapshot = readSerializerSnapshot(input, registry);
    states.push({ name, kind, namespaceSerializerSnapshot, stateSerializerSnapshot });
  }
  if (input.remaining !== 0) input.fail(`${input.remaining} trailing bytes after the header`);
  return { version, keySerializerSnapshot, states, startKeyGroup, numberOfKeyGroups };
}

/**
 * Reads the key groups of `handle` that lie in `range`, verifying each block's CRC32C before
 * decoding it, and calls `visit` for every record. Key groups outside `range` are never read.
 */
export async function readKeyGroups(
  reader: StateHandleReader,
  handle: KeyGroupsStateHandle,
  header: KeyedStateStreamHeader,
  range: KeyGroupRange,
  visit: (keyGroup: number, record: KeyedStateRecord) => void,
  checkpointId?: number,
): Promise<void> {
  const file = streamHandleName(handle.stream);
  const start = handle.keyGroupRange.start;
  const from = Math.max(range.startKeyGroup, start);
  const to = Math.min(range.endKeyGroup, handle.keyGroupRange.end);
  for (let g = from; g <= to; g++) {
    const i = g - start;
    const offset = handle.keyGroupOffsets[i]!;
    const length = handle.keyGroupOffsets[i + 1]! - offset;
    const bytes = await reader.readRange(handle.stream, offset, length, checkpointId);
    verifyBlock(bytes, handle.keyGroupChecksums[i]!, file, offset, `key group ${g} block`, checkpointId);
    try {
      decodeBlock(new DataInputDeserializer(bytes, offset), g, header, visit);
    } catch (e) {
      wrap(e, file, checkpointId);
    }
  }
}

export function decodeBlock(
  input: DataInputDeserializer,
  expectedKeyGroup: number,
  header: KeyedStateStreamHeader,
  visit: (keyGroup: number, record: KeyedStateRecord) => void,
): void {
  const g = input.readUint32();
  if (g !== expectedKeyGroup) input.fail(`block holds key group ${g}, expected ${expectedKeyGroup}`);
  for (;;) {
    const ref = input.readVarUint();
    if (ref === 0) break;
    const stateIndex = ref - 1;
    const meta = header.states[stateIndex];
    if (meta === undefined) input.fail(`record refers to state #${stateIndex}, the header has ${header.states.length}`);
    const key = input.readLengthPrefixed();
    const namespace = input.readLengthPrefixed();
    if (meta.kind === 'MAP') {
      const userKey = input.readLengthPrefixed();
      const value = input.readBoolean() ? input.readLengthPrefixed() : null;
      visit(g, { stateIndex, key, namespace, value, userKey });
    } else {
      visit(g, { stateIndex, key, namespace, value: input.readLengthPrefixed(), userKey: undefined });
    }
  }
  if (input.remaining !== 0) input.fail(`${input.remaining} trailing bytes after key group ${g}`);
}

