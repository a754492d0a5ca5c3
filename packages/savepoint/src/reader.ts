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
  type KeyGroupRecordFields,
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

/** A record of a state's block, with what places its fields in the file (see fieldOffset). */
interface BlockRecord {
  readonly r: KeyedStateRecord;
  readonly file: string;
  readonly fields: KeyGroupRecordFields;
  readonly j: number;
}

function decodeMapEntry<UK, UV>(ms: MapSerializer<unknown, unknown>, { r, file, fields, j }: BlockRecord, stateName: string): { userKey: UK; value: UV | null } {
  return {
    userKey: decodeExact(ms.keySerializer, r.userKey!, file, fieldOffset(fields, j, BlockField.userKey), `user key of '${stateName}'`) as UK,
    value: (r.value === null ? null : decodeExact(ms.valueSerializer, r.value, file, fieldOffset(fields, j, BlockField.value), `user value of '${stateName}'`)) as UV | null,
  };
}

/** A field's stream offset: where errors of decoding it are placed (not its record's, which is its key's). */
function fieldOffset(fields: KeyGroupRecordFields, j: number, which: BlockField): number {
  return fields.offset + fields.start(j, which);
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

  /**
   * The canonical keyed handles of an operator, ordered by key group.
   * @throws CorruptCheckpointError when two handles share a key group: every reader of keyed state
   * (and every rewrite) reads each handle's key groups, and would read that one twice.
   */
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
    out.sort((a, b) => a.keyGroupRange.start - b.keyGroupRange.start);
    this.rejectOverlaps(uid, out);
    return out;
  }

  /** Throws for the first key group two of `sorted` (ordered by start) cover; validate reports every one instead. */
  private rejectOverlaps(uid: string, sorted: readonly KeyGroupsStateHandle[]): void {
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!;
      const h = sorted[i]!;
      // Ordered by start and disjoint so far: only the previous range can reach into this one.
      if (h.keyGroupRange.start <= prev.keyGroupRange.end) {
        const [a, b] = [prev, h].map((x) => this.dir.fileName(handleFile(x)));
        throw new CorruptCheckpointError(this.metadataFile, `operator '${uid}': key group ${h.keyGroupRange.start} is covered by both '${a}' and '${b}'`);
      }
    }
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
    return new BlockEntries(this.readKeyedStateBlocks<K, N, V>(uid, stateName));
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
      for (const record of records) {
        const { r, file, fields, j } = record;
        yield {
          key: decodeExact(s.keySerializer, r.key, file, fieldOffset(fields, j, BlockField.key), 'key') as K,
          namespace: decodeExact(s.nsSerializer, r.namespace, file, fieldOffset(fields, j, BlockField.namespace), 'namespace') as N,
          ...decodeMapEntry<UK, UV>(ms, record, stateName),
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
      for (const record of records) {
        const { r, file, fields, j } = record;
        const id = `${Buffer.from(r.key).toString('latin1')}\u0000${r.key.length}:${Buffer.from(r.namespace).toString('latin1')}`;
        let g = groups.get(id);
        if (g === undefined) {
          g = {
            key: decodeExact(s.keySerializer, r.key, file, fieldOffset(fields, j, BlockField.key), 'key') as K,
            namespace: decodeExact(s.nsSerializer, r.namespace, file, fieldOffset(fields, j, BlockField.namespace), 'namespace') as N,
            value: new Map(),
          };
          groups.set(id, g);
        }
        const { userKey, value } = decodeMapEntry<UK, UV>(ms, record, stateName);
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

  /** Per key-group block, the records of state `s`. */
  private async *recordsPerBlock(uid: string, s: KeyedStateOf): AsyncGenerator<BlockRecord[]> {
    for await (const { block, source, stateIndexMap } of this.keyedBlocks(uid)) {
      const records: BlockRecord[] = [];
      for (let j = 0; j < block.records.length; j++) {
        const r = block.records[j]!;
        if (stateIndexMap[r.stateIndex] === s.index) records.push({ r, file: source.file, fields: block.fields, j });
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
 * is awaited. Like a generator, it serves overlapping calls in order: those made while a block is
 * pulled wait for the pull (each entry is handed out once, and no block is pulled before the
 * current one is used up, which would make a block read into reused buffers stale), and after an
 * error it is finished (the rest of a corrupt block is not read past).
 */
class BlockEntries<T> implements AsyncIterableIterator<T> {
  private current: Iterator<T> | undefined;
  /** The pull of a block (or the closing of the source) in flight: calls made meanwhile wait for it. */
  private pending: Promise<unknown> | undefined;
  private finished = false;

  constructor(private readonly blocks: AsyncGenerator<Iterable<T>>) {}

  next(): Promise<IteratorResult<T>> {
    if (this.pending !== undefined) return this.after(this.pending, () => this.next());
    const current = this.current;
    if (current !== undefined) {
      let r: IteratorResult<T>;
      try {
        r = current.next();
      } catch (e) {
        return this.track(this.fail(e));
      }
      if (r.done !== true) return Promise.resolve(r);
      this.current = undefined;
    }
    return this.finished ? Promise.resolve({ done: true, value: undefined }) : this.track(this.pull());
  }

  return(): Promise<IteratorResult<T>> {
    if (this.pending !== undefined) return this.after(this.pending, () => this.return());
    return this.track(this.close());
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  /** The first entry of the next block that has one. */
  private async pull(): Promise<IteratorResult<T>> {
    try {
      for (;;) {
        const b = await this.blocks.next();
        if (b.done === true) {
          this.finished = true;
          return { done: true, value: undefined };
        }
        const current = b.value[Symbol.iterator]();
        const r = current.next();
        if (r.done !== true) {
          this.current = current;
          return r;
        }
      }
    } catch (e) {
      return this.fail(e);
    }
  }

  /** Finishes after an error, as a generator would, closing the source (which gives its read buffers back); rethrows `e`. */
  private async fail(e: unknown): Promise<never> {
    this.current = undefined;
    this.finished = true;
    // The error that ended the read is the one to report, not one of closing after it.
    await this.blocks.return(undefined).catch(() => {});
    throw e;
  }

  private async close(): Promise<IteratorResult<T>> {
    this.current = undefined;
    this.finished = true;
    await this.blocks.return(undefined);
    return { done: true, value: undefined };
  }

  /** `p` as the operation in flight until it settles. */
  private track<R>(p: Promise<R>): Promise<R> {
    this.pending = p;
    const settled = (): void => {
      if (this.pending === p) this.pending = undefined;
    };
    p.then(settled, settled);
    return p;
  }

  /** `call` once `p` settled: `track` cleared `pending` then, as it registered first. */
  private after<R>(p: Promise<unknown>, call: () => Promise<R>): Promise<R> {
    return p.then(call, call);
  }
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
  const copies = copyRuns ? new ValueFieldCopies(fields, stateIndexMap, s.index) : undefined;
  for (let j = 0; j < fields.count; j++) {
    if (buffer?.live === false) {
      throw new IllegalStateUsageError(buffer.stateName, 'a block of readKeyedStateBlocks was iterated after the next block was requested, whose read reuses its bytes: iterate each block first');
    }
    if (stateIndexMap[fields.stateIndex(j)] !== s.index) continue;
    const key = decodeField(decoder, s.keySerializer, fields, j, BlockField.key, 'key', views, file) as K;
    const namespace = decodeField(decoder, s.nsSerializer, fields, j, BlockField.namespace, 'namespace', views, file) as N;
    const value = (copies === undefined ? decodeField(decoder, s.stateSerializer, fields, j, BlockField.value, what, views, file) : copies.decode(j, s.stateSerializer, what, file)) as V;
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
 * Field `which` of record j, decoded in place in its block. Its errors name the stream offset of
 * the byte where decoding failed, as validate's do: the decoder counts from the field's start, so
 * its base is the field's own offset (the record's, its key's, would misplace every other field).
 */
function decodeField<T>(decoder: ExactDeserializer, serializer: TypeSerializer<T>, fields: KeyGroupRecordFields, j: number, which: BlockField, what: string, views: boolean, file: string): T {
  const start = fields.start(j, which);
  const offset = fields.offset + start;
  try {
    return decoder.decodeRange(serializer, fields.bytes, start, fields.end(j, which), what, offset, views);
  } catch (e) {
    wrapDecodeError(e, file, offset);
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
