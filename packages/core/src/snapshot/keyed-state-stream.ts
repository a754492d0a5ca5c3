import { assert } from '../assert.js';
import { crc32c, crc32cImplementation, crc32cRanges, formatChecksum } from '../checksum.js';
import { checkRestoreNotCancelled, CorruptCheckpointError, CorruptDataError, FlowstateError, UnknownFormatVersionError } from '../errors.js';
import { yieldToEventLoop } from '../event-loop.js';
import { DataInputDeserializer } from '../io/data-input.js';
import { DataOutputSerializer } from '../io/data-output.js';
import { checkKeyedStateHandleStructure, malformedField, readerHandleName, untrustedHandleName } from '../checkpoint/metadata-structure.js';
import { assignRangeToKeyGroup, UPPER_BOUND_MAX_PARALLELISM } from '../keygroups/key-group-assignment.js';
import type { KeyGroupRange } from '../keygroups/key-group-range.js';
import { readSerializerSnapshot, writeSerializerSnapshot, type SerializerSnapshotRegistry } from '../serialization/snapshot-registry.js';
import type { TypeSerializerSnapshot } from '../serialization/type-serializer.js';
import { STATE_KIND_CODES, stateKindFromCode, type SnapshotStateKind } from '../state/descriptors.js';
import { type KeyGroupsStateHandle, type StreamStateHandle } from '../storage/handles.js';
import type { CheckpointStateOutputStream, StateHandleReader } from '../storage/spi.js';
import { giveBackBlockBuffer, takeBlockBuffer } from './block-buffers.js';
import { COALESCED_READ_BYTES, type ReadBufferLender } from './read-buffers.js';
import { BlockField, KeyGroupRecordFields, type KeyedStateRecord } from './key-group-records.js';

export { BlockField, KeyGroupRecordFields, type KeyedStateRecord } from './key-group-records.js';

/** "FSKS": flowstate keyed state stream. */
export const KEYED_STATE_MAGIC = 0x46534b53;
export const KEYED_STATE_FORMAT_VERSION = 1;
export const SUPPORTED_KEYED_STATE_VERSIONS: readonly number[] = [1];

/** Per-state meta information stored in the stream header (Flink's StateMetaInfoSnapshot). */
export interface KeyedStateMetaInfo {
  readonly name: string;
  /**
   * PRIORITY_QUEUE records carry the serialized key of the element (for its key group), an empty
   * namespace and the serialized element as value; the state serializer is the element's.
   */
  readonly kind: SnapshotStateKind;
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
  /**
   * From the idle buffers of finished encoders (see block-buffers.ts), taken by the first
   * beginKeyGroup (an encoder used only for its header, or abandoned before its first block,
   * holds none); given back by finish().
   */
  private block: DataOutputSerializer | undefined;
  private currentKeyGroup: number;
  private open = false;
  private position = 0;
  private readonly offsets: number[] = [];
  private readonly checksums: number[] = [];
  private headerLength = -1;
  private headerChecksum = 0;
  /** Length of the last value serialized in place: the guess for the next one's length prefix. */
  private lastValueLength = 0;

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
    const b = (this.block ??= takeBlockBuffer());
    b.clear();
    b.writeUint32(keyGroup);
  }

  writeEntry(stateIndex: number, key: Uint8Array, namespace: Uint8Array, value: Uint8Array): void {
    const b = this.block!;
    b.writeVarUint(stateIndex + 1);
    b.writeLengthPrefixed(key);
    b.writeLengthPrefixed(namespace);
    b.writeLengthPrefixed(value);
  }

  /** writeEntry with the value serialized straight into the block (no intermediate buffer). */
  writeSerializedEntry<V>(stateIndex: number, key: Uint8Array, namespace: Uint8Array, serializer: { serialize(value: V, out: DataOutputSerializer): void }, value: V): void {
    const b = this.block!;
    b.writeVarUint(stateIndex + 1);
    b.writeLengthPrefixed(key);
    b.writeLengthPrefixed(namespace);
    this.lastValueLength = b.writeSerializedLengthPrefixed(serializer, value, this.lastValueLength);
  }

  writeMapEntry(stateIndex: number, key: Uint8Array, namespace: Uint8Array, userKey: Uint8Array, userValue: Uint8Array | null): void {
    const b = this.block!;
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

  /** Ends the current block and returns a copy of its bytes, to be written next. */
  endKeyGroup(): Uint8Array {
    return this.endBlock().bytes.slice();
  }

  /**
   * Ends the current block and writes it to `out` with its CRC32C (which the stream reuses for
   * its own checksum), without copying it: the block's buffer is reused only after the write resolved.
   */
  async endKeyGroupTo(out: CheckpointStateOutputStream): Promise<void> {
    const { bytes, checksum } = this.endBlock();
    await out.write(bytes, checksum);
  }

  /** The block's bytes as a view, valid until the next beginKeyGroup. */
  private endBlock(): { bytes: Uint8Array; checksum: number } {
    assert(this.open, 'a key group block is open');
    const b = this.block!;
    b.writeVarUint(0);
    const bytes = b.bytesView();
    const checksum = crc32c(bytes);
    this.offsets.push(this.position);
    this.checksums.push(checksum);
    this.position += bytes.length;
    this.open = false;
    return { bytes, checksum };
  }

  /**
   * The next key group's block copied verbatim from a stream with the same header, whose CRC32C
   * the caller verified (a savepoint rewrite that keeps a block as it is). Returns the bytes to write.
   */
  copyKeyGroup(keyGroup: number, bytes: Uint8Array, checksum: number): Uint8Array {
    assert(this.headerLength >= 0, 'header was encoded');
    assert(!this.open, 'previous key group block was ended');
    assert(keyGroup === this.currentKeyGroup + 1, `key group ${keyGroup} follows ${this.currentKeyGroup}`);
    assert(this.keyGroupRange.contains(keyGroup), `key group ${keyGroup} in ${this.keyGroupRange}`);
    this.currentKeyGroup = keyGroup;
    this.offsets.push(this.position);
    this.checksums.push(checksum);
    this.position += bytes.length;
    return bytes;
  }

  /** The handle, once every block was written to `stream` in the order they were returned. */
  finish(stream: StreamStateHandle): KeyGroupsStateHandle {
    assert(this.currentKeyGroup === this.keyGroupRange.endKeyGroup, 'every key group in the range was encoded');
    assert(!this.open, 'last key group block was ended');
    assert(stream.size === this.position, `stream holds ${stream.size} bytes, encoder produced ${this.position}`);
    // Every block was written (the caller wrote each to `stream`, now closed): no view of the buffer is in use.
    if (this.block !== undefined) giveBackBlockBuffer(this.block);
    this.block = undefined;
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

/**
 * Rethrows anything that escaped a decoder as a typed error naming the file: a CorruptDataError
 * becomes a CorruptCheckpointError at its offset, an UnknownFormatVersionError gets the file.
 */
export function wrapDecodeError(e: unknown, file: string, checkpointId?: number, offset?: number): never {
  if (e instanceof CorruptDataError) throw new CorruptCheckpointError(file, e.detail, checkpointId, e.offset, { cause: e });
  if (e instanceof UnknownFormatVersionError && e.file === undefined) {
    throw new UnknownFormatVersionError(e.what, e.version, e.supported, file);
  }
  if (e instanceof FlowstateError) throw e;
  throw new CorruptCheckpointError(file, `unexpected failure while decoding: ${(e as Error).message}`, checkpointId, offset, { cause: e });
}

function verifyBlock(bytes: Uint8Array, expected: number, file: string, offset: number, what: string, checkpointId?: number): void {
  checkBlockChecksum(crc32c(bytes), expected, file, offset, what, checkpointId);
}

function checkBlockChecksum(actual: number, expected: number, file: string, offset: number, what: string, checkpointId?: number): void {
  if (actual !== expected) {
    throw new CorruptCheckpointError(file, `${what} CRC32C is ${formatChecksum(actual)}, expected ${formatChecksum(expected)}`, checkpointId, offset);
  }
}

/** Magic and version before the rest of the header, so that their errors point at their own bytes. */
function checkHeaderPrefix(bytes: Uint8Array, file: string, checkpointId: number | undefined): void {
  if (bytes.length < 8) throw new CorruptCheckpointError(file, `header of ${bytes.length} bytes is shorter than magic and version`, checkpointId, bytes.length);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  if (magic !== KEYED_STATE_MAGIC) {
    throw new CorruptCheckpointError(file, `bad magic 0x${magic.toString(16).padStart(8, '0')}, expected 0x${KEYED_STATE_MAGIC.toString(16)} ("FSKS"): not a keyed state stream`, checkpointId, 0);
  }
  const version = view.getUint16(4);
  if (!SUPPORTED_KEYED_STATE_VERSIONS.includes(version)) throw new UnknownFormatVersionError('keyed state stream', version, SUPPORTED_KEYED_STATE_VERSIONS, file);
}

/**
 * Reads, verifies (handle structure, CRC32C, magic, version) and decodes the header of a keyed
 * stream, and checks that it covers the key groups its handle says.
 */
export async function readKeyedStateHeader(
  reader: StateHandleReader,
  handle: KeyGroupsStateHandle,
  registry: SerializerSnapshotRegistry,
  checkpointId?: number,
): Promise<KeyedStateStreamHeader> {
  // Backends get handles from any caller, not only from checked metadata: the same checks again.
  const untrusted = untrustedHandleName(handle);
  checkKeyedStateHandleStructure(handle, UPPER_BOUND_MAX_PARALLELISM, 'handle', malformedField(untrusted, 'keyed state handle', checkpointId), untrusted);
  const file = readerHandleName(reader, handle);
  const bytes = await reader.readRange(handle.stream, 0, handle.headerLength, checkpointId);
  verifyBlock(bytes, handle.headerChecksum, file, 0, 'header', checkpointId);
  checkHeaderPrefix(bytes, file, checkpointId);
  let header: KeyedStateStreamHeader;
  try {
    header = decodeHeader(new DataInputDeserializer(bytes), registry);
  } catch (e) {
    wrapDecodeError(e, file, checkpointId, 0);
  }
  const { start, end } = handle.keyGroupRange;
  if (header.startKeyGroup !== start || header.numberOfKeyGroups !== end - start + 1) {
    throw new CorruptCheckpointError(file, `header covers key groups [${header.startKeyGroup}, +${header.numberOfKeyGroups}), the handle says [${start}, ${end}]`, checkpointId, 8);
  }
  return header;
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

/** One verified, decoded key-group block: the unit of memory of every streaming reader. */
export interface KeyGroupBlock {
  readonly keyGroup: number;
  /** Byte offset of the block in its stream. */
  readonly offset: number;
  readonly length: number;
  /** The block's bytes, verified against its CRC32C. */
  readonly bytes: Uint8Array;
  /** Where each record's fields lie in `bytes` (no object per record): for readers that decode every field in place. */
  readonly fields: KeyGroupRecordFields;
  /** Records as views into the block's bytes (built from `fields` on first use). */
  readonly records: readonly KeyedStateRecord[];
  /** Stream offset of each record's key, for error messages (built on first use). */
  readonly recordOffsets: readonly number[];
}

/** A decoded block whose record objects are built only for consumers that ask for them. */
class DecodedKeyGroupBlock implements KeyGroupBlock {
  private recordList: KeyedStateRecord[] | undefined;
  private offsetList: number[] | undefined;

  constructor(
    readonly keyGroup: number,
    readonly offset: number,
    readonly bytes: Uint8Array,
    readonly fields: KeyGroupRecordFields,
  ) {}

  get length(): number {
    return this.bytes.length;
  }

  get records(): readonly KeyedStateRecord[] {
    return (this.recordList ??= this.perRecord((j) => this.fields.record(j)));
  }

  get recordOffsets(): readonly number[] {
    return (this.offsetList ??= this.perRecord((j) => this.fields.recordOffset(j)));
  }

  private perRecord<T>(of: (j: number) => T): T[] {
    const list: T[] = [];
    for (let j = 0; j < this.fields.count; j++) list.push(of(j));
    return list;
  }
}

export interface KeyGroupBlockOptions {
  /** Only the key groups of the handle inside this range (default: all of them). */
  readonly range?: { readonly startKeyGroup: number; readonly endKeyGroup: number };
  /** Also check that every key hashes to the key group of its block. */
  readonly maxParallelism?: number;
  readonly checkpointId?: number;
  /**
   * Largest coalesced read (default COALESCED_READ_BYTES): consecutive key groups are read in one
   * request up to this many bytes; a single larger block is read alone.
   */
  readonly maxReadBytes?: number;
  /**
   * Read into buffers from this lender (AlternatingReadBuffers, shared by the handles one
   * consumer reads in turn, or AdoptableReadBuffers) instead of a new buffer per request: a fresh
   * multi-MiB buffer costs a page fault per 4 KiB, the kernel zeroing each page, and an unmap
   * later, about as much as the read itself. Request i + 1 is read into the buffer take() returns
   * while the blocks of request i are consumed, and take() is called for it only once every block
   * of request i - 1 was: a block (its bytes and records) is then valid only until the next block
   * is requested, unless the lender keeps it (AdoptableReadBuffers' holds).
   */
  readonly readBuffers?: ReadBufferLender;
  /**
   * The first request, already started by readFirstKeyGroupRun with the same options: a reader
   * of several handles reads the next handle's first bytes while the last ones of this handle are
   * consumed, instead of waiting for them at every handle boundary.
   */
  readonly firstRead?: Promise<KeyGroupRead>;
  /**
   * Called once the last request is read and no other is in flight: from then on the one other
   * read buffer is free (its blocks were consumed), so the next handle's first request may start.
   */
  readonly onLastRead?: () => void;
  /**
   * Compute each request's CRC32Cs with crc32cRanges (on a libuv pool thread where the CRC32C
   * addon serves; see crc32cImplementation.rangesOnPool) while the blocks of the request before it
   * are consumed, instead of on the main thread as each block is decoded. Pays where the pool is
   * otherwise idle: a 64 MiB savepoint read, in-process A/B, 0.93–0.96 of the time. Not where the
   * pool is busy: a restore that builds SSTs on it (the conversion to native RocksDB) took
   * 1.01–1.03 of the time.
   */
  readonly checksumsOnPool?: boolean;
}

/**
 * The bytes of one read request and, with KeyGroupBlockOptions.checksumsOnPool, the CRC32C of each
 * of its key-group blocks, in order, computed as soon as the bytes arrive (crc32cRanges, on a pool
 * thread where the addon serves): checking them was the largest cost of a savepoint read on the
 * main thread after decoding (issue 16).
 */
export interface KeyGroupRead {
  readonly bytes: Uint8Array;
  /** Absent unless KeyGroupBlockOptions.checksumsOnPool: each block is then checked as it is decoded. */
  readonly checksums?: Uint32Array;
}

/** One read request: the key groups [from, to] of a handle, contiguous in its stream. */
interface KeyGroupRun {
  readonly from: number;
  readonly to: number;
}

/**
 * The key groups [from, to] of a handle split into read requests: the blocks of consecutive key
 * groups are adjacent in the stream, so each request covers as many whole blocks as fit in
 * `maxBytes` (at least one). A remote store then sees one GET per run instead of one per key group.
 */
export function planKeyGroupReads(offsets: readonly number[], start: number, from: number, to: number, maxBytes: number): KeyGroupRun[] {
  const runs: KeyGroupRun[] = [];
  for (let g = from; g <= to; ) {
    const base = offsets[g - start]!;
    let end = g;
    while (end < to && offsets[end + 2 - start]! - base <= maxBytes) end++;
    runs.push({ from: g, to: end });
    g = end + 1;
  }
  return runs;
}

/**
 * With checksumsOnPool and crc32cRanges on a pool thread, how often the blocks of one large read
 * let the event loop run, evenly spaced in its bytes. Their consumer never waits for I/O while a
 * read's blocks last (the generator's steps are microtasks), so without a turn the completion of
 * the read-ahead is only seen when the next read is awaited, and its CRC32Cs are then waited for
 * instead of being computed while these blocks are consumed. Three turns, not one: the read-ahead
 * may complete late (a 64 MiB copied read, in-process A/B against the CRC32Cs on the main thread:
 * one turn 1.05 and 1.05 of the time, three 0.97 and 0.93, seven 0.96 and 0.94). Each turn costs a
 * setImmediate.
 */
const TURNS_PER_READ = 3;
/** Smaller reads take no turns: their read-ahead's CRC32C costs less than the turns. */
const TURN_MIN_READ_BYTES = 1 << 20;

/**
 * The key-group blocks of `handle` (within `options.range`), in ascending order, each read,
 * verified (CRC32C) and decoded before it is yielded. Consecutive blocks are read with one
 * request (see planKeyGroupReads); the next request is read while the blocks of the current one
 * are decoded and consumed, so that I/O and CPU overlap: the reader holds at most two requests'
 * bytes (a lender may keep more for a consumer that holds views, AdoptableReadBuffers).
 * Key groups outside the range are never read. Blocks are views into their request's buffer.
 */
export async function* readKeyGroupBlocks(
  reader: StateHandleReader,
  handle: KeyGroupsStateHandle,
  header: KeyedStateStreamHeader,
  options: KeyGroupBlockOptions = {},
): AsyncGenerator<KeyGroupBlock> {
  const start = handle.keyGroupRange.start;
  const offsets = handle.keyGroupOffsets;
  // A first read started by the caller is ours to settle from here on, even if planning throws.
  let pending = options.firstRead;
  try {
    const { runs, readRun } = keyGroupReads(reader, handle, options);
    const file = readerHandleName(reader, handle);
    if (runs.length > 0) pending ??= readRun(0);
    for (let i = 0; i < runs.length; i++) {
      const run = runs[i]!;
      const { bytes, checksums } = await pending!;
      // With reused buffers, request i + 1 goes into the buffer of request i - 1, whose blocks the
      // consumer is done with: it asked for the next block.
      pending = i + 1 < runs.length ? readRun(i + 1) : undefined;
      // A read-ahead that is never awaited (the consumer stopped early) must not surface as unhandled.
      pending?.catch(() => {});
      if (pending === undefined) options.onLastRead?.();
      // A read in flight: this one's or the next handle's (onLastRead may have started it).
      const readAhead = pending !== undefined || options.onLastRead !== undefined;
      let turns = checksums !== undefined && crc32cImplementation.rangesOnPool && readAhead && bytes.length >= TURN_MIN_READ_BYTES ? TURNS_PER_READ : 0;
      const base = offsets[run.from - start]!;
      for (let g = run.from; g <= run.to; g++) {
        const from = offsets[g - start]! - base;
        if (turns > 0 && from >= (bytes.length * (TURNS_PER_READ + 1 - turns)) / (TURNS_PER_READ + 1)) {
          turns--;
          await yieldToEventLoop();
        }
        const block = bytes.subarray(from, offsets[g + 1 - start]! - base);
        yield decodeKeyGroupBlock(handle, header, g, block, checksums?.[g - run.from] ?? crc32c(block), options, file);
      }
    }
  } finally {
    // A consumer that stopped early may lend the buffers to its next read: none may still be being filled.
    if (options.readBuffers !== undefined) await pending?.catch(() => {});
  }
}

/** The read requests of a handle (within `options.range`) and how to start one. */
function keyGroupReads(reader: StateHandleReader, handle: KeyGroupsStateHandle, options: KeyGroupBlockOptions): { runs: KeyGroupRun[]; readRun: (i: number) => Promise<KeyGroupRead> } {
  const start = handle.keyGroupRange.start;
  const offsets = handle.keyGroupOffsets;
  const from = Math.max(options.range?.startKeyGroup ?? start, start);
  const to = Math.min(options.range?.endKeyGroup ?? handle.keyGroupRange.end, handle.keyGroupRange.end);
  const runs = planKeyGroupReads(offsets, start, from, to, options.maxReadBytes ?? COALESCED_READ_BYTES);
  const readRun = async (i: number): Promise<KeyGroupRead> => {
    const run = runs[i]!;
    const offset = offsets[run.from - start]!;
    const length = offsets[run.to + 1 - start]! - offset;
    const read = await reader.readRange(handle.stream, offset, length, options.checkpointId, options.readBuffers?.take(length));
    // A plain Uint8Array over a storage's Buffer: every record field is a subarray of it, and
    // Buffer's subarray (a species constructor per call) costs several times more.
    const bytes = new Uint8Array(read.buffer, read.byteOffset, read.byteLength);
    // The storages check this themselves; a reader of another's making might not, and the block bounds need it.
    if (bytes.length !== length) {
      throw new CorruptCheckpointError(readerHandleName(reader, handle), `short read: ${bytes.length} of ${length} bytes`, options.checkpointId, offset);
    }
    if (options.checksumsOnPool !== true) return { bytes };
    return { bytes, checksums: await crc32cRanges(bytes, blockBounds(offsets, start, run, offset)) };
  };
  return { runs, readRun };
}

/** Where each block of `run` starts in its request, and where the last one ends. */
function blockBounds(offsets: readonly number[], start: number, run: KeyGroupRun, base: number): Float64Array {
  const bounds = new Float64Array(run.to - run.from + 2);
  for (let g = run.from; g <= run.to + 1; g++) bounds[g - run.from] = offsets[g - start]! - base;
  return bounds;
}

/**
 * Starts the first request readKeyGroupBlocks would make for `handle` with these options (to be
 * passed to it as `firstRead`); undefined when there is nothing to read. Never rejects unhandled.
 */
export function readFirstKeyGroupRun(reader: StateHandleReader, handle: KeyGroupsStateHandle, options: KeyGroupBlockOptions = {}): Promise<KeyGroupRead> | undefined {
  const { runs, readRun } = keyGroupReads(reader, handle, options);
  if (runs.length === 0) return undefined;
  const read = readRun(0);
  read.catch(() => {});
  return read;
}

/** `checksum`: the block's CRC32C (computed with its request, or just now). */
function decodeKeyGroupBlock(handle: KeyGroupsStateHandle, header: KeyedStateStreamHeader, g: number, bytes: Uint8Array, checksum: number, options: KeyGroupBlockOptions, file: string): KeyGroupBlock {
  const i = g - handle.keyGroupRange.start;
  const offset = handle.keyGroupOffsets[i]!;
  checkBlockChecksum(checksum, handle.keyGroupChecksums[i]!, file, offset, `key group ${g} block`, options.checkpointId);
  let fields: KeyGroupRecordFields;
  try {
    fields = KeyGroupRecordFields.parse(bytes, offset, g, header.states);
  } catch (e) {
    wrapDecodeError(e, file, options.checkpointId, offset);
  }
  if (options.maxParallelism !== undefined) checkKeysInKeyGroup(fields, g, header, options.maxParallelism, file, options.checkpointId);
  return new DecodedKeyGroupBlock(g, offset, bytes, fields);
}

function checkKeysInKeyGroup(fields: KeyGroupRecordFields, g: number, header: KeyedStateStreamHeader, maxParallelism: number, file: string, checkpointId: number | undefined): void {
  const bytes = fields.bytes;
  for (let j = 0; j < fields.count; j++) {
    const actual = assignRangeToKeyGroup(bytes, fields.start(j, BlockField.key), fields.end(j, BlockField.key), maxParallelism);
    if (actual !== g) {
      const state = header.states[fields.stateIndex(j)]!.name;
      throw new CorruptCheckpointError(
        file,
        `a key of state '${state}' hashes to key group ${actual} (maxParallelism ${maxParallelism}) but is stored in the block of key group ${g}`,
        checkpointId,
        fields.recordOffset(j),
      );
    }
  }
}

/**
 * Reads the key groups of `handle` that lie in `range` (see readKeyGroupBlocks) and calls `visit`
 * for every record. Key groups outside `range` are never read.
 */
export async function readKeyGroups(
  reader: StateHandleReader,
  handle: KeyGroupsStateHandle,
  header: KeyedStateStreamHeader,
  range: KeyGroupRange,
  visit: (keyGroup: number, record: KeyedStateRecord) => void,
  /**
   * A checkpoint id (named in errors), or options; `signal` cancels between key groups
   * (RestoreCancelledError); `maxParallelism` checks that every key hashes to its block's key group
   * (a CorruptCheckpointError naming the file and the record's offset otherwise); with
   * `readBuffers` the reads go into those (see KeyGroupBlockOptions.readBuffers): a record's
   * fields are then valid only until `visit` returns.
   */
  options: number | { readonly checkpointId?: number; readonly signal?: AbortSignal; readonly operatorIdentifier?: string; readonly maxParallelism?: number; readonly readBuffers?: ReadBufferLender } = {},
): Promise<void> {
  const o = typeof options === 'number' ? { checkpointId: options } : options;
  const read: KeyGroupBlockOptions = { range, checkpointId: o.checkpointId, maxParallelism: o.maxParallelism, ...(o.readBuffers === undefined ? {} : { readBuffers: o.readBuffers }) };
  for await (const block of readKeyGroupBlocks(reader, handle, header, read)) {
    checkRestoreNotCancelled(o.signal, o.operatorIdentifier ?? '<unknown operator>');
    const fields = block.fields;
    for (let j = 0; j < fields.count; j++) visit(block.keyGroup, fields.record(j));
  }
}

/**
 * Decodes the key-group block `input` reads (from its position to its end: u32 key group, records,
 * varuint 0) and calls `visit` for each record, its fields views into the input's bytes. Kept for
 * callers of the SPI from before KeyGroupRecordFields (readKeyGroupBlocks' `block.fields` /
 * `block.records` are the way now): a thin wrapper over KeyGroupRecordFields.parse, so the block is
 * parsed whole before the first visit (a corrupt block visits no record), and `input` is consumed
 * to its end either way. Errors are CorruptDataErrors at their offset, as before.
 */
export function decodeBlock(
  input: DataInputDeserializer,
  expectedKeyGroup: number,
  header: KeyedStateStreamHeader,
  visit: (keyGroup: number, record: KeyedStateRecord) => void,
): void {
  const offset = input.fileOffset;
  const fields = KeyGroupRecordFields.parse(input.readBytes(input.remaining), offset, expectedKeyGroup, header.states);
  for (let j = 0; j < fields.count; j++) visit(expectedKeyGroup, fields.record(j));
}
