import { StateMigrationError } from '../errors.js';
import { DataOutputSerializer } from '../io/data-output.js';
import type { KeyGroupPartitionedPriorityQueue } from '../pq/key-group-partitioned-queue.js';
import { ElementWriter, partitionedQueue, queueMetaInfo, queueSnapshotWriter, type AnyElementType, type PriorityQueueContext } from '../pq/priority-queue-states.js';
import type { PriorityQueueStates, QueueSnapshotWriter, RestoredQueueSink } from '../pq/priority-queue-states.js';
import { assert } from '../assert.js';
import type { TypeSerializerSnapshot } from '../serialization/type-serializer.js';
import type { KeyedStateMetaInfo } from '../snapshot/keyed-state-stream.js';
import type { KeyGroupedInternalPriorityQueue, PriorityQueueElementType } from '../state/priority-queue.js';
import { KvKeyGroupQueue } from './kv-key-group-queue.js';
import type { KvRowLayout } from './kv-row-layout.js';
import { forEachEntry, type KvBulkLoad, type KvEntry, type KvKeySpace, type KvStore, type KvView } from './kv-store.js';

/** Rows per putAll while restoring. */
const RESTORE_BATCH = 4096;

interface KvQueue {
  readonly space: KvKeySpace;
  /** The serializer snapshot of the rows' elements. */
  readonly snapshot: TypeSerializerSnapshot<unknown>;
  /** Set on create; until then the queue is restored rows only. */
  readonly queue: KeyGroupPartitionedPriorityQueue<unknown> | undefined;
}

/**
 * Priority queues in a KvStore (Flink's RocksDBPriorityQueueSetFactory): a key space per queue,
 * named as the queue, of rows [key group][serialized element] (see KvKeyGroupQueue). The rows are
 * the queue, so restored rows (canonical or native) need nothing until the queue is created.
 */
export class KvPriorityQueues implements PriorityQueueStates {
  private readonly queues = new Map<string, KvQueue>();

  constructor(
    private readonly ctx: PriorityQueueContext,
    private readonly layout: KvRowLayout,
    /** The store, read on use (a backend may attach it after construction). */
    private readonly store: () => KvStore,
  ) {}

  has(name: string): boolean {
    return this.queues.has(name);
  }

  names(): string[] {
    return [...this.queues.keys()];
  }

  /** The queues' meta information as of now (a native snapshot's header). */
  metaInfos(): KeyedStateMetaInfo[] {
    return [...this.queues].map(([name, q]) => queueMetaInfo(name, q.snapshot));
  }

  /** The key spaces of the queues (a native restore clips them to the key-group range). */
  spaces(): KvKeySpace[] {
    return [...this.queues.values()].map((q) => q.space);
  }

  create<T>(name: string, elementType: PriorityQueueElementType<unknown, T>): KeyGroupedInternalPriorityQueue<T> {
    const type = elementType as AnyElementType;
    const existing = this.queues.get(name);
    if (existing?.queue !== undefined) return existing.queue as KeyGroupedInternalPriorityQueue<T>;
    if (existing !== undefined) checkRestoredSerializer(name, existing.snapshot, type);
    const space = existing?.space ?? this.store().keySpace(name);
    const writer = new ElementWriter(this.ctx.keySerializer, type);
    const queue = partitionedQueue(this.ctx, name, type, (g) => new KvKeyGroupQueue(space, this.layout.keyGroupStart(g), type, writer));
    this.queues.set(name, { space, snapshot: type.serializer.snapshotConfiguration(), queue });
    return queue as KeyGroupedInternalPriorityQueue<T>;
  }

  /** Registers a restored queue's key space (native restores bring its rows along). */
  registerRestored(meta: KeyedStateMetaInfo): KvKeySpace {
    let q = this.queues.get(meta.name);
    if (q === undefined) this.queues.set(meta.name, (q = { space: this.store().keySpace(meta.name), snapshot: meta.stateSerializerSnapshot, queue: undefined }));
    return q.space;
  }

  /** Rows go to `bulk` if given (a store that writes files ingests them, as it does the keyed states' rows), else through putAll in batches. */
  restore(meta: KeyedStateMetaInfo, bulk?: KvBulkLoad): RestoredQueueSink {
    const space = this.registerRestored(meta);
    const row = new DataOutputSerializer(64);
    let pending: KvEntry[] = [];
    const flush = () => {
      if (pending.length > 0) space.putAll(pending);
      pending = [];
    };
    return {
      add: (g, key, element) => {
        row.clear();
        this.layout.writeKeyGroup(row, g);
        row.writeBytes(element);
        // Copies: the key may be a view of a reused read buffer, and both may be kept until the bulk load finishes.
        const rowKey = row.toBytes();
        const value = key.slice();
        if (bulk !== undefined) return bulk.add(space, rowKey, value);
        pending.push([rowKey, value]);
        if (pending.length >= RESTORE_BATCH) flush();
      },
      flush,
    };
  }

  capture(view: KvView | undefined): QueueSnapshotWriter[] {
    assert(view !== undefined, 'KV priority queues are snapshotted from a view of the store');
    return [...this.queues].map(([name, q]) => {
      const space = view.keySpace(q.space.name);
      const prefixBytes = this.layout.keyGroupPrefixBytes;
      return queueSnapshotWriter(name, q.snapshot, (g, visit) => {
        if (space !== undefined) forEachEntry(space, this.layout.keyGroupStart(g), this.layout.keyGroupStart(g + 1), (r, key) => visit(key, r.subarray(prefixBytes)));
      });
    });
  }
}

/** Rows are ordered by their bytes, so unlike heap elements they cannot migrate (as in Flink's RocksDB backend). */
function checkRestoredSerializer(name: string, restored: TypeSerializerSnapshot<unknown>, type: AnyElementType): void {
  const c = restored.resolveSchemaCompatibility(type.serializer);
  if (c.type === 'COMPATIBLE_AS_IS') return;
  const why = c.type === 'INCOMPATIBLE' ? c.reason : `${c.type}, but elements in a KvStore are ordered by their bytes and cannot be migrated`;
  throw new StateMigrationError(name, `the priority queue's element serializer cannot take over the restored elements: ${why}`);
}
