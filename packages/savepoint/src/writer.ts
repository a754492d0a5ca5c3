import { rm } from 'node:fs/promises';
import {
  assignToKeyGroup,
  collectStreamHandles,
  checkParallelism,
  computeKeyGroupRangeForOperatorIndex,
  computeOperatorIndexForKeyGroup,
  defaultSerializerRegistry,
  DataOutputSerializer,
  IllegalStateUsageError,
  isKeyGroupsStateHandle,
  KeyedStateStreamEncoder,
  MapSerializer,
  MapSerializerSnapshot,
  repartitionOperatorState,
  SAVEPOINT,
  StateMigrationError,
  VoidNamespace,
  VoidNamespaceSerializer,
  type BroadcastState,
  type CheckpointMetadata,
  type KeyedStateBackend,
  type KeyedStateHandle,
  type KeyedStateMetaInfo,
  type KeyGroupsStateHandle,
  type ListState,
  type ListStateDescriptor,
  type MapStateDescriptor,
  type OperatorSnapshotMetadata,
  type OperatorStateBackend,
  type OperatorStateHandle,
  type State,
  type StateDescriptor,
  type SubtaskStateMetadata,
  type TypeSerializer,
  type TypeSerializerSnapshot,
  type SerializerSnapshotRegistry,
} from '@flowstate/core';
import { FsStateBackend } from '@flowstate/heap';
import { randomFileNames, SavepointDirectory, SavepointOutput, seededFileNames } from './directory.js';
import { UnsupportedSavepointOperationError } from './errors.js';
import { formatWriterFor, LATEST_FORMAT_VERSION } from './format.js';
import { decodeExact, mergeHeaders, readHeader } from './keyed.js';
import type { SavepointReader } from './reader.js';
import { rewriteKeyedState, settleAll, type RawRecord, type RecordOrigin, type StatePlan } from './rewrite.js';

// ---- bootstrap API ------------------------------------------------------------------------------

/** What a keyed bootstrap function sees for the element being processed. */
export interface KeyedBootstrapContext<K> {
  /** The key of the current element (already set on the backend). */
  readonly currentKey: K;
  readonly subtaskIndex: number;
  /** State in the void namespace (non-windowed state). */
  getState<S extends State, V>(descriptor: StateDescriptor<S, V>): S;
  /** State in a namespace (e.g. a window). */
  getPartitionedState<N, S extends State, V>(namespace: N, namespaceSerializer: TypeSerializer<N>, descriptor: StateDescriptor<S, V>): S;
}

/** Flink's KeyedStateBootstrapFunction: called once per element, with its key set. */
export interface KeyedStateBootstrapFunction<T, K> {
  processElement(element: T, context: KeyedBootstrapContext<K>): void;
}

export interface KeyedBootstrap<T, K> {
  readonly data: Iterable<T> | AsyncIterable<T>;
  readonly keySelector: (element: T) => K;
  readonly keySerializer: TypeSerializer<K>;
  readonly bootstrap: KeyedStateBootstrapFunction<T, K>;
  /** Default 1. */
  readonly parallelism?: number;
  /** Default: the writer's maxParallelism. */
  readonly maxParallelism?: number;
}

export interface OperatorBootstrapContext {
  readonly subtaskIndex: number;
  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T>;
  getUnionListState<T>(descriptor: ListStateDescriptor<T>): ListState<T>;
  getBroadcastState<K, V>(descriptor: MapStateDescriptor<K, V>): BroadcastState<K, V>;
}

/** Flink's StateBootstrapFunction for operator state; elements go to subtasks round-robin. */
export interface OperatorStateBootstrapFunction<T> {
  /** Called once per subtask before any element, e.g. to fill broadcast state (identical everywhere). */
  open?(context: OperatorBootstrapContext): void;
  processElement(element: T, context: OperatorBootstrapContext): void;
}

export interface OperatorStateBootstrap<T> {
  readonly data: Iterable<T> | AsyncIterable<T>;
  readonly bootstrap: OperatorStateBootstrapFunction<T>;
  /** Default 1. */
  readonly parallelism?: number;
  /** Default: the writer's maxParallelism. */
  readonly maxParallelism?: number;
}

// ---- modification API ---------------------------------------------------------------------------

/** Entry handed to a keyed state transformation: decoded with the savepoint's serializers. */
export interface TransformEntry {
  readonly key: unknown;
  readonly namespace: unknown;
  /** MAP states: the user key of this entry. */
  readonly userKey?: unknown;
  /** The value (MAP: the user value, possibly null; LIST: the array of elements). */
  readonly value: unknown;
}

export interface KeyedStateTransformation {
  /** Returns the new value (MAP: the new user value or null), or undefined to drop the entry. */
  readonly map: (entry: TransformEntry) => unknown;
  /** The state serializer of the new values (MAP: a MapSerializer); default: the current one. */
  readonly serializer?: TypeSerializer<unknown>;
}

type StateChange =
  | { readonly type: 'transform'; readonly t: KeyedStateTransformation }
  | { readonly type: 'upgrade'; readonly serializer: TypeSerializer<unknown> }
  | { readonly type: 'remove' };

interface KeyChange {
  readonly serializer: TypeSerializer<unknown>;
  readonly convert: ((oldKey: unknown) => unknown) | undefined;
}

type Op =
  | {
      readonly kind: 'existing';
      readonly source: OperatorSnapshotMetadata;
      readonly changes: Map<string, StateChange[]>;
      keyChange: KeyChange | undefined;
      parallelism: number | undefined;
      maxParallelism: number | undefined;
    }
  | { readonly kind: 'keyed'; readonly spec: KeyedBootstrap<unknown, unknown> }
  | { readonly kind: 'operator'; readonly spec: OperatorStateBootstrap<unknown> };

export interface SavepointWriteOptions {
  /** Default: the source savepoint's id, or 0. */
  readonly checkpointId?: number;
  /** Default: the source savepoint's timestamp, or now. */
  readonly timestamp?: number;
  /** Merged over the source savepoint's properties. */
  readonly properties?: Readonly<Record<string, string | number | boolean>>;
  /** Derive state file names from this seed instead of random UUIDs (reproducible fixtures). */
  readonly fileNameSeed?: string;
  /** Format version to write; only the latest is writable (see FORMAT_WRITERS). */
  readonly formatVersion?: number;
  /** Called with the number of input bytes processed, as they are processed. */
  readonly onBytes?: (n: number) => void;
  /** Memory for re-partitioning before records spill to temporary files (bytes). */
  readonly spillBudget?: number;
}

export interface SavepointWriteResult {
  readonly directory: string;
  readonly metadata: CheckpointMetadata;
  readonly formatVersion: number;
}

const CHANGE_NEEDS_KEYED = 'a keyed state change';

/**
 * Writes a new savepoint (Flink's SavepointWriter): from scratch with bootstrap functions that
 * run on the real heap backend, or derived from an existing savepoint by adding, removing and
 * renaming operators, transforming or upgrading states, changing the key serializer and changing
 * (max)parallelism. The output is a new self-contained directory; the input is never modified.
 */
export class SavepointWriter {
  private readonly ops = new Map<string, Op>();

  private constructor(
    private readonly source: SavepointReader | undefined,
    readonly maxParallelism: number,
    /** Reads back serializer snapshots of custom serializers the bootstrap functions use. */
    private readonly registry: SerializerSnapshotRegistry,
  ) {}

  /**
   * A new, empty savepoint; `maxParallelism` is the default of operators added to it. Pass a
   * registry when bootstrapped states use custom serializers.
   */
  static newSavepoint(options: { maxParallelism: number; registry?: SerializerSnapshotRegistry }): SavepointWriter {
    checkParallelism(1, options.maxParallelism);
    return new SavepointWriter(undefined, options.maxParallelism, options.registry ?? defaultSerializerRegistry);
  }

  /** Starts from every operator of an existing savepoint. */
  static fromExisting(reader: SavepointReader): SavepointWriter {
    const w = new SavepointWriter(reader, reader.metadata.operators[0]?.maxParallelism ?? 128, reader.registry);
    for (const op of reader.metadata.operators) {
      w.ops.set(op.uid, { kind: 'existing', source: op, changes: new Map(), keyChange: undefined, parallelism: undefined, maxParallelism: undefined });
    }
    return w;
  }

  uids(): string[] {
    return [...this.ops.keys()];
  }

  private checkFree(uid: string): void {
    if (typeof uid !== 'string' || uid === '') throw new IllegalStateUsageError(undefined, 'operator uid must be a non-empty string');
    if (this.ops.has(uid)) throw new IllegalStateUsageError(undefined, `operator '${uid}' already exists in the savepoint`);
  }

  private existing(uid: string): Extract<Op, { kind: 'existing' }> {
    const op = this.ops.get(uid);
    if (op === undefined) throw new IllegalStateUsageError(undefined, `no operator with uid '${uid}' (have: ${this.uids().join(', ') || 'none'})`);
    if (op.kind !== 'existing') throw new IllegalStateUsageError(undefined, `operator '${uid}' is being bootstrapped; change its bootstrap function instead`);
    return op;
  }

  withKeyedOperator<T, K>(uid: string, spec: KeyedBootstrap<T, K>): this {
    this.checkFree(uid);
    const maxP = spec.maxParallelism ?? this.maxParallelism;
    checkParallelism(spec.parallelism ?? 1, maxP);
    this.ops.set(uid, { kind: 'keyed', spec: spec as unknown as KeyedBootstrap<unknown, unknown> });
    return this;
  }

  withOperatorStateOperator<T>(uid: string, spec: OperatorStateBootstrap<T>): this {
    this.checkFree(uid);
    checkParallelism(spec.parallelism ?? 1, spec.maxParallelism ?? this.maxParallelism);
    this.ops.set(uid, { kind: 'operator', spec: spec as unknown as OperatorStateBootstrap<unknown> });
    return this;
  }

  removeOperator(uid: string): this {
    if (!this.ops.delete(uid)) throw new IllegalStateUsageError(undefined, `no operator with uid '${uid}' to remove`);
    return this;
  }

  /** Renames an operator uid, keeping its position and state. */
  renameOperator(from: string, to: string): this {
    const op = this.ops.get(from);
    if (op === undefined) throw new IllegalStateUsageError(undefined, `no operator with uid '${from}' to rename`);
    this.checkFree(to);
    const entries = [...this.ops].map(([k, v]): [string, Op] => (k === from ? [to, v] : [k, v]));
    this.ops.clear();
    for (const [k, v] of entries) this.ops.set(k, v);
    return this;
  }

  private addChange(uid: string, stateName: string, change: StateChange): this {
    const op = this.existing(uid);
    const list = op.changes.get(stateName) ?? [];
    list.push(change);
    op.changes.set(stateName, list);
    return this;
  }

  /** Maps every entry of a keyed state (optionally to a new serializer); undefined drops entries. */
  transformKeyedState(uid: string, stateName: string, transformation: KeyedStateTransformation): this {
    return this.addChange(uid, stateName, { type: 'transform', t: transformation });
  }

  /** Removes a keyed state from an operator. */
  removeKeyedState(uid: string, stateName: string): this {
    return this.addChange(uid, stateName, { type: 'remove' });
  }

  /**
   * Offline schema evolution of one state: values are read with the savepoint's serializer and
   * rewritten with `descriptor.serializer`, migrating them as its snapshot's compatibility
   * resolution says (e.g. a record serializer V1 -> V2 with a new defaulted field).
   * With `uid` undefined, applies to every operator that has a keyed state of that name.
   */
  async upgradeKeyedState(uid: string | undefined, descriptor: StateDescriptor<State, unknown>): Promise<this> {
    const uids = uid !== undefined ? [uid] : await this.operatorsWithState(descriptor.name);
    if (uids.length === 0) throw new IllegalStateUsageError(descriptor.name, 'no operator of the savepoint has a keyed state with this name');
    for (const u of uids) this.addChange(u, descriptor.name, { type: 'upgrade', serializer: descriptor.serializer as TypeSerializer<unknown> });
    return this;
  }

  private async operatorsWithState(name: string): Promise<string[]> {
    const out: string[] = [];
    for (const [uid, op] of this.ops) {
      if (op.kind !== 'existing' || this.source === undefined) continue;
      if (!op.source.subtasks.some((s) => s.keyed.length > 0)) continue;
      const states = await this.source.keyedStates(op.source.uid);
      if (states.some((s) => s.name === name)) out.push(uid);
    }
    return out;
  }

  /**
   * Changes the key serializer of an operator. Keys are converted with `convert` (or migrated
   * when the new serializer's compatibility resolution allows it), re-serialized and assigned to
   * their new key groups.
   */
  changeKeySerializer<K>(uid: string, serializer: TypeSerializer<K>, convert?: (oldKey: unknown) => K): this {
    this.existing(uid).keyChange = { serializer: serializer as TypeSerializer<unknown>, convert };
    return this;
  }

  /** Changes parallelism and/or maxParallelism of one operator (or all with uid undefined). */
  rescale(uid: string | undefined, options: { parallelism?: number; maxParallelism?: number }): this {
    const targets = uid !== undefined ? [this.existing(uid)] : [...this.ops.values()].filter((o): o is Extract<Op, { kind: 'existing' }> => o.kind === 'existing');
    for (const op of targets) {
      const maxP = options.maxParallelism ?? op.source.maxParallelism;
      // Default parallelism: unchanged, capped by the new maxParallelism.
      const p = options.parallelism ?? Math.min(op.source.parallelism, maxP);
      checkParallelism(p, maxP);
      op.parallelism = p;
      op.maxParallelism = maxP;
    }
    return this;
  }

  async write(directory: string, options: SavepointWriteOptions = {}): Promise<SavepointWriteResult> {
    const formatVersion = options.formatVersion ?? LATEST_FORMAT_VERSION;
    const formatWriter = formatWriterFor(formatVersion);
    const src = this.source;
    const checkpointId = options.checkpointId ?? src?.metadata.checkpointId ?? 0;
    const timestamp = options.timestamp ?? src?.metadata.timestamp ?? Date.now();
    const output = await SavepointOutput.create(
      directory,
      checkpointId,
      options.fileNameSeed === undefined ? randomFileNames() : seededFileNames(options.fileNameSeed),
      src === undefined ? [] : [src.directory],
      src === undefined ? [] : collectStreamHandles(src.metadata).flatMap((h) => (h.type === 'file' ? [h.path] : [])),
    );
    try {
      const operators: OperatorSnapshotMetadata[] = [];
      for (const [uid, op] of this.ops) {
        if (op.kind === 'existing') operators.push(await this.writeExisting(uid, op, output, options));
        else if (op.kind === 'keyed') operators.push(await this.writeKeyedBootstrap(uid, op.spec, output, checkpointId, timestamp));
        else operators.push(await this.writeOperatorBootstrap(uid, op.spec, output, checkpointId, timestamp));
      }
      const properties = { ...(src?.metadata.properties ?? {}), ...(options.properties ?? {}) };
      const metadata: CheckpointMetadata = {
        checkpointId,
        kind: 'SAVEPOINT',
        timestamp,
        operators,
        ...(Object.keys(properties).length > 0 ? { properties } : {}),
      };
      await output.writeMetadata(formatWriter.writeMetadata(metadata));
      return { directory: output.path, metadata, formatVersion };
    } catch (e) {
      // The directory was created (or was empty) for this write: leave nothing half-written.
      await rm(output.path, { recursive: true, force: true }).catch(() => {});
      throw e;
    }
  }

  // ---- existing operators -----------------------------------------------------------------------

  private async writeExisting(uid: string, op: Extract<Op, { kind: 'existing' }>, output: SavepointOutput, options: SavepointWriteOptions): Promise<OperatorSnapshotMetadata> {
    const src = this.source!;
    const old = op.source;
    const p = op.parallelism ?? old.parallelism;
    const maxP = op.maxParallelism ?? old.maxParallelism;
    const keyed = old.subtasks.flatMap((s) => s.keyed);
    const native = keyed.find((h) => !isKeyGroupsStateHandle(h));
    if (native !== undefined) {
      throw new UnsupportedSavepointOperationError(
        `writing operator '${old.uid}'`,
        `its keyed state is a native '${native.type}' snapshot; native files are opaque to the savepoint tools and their key groups cannot be recomputed (take a canonical savepoint instead)`,
      );
    }
    const rewriteKeyed = op.changes.size > 0 || op.keyChange !== undefined || p !== old.parallelism || maxP !== old.maxParallelism;
    if (!rewriteKeyed) {
      for (const s of old.subtasks) {
        for (const h of s.keyed) await output.copy(src.dir, (h as KeyGroupsStateHandle).stream, options.onBytes);
        for (const h of s.operator) await output.copy(src.dir, h.stream, options.onBytes);
      }
      return { ...old, uid };
    }
    if (keyed.length === 0 && (op.changes.size > 0 || op.keyChange !== undefined)) {
      throw new IllegalStateUsageError(undefined, `operator '${old.uid}' has no keyed state for ${CHANGE_NEEDS_KEYED}`);
    }
    let keyedHandles: KeyGroupsStateHandle[] = [];
    if (keyed.length > 0) {
      const spec = await this.keyedPlan(src, old.uid, op);
      keyedHandles = await rewriteKeyedState(src, old.uid, { ...spec, parallelism: p, maxParallelism: maxP }, output, {
        ...(options.onBytes === undefined ? {} : { onBytes: options.onBytes }),
        ...(options.spillBudget === undefined ? {} : { spillBudget: options.spillBudget }),
      });
    }
    const oldOperator: OperatorStateHandle[][] = Array.from({ length: old.parallelism }, () => []);
    for (const s of old.subtasks) oldOperator[s.subtaskIndex] = [...s.operator];
    for (const h of oldOperator.flat()) await output.copy(src.dir, h.stream, options.onBytes);
    const newOperator = p === old.parallelism ? oldOperator : repartitionForSavepoint(oldOperator, p);
    const subtasks: SubtaskStateMetadata[] = [];
    for (let i = 0; i < p; i++) {
      const k = keyedHandles[i];
      subtasks.push({ subtaskIndex: i, keyed: k === undefined ? [] : [k], operator: newOperator[i] ?? [] });
    }
    return { uid, parallelism: p, maxParallelism: maxP, subtasks };
  }

  private async keyedPlan(
    src: SavepointReader,
    uid: string,
    op: Extract<Op, { kind: 'existing' }>,
  ): Promise<{ keySerializerSnapshot: TypeSerializerSnapshot<unknown>; states: (StatePlan | null)[]; convertKey?: (k: Uint8Array, o: RecordOrigin) => Uint8Array }> {
    const { merged } = await src.keyedSources(uid);
    const m = merged!;
    for (const name of op.changes.keys()) {
      if (!m.states.some((s) => s.name === name)) {
        throw new IllegalStateUsageError(name, `operator '${uid}' has no keyed state with this name (it has: ${m.states.map((s) => s.name).join(', ')})`);
      }
    }
    const oldKeySerializer = m.keySerializerSnapshot.restoreSerializer();
    const states = m.states.map((meta) => planState(meta, op.changes.get(meta.name) ?? [], oldKeySerializer));
    if (op.keyChange === undefined) return { keySerializerSnapshot: m.keySerializerSnapshot, states };
    const kc = op.keyChange;
    const compat = m.keySerializerSnapshot.resolveSchemaCompatibility(kc.serializer);
    let convert: (old: unknown) => unknown;
    if (kc.convert !== undefined) convert = kc.convert;
    else if (compat.type === 'COMPATIBLE_AS_IS') convert = (k) => k;
    else if (compat.type === 'COMPATIBLE_AFTER_MIGRATION') convert = compat.migrate;
    else {
      throw new StateMigrationError(`<key of ${uid}>`, `the new key serializer '${kc.serializer.typeId}' cannot take over the keys (${compat.type === 'INCOMPATIBLE' ? compat.reason : compat.type}); pass a conversion function`);
    }
    const out = new DataOutputSerializer(64);
    return {
      keySerializerSnapshot: kc.serializer.snapshotConfiguration(),
      states,
      convertKey: (bytes, origin) => {
        out.clear();
        kc.serializer.serialize(convert(decodeExact(oldKeySerializer, bytes, origin.file, origin.offset, 'key')), out);
        return out.toBytes();
      },
    };
  }

  // ---- bootstrapping ----------------------------------------------------------------------------

  private async writeKeyedBootstrap(uid: string, spec: KeyedBootstrap<unknown, unknown>, output: SavepointOutput, checkpointId: number, timestamp: number): Promise<OperatorSnapshotMetadata> {
    const p = spec.parallelism ?? 1;
    const maxP = spec.maxParallelism ?? this.maxParallelism;
    const backend = new FsStateBackend();
    const subtasks: KeyedStateBackend<unknown>[] = [];
    for (let i = 0; i < p; i++) {
      subtasks.push(
        await backend.createKeyedStateBackend({
          operatorIdentifier: `${uid}[${i}]`,
          keySerializer: spec.keySerializer,
          numberOfKeyGroups: maxP,
          keyGroupRange: computeKeyGroupRangeForOperatorIndex(maxP, p, i),
        }),
      );
    }
    try {
      const contexts = subtasks.map((b, i): KeyedBootstrapContext<unknown> => ({
        get currentKey() {
          return b.getCurrentKey();
        },
        subtaskIndex: i,
        getState: (d) => b.getPartitionedState(VoidNamespace, VoidNamespaceSerializer.INSTANCE, d) as never,
        getPartitionedState: (ns, nsSer, d) => b.getPartitionedState(ns, nsSer, d) as never,
      }));
      const keyOut = new DataOutputSerializer(64);
      for await (const element of spec.data) {
        const key = spec.keySelector(element);
        keyOut.clear();
        spec.keySerializer.serialize(key, keyOut);
        const i = computeOperatorIndexForKeyGroup(maxP, p, assignToKeyGroup(keyOut.bytesView(), maxP));
        subtasks[i]!.setCurrentKey(key);
        spec.bootstrap.processElement(element, contexts[i]!);
      }
      // All snapshots start before any is awaited: their asynchronous parts write concurrently.
      // Streams are created in subtask order when each snapshot's asynchronous part begins.
      const futures = subtasks.map((b) => b.snapshot(checkpointId, timestamp, output.streamFactory, SAVEPOINT));
      const handles: Array<KeyedStateHandle | null> = (await settleAll(futures.map((f) => f.result))).map((r) => r.jobManagerOwnedSnapshot);
      await fillEmptySubtasks(handles as Array<KeyGroupsStateHandle | null>, output, uid, maxP, p, this.registry);
      return {
        uid,
        parallelism: p,
        maxParallelism: maxP,
        subtasks: handles.map((h, i) => ({ subtaskIndex: i, keyed: h === null ? [] : [h], operator: [] })),
      };
    } finally {
      for (const b of subtasks) b.dispose();
    }
  }

  private async writeOperatorBootstrap(uid: string, spec: OperatorStateBootstrap<unknown>, output: SavepointOutput, checkpointId: number, timestamp: number): Promise<OperatorSnapshotMetadata> {
    const p = spec.parallelism ?? 1;
    const backend = new FsStateBackend();
    const subtasks: OperatorStateBackend[] = [];
    for (let i = 0; i < p; i++) subtasks.push(await backend.createOperatorStateBackend({ operatorIdentifier: `${uid}[${i}]` }));
    try {
      const contexts = subtasks.map((b, i): OperatorBootstrapContext => ({
        subtaskIndex: i,
        getListState: (d) => b.getListState(d),
        getUnionListState: (d) => b.getUnionListState(d),
        getBroadcastState: (d) => b.getBroadcastState(d),
      }));
      for (const c of contexts) spec.bootstrap.open?.(c);
      let n = 0;
      for await (const element of spec.data) spec.bootstrap.processElement(element, contexts[n++ % p]!);
      const subs: SubtaskStateMetadata[] = [];
      for (let i = 0; i < p; i++) {
        const h = (await subtasks[i]!.snapshot(checkpointId, timestamp, output.streamFactory, SAVEPOINT).result).jobManagerOwnedSnapshot;
        subs.push({ subtaskIndex: i, keyed: [], operator: h === null ? [] : [h] });
      }
      return { uid, parallelism: p, maxParallelism: spec.maxParallelism ?? this.maxParallelism, subtasks: subs };
    } finally {
      for (const b of subtasks) b.dispose();
    }
  }
}

/**
 * A heap subtask that never saw a key registers no state and snapshots nothing. A savepoint we
 * write covers every key group of a keyed operator exactly once, so such subtasks get a stream
 * with the operator's header and empty blocks.
 */
async function fillEmptySubtasks(
  handles: Array<KeyGroupsStateHandle | null>,
  output: SavepointOutput,
  uid: string,
  maxP: number,
  p: number,
  registry: SerializerSnapshotRegistry,
): Promise<void> {
  const present = handles.filter((h): h is KeyGroupsStateHandle => h !== null);
  if (present.length === 0 || present.length === handles.length) return;
  // The headers just written are the source of truth for the operator's states.
  const dir = new SavepointDirectory(output.path);
  const headers = [];
  for (const h of present) headers.push(await readHeader(dir.reader, h, registry));
  const merged = mergeHeaders(headers, present.map((h) => (h.stream.type === 'file' ? h.stream.path : h.stream.name)), uid)!;
  for (let i = 0; i < handles.length; i++) {
    if (handles[i] !== null) continue;
    const range = computeKeyGroupRangeForOperatorIndex(maxP, p, i);
    const encoder = new KeyedStateStreamEncoder(range, merged.keySerializerSnapshot, merged.states);
    const out = output.newStream();
    await out.write(encoder.encodeHeader());
    for (const g of range) {
      encoder.beginKeyGroup(g);
      await out.write(encoder.endKeyGroup());
    }
    handles[i] = encoder.finish(await out.closeAndGetHandle());
  }
}

/**
 * Operator state of a rescaled savepoint. Restore-time repartitioning gives every subtask all
 * UNION elements; a savepoint must instead keep each element once (the union over its subtasks
 * is the state), so UNION is split like SPLIT_DISTRIBUTE here and BROADCAST is copied.
 */
function repartitionForSavepoint(old: OperatorStateHandle[][], p: number): OperatorStateHandle[][] {
  const asSplit = old.map((hs) =>
    hs.map((h) => ({
      ...h,
      states: Object.fromEntries(Object.entries(h.states).map(([n, e]) => [n, e.mode === 'UNION' ? { ...e, mode: 'SPLIT_DISTRIBUTE' as const } : e])),
    })),
  );
  const unionNames = new Set(old.flat().flatMap((h) => Object.entries(h.states).filter(([, e]) => e.mode === 'UNION').map(([n]) => n)));
  return repartitionOperatorState(asSplit, p).map((hs) =>
    hs.map((h) => ({
      ...h,
      states: Object.fromEntries(Object.entries(h.states).map(([n, e]) => [n, unionNames.has(n) ? { ...e, mode: 'UNION' as const } : e])),
    })),
  );
}

// ---- state plans ----------------------------------------------------------------------------------

function planState(meta: KeyedStateMetaInfo, changes: readonly StateChange[], keySerializer: TypeSerializer<unknown>): StatePlan | null {
  let current: KeyedStateMetaInfo = meta;
  const steps: Array<(r: RawRecord, o: RecordOrigin) => RawRecord | null> = [];
  for (const c of changes) {
    if (c.type === 'remove') return null;
    const step = c.type === 'upgrade' ? upgradeStep(current, c.serializer) : transformStep(current, c.t, keySerializer);
    current = step.meta;
    if (step.fn !== undefined) steps.push(step.fn);
  }
  if (steps.length === 0) return { meta: current };
  return {
    meta: current,
    transform: (r, o) => {
      let x: RawRecord | null = r;
      for (const s of steps) {
        x = s(x, o);
        if (x === null) return null;
      }
      return x;
    },
  };
}

type Step = { meta: KeyedStateMetaInfo; fn: ((r: RawRecord, o: RecordOrigin) => RawRecord | null) | undefined };

function withSerializer(meta: KeyedStateMetaInfo, s: TypeSerializer<unknown>): KeyedStateMetaInfo {
  return { ...meta, stateSerializerSnapshot: s.snapshotConfiguration() };
}

function upgradeStep(meta: KeyedStateMetaInfo, next: TypeSerializer<unknown>): Step {
  const out = new DataOutputSerializer(256);
  if (meta.kind === 'MAP') {
    const old = meta.stateSerializerSnapshot;
    if (!(old instanceof MapSerializerSnapshot) || !(next instanceof MapSerializer)) {
      throw new StateMigrationError(meta.name, `MAP state needs a map serializer, got '${next.typeId}'`);
    }
    const ns = next as MapSerializer<unknown, unknown>;
    const os = old as MapSerializerSnapshot<unknown, unknown>;
    const kc = os.keySnapshot.resolveSchemaCompatibility(ns.keySerializer);
    if (kc.type !== 'COMPATIBLE_AS_IS') throw new StateMigrationError(meta.name, `map user keys cannot change serializer (${kc.type === 'INCOMPATIBLE' ? kc.reason : kc.type})`);
    const vc = os.valueSnapshot.resolveSchemaCompatibility(ns.valueSerializer);
    if (vc.type === 'INCOMPATIBLE') throw new StateMigrationError(meta.name, `map values: ${vc.reason}`);
    if (vc.type === 'COMPATIBLE_AS_IS') return { meta: withSerializer(meta, ns), fn: undefined };
    const reader = vc.type === 'COMPATIBLE_WITH_RECONFIGURED_SERIALIZER' ? vc.serializer : os.valueSnapshot.restoreSerializer();
    const writer = vc.type === 'COMPATIBLE_WITH_RECONFIGURED_SERIALIZER' ? vc.serializer : ns.valueSerializer;
    const migrate = vc.type === 'COMPATIBLE_AFTER_MIGRATION' ? vc.migrate : (v: unknown) => v;
    const finalSer = vc.type === 'COMPATIBLE_WITH_RECONFIGURED_SERIALIZER' ? new MapSerializer(ns.keySerializer, vc.serializer) : ns;
    return {
      meta: withSerializer(meta, finalSer as TypeSerializer<unknown>),
      fn: (r, o) => {
        if (r.value === null) return r;
        out.clear();
        writer.serialize(migrate(decodeExact(reader, r.value, o.file, o.offset, `value of '${meta.name}'`)), out);
        return { ...r, value: out.toBytes() };
      },
    };
  }
  const c = meta.stateSerializerSnapshot.resolveSchemaCompatibility(next);
  switch (c.type) {
    case 'INCOMPATIBLE':
      throw new StateMigrationError(meta.name, `cannot be upgraded to '${next.typeId}': ${c.reason}`);
    case 'COMPATIBLE_AS_IS':
      return { meta: withSerializer(meta, next), fn: undefined };
    case 'COMPATIBLE_WITH_RECONFIGURED_SERIALIZER':
      return { meta: withSerializer(meta, c.serializer), fn: undefined };
    case 'COMPATIBLE_AFTER_MIGRATION': {
      const reader = meta.stateSerializerSnapshot.restoreSerializer();
      return {
        meta: withSerializer(meta, next),
        fn: (r, o) => {
          out.clear();
          next.serialize(c.migrate(decodeExact(reader, r.value!, o.file, o.offset, `value of '${meta.name}'`)), out);
          return { ...r, value: out.toBytes() };
        },
      };
    }
  }
}

function transformStep(meta: KeyedStateMetaInfo, t: KeyedStateTransformation, keySerializer: TypeSerializer<unknown>): Step {
  const nsSer = meta.namespaceSerializerSnapshot.restoreSerializer();
  const oldSer = meta.stateSerializerSnapshot.restoreSerializer();
  const newSer = t.serializer ?? oldSer;
  const out = new DataOutputSerializer(256);
  if (meta.kind === 'MAP') {
    if (!(oldSer instanceof MapSerializer) || !(newSer instanceof MapSerializer)) throw new StateMigrationError(meta.name, 'MAP state needs map serializers');
    const oldV = (oldSer as MapSerializer<unknown, unknown>).valueSerializer;
    const oldK = (oldSer as MapSerializer<unknown, unknown>).keySerializer;
    const newV = (newSer as MapSerializer<unknown, unknown>).valueSerializer;
    return {
      meta: withSerializer(meta, newSer),
      fn: (r, o) => {
        const w = `'${meta.name}'`;
        const v = t.map({
          key: decodeExact(keySerializer, r.key, o.file, o.offset, 'key'),
          namespace: decodeExact(nsSer, r.namespace, o.file, o.offset, 'namespace'),
          userKey: decodeExact(oldK, r.userKey!, o.file, o.offset, `user key of ${w}`),
          value: r.value === null ? null : decodeExact(oldV, r.value, o.file, o.offset, `value of ${w}`),
        });
        if (v === undefined) return null;
        if (v === null) return { ...r, value: null };
        out.clear();
        newV.serialize(v, out);
        return { ...r, value: out.toBytes() };
      },
    };
  }
  return {
    meta: withSerializer(meta, newSer),
    fn: (r, o) => {
      const v = t.map({
        key: decodeExact(keySerializer, r.key, o.file, o.offset, 'key'),
        namespace: decodeExact(nsSer, r.namespace, o.file, o.offset, 'namespace'),
        value: decodeExact(oldSer, r.value!, o.file, o.offset, `value of '${meta.name}'`),
      });
      if (v === undefined || v === null) return null;
      out.clear();
      newSer.serialize(v, out);
      return { ...r, value: out.toBytes() };
    },
  };
}
