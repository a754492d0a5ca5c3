import type { SnapshotContext } from '../backend/snapshot/snapshot-strategy.js';
import type { KeyGroupRange } from '../keygroups/key-group-range.js';
import type { KvBulkLoad } from '../kv/kv-store.js';
import type { TypeSerializer } from '../serialization/type-serializer.js';
import { KeyedStateStreamEncoder, type KeyedStateStreamHeader } from '../snapshot/keyed-state-stream.js';
import type { KeyGroupsStateHandle } from '../storage/handles.js';
import type { PriorityQueueStates, QueueSnapshotWriter, RestoredQueueSink } from './priority-queue-states.js';

const EMPTY = new Uint8Array(0);

/** Writes the queues' elements of key group `g`; the queues are states firstIndex, firstIndex + 1, ... of the stream. */
export function writeQueueRecords(encoder: KeyedStateStreamEncoder, firstIndex: number, writers: readonly QueueSnapshotWriter[], g: number): void {
  writers.forEach((w, i) => w.forEachInKeyGroup(g, (key, element) => encoder.writeEntry(firstIndex + i, key, EMPTY, element)));
}

/** The sink of every PRIORITY_QUEUE state of a stream header, by state index (undefined for keyed states); `bulk` as in PriorityQueueStates.restore. */
export function restoredQueueSinks(header: KeyedStateStreamHeader, queues: PriorityQueueStates, bulk?: KvBulkLoad): Array<RestoredQueueSink | undefined> {
  return header.states.map((meta) => (meta.kind === 'PRIORITY_QUEUE' ? queues.restore(meta, bulk) : undefined));
}

/**
 * Writes heap queues as a canonical key-group stream of their own: how a backend whose native
 * snapshot cannot hold heap objects (RocksDB with HEAP timers) keeps them, as Flink writes heap
 * timers of a RocksDB backend into a key-group stream.
 */
export async function writeQueueStream(
  context: SnapshotContext,
  range: KeyGroupRange,
  keySerializer: TypeSerializer<unknown>,
  queues: readonly QueueSnapshotWriter[],
): Promise<KeyGroupsStateHandle> {
  const encoder = new KeyedStateStreamEncoder(range, keySerializer.snapshotConfiguration(), queues.map((q) => q.meta));
  const out = context.openStream('EXCLUSIVE');
  await out.write(encoder.encodeHeader());
  for (const g of range) {
    context.throwIfCancelled();
    encoder.beginKeyGroup(g);
    writeQueueRecords(encoder, 0, queues, g);
    await out.write(encoder.endKeyGroup());
    await context.yieldIfBusy();
  }
  return encoder.finish(await out.closeAndGetHandle());
}
