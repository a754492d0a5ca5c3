import {
  assignToKeyGroup,
  computeKeyGroupRangeForOperatorIndex,
  computeOperatorIndexForKeyGroup,
  DataOutputSerializer,
  KeyedStateStreamEncoder,
  NOT_HANDLED,
  primitiveKeyGroupFor,
  readKeyedStateHeader,
  SAVEPOINT,
  settleAll,
  VoidNamespace,
  VoidNamespaceSerializer,
  type BroadcastState,
  type KeyedStateBackend,
  type KeyedStateHandle,
  type KeyGroupsStateHandle,
  type ListState,
  type ListStateDescriptor,
  type MapStateDescriptor,
  type OperatorSnapshotMetadata,
  type OperatorStateBackend,
  type SerializerSnapshotRegistry,
  type State,
  type StateBackend,
  type StateDescriptor,
  type SubtaskStateMetadata,
  type TypeSerializer,
} from '@flowstate/core';
import { SavepointDirectory } from './directory.js';
import { handleFile, mergeHeaders } from './keyed.js';
import type { SavepointOutput } from './output.js';

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

/** Where bootstrapped state goes, and the backend it runs on. */
export interface BootstrapTarget {
  readonly output: SavepointOutput;
  readonly backend: StateBackend;
  readonly checkpointId: number;
  readonly timestamp: number;
  /** Of operators that name none. */
  readonly maxParallelism: number;
  /** Reads back serializer snapshots of custom serializers the bootstrap functions use. */
  readonly registry: SerializerSnapshotRegistry;
}

/** Runs a keyed bootstrap function on one backend per subtask, then snapshots them all (canonical). */
export async function writeKeyedBootstrap(uid: string, spec: KeyedBootstrap<unknown, unknown>, target: BootstrapTarget): Promise<OperatorSnapshotMetadata> {
  const p = spec.parallelism ?? 1;
  const maxParallelism = spec.maxParallelism ?? target.maxParallelism;
  const subtasks: KeyedStateBackend<unknown>[] = [];
  try {
    for (let i = 0; i < p; i++) {
      subtasks.push(
        await target.backend.createKeyedStateBackend({
          operatorIdentifier: `${uid}[${i}]`,
          keySerializer: spec.keySerializer,
          maxParallelism,
          keyGroupRange: computeKeyGroupRangeForOperatorIndex(maxParallelism, p, i),
        }),
      );
    }
    await feedKeyed(spec, subtasks, maxParallelism);
    // All snapshots start before any is awaited: their asynchronous parts write concurrently.
    // Streams are created in subtask order when each snapshot's asynchronous part begins.
    const futures = subtasks.map((b) => b.snapshot(target.checkpointId, target.timestamp, target.output.streamFactory, SAVEPOINT));
    const handles: Array<KeyedStateHandle | null> = (await settleAll(futures.map((f) => f.result))).map((r) => r.jobManagerOwnedSnapshot);
    await fillEmptySubtasks(handles as Array<KeyGroupsStateHandle | null>, target, uid, maxParallelism, p);
    return {
      uid,
      parallelism: p,
      maxParallelism,
      subtasks: handles.map((h, i) => ({ subtaskIndex: i, keyed: h === null ? [] : [h], operator: [] })),
    };
  } finally {
    for (const b of subtasks) b.dispose();
  }
}

/** Hands every element to the subtask that owns its key, with the key set. */
async function feedKeyed(spec: KeyedBootstrap<unknown, unknown>, subtasks: readonly KeyedStateBackend<unknown>[], maxParallelism: number): Promise<void> {
  const contexts = subtasks.map((b, i): KeyedBootstrapContext<unknown> => ({
    get currentKey() {
      return b.getCurrentKey();
    },
    subtaskIndex: i,
    getState: (d) => b.getPartitionedState(VoidNamespace, VoidNamespaceSerializer.INSTANCE, d) as never,
    getPartitionedState: (ns, nsSer, d) => b.getPartitionedState(ns, nsSer, d) as never,
  }));
  const keyOut = new DataOutputSerializer(64);
  // Primitive keys get their key group without being serialized (setCurrentKey serializes a key
  // that needs it anyway, so other keys are serialized twice).
  const fastKeyGroup = primitiveKeyGroupFor(spec.keySerializer.typeId);
  const keyGroupOf = (key: unknown): number => {
    const g = fastKeyGroup === undefined ? NOT_HANDLED : fastKeyGroup(key, maxParallelism);
    if (g !== NOT_HANDLED) return g;
    keyOut.clear();
    spec.keySerializer.serialize(key, keyOut);
    return assignToKeyGroup(keyOut.bytesView(), maxParallelism);
  };
  await forEachElement(spec.data, (element) => {
    const key = spec.keySelector(element);
    const i = computeOperatorIndexForKeyGroup(maxParallelism, subtasks.length, keyGroupOf(key));
    subtasks[i]!.setCurrentKey(key);
    spec.bootstrap.processElement(element, contexts[i]!);
  });
}

/**
 * Every element of `data`, as `for await` hands them out: a synchronous iterable is walked
 * synchronously (`for await` would cost a promise and a microtask per element), awaiting only
 * elements that are promises, as `for await` does; an asynchronous one with `for await`.
 */
async function forEachElement<T>(data: Iterable<T> | AsyncIterable<T>, visit: (element: T) => void): Promise<void> {
  if (!(Symbol.iterator in data)) {
    for await (const element of data) visit(element);
    return;
  }
  for (const element of data) visit(isThenable(element) ? ((await element) as T) : element);
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/** Runs an operator state bootstrap function (round-robin over subtasks), then snapshots each subtask. */
export async function writeOperatorBootstrap(uid: string, spec: OperatorStateBootstrap<unknown>, target: BootstrapTarget): Promise<OperatorSnapshotMetadata> {
  const p = spec.parallelism ?? 1;
  const subtasks: OperatorStateBackend[] = [];
  try {
    for (let i = 0; i < p; i++) subtasks.push(await target.backend.createOperatorStateBackend({ operatorIdentifier: `${uid}[${i}]` }));
    const contexts = subtasks.map((b, i): OperatorBootstrapContext => ({
      subtaskIndex: i,
      getListState: (d) => b.getListState(d),
      getUnionListState: (d) => b.getUnionListState(d),
      getBroadcastState: (d) => b.getBroadcastState(d),
    }));
    for (const c of contexts) spec.bootstrap.open?.(c);
    let n = 0;
    await forEachElement(spec.data, (element) => spec.bootstrap.processElement(element, contexts[n++ % p]!));
    const subs: SubtaskStateMetadata[] = [];
    for (let i = 0; i < p; i++) {
      const h = (await subtasks[i]!.snapshot(target.checkpointId, target.timestamp, target.output.streamFactory, SAVEPOINT).result).jobManagerOwnedSnapshot;
      subs.push({ subtaskIndex: i, keyed: [], operator: h === null ? [] : [h] });
    }
    return { uid, parallelism: p, maxParallelism: spec.maxParallelism ?? target.maxParallelism, subtasks: subs };
  } finally {
    for (const b of subtasks) b.dispose();
  }
}

/**
 * A subtask that never saw a key may register no state and snapshot nothing. A savepoint we write
 * covers every key group of a keyed operator exactly once, so such subtasks get a stream with the
 * operator's header and empty blocks.
 */
async function fillEmptySubtasks(handles: Array<KeyGroupsStateHandle | null>, target: BootstrapTarget, uid: string, maxParallelism: number, p: number): Promise<void> {
  const present = handles.filter((h): h is KeyGroupsStateHandle => h !== null);
  if (present.length === 0 || present.length === handles.length) return;
  // The headers just written are the source of truth for the operator's states.
  const dir = new SavepointDirectory(target.output.uri, undefined, target.output.storage);
  const headers = [];
  for (const h of present) headers.push(await readKeyedStateHeader(dir.reader, h, target.registry));
  const merged = mergeHeaders(headers, present.map(handleFile), uid)!;
  for (let i = 0; i < handles.length; i++) {
    if (handles[i] !== null) continue;
    const range = computeKeyGroupRangeForOperatorIndex(maxParallelism, p, i);
    const encoder = new KeyedStateStreamEncoder(range, merged.keySerializerSnapshot, merged.states);
    const out = target.output.newStream();
    await out.write(encoder.encodeHeader());
    for (const g of range) {
      encoder.beginKeyGroup(g);
      await encoder.endKeyGroupTo(out);
    }
    handles[i] = encoder.finish(await out.closeAndGetHandle());
  }
}
