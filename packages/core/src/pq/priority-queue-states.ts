import { IllegalStateUsageError } from '../errors.js';
import { DataOutputSerializer } from '../io/data-output.js';
import { assignToKeyGroup } from '../keygroups/key-group-assignment.js';
import type { KeyGroupRange } from '../keygroups/key-group-range.js';
import type { KvBulkLoad, KvView } from '../kv/kv-store.js';
import { VoidNamespaceSerializer } from '../serialization/primitives.js';
import type { TypeSerializer, TypeSerializerSnapshot } from '../serialization/type-serializer.js';
import type { KeyedStateMetaInfo } from '../snapshot/keyed-state-stream.js';
import type { KeyGroupedInternalPriorityQueue, PriorityQueueElementType } from '../state/priority-queue.js';
import { KeyGroupPartitionedPriorityQueue } from './key-group-partitioned-queue.js';
import type { KeyGroupQueue } from './key-group-queue.js';

/** An element type with the key and element types erased, as registries keep them. */
export type AnyElementType = PriorityQueueElementType<unknown, unknown>;

/** What a priority-queue registry needs of its backend. */
export interface PriorityQueueContext {
  readonly operatorIdentifier: string;
  readonly keySerializer: TypeSerializer<unknown>;
  readonly keyGroupRange: KeyGroupRange;
  readonly maxParallelism: number;
}

/**
 * One queue as a snapshot writes it: in the canonical stream every element is a record of the
 * serialized key (which decides the key group), an empty namespace and the serialized element.
 */
export interface QueueSnapshotWriter {
  readonly meta: KeyedStateMetaInfo;
  forEachInKeyGroup(keyGroup: number, visit: (key: Uint8Array, element: Uint8Array) => void): void;
}

/** Where the records of a restored queue go. */
export interface RestoredQueueSink {
  /** `key` and `element` may be views of the restore's reused read buffers: what is kept is copied before add returns. */
  add(keyGroup: number, key: Uint8Array, element: Uint8Array): void;
  /** Called once after the last record of a handle. */
  flush(): void;
}

/**
 * The priority queues of one keyed backend (Flink's PriorityQueueSetFactory and the registered
 * queues): on the heap (HeapPriorityQueues) or in the KvStore (KvPriorityQueues).
 */
export interface PriorityQueueStates {
  has(name: string): boolean;
  names(): string[];
  /** The queue called `name`, created on first call; a restored queue gets its elements then. */
  create<T>(name: string, elementType: PriorityQueueElementType<unknown, T>): KeyGroupedInternalPriorityQueue<T>;
  /**
   * Registers a restored queue (if new) and returns where its records go. Queues kept in a KvStore
   * add their rows to `bulk`, the restore's bulk load of the keyed states, if there is one.
   */
  restore(meta: KeyedStateMetaInfo, bulk?: KvBulkLoad): RestoredQueueSink;
  /** The synchronous part of a snapshot: every queue as of now (KV queues read their rows later from `view`). */
  capture(view: KvView | undefined): QueueSnapshotWriter[];
}

/** The canonical meta information of a queue: kind PRIORITY_QUEUE, the element serializer as state serializer. */
export function queueMetaInfo(name: string, elementSnapshot: TypeSerializerSnapshot<unknown>): KeyedStateMetaInfo {
  return { name, kind: 'PRIORITY_QUEUE', namespaceSerializerSnapshot: VoidNamespaceSerializer.INSTANCE.snapshotConfiguration(), stateSerializerSnapshot: elementSnapshot };
}

/** A snapshot writer of one queue: its meta information and its records per key group. */
export function queueSnapshotWriter(name: string, elementSnapshot: TypeSerializerSnapshot<unknown>, forEachInKeyGroup: QueueSnapshotWriter['forEachInKeyGroup']): QueueSnapshotWriter {
  return { meta: queueMetaInfo(name, elementSnapshot), forEachInKeyGroup };
}

/** A queue of `type` over the backend's key groups, each key group's queue made by `perKeyGroup` (on the heap or in a KvStore). */
export function partitionedQueue(
  ctx: PriorityQueueContext,
  name: string,
  type: AnyElementType,
  perKeyGroup: (keyGroup: number) => KeyGroupQueue<unknown>,
): KeyGroupPartitionedPriorityQueue<unknown> {
  return new KeyGroupPartitionedPriorityQueue(type.compare, keyGroupOfElement(ctx, name, type), ctx.keyGroupRange, perKeyGroup);
}

/** The key group of an element; an element of a key outside the backend's range is refused. */
export function keyGroupOfElement(ctx: PriorityQueueContext, name: string, type: AnyElementType): (element: unknown) => number {
  const out = new DataOutputSerializer(64);
  return (element) => {
    out.clear();
    ctx.keySerializer.serialize(type.keyOf(element), out);
    const g = assignToKeyGroup(out.bytesView(), ctx.maxParallelism);
    if (!ctx.keyGroupRange.contains(g)) {
      throw new IllegalStateUsageError(name, `element of key group ${g}, outside ${ctx.keyGroupRange} of '${ctx.operatorIdentifier}'`);
    }
    return g;
  };
}

/** Serializes the key and the element of elements of one type into reused buffers. */
export class ElementWriter {
  private readonly keyOut = new DataOutputSerializer(32);
  private readonly elementOut = new DataOutputSerializer(64);

  constructor(
    private readonly keySerializer: TypeSerializer<unknown>,
    private readonly type: AnyElementType,
  ) {}

  /** The element's bytes, valid until the next call. */
  element(element: unknown): Uint8Array {
    this.elementOut.clear();
    this.type.serializer.serialize(element, this.elementOut);
    return this.elementOut.bytesView();
  }

  /** The bytes of the element's key, valid until the next call. */
  key(element: unknown): Uint8Array {
    this.keyOut.clear();
    this.keySerializer.serialize(this.type.keyOf(element), this.keyOut);
    return this.keyOut.bytesView();
  }
}
