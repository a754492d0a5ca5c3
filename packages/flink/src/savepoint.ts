import { stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { assert, CorruptCheckpointError, settleAll, StorageNotFoundError } from '@flowstate/core';
import { decodeSnappyFramed } from './compression/snappy.js';
import { corrupt, FlinkUnsupportedError } from './errors.js';
import { operatorIdFromUid } from './hash/murmur3-128.js';
import { JavaDataInput } from './io/java-input.js';
import { parseCheckpointProperties, type FlinkCheckpointProperties } from './java/checkpoint-properties.js';
import { READ_AFTER_RELEASE, readCanonicalKeyGroup, type RawKeyedEntry } from './keyed/canonical.js';
import { KeyedEntryDecoder, keyGroupPrefixBytes, type DecodedKeyedEntry } from './keyed/decode.js';
import { readHeapKeyGroup } from './keyed/heap-native.js';
import { readKeyedHeader, type KeyedStreamHeader } from './keyed/proxy.js';
import { MAX_FLINK_METADATA_BYTES, readFlinkMetadata } from './metadata/metadata.js';
import type { FlinkCheckpointMetadata, KeyedStateHandle, KeyGroupsHandle, OperatorState } from './metadata/types.js';
import { defaultFlinkSerializers } from './serializers/builtins.js';
import type { FlinkSerializerRegistry } from './serializers/registry.js';
import { handleSize, readWholeFileUpTo, StreamResolver, type ResolvedStream } from './streams.js';
import { rocksNativeRecords, type FlinkRocksDbAccess } from './rocksdb-native.js';

/** How a subtask's managed keyed state is stored. */
export type KeyedFormat = 'canonical' | 'heap-native' | 'rocksdb-native' | 'changelog' | 'none';

export interface KeyedStreamInfo {
  readonly subtask: number;
  readonly format: KeyedFormat;
  readonly handle: KeyedStateHandle;
  /** Canonical and heap-native streams, and the meta stream of RocksDB-native handles. */
  readonly header?: KeyedStreamHeader;
  readonly stream?: ResolvedStream;
}

export interface FlinkSavepointOptions {
  /** Snapshot readers for user serializers (default: Flink's built-in ones). */
  readonly registry?: FlinkSerializerRegistry;
  /** A RocksDB binding to read RocksDB-native (SST) keyed state; without it only its header is read. */
  readonly rocksdb?: FlinkRocksDbAccess;
}

/** An Apache Flink savepoint or checkpoint opened for reading. */
export class FlinkSavepoint {
  private constructor(
    readonly directory: string,
    readonly metadataFile: string,
    readonly metadata: FlinkCheckpointMetadata,
    readonly properties: FlinkCheckpointProperties | undefined,
    readonly registry: FlinkSerializerRegistry,
    private readonly resolver: StreamResolver,
    private readonly rocksdb: FlinkRocksDbAccess | undefined,
  ) {}

  /** Opens `path`: a savepoint/checkpoint directory or its `_metadata` file. */
  static async load(path: string, options: FlinkSavepointOptions = {}): Promise<FlinkSavepoint> {
    let file = path;
    try {
      if ((await stat(path)).isDirectory()) file = join(path, '_metadata');
    } catch {
      throw new StorageNotFoundError(path);
    }
    // The size limit is checked on the open file (no second stat): the size checked is the size read.
    const bytes = await readWholeFileUpTo(file, MAX_FLINK_METADATA_BYTES, (size) => new FlinkUnsupportedError(file, `_metadata of ${size} bytes exceeds ${MAX_FLINK_METADATA_BYTES}`));
    const metadata = readFlinkMetadata(bytes, file);
    const properties = metadata.propertiesBytes === undefined ? undefined : parseCheckpointProperties(metadata.propertiesBytes, file, metadata.propertiesOffset);
    const dir = dirname(file);
    return new FlinkSavepoint(dir, file, metadata, properties, options.registry ?? defaultFlinkSerializers, new StreamResolver(dir, file), options.rocksdb);
  }

  /**
   * A savepoint from an already-parsed model whose streams resolve against `directory` (e.g. an
   * OperatorSnapshotUtil file, which has no `_metadata`; `metadataFile` is what errors name).
   */
  static fromModel(directory: string, metadataFile: string, metadata: FlinkCheckpointMetadata, options: FlinkSavepointOptions = {}): FlinkSavepoint {
    return new FlinkSavepoint(directory, metadataFile, metadata, undefined, options.registry ?? defaultFlinkSerializers, new StreamResolver(directory, metadataFile), options.rocksdb);
  }

  get operators(): readonly OperatorState[] {
    return this.metadata.operators;
  }

  /** The operator with this uid (V5+ stores it; older versions match by murmur3_128 of it) or this hex ID. */
  operator(uidOrId: string): OperatorState | undefined {
    const id = operatorIdFromUid(uidOrId);
    return this.operators.find((o) => o.uid === uidOrId || o.operatorId === uidOrId || o.operatorId === id);
  }

  async resolve(h: Parameters<StreamResolver['resolve']>[0]): Promise<ResolvedStream> {
    return this.resolver.resolve(h);
  }

  /**
   * Gives the memory of every state file read so far (KeyedStreamInfo streams, resolve()) back to
   * the process, for the next read of any savepoint to reuse. Call it when done with those streams:
   * from then on they and every raw record's key and value are detached (empty); decoded records'
   * values and keys, and headers, are copies and stay intact. Reading again re-reads the files.
   */
  releaseStreams(): void {
    this.resolver.release();
  }

  /** Every subtask's managed keyed state: format, header and stream. */
  async keyedStreams(op: OperatorState): Promise<KeyedStreamInfo[]> {
    const withState = op.subtasks.filter((s) => s.managedKeyedState !== null);
    // Read concurrently (each stream is read whole): one file's read overlaps another's. The
    // resolver bounds how many files are open at once, so an operator of many subtasks is safe.
    return settleAll(withState.map((s) => this.keyedStream(s.index, s.managedKeyedState!, op.maxParallelism)));
  }

  private async keyedStream(subtask: number, h: KeyedStateHandle, maxParallelism: number): Promise<KeyedStreamInfo> {
    if (h.type === 'incremental') {
      if (h.meta === null) return { subtask, format: 'rocksdb-native', handle: h };
      const stream = await this.resolver.resolve(h.meta);
      return { subtask, format: 'rocksdb-native', handle: h, stream, header: this.header(stream, 0) };
    }
    if (h.type !== 'key-groups') return { subtask, format: 'changelog', handle: h };
    if (h.stream === null) return { subtask, format: 'none', handle: h };
    const stream = await this.resolver.resolve(h.stream);
    // Key groups start right after the header: the first non-empty offset is where it ends.
    const firstBlock = h.offsets.filter((x) => x > 0).reduce((a, b) => Math.min(a, b), Infinity);
    const header = this.header(stream, 0, Number.isFinite(firstBlock) ? firstBlock : undefined);
    return { subtask, format: keyGroupsFormat(h, stream, header, maxParallelism), handle: h, stream, header };
  }

  private header(s: ResolvedStream, offset: number, headerEnd?: number): KeyedStreamHeader {
    return readKeyedHeader(new JavaDataInput(s.bytes, s.file, s.baseOffset, offset), this.registry, headerEnd);
  }

  /** Raw canonical records of one stream, key group by key group (opaque serializers included). */
  *canonicalRecords(info: KeyedStreamInfo): Generator<RawKeyedEntry> {
    for (const [kg, block] of this.canonicalBlocks(info)) yield* keyGroupRecords(block, kg, info.header!);
  }

  /** The key-group blocks of a canonical stream. */
  private canonicalBlocks(info: KeyedStreamInfo): [number, JavaDataInput][] {
    const { handle, stream, header } = info;
    if (info.format !== 'canonical' || handle.type !== 'key-groups' || stream === undefined || header === undefined) {
      throw new FlinkUnsupportedError(this.metadataFile, `subtask ${info.subtask}: ${info.format} keyed state has no canonical records`);
    }
    return blocks(handle, stream, header);
  }

  /** True when this stream's records can be read: canonical and heap-native always, RocksDB-native with a RocksDB binding. */
  readsRecords(info: KeyedStreamInfo): boolean {
    return info.format === 'canonical' || info.format === 'heap-native' || (info.format === 'rocksdb-native' && this.rocksdb !== undefined && info.header !== undefined);
  }

  /**
   * Raw records of a RocksDB-native stream, read with the injected RocksDB binding from a scratch
   * copy of its files, in the canonical layout (RocksDB's own keys and values).
   */
  async *rocksNativeRecords(info: KeyedStreamInfo, maxParallelism: number): AsyncGenerator<RawKeyedEntry> {
    const { handle, header } = info;
    if (info.format !== 'rocksdb-native' || handle.type !== 'incremental' || header === undefined || this.rocksdb === undefined) {
      throw new FlinkUnsupportedError(this.metadataFile, `subtask ${info.subtask}: ${info.format} keyed state${this.rocksdb === undefined ? ' (no RocksDB binding given)' : ''} has no RocksDB records to read`);
    }
    yield* rocksNativeRecords(this.rocksdb, handle, header, maxParallelism, (h) => this.resolve(h), this.nativeLabel(info));
  }

  /** What errors name for a RocksDB-native stream: `_metadata` and the subtask (its data is spread over SST files). */
  nativeLabel(info: KeyedStreamInfo): string {
    return `${this.metadataFile} (subtask ${info.subtask}, RocksDB-native state)`;
  }

  /** Decoded records of any stream whose records can be read (readsRecords): RocksDB-native ones through the binding. */
  async *anyDecodedRecords(info: KeyedStreamInfo, maxParallelism: number, only?: ReadonlySet<string>): AsyncGenerator<DecodedKeyedEntry> {
    if (info.format !== 'rocksdb-native') {
      yield* this.decodedRecords(info, maxParallelism, only);
      return;
    }
    const dec = new KeyedEntryDecoder(info.header!, maxParallelism);
    const label = this.nativeLabel(info);
    for await (const e of this.rocksNativeRecords(info, maxParallelism)) {
      if (only === undefined || only.has(dec.stateName(e.stateId))) yield dec.decode(e, `${label} column family '${dec.stateName(e.stateId)}'`);
    }
  }

  /**
   * Decoded records of one canonical or heap-native stream. `only`: the states to decode (canonical
   * records of other states, e.g. ones with opaque values, are stepped over undecoded; heap-native
   * key groups are not length-delimited, so there every state is decoded). Decoded byte[] are
   * copies that may share a buffer with others (ByteArrayCopies): mind `byteOffset` with `buffer`.
   */
  *decodedRecords(info: KeyedStreamInfo, maxParallelism: number, only?: ReadonlySet<string>): Generator<DecodedKeyedEntry> {
    if (info.format === 'canonical') {
      const dec = new KeyedEntryDecoder(info.header!, maxParallelism);
      const file = info.stream!.file;
      // Block by block, not through canonicalRecords: one generator fewer to resume per record.
      for (const [kg, block] of this.canonicalBlocks(info)) {
        for (const e of keyGroupRecords(block, kg, info.header!)) if (only === undefined || only.has(dec.stateName(e.stateId))) yield dec.decode(e, file);
      }
      return;
    }
    if (info.format !== 'heap-native' || info.handle.type !== 'key-groups') {
      throw new FlinkUnsupportedError(this.metadataFile, `subtask ${info.subtask}: ${info.format} keyed state cannot be decoded by flowstate`);
    }
    for (const g of this.heapKeyGroups(info)) yield* g.entries;
  }

  /** Heap-native key groups with the order in which their state sections were written. */
  *heapKeyGroups(info: KeyedStreamInfo): Generator<{ keyGroup: number; sectionOrder: number[]; entries: DecodedKeyedEntry[] }> {
    if (info.format !== 'heap-native' || info.handle.type !== 'key-groups') {
      throw new FlinkUnsupportedError(this.metadataFile, `subtask ${info.subtask}: ${info.format} keyed state is not heap-native`);
    }
    for (const [kg, block] of blocks(info.handle, info.stream!, info.header!)) {
      assertUnreleased(block);
      const sectionOrder: number[] = [];
      const entries = readHeapKeyGroup(block, kg, info.header!, sectionOrder);
      if (block.remaining !== 0) block.fail(`key group ${kg}: ${block.remaining} bytes left after the last state`);
      yield { keyGroup: kg, sectionOrder, entries };
    }
  }
}

/** Key-group blocks of a handle as bounded readers: a block ends where the next non-empty one starts. */
function blocks(h: KeyGroupsHandle, s: ResolvedStream, header: KeyedStreamHeader): [number, JavaDataInput][] {
  assertStreamUnreleased(h, s);
  const starts = h.offsets.map((o, i) => [h.startKeyGroup + i, o] as const).filter(([, o]) => o !== 0);
  const sorted = [...starts].sort((a, b) => a[1] - b[1]);
  const out: [number, JavaDataInput][] = [];
  for (let i = 0; i < sorted.length; i++) {
    const [kg, off] = sorted[i]!;
    const end = sorted[i + 1]?.[1] ?? s.bytes.length;
    out.push([kg, blockReader(s, header, kg, off, end)]);
  }
  return out.sort((a, b) => a[0] - b[0]);
}

/**
 * The block of the handle's lowest non-empty key group, bounded as blocks() bounds it, built alone:
 * the format probe reads only this one, and a handle may list thousands of key groups.
 */
function firstBlock(h: KeyGroupsHandle, s: ResolvedStream, header: KeyedStreamHeader): [number, JavaDataInput] | undefined {
  assertStreamUnreleased(h, s);
  const first = h.offsets.findIndex((o) => o !== 0);
  if (first < 0) return undefined;
  const off = h.offsets[first]!;
  // It ends where the next block by offset starts. One at the same offset sorts after it (blocks()
  // sorts stably, and no key group before it has a block): it leaves this one empty.
  let end = s.bytes.length;
  for (let i = first + 1; i < h.offsets.length; i++) {
    const o = h.offsets[i]!;
    if (o >= off && o < end) end = o;
  }
  const kg = h.startKeyGroup + first;
  return [kg, blockReader(s, header, kg, off, end)];
}

/** The reader of one key group's block [off, end); offsets outside the stream's data are corrupt. */
function blockReader(s: ResolvedStream, header: KeyedStreamHeader, kg: number, off: number, end: number): JavaDataInput {
  if (off < header.length || off > s.bytes.length || end < off) throw corrupt(s.file, s.baseOffset, `key group ${kg}: offset ${off} outside the stream's data [${header.length}, ${s.bytes.length}]`);
  return new JavaDataInput(s.bytes, s.file, s.baseOffset, off, end);
}

/** Empty where its handle has bytes: its buffer went back to the pool (a caller's bug, not a corrupt file). */
function assertStreamUnreleased(h: KeyGroupsHandle, s: ResolvedStream): void {
  assert(s.bytes.length !== 0 || handleSize(h.stream) === 0, READ_AFTER_RELEASE);
}

/**
 * A generator paused between blocks and resumed after releaseStreams() would read a detached
 * buffer (a TypeError, or zeros taken for data): the same assertion as a read begun after it.
 * A block holds at least one record's bytes, so an empty one was detached.
 */
function assertUnreleased(block: JavaDataInput): void {
  assert(block.bytes.length !== 0, READ_AFTER_RELEASE);
}

/**
 * The records of one canonical block (decompressed first if the stream is). Called when a reader
 * moves on to the block, so a generator resumed there after releaseStreams() fails here.
 */
function keyGroupRecords(block: JavaDataInput, kg: number, header: KeyedStreamHeader): Generator<RawKeyedEntry> {
  assertUnreleased(block);
  const input = header.compression ? decompressed(block, kg) : block;
  // An uncompressed block ends where the next begins: records beyond its end mark would be lost by Flink too.
  return readCanonicalKeyGroup(input, kg, header.states.length, !header.compression);
}

function decompressed(block: JavaDataInput, kg: number): JavaDataInput {
  const start = block.fileOffset;
  const bytes = decodeSnappyFramed(block.slice(block.remaining, 'compressed key group'));
  return new JavaDataInput(bytes, `${block.file} (key group ${kg} decompressed from byte ${start})`);
}

/**
 * Tag 7 is always canonical. Tags 3/12 hold heap-native blocks (HashMap backend) or, for RocksDB
 * full snapshots, canonical ones: canonical handles leave empty key groups at offset 0, heap-native
 * blocks start with their own key-group number and a state id. Uncompressed, a canonical block of
 * key group 0 can start like that too (state id 0 and a key length below 2^16 read as the int 0;
 * the key length, if small, as a state id): the first block is then walked as canonical to tell.
 */
function keyGroupsFormat(h: KeyGroupsHandle, s: ResolvedStream, header: KeyedStreamHeader, maxParallelism: number): KeyedFormat {
  if (h.tag === 7) return 'canonical';
  if (h.offsets.some((o) => o === 0)) return 'canonical';
  if (header.states.length === 0) return 'heap-native';
  if (!h.offsets.every((o, i) => startsAsHeapBlock(s, o, h.startKeyGroup + i, header))) return 'canonical';
  return header.compression || !firstBlockIsCanonical(h, s, header, maxParallelism) ? 'heap-native' : 'canonical';
}

/** i32 key group, then (uncompressed; compressed sections start inside a Snappy stream) a valid u16 state id. */
function startsAsHeapBlock(s: ResolvedStream, o: number, kg: number, header: KeyedStreamHeader): boolean {
  if (o + 6 > s.bytes.length) return false;
  const view = new DataView(s.bytes.buffer, s.bytes.byteOffset + o, 6);
  return view.getInt32(0) === kg && (header.compression || view.getUint16(4) < header.states.length);
}

/**
 * Whether the handle's first key-group block reads as a complete canonical one: records whose
 * keys carry its key-group prefix, ended by the end mark exactly where the block ends.
 */
function firstBlockIsCanonical(h: KeyGroupsHandle, s: ResolvedStream, header: KeyedStreamHeader, maxParallelism: number): boolean {
  const prefix = keyGroupPrefixBytes(maxParallelism);
  // A block inside the header is refused by the readers (blocks()), and was by this probe when it built every block: not canonical.
  if (h.offsets.some((o) => o !== 0 && o < header.length)) return false;
  try {
    const first = firstBlock(h, s, header);
    if (first === undefined) return false;
    const [kg, block] = first;
    for (const r of readCanonicalKeyGroup(block, kg, header.states.length, true)) {
      if (r.key.length < prefix || (prefix === 1 ? r.key[0]! : (r.key[0]! << 8) | r.key[1]!) !== kg) return false;
    }
    return true;
  } catch (e) {
    if (e instanceof CorruptCheckpointError) return false;
    throw e;
  }
}
