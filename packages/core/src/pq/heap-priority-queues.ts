import { identityFunction } from '../backend/identity.js';
import { StateMigrationError } from '../errors.js';
import { deserializeExact } from '../serialization/type-serializer.js';
import type { TypeSerializerSnapshot } from '../serialization/type-serializer.js';
import type { KeyedStateMetaInfo } from '../snapshot/keyed-state-stream.js';
import type { KeyGroupedInternalPriorityQueue, PriorityQueueElementType } from '../state/priority-queue.js';
import { HeapKeyGroupQueue } from './heap-key-group-queue.js';
import type { KeyGroupPartitionedPriorityQueue } from './key-group-partitioned-queue.js';
import { ElementWriter, partitionedQueue, queueSnapshotWriter, type AnyElementType, type PriorityQueueContext } from './priority-queue-states.js';
import type { PriorityQueueStates, QueueSnapshotWriter, RestoredQueueSink } from './priority-queue-states.js';

/** A serialized key and element, as a restored queue keeps them until it is created. */
type SerializedElement = readonly [key: Uint8Array, element: Uint8Array];

interface CreatedQueue {
  readonly queue: KeyGroupPartitionedPriorityQueue<unknown>;
  readonly type: AnyElementType;
}

interface RestoredQueue {
  readonly snapshot: TypeSerializerSnapshot<unknown>;
  /** By key group. */
  readonly elements: Map<number, SerializedElement[]>;
}

/**
 * Priority queues on the JS heap (Flink's HeapPriorityQueueSetFactory): per key group a binary
 * heap with set semantics, under a heap of key-group heads. Used by the heap backends and, with
 * the HEAP timer-service factory, by RocksDB. A restored queue keeps its serialized elements until
 * it is created, because only then is its element type (order, key) known.
 */
export class HeapPriorityQueues implements PriorityQueueStates {
  private readonly created = new Map<string, CreatedQueue>();
  private readonly restored = new Map<string, RestoredQueue>();

  constructor(private readonly ctx: PriorityQueueContext) {}

  has(name: string): boolean {
    return this.created.has(name) || this.restored.has(name);
  }

  names(): string[] {
    return [...new Set([...this.created.keys(), ...this.restored.keys()])];
  }

  create<T>(name: string, elementType: PriorityQueueElementType<unknown, T>): KeyGroupedInternalPriorityQueue<T> {
    const existing = this.created.get(name);
    if (existing !== undefined) return existing.queue as KeyGroupedInternalPriorityQueue<T>;
    const type = elementType as AnyElementType;
    const identity = identityFunction(type.serializer);
    const queue = partitionedQueue(this.ctx, name, type, () => new HeapKeyGroupQueue(type.compare, identity));
    const restored = this.restored.get(name);
    if (restored !== undefined) addRestored(name, queue, restored, type);
    this.restored.delete(name);
    this.created.set(name, { queue, type });
    return queue as KeyGroupedInternalPriorityQueue<T>;
  }

  restore(meta: KeyedStateMetaInfo): RestoredQueueSink {
    let r = this.restored.get(meta.name);
    if (r === undefined) this.restored.set(meta.name, (r = { snapshot: meta.stateSerializerSnapshot, elements: new Map() }));
    const elements = r.elements;
    return {
      add(g, key, element) {
        let list = elements.get(g);
        if (list === undefined) elements.set(g, (list = []));
        list.push([key.slice(), element.slice()]);
      },
      flush() {},
    };
  }

  capture(): QueueSnapshotWriter[] {
    const out: QueueSnapshotWriter[] = [];
    for (const [name, c] of this.created) out.push(this.captureCreated(name, c));
    for (const [name, r] of this.restored) out.push(captureRestored(name, r));
    return out;
  }

  /** Copies the element references per key group now; serializes them when the key group is written. */
  private captureCreated(name: string, c: CreatedQueue): QueueSnapshotWriter {
    const groups = new Map<number, unknown[]>();
    for (const g of this.ctx.keyGroupRange) {
      const elements = c.queue.queueOf(g).elements();
      if (elements.length > 0) groups.set(g, elements);
    }
    const writer = new ElementWriter(this.ctx.keySerializer, c.type);
    return queueSnapshotWriter(name, c.type.serializer.snapshotConfiguration(), (g, visit) => {
      for (const e of groups.get(g) ?? []) visit(writer.key(e), writer.element(e));
    });
  }
}

function captureRestored(name: string, r: RestoredQueue): QueueSnapshotWriter {
  return queueSnapshotWriter(name, r.snapshot, (g, visit) => {
    for (const [k, e] of r.elements.get(g) ?? []) visit(k, e);
  });
}

/**
 * Adds a restored queue's elements: read with the restored serializer and migrated when the new
 * one asks for it (heap elements are objects, so unlike KV rows they can migrate).
 */
function addRestored(name: string, queue: KeyGroupPartitionedPriorityQueue<unknown>, restored: RestoredQueue, type: AnyElementType): void {
  const c = restored.snapshot.resolveSchemaCompatibility(type.serializer);
  if (c.type === 'INCOMPATIBLE') throw new StateMigrationError(name, `the priority queue's element serializer cannot read the restored elements: ${c.reason}`);
  const reader = restored.snapshot.restoreSerializer();
  const migrate = c.type === 'COMPATIBLE_AFTER_MIGRATION' ? c.migrate : (e: unknown) => e;
  for (const list of restored.elements.values()) {
    for (const [, bytes] of list) queue.add(migrate(deserializeExact(reader, bytes, 'priority queue element')));
  }
}
