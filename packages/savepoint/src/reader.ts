import {
  CorruptCheckpointError,
  CorruptDataError,
  defaultSerializerRegistry,
  IllegalStateUsageError,
  isKeyGroupsStateHandle,
  MapSerializer,
  readOperatorStateStream,
  settleAll,
  verifyCheckpointComplete,
  DataInputDeserializer,
  ExactDeserializer,
  readKeyedStateHeader,
  readKeyGroupBlocks,
  readFirstKeyGroupRun,
  AlternatingReadBuffers,
  giveBackReadBuffers,
  takeReadBuffers,
  BlockField,
  deserializesIntoOwnMemory,
  type KeyGroupBlock,
  type KeyGroupRead,
  type KeyGroupBlockOptions,
  type KeyedStateRecord,
  type CheckpointMetadata,
  type KeyedStateStreamHeader,
  type KeyGroupsStateHandle,
  type OperatorSnapshotMetadata,
  type OperatorStateDistributionMode,
  type OperatorStateHandle,
  type SerializerSnapshotRegistry,
  type KeyedStateMetaInfo,
  type TypeSerializer,
  type TypeSerializerSnapshot,
  type RestoredOperatorState,
} from '@flowstate/core';
import { copiesItsView, ValueFieldCopies } from './byte-copies.js';
import { SavepointDirectory } from './directory.js';
import { registryOf, type SavepointStorageOptions } from './location.js';
import { UnsupportedSavepointOperationError } from './errors.js';
import { decodeSavepointMetadata } from './format.js';
import { decodeExact, handleFile, mergeHeaders, wrapDecodeError, type MergedKeyedHeader } from './keyed.js';
import { describeSnapshot } from './serializers.js';

/** A keyed state of a merged header, with its index there and its serializers restored. */
interface KeyedStateOf {
  readonly index: number;
  readonly meta: MergedKeyedHeader['states'][number];
  readonly keySerializer: TypeSerializer<unknown>;
  readonly nsSerializer: TypeSerializer<unknown>;
  readonly stateSerializer: TypeSerializer<unknown>;
}

function decodeMapEntry<UK, UV>(ms: MapSerializer<unknown, unknown>, r: KeyedStateRecord, file: string, off: number, stateName: string): { userKey: UK; value: UV | null } {
  return {
    userKey: decodeExact(ms.keySerializer, r.userKey!, file, off, `user key of '${stateName}'`) as UK,
    value: (r.value === null ? null : decodeExact(ms.valueSerializer, r.value, file, off, `user value of '${stateName}'`)) as UV | null,
  };
}

export interface SavepointReaderOptions extends SavepointStorageOptions {
  /** Resolves serializer snapshots of custom serializers; defaults to the built-in registry. */
  readonly registry?: SerializerSnapshotRegistry;
}

export interface OperatorInfo {
  readonly uid: string;
  readonly parallelism: number;
  readonly maxParallelism: number;
  /** Subtasks recorded in the metadata (a subtask without state may be absent). */
  readonly subtasks: number;
  readonly keyedHandles: number;
  readonly operatorHandles: number;
  /** Keyed handles in a backend's native format (not readable here; convert to canonical first). */
  readonly nativeKeyedHandles: number;
  /** Bytes of all state files the operator references. */
  readonly stateSize: number;
}

/** A keyed state's meta information as the stream header has it, with its serializers named for display. */
export interface KeyedStateInfo extends KeyedStateMetaInfo {
  readonly namespaceSerializer: string;
  readonly stateSerializer: string;
}

export interface OperatorStateInfo {
  readonly name: string;
  readonly mode: OperatorStateDistributionMode;
  /** List states: the element serializer. Broadcast states: key serializer. */
  readonly serializer: string;
  /** Broadcast states only. */
  readonly valueSerializer: string | undefined;
  /** Elements over all subtasks (broadcast: entries of one copy). */
  readonly elements: number;
}

/** A value, list, reducing or aggregating state entry. LIST values are arrays of the elements. */
export interface KeyedStateEntry<K = unknown, N = unknown, V = unknown> {
  readonly key: K;
  readonly namespace: N;
  readonly value: V;
}

/** One user key of a MAP state (the flat view: one entry per user key, like the canonical stream). */
export interface MapStateEntry<K = unknown, N = unknown, UK = unknown, UV = unknown> {
  readonly key: K;
  readonly namespace: N;
  readonly userKey: UK;
  readonly value: UV | null;
}

/** A MAP state grouped per (key, namespace): the whole map, as the state would hold it. */
export interface GroupedMapStateEntry<K = unknown, N = unknown, UK = unknown, UV = unknown> {
  readonly key: K;
  readonly namespace: N;
  readonly value: Map<UK, UV | null>;
}

export interface KeyedStateReadOptions {
  /** Hand out one reused entry whose values may be views into the bytes read (see readKeyedStateBlocks). */
  readonly views?: boolean;
}

interface KeyedSource {
  readonly handle: KeyGroupsStateHandle;
  readonly header: KeyedStateStreamHeader;
  readonly file: string;
}

/**
 * Reads a savepoint directory (Flink's SavepointReader): the operators, and each operator's keyed
 * and operator state as async iterables of decoded entries, using the serializers restored from
 * the savepoint's own serializer snapshots. Keyed state is read one key-group block at a time.
 */
export class SavepointReader {
  private readonly sources = new Map<string, Promise<{ sources: KeyedSource[]; merged: MergedKeyedHeader | undefined }>>();

  private constructor(
    readonly dir: SavepointDirectory,
    /** Format version of the savepoint (see FORMAT_READERS). */
    readonly formatVersion: number,
    readonly metadata: CheckpointMetadata,
    readonly registry: SerializerSnapshotRegistry,
    /** The storage this savepoint was opened with; writers derived from it use the same. */
    readonly storage: Required<SavepointStorageOptions>,
  ) {}

  /** `directory`: a local path or a URI (`s3://bucket/sp-42`), see SavepointDirectory.open. */
  static async load(directory: string, options: SavepointReaderOptions = {}): Promise<SavepointReader> {
    const storage = { fileSystems: registryOf(options) };
    const { dir, bytes } = await SavepointDirectory.open(directory, storage);
    const { version, metadata } = decodeSavepointMetadata(bytes, dir.metadataFile);
    return new SavepointReader(dir.withRootFor(metadata), version, metadata, options.registry ?? defaultSerializerRegistry, storage);
  }

  get directory(): string {
    return this.dir.path;
  }

  /**
   * Checks, before anything is read, that every file the metadata references exists with the
   * size its handle records (core's verifyCheckpointComplete, which every checkpoint reader runs).
   * @throws CorruptCheckpointError naming the first missing or resized file.
   */
  async verifyComplete(): Promise<void> {
    await verifyCheckpointComplete(this.metadata, (p) => this.dir.fs.stat(p), { root: this.dir.root, pointer: this.dir.path, checkpointId: this.metadata.checkpointId });
  }

  get metadataFile(): string {
    return this.dir.metadataFile;
  }

  operators(): OperatorInfo[] {
    return this.metadata.operators.map((op) => {
      const keyed = op.subtasks.flatMap((s) => s.keyed);
      const opHandles = op.subtasks.flatMap((s) => s.operator);
      const files = new Map<string, number>();
      for (const h of keyed) if (isKeyGroupsStateHandle(h)) files.set(handleFile(h), h.stream.size);
      for (const h of opHandles) files.set(h.stream.type === 'file' ? h.stream.path : h.stream.name, h.stream.size);
      return {
        uid: op.uid,
        parallelism: op.parallelism,
        maxParallelism: op.maxParallelism,
        subtasks: op.subtasks.length,
        keyedHandles: keyed.length,
        operatorHandles: opHandles.length,
        nativeKeyedHandles: keyed.filter((h) => !isKeyGroupsStateHandle(h)).length,
        stateSize: [...files.values()].reduce((a, b) => a + b, 0),
      };
    });
  }

  operator(uid: string): OperatorSnapshotMetadata {
    const op = this.metadata.operators.find((o) => o.uid === uid);
    if (op === undefined) {
      throw new IllegalStateUsageError(undefined, `savepoint '${this.directory}' has no operator with uid '${uid}' (it has: ${this.metadata.operators.map((o) => o.uid).join(', ') || 'none'})`);
    }
    return op;
  }

  /** The canonical keyed handles of an operator, ordered by key group. */
  keyedHandles(uid: string): KeyGroupsStateHandle[] {
    const op = this.operator(uid);
    const out: KeyGroupsStateHandle[] = [];
    for (const s of op.subtasks) {
      for (const h of s.keyed) {
        if (!isKeyGroupsStateHandle(h)) {
          throw new UnsupportedSavepointOperationError(
            `reading keyed state of operator '${uid}'`,
            `its handle of type '${h.type}' is a backend's native snapshot; only canonical savepoints can be read: convert it first with 'flowstate savepoint convert ${this.directory} <new directory> --to canonical'`,
          );
        }
        out.push(h);
      }
    }
    return out.sort((a, b) => a.keyGroupRange.start - b.keyGroupRange.start);
  }

  /** Headers of every keyed handle of the operator and their union (cached). */
  async keyedSources(uid: string): Promise<{ sources: KeyedSource[]; merged: MergedKeyedHeader | undefined }> {
    let p = this.sources.get(uid);
    if (p === undefined) {
      p = (async () => {
        // Every handle's size check and header read at once (a few round trips each, which a
        // remote store, or a busy thread pool, answers in parallel); a failure is the first handle's.
        const sources = await settleAll(
          this.keyedHandles(uid).map(async (handle): Promise<KeyedSource> => {
            await this.dir.checkSize(handle.stream);
            return { handle, header: await readKeyedStateHeader(this.dir.reader, handle, this.registry), file: this.dir.fileName(handleFile(handle)) };
          }),
        );
        const merged = mergeHeaders(
          sources.map((s) => s.header),
          sources.map((s) => s.file),
          uid,
        );
        return { sources, merged };
      })();
      this.sources.set(uid, p);
      // A failed read must not be cached: the caller may retry after fixing the directory.
      p.catch(() => this.sources.delete(uid));
    }
    return p;
  }

  async keySerializer(uid: string): Promise<TypeSerializerSnapshot<unknown> | undefined> {
    return (await this.keyedSources(uid)).merged?.keySerializerSnapshot;
  }

  async keyedStates(uid: string): Promise<KeyedStateInfo[]> {
    const { merged } = await this.keyedSources(uid);
    return (merged?.states ?? []).map((s) => ({
      name: s.name,
      kind: s.kind,
      namespaceSerializer: describeSnapshot(s.namespaceSerializerSnapshot),
      stateSerializer: describeSnapshot(s.stateSerializerSnapshot),
      namespaceSerializerSnapshot: s.namespaceSerializerSnapshot,
      stateSerializerSnapshot: s.stateSerializerSnapshot,
    }));
  }

  /**
   * Every key-group block of the operator, in key-group order, with each record's state index
   * mapped to the merged header (`merged.states`). Keys are checked against their key group.
   */
  async *keyedBlocks(uid: string, readBuffers?: AlternatingReadBuffers): AsyncGenerator<{ block: KeyGroupBlock; source: KeyedSource; stateIndexMap: readonly number[] }> {
    const { sources, merged } = await this.keyedSources(uid);
    const maxParallelism = this.operator(uid).maxParallelism;
    // A reader's pool threads are otherwise idle: the blocks' CRC32Cs are computed there (issue 16).
    const options: KeyGroupBlockOptions = { maxParallelism, checksumsOnPool: true, ...(readBuffers === undefined ? {} : { readBuffers }) };
    const reader = this.dir.reader;
    // The next handle's first request, started while the last one of the current handle is consumed.
    let prefetched: Promise<KeyGroupRead> | undefined;
    try {
      for (let i = 0; i < sources.length; i++) {
        const source = sources[i]!;
        const next = sources[i + 1];
        const firstRead = prefetched;
        prefetched = undefined;
        const handleOptions: KeyGroupBlockOptions = {
          ...options,
          ...(firstRead === undefined ? {} : { firstRead }),
          ...(next === undefined ? {} : { onLastRead: () => (prefetched = readFirstKeyGroupRun(reader, next.handle, options)) }),
        };
        for await (const block of readKeyGroupBlocks(reader, source.handle, source.header, handleOptions)) {
          yield { block, source, stateIndexMap: merged!.indexMaps[i]! };
        }
      }
    } finally {
      // A consumer that stopped early may lend the buffers to its next read: none may still be being filled.
      await prefetched?.catch(() => {});
    }
  }

  private async stateOf(uid: string, stateName: string): Promise<KeyedStateOf> {
    const { merged } = await this.keyedSources(uid);
    const index = merged?.states.findIndex((s) => s.name === stateName) ?? -1;
    if (merged === undefined || index < 0) {
      throw new IllegalStateUsageError(stateName, `operator '${uid}' has no keyed state with this name (it has: ${merged?.states.map((s) => s.name).join(', ') || 'none'})`);
    }
    const meta = merged.states[index]!;
    return {
      index,
      meta,
      keySerializer: merged.keySerializerSnapshot.restoreSerializer(),
      nsSerializer: meta.namespaceSerializerSnapshot.restoreSerializer(),
      stateSerializer: meta.stateSerializerSnapshot.restoreSerializer(),
    };
  }

  /**
   * Value, list, reducing and aggregating state. For MAP state use readMapState. Values are the
   * caller's to keep; byte-array values are copies that may share an ArrayBuffer of up to 32 KiB
   * with neighbouring values (see ValueFieldCopies): mind `byteOffset` when using `value.buffer`.
   */
  readKeyedState<K = unknown, N = unknown, V = unknown>(uid: string, stateName: string): AsyncIterableIterator<KeyedStateEntry<K, N, V>> {
    return flattenBlocks(this.readKeyedStateBlocks<K, N, V>(uid, stateName));
  }

  /**
   * readKeyedState one key-group block at a time: per block, a synchronous iterable of its entries
   * (decoded as they are iterated), which costs no promise per entry. With `views: true` one entry
   * object is reused for every record, and values whose serializer has `deserializeView` (e.g.
   * byte arrays) are views into the bytes read: an entry is valid only until the next one. Copy
   * what you keep. Iterate each block before asking for the next: the bytes read are reused
   * (always with views; without, when every value decodes into memory of its own), and iterating
   * an earlier block then throws IllegalStateUsageError.
   */
  async *readKeyedStateBlocks<K = unknown, N = unknown, V = unknown>(uid: string, stateName: string, options: KeyedStateReadOptions = {}): AsyncGenerator<Iterable<KeyedStateEntry<K, N, V>>> {
    const s = await this.stateOf(uid, stateName);
    if (s.meta.kind === 'MAP') throw new IllegalStateUsageError(stateName, 'is MAP state: read it with readMapState or readMapStateGrouped');
    const decoder = new ExactDeserializer();
    const views = options.views === true;
    const what = `value of '${stateName}'`;
    // Views are valid until the next entry anyway; copies may outlive reused buffers only if none is a view into them.
    const reuse = views || [s.keySerializer, s.nsSerializer, s.stateSerializer].every(deserializesIntoOwnMemory);
    // The buffers of the last finished read of any reader (see read-buffers.ts in core), or new ones.
    const buffers = reuse ? takeReadBuffers() : undefined;
    // Copied byte-array values: views over copies of runs of value fields (one allocation per run, not per value).
    const copyRuns = !views && copiesItsView(s.stateSerializer);
    let current: { live: boolean; stateName: string } | undefined;
    try {
      for await (const { block, source, stateIndexMap } of this.keyedBlocks(uid, buffers)) {
        current = { live: true, stateName };
        yield valueEntries<K, N, V>(block, source.file, stateIndexMap, s, decoder, views, what, reuse ? current : undefined, copyRuns);
        // The consumer asked for the next block: this one's bytes may be overwritten from now on.
        current.live = false;
      }
    } finally {
      // Its blocks are stale now (the consumer finished, or stopped with `break`, which ends the
      // generator at its yield): the next read may reuse the buffers.
      if (current !== undefined) current.live = false;
      if (buffers !== undefined) giveBackReadBuffers(buffers);
    }
  }

  /** MAP state, one entry per user key (null values are kept as null). */
  async *readMapState<K = unknown, N = unknown, UK = unknown, UV = unknown>(uid: string, stateName: string): AsyncGenerator<MapStateEntry<K, N, UK, UV>> {
    const { s, ms } = await this.mapStateOf(uid, stateName);
    for await (const records of this.recordsPerBlock(uid, s)) {
      for (const { r, file, off } of records) {
        yield {
          key: decodeExact(s.keySerializer, r.key, file, off, 'key') as K,
          namespace: decodeExact(s.nsSerializer, r.namespace, file, off, 'namespace') as N,
          ...decodeMapEntry<UK, UV>(ms, r, file, off, stateName),
        };
      }
    }
  }

  /**
   * MAP state grouped per (key, namespace). All records of a key live in its key group's block,
   * so grouping holds at most one block's entries in memory.
   */
  async *readMapStateGrouped<K = unknown, N = unknown, UK = unknown, UV = unknown>(uid: string, stateName: string): AsyncGenerator<GroupedMapStateEntry<K, N, UK, UV>> {
    const { s, ms } = await this.mapStateOf(uid, stateName);
    for await (const records of this.recordsPerBlock(uid, s)) {
      const groups = new Map<string, { key: K; namespace: N; value: Map<UK, UV | null> }>();
      for (const { r, file, off } of records) {
        const id = `${Buffer.from(r.key).toString('latin1')}\u0000${r.key.length}:${Buffer.from(r.namespace).toString('latin1')}`;
        let g = groups.get(id);
        if (g === undefined) {
          g = {
            key: decodeExact(s.keySerializer, r.key, file, off, 'key') as K,
            namespace: decodeExact(s.nsSerializer, r.namespace, file, off, 'namespace') as N,
            value: new Map(),
          };
          groups.set(id, g);
        }
        const { userKey, value } = decodeMapEntry<UK, UV>(ms, r, file, off, stateName);
        g.value.set(userKey, value);
      }
      yield* groups.values();
    }
  }

  private async mapStateOf(uid: string, stateName: string): Promise<{ s: KeyedStateOf; ms: MapSerializer<unknown, unknown> }> {
    const s = await this.stateOf(uid, stateName);
    if (s.meta.kind !== 'MAP' || !(s.stateSerializer instanceof MapSerializer)) throw new IllegalStateUsageError(stateName, `is ${s.meta.kind} state, not MAP: read it with readKeyedState`);
    return { s, ms: s.stateSerializer as MapSerializer<unknown, unknown> };
  }

  /** Per key-group block, the records of state `s` with the file and offset each was read at. */
  private async *recordsPerBlock(uid: string, s: KeyedStateOf): AsyncGenerator<Array<{ r: KeyedStateRecord; file: string; off: number }>> {
    for await (const { block, source, stateIndexMap } of this.keyedBlocks(uid)) {
      const records: Array<{ r: KeyedStateRecord; file: string; off: number }> = [];
      for (let j = 0; j < block.records.length; j++) {
        const r = block.records[j]!;
        if (stateIndexMap[r.stateIndex] === s.index) records.push({ r, file: source.file, off: block.recordOffsets[j]! });
      }
      yield records;
    }
  }

  // ---- operator state ---------------------------------------------------------------------------

  private operatorHandles(uid: string): OperatorStateHandle[][] {
    return [...this.operator(uid).subtasks].sort((a, b) => a.subtaskIndex - b.subtaskIndex).map((s) => [...s.operator]);
  }

  /** Operator state of every subtask, decoded per subtask (operator state files are small). */
  async readOperatorStateStreams(uid: string): Promise<RestoredOperatorState[][]> {
    const out: RestoredOperatorState[][] = [];
    for (const handles of this.operatorHandles(uid)) {
      const sub: RestoredOperatorState[] = [];
      for (const h of handles) {
        const file = this.dir.fileName(h.stream.type === 'file' ? h.stream.path : h.stream.name);
        await this.dir.checkSize(h.stream);
        try {
          sub.push(...(await readOperatorStateStream(this.dir.reader, h, this.registry)));
        } catch (e) {
          wrapDecodeError(e, file);
        }
      }
      out.push(sub);
    }
    return out;
  }

  async operatorStates(uid: string): Promise<OperatorStateInfo[]> {
    const byName = new Map<string, { info: OperatorStateInfo; elements: number }>();
    for (const sub of await this.readOperatorStateStreams(uid)) {
      for (const s of sub) {
        const prev = byName.get(s.meta.name);
        const n = s.elements.length;
        if (prev === undefined) {
          byName.set(s.meta.name, {
            info: {
              name: s.meta.name,
              mode: s.meta.mode,
              serializer: describeSnapshot(s.meta.firstSerializerSnapshot),
              valueSerializer: s.meta.secondSerializerSnapshot === undefined ? undefined : describeSnapshot(s.meta.secondSerializerSnapshot),
              elements: 0,
            },
            elements: n,
          });
        } else if (s.meta.mode !== 'BROADCAST') {
          prev.elements += n;
        }
      }
    }
    return [...byName.values()].map(({ info, elements }) => ({ ...info, elements }));
  }

  private async operatorState(uid: string, name: string, modes: readonly OperatorStateDistributionMode[]): Promise<{ elements: Array<{ bytes: Uint8Array; file: string }>; first: TypeSerializer<unknown>; second: TypeSerializer<unknown> | undefined }> {
    const elements: Array<{ bytes: Uint8Array; file: string }> = [];
    let first: TypeSerializer<unknown> | undefined;
    let second: TypeSerializer<unknown> | undefined;
    let found: OperatorStateDistributionMode | undefined;
    const subs = await this.readOperatorStateStreams(uid);
    const files = this.operatorHandles(uid).map((hs) => hs.map((h) => this.dir.fileName(h.stream.type === 'file' ? h.stream.path : `inline:${h.stream.name}`)));
    for (let si = 0; si < subs.length; si++) {
      const sub = subs[si]!;
      for (const s of sub) {
        if (s.meta.name !== name) continue;
        // readOperatorStateStreams returns the states of a subtask's handles in handle order.
        const file = files[si]!.find((_, hi) => this.operatorHandles(uid)[si]![hi]!.states[name] !== undefined) ?? this.metadataFile;
        found = s.meta.mode;
        if (!modes.includes(s.meta.mode)) continue;
        first ??= s.meta.firstSerializerSnapshot.restoreSerializer();
        if (s.meta.secondSerializerSnapshot !== undefined) second ??= s.meta.secondSerializerSnapshot.restoreSerializer();
        // Broadcast state is identical on every subtask: one copy is the state.
        if (s.meta.mode === 'BROADCAST' && elements.length > 0) continue;
        for (const bytes of s.elements) elements.push({ bytes, file });
      }
    }
    if (found === undefined) throw new IllegalStateUsageError(name, `operator '${uid}' has no operator state with this name`);
    if (!modes.includes(found) || first === undefined) throw new IllegalStateUsageError(name, `is ${found} operator state, not ${modes.join(' or ')}`);
    return { elements, first, second };
  }

  /** Split-distribute list state: the elements of all subtasks, in subtask order. */
  async *readListState<T = unknown>(uid: string, name: string): AsyncGenerator<T> {
    const s = await this.operatorState(uid, name, ['SPLIT_DISTRIBUTE']);
    for (const e of s.elements) yield decodeElement(s.first, e, name) as T;
  }

  /** Union list state: the union of all subtasks' lists (what every subtask gets on restore). */
  async *readUnionState<T = unknown>(uid: string, name: string): AsyncGenerator<T> {
    const s = await this.operatorState(uid, name, ['UNION']);
    for (const e of s.elements) yield decodeElement(s.first, e, name) as T;
  }

  /** Broadcast state: the entries of one copy. */
  async *readBroadcastState<K = unknown, V = unknown>(uid: string, name: string): AsyncGenerator<[K, V | null]> {
    const s = await this.operatorState(uid, name, ['BROADCAST']);
    const vs = s.second!;
    for (const e of s.elements) {
      let entry: [K, V | null];
      try {
        const input = new DataInputDeserializer(e.bytes);
        const k = s.first.deserialize(input) as K;
        const v = input.readBoolean() ? (vs.deserialize(input) as V) : null;
        if (input.remaining !== 0) input.fail(`broadcast entry of '${name}' has ${input.remaining} trailing bytes`);
        entry = [k, v];
      } catch (err) {
        elementError(err, e.file, name);
      }
      yield entry;
    }
  }
}

/**
 * The entries of every block, one at a time. Not an async generator: that would cost two awaits
 * per entry; here an entry of the current block is one resolved promise, and only a new block
 * is awaited.
 */
function flattenBlocks<T>(blocks: AsyncGenerator<Iterable<T>>): AsyncIterableIterator<T> {
  let current: Iterator<T> | undefined;
  const pull = async (): Promise<IteratorResult<T>> => {
    for (;;) {
      const b = await blocks.next();
      if (b.done === true) return { done: true, value: undefined };
      current = b.value[Symbol.iterator]();
      const r = current.next();
      if (r.done !== true) return r;
    }
  };
  const it: AsyncIterableIterator<T> = {
    next(): Promise<IteratorResult<T>> {
      if (current !== undefined) {
        let r: IteratorResult<T>;
        try {
          r = current.next();
        } catch (e) {
          return Promise.reject(e);
        }
        if (r.done !== true) return Promise.resolve(r);
      }
      return pull();
    },
    async return(): Promise<IteratorResult<T>> {
      current = undefined;
      await blocks.return(undefined);
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return it;
    },
  };
  return it;
}

/** The entries of state `s` in one block; with `views`, one reused entry object (see readKeyedStateBlocks). */
function* valueEntries<K, N, V>(
  block: KeyGroupBlock,
  file: string,
  stateIndexMap: readonly number[],
  s: KeyedStateOf,
  decoder: ExactDeserializer,
  views: boolean,
  what: string,
  /** Set when the block's buffer is reused: live until the consumer asked for the next block. */
  buffer: { readonly live: boolean; readonly stateName: string } | undefined,
  /** Copied values of a byte-array state: decoded as views over ValueFieldCopies. */
  copyRuns: boolean,
): Generator<KeyedStateEntry<K, N, V>> {
  const reused = { key: undefined as K, namespace: undefined as N, value: undefined as V };
  // Fields are decoded in place in the block (no record object or view per field).
  const fields = block.fields;
  const bytes = fields.bytes;
  const copies = copyRuns ? new ValueFieldCopies(fields, stateIndexMap, s.index) : undefined;
  for (let j = 0; j < fields.count; j++) {
    if (buffer?.live === false) {
      throw new IllegalStateUsageError(buffer.stateName, 'a block of readKeyedStateBlocks was iterated after the next block was requested, whose read reuses its bytes: iterate each block first');
    }
    if (stateIndexMap[fields.stateIndex(j)] !== s.index) continue;
    const off = fields.recordOffset(j);
    let key: K, namespace: N, value: V;
    try {
      key = decoder.decodeRange(s.keySerializer, bytes, fields.start(j, BlockField.key), fields.end(j, BlockField.key), 'key', off, views) as K;
      namespace = decoder.decodeRange(s.nsSerializer, bytes, fields.start(j, BlockField.namespace), fields.end(j, BlockField.namespace), 'namespace', off, views) as N;
      value = (copies === undefined ? decoder.decodeRange(s.stateSerializer, bytes, fields.start(j, BlockField.value), fields.end(j, BlockField.value), what, off, views) : copies.decode(j, s.stateSerializer, what, off)) as V;
    } catch (e) {
      wrapDecodeError(e, file, off);
    }
    if (!views) {
      yield { key, namespace, value };
      continue;
    }
    reused.key = key;
    reused.namespace = namespace;
    reused.value = value;
    yield reused;
  }
}

/**
 * Operator state elements are views into their stream without a known file offset, so their
 * errors name the file and the state instead.
 */
function elementError(e: unknown, file: string, state: string): never {
  if (e instanceof CorruptDataError) throw new CorruptCheckpointError(file, `element of operator state '${state}': ${e.message.replace(/ \(at byte \d+\)$/, '')} (at byte ${e.offset} of the element)`, undefined, undefined, { cause: e });
  wrapDecodeError(e, file);
}

function decodeElement(serializer: TypeSerializer<unknown>, e: { bytes: Uint8Array; file: string }, state: string): unknown {
  try {
    const input = new DataInputDeserializer(e.bytes);
    const v = serializer.deserialize(input);
    if (input.remaining !== 0) input.fail(`${input.remaining} trailing bytes`);
    return v;
  } catch (err) {
    elementError(err, e.file, state);
  }
}
