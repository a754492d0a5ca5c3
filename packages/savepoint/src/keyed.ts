import {
  assignToKeyGroup,
  CorruptCheckpointError,
  CorruptDataError,
  crc32c,
  DataInputDeserializer,
  deserializeExact,
  DataOutputSerializer,
  decodeBlock,
  FlowstateError,
  formatChecksum,
  decodeHeader,
  KEYED_STATE_MAGIC,
  SUPPORTED_KEYED_STATE_VERSIONS,
  UnknownFormatVersionError,
  writeSerializerSnapshot,
  type KeyedStateMetaInfo,
  type KeyedStateRecord,
  type KeyedStateStreamHeader,
  type KeyGroupsStateHandle,
  type SerializerSnapshotRegistry,
  type StateHandleReader,
  type TypeSerializer,
  type TypeSerializerSnapshot,
} from '@flowstate/core';

/** One decoded key-group block: the unit of memory of every streaming operation. */
export interface KeyGroupBlock {
  readonly keyGroup: number;
  /** Byte offset of the block in its stream file. */
  readonly offset: number;
  readonly length: number;
  /** The block's bytes, verified against its CRC32C. */
  readonly bytes: Uint8Array;
  /** Records as views into the block's bytes. */
  readonly records: readonly KeyedStateRecord[];
  /** File offset of each record's key, for error messages. */
  readonly recordOffsets: readonly number[];
}

export function handleFile(h: KeyGroupsStateHandle): string {
  return h.stream.type === 'file' ? h.stream.path : `inline:${h.stream.name}`;
}

/** Rethrows anything that escaped a decoder as a typed error naming the file (and offset). */
export function wrapDecodeError(e: unknown, file: string, offset?: number): never {
  if (e instanceof CorruptDataError) throw new CorruptCheckpointError(file, e.message.replace(/ \(at byte \d+\)$/, ''), undefined, e.offset, { cause: e });
  if (e instanceof UnknownFormatVersionError && e.file === undefined) throw new UnknownFormatVersionError(e.what, e.version, e.supported, file);
  if (e instanceof FlowstateError) throw e;
  throw new CorruptCheckpointError(file, `cannot decode: ${(e as Error).message}`, undefined, offset, { cause: e });
}

export async function readHeader(reader: StateHandleReader, h: KeyGroupsStateHandle, registry: SerializerSnapshotRegistry): Promise<KeyedStateStreamHeader> {
  const file = handleFile(h);
  const bytes = await reader.readRange(h.stream, 0, h.headerLength);
  const actual = crc32c(bytes);
  if (actual !== h.headerChecksum) {
    throw new CorruptCheckpointError(file, `header CRC32C is ${formatChecksum(actual)}, expected ${formatChecksum(h.headerChecksum)}`, undefined, 0);
  }
  // Magic and version first, so that their errors point at their own bytes.
  if (bytes.length < 8) throw new CorruptCheckpointError(file, `header of ${bytes.length} bytes is shorter than magic and version`, undefined, bytes.length);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0) !== KEYED_STATE_MAGIC) {
    throw new CorruptCheckpointError(file, `bad magic 0x${view.getUint32(0).toString(16).padStart(8, '0')}, expected 0x${KEYED_STATE_MAGIC.toString(16)} ("FSKS"): not a keyed state stream`, undefined, 0);
  }
  const version = view.getUint16(4);
  if (!SUPPORTED_KEYED_STATE_VERSIONS.includes(version)) throw new UnknownFormatVersionError('keyed state stream', version, SUPPORTED_KEYED_STATE_VERSIONS, file);
  let header: KeyedStateStreamHeader;
  try {
    header = decodeHeader(new DataInputDeserializer(bytes), registry);
  } catch (e) {
    wrapDecodeError(e, file, 0);
  }
  if (header.startKeyGroup !== h.keyGroupRange.start || header.numberOfKeyGroups !== h.keyGroupRange.end - h.keyGroupRange.start + 1) {
    throw new CorruptCheckpointError(
      file,
      `header covers key groups [${header.startKeyGroup}, +${header.numberOfKeyGroups}), the handle says [${h.keyGroupRange.start}, ${h.keyGroupRange.end}]`,
      undefined,
      8,
    );
  }
  return header;
}

/**
 * Reads, verifies (CRC32C) and decodes the blocks of `h` in [from, to], one at a time. With
 * `maxParallelism`, also checks that every key hashes to the key group of its block.
 */
export async function* keyGroupBlocks(
  reader: StateHandleReader,
  h: KeyGroupsStateHandle,
  header: KeyedStateStreamHeader,
  options: { from?: number; to?: number; maxParallelism?: number } = {},
): AsyncGenerator<KeyGroupBlock> {
  const file = handleFile(h);
  const start = h.keyGroupRange.start;
  const from = Math.max(options.from ?? start, start);
  const to = Math.min(options.to ?? h.keyGroupRange.end, h.keyGroupRange.end);
  const read = (g: number): Promise<Uint8Array> => {
    const i = g - start;
    const offset = h.keyGroupOffsets[i]!;
    return reader.readRange(h.stream, offset, h.keyGroupOffsets[i + 1]! - offset);
  };
  // One block is read ahead while the current one is decoded and consumed, so that disk and CPU
  // overlap: memory holds at most two blocks.
  let pending = from <= to ? read(from) : undefined;
  for (let g = from; g <= to; g++) {
    const i = g - start;
    const offset = h.keyGroupOffsets[i]!;
    const length = h.keyGroupOffsets[i + 1]! - offset;
    const bytes = await pending!;
    pending = g < to ? read(g + 1) : undefined;
    // A read-ahead that is never awaited (the consumer stopped early) must not surface as unhandled.
    pending?.catch(() => {});
    const actual = crc32c(bytes);
    if (actual !== h.keyGroupChecksums[i]) {
      throw new CorruptCheckpointError(file, `key group ${g} block CRC32C is ${formatChecksum(actual)}, expected ${formatChecksum(h.keyGroupChecksums[i]!)}`, undefined, offset);
    }
    const records: KeyedStateRecord[] = [];
    const recordOffsets: number[] = [];
    try {
      decodeBlock(new DataInputDeserializer(bytes, offset), g, header, (_g, r) => {
        records.push(r);
        recordOffsets.push(offset + (r.key.byteOffset - bytes.byteOffset));
      });
    } catch (e) {
      wrapDecodeError(e, file, offset);
    }
    if (options.maxParallelism !== undefined) {
      for (let j = 0; j < records.length; j++) {
        const actualGroup = assignToKeyGroup(records[j]!.key, options.maxParallelism);
        if (actualGroup !== g) {
          throw new CorruptCheckpointError(
            file,
            `a key of state '${header.states[records[j]!.stateIndex]!.name}' hashes to key group ${actualGroup} (maxParallelism ${options.maxParallelism}) but is stored in the block of key group ${g}`,
            undefined,
            recordOffsets[j],
          );
        }
      }
    }
    yield { keyGroup: g, offset, length, bytes, records, recordOffsets };
  }
}

export function snapshotBytes(s: TypeSerializerSnapshot<unknown>): string {
  const out = new DataOutputSerializer(64);
  writeSerializerSnapshot(out, s);
  return Buffer.from(out.bytesView()).toString('hex');
}

/** The states of one operator, over all its subtasks' headers (the union, by name). */
export interface MergedKeyedHeader {
  readonly keySerializerSnapshot: TypeSerializerSnapshot<unknown>;
  readonly states: readonly KeyedStateMetaInfo[];
  /** Per input header: its state index -> index in `states`. */
  readonly indexMaps: readonly (readonly number[])[];
}

export function mergeHeaders(headers: readonly KeyedStateStreamHeader[], files: readonly string[], uid: string): MergedKeyedHeader | undefined {
  if (headers.length === 0) return undefined;
  const keySnap = headers[0]!.keySerializerSnapshot;
  const keyBytes = snapshotBytes(keySnap);
  const states: KeyedStateMetaInfo[] = [];
  const byName = new Map<string, { index: number; ns: string; st: string }>();
  const indexMaps = headers.map((h, hi) => {
    if (snapshotBytes(h.keySerializerSnapshot) !== keyBytes) {
      throw new CorruptCheckpointError(files[hi]!, `operator '${uid}': key serializer differs from the one in '${files[0]}'`);
    }
    return h.states.map((s) => {
      const ns = snapshotBytes(s.namespaceSerializerSnapshot);
      const st = snapshotBytes(s.stateSerializerSnapshot);
      const prev = byName.get(s.name);
      if (prev === undefined) {
        byName.set(s.name, { index: states.length, ns, st });
        states.push(s);
        return states.length - 1;
      }
      const p = states[prev.index]!;
      if (p.kind !== s.kind || prev.ns !== ns || prev.st !== st) {
        throw new CorruptCheckpointError(files[hi]!, `operator '${uid}': state '${s.name}' is ${s.kind} with different serializers than in another subtask (${p.kind})`);
      }
      return prev.index;
    });
  });
  return { keySerializerSnapshot: keySnap, states, indexMaps };
}

/** Deserializes exactly `bytes` (no trailing bytes); errors name the file and offset. */
export function decodeExact<T>(serializer: TypeSerializer<T>, bytes: Uint8Array, file: string, offset: number, what: string): T {
  try {
    return deserializeExact(serializer, bytes, what, offset);
  } catch (e) {
    wrapDecodeError(e, file, offset);
  }
}

