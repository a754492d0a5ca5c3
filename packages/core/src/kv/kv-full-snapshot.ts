import type { CheckpointOptions, SnapshotResult } from '../backend/spi.js';
import type { SnapshotContext, SnapshotResources, SnapshotStrategy } from '../backend/snapshot/snapshot-strategy.js';
import { DataOutputSerializer } from '../io/data-output.js';
import type { TypeSerializerSnapshot } from '../serialization/type-serializer.js';
import { KeyedStateStreamEncoder, type KeyedStateMetaInfo } from '../snapshot/keyed-state-stream.js';
import type { KeyedStateHandle } from '../storage/handles.js';
import type { QueueSnapshotWriter } from '../pq/priority-queue-states.js';
import { writeQueueRecords } from '../pq/queue-stream.js';
import type { KvBackendStates, RegisteredKvState } from './kv-registered.js';
import type { KvRowLayout } from './kv-row-layout.js';
import { forEachTransientEntry, type KvStore, type KvView } from './kv-store.js';
import { kvListToCanonical, kvMapValueToCanonical } from './kv-values.js';
import type { TtlSnapshotFilter } from '../state/ttl-filters.js';
import { kvTtlLayoutKind } from '../state/ttl-descriptors.js';
import { kvWithoutExpired } from './kv-ttl.js';

/** What a full snapshot of a KV backend needs from it, and no more. */
export interface KvSnapshotSource extends KvBackendStates {
  /** The store (read when a snapshot starts: a backend may attach it after construction). */
  readonly store: KvStore;
  /** For a TTL'd state with cleanup in full snapshots: the time to drop expired entries against (taken in the synchronous part). */
  readonly ttlFilter?: (state: RegisteredKvState) => TtlSnapshotFilter | undefined;
}

/** The canonical stream's encoder and header for the states as registered now. */
export function kvSnapshotEncoder(
  source: Pick<KvSnapshotSource, 'keySerializer' | 'keyGroupRange'>,
  states: readonly RegisteredKvState[],
  queueMetas: readonly KeyedStateMetaInfo[],
): { encoder: KeyedStateStreamEncoder; header: Uint8Array } {
  const metas: KeyedStateMetaInfo[] = states.map((s) => ({
    name: s.name,
    kind: s.kind,
    namespaceSerializerSnapshot: s.namespaceSerializer.snapshotConfiguration(),
    stateSerializerSnapshot: s.stateSerializer.snapshotConfiguration(),
  }));
  metas.push(...queueMetas);
  const encoder = new KeyedStateStreamEncoder(source.keyGroupRange, source.keySerializer.snapshotConfiguration() as TypeSerializerSnapshot<unknown>, metas);
  return { encoder, header: encoder.encodeHeader() };
}

/** What the synchronous part captured: a consistent view of the store, and the states as of then. */
interface KvFullSnapshotResources extends SnapshotResources {
  readonly view: KvView;
  readonly states: readonly RegisteredKvState[];
  readonly queues: readonly QueueSnapshotWriter[];
  readonly ttlFilters: ReadonlyArray<TtlSnapshotFilter | undefined>;
  readonly encoder: KeyedStateStreamEncoder;
  readonly header: Uint8Array;
}

/**
 * Canonical full snapshots of a KV backend (Flink's FullSnapshotStrategy over a KvView): the
 * synchronous part takes a consistent view of the store; the asynchronous part streams the key
 * groups in order from it through the canonical encoder (the one the heap backends use), so the
 * result restores into any backend. The view is released once the last key group is read (before
 * the stream is made durable), or by the runner on failure or dispose().
 */
export class KvFullSnapshotStrategy implements SnapshotStrategy<KeyedStateHandle, KvFullSnapshotResources> {
  constructor(private readonly source: KvSnapshotSource) {}

  syncPrepareResources(_checkpointId: number, _options: CheckpointOptions): KvFullSnapshotResources | null {
    const states = [...this.source.states.values()];
    if (states.length === 0 && this.source.queues.names().length === 0) return null;
    const ttlFilters = states.map((s) => this.source.ttlFilter?.(s));
    const view = this.source.store.view();
    try {
      const queues = this.source.queues.capture(view);
      const { encoder, header } = kvSnapshotEncoder(this.source, states, queues.map((q) => q.meta));
      return { view, states, ttlFilters, queues, encoder, header, release: () => view.release() };
    } catch (e) {
      view.release();
      throw e;
    }
  }

  async asyncSnapshot(resources: KvFullSnapshotResources, context: SnapshotContext): Promise<SnapshotResult<KeyedStateHandle>> {
    const { encoder } = resources;
    const encodeGroup = keyGroupEncoder(this.source.layout, resources, encoder);
    const out = context.openStream('EXCLUSIVE');
    await out.write(resources.header);
    for (const g of this.source.keyGroupRange) {
      // Before every read of the view: a snapshot cancelled by dispose() had its view released.
      context.throwIfCancelled();
      encodeGroup(g);
      await encoder.endKeyGroupTo(out);
      await context.yieldIfBusy();
    }
    // Every key group is read: the store's view goes before the stream is made durable.
    context.releaseResources();
    // The stream checks cancellation after the close too: a cancel() during it deletes the file.
    const stream = await out.closeAndGetHandle();
    const handle = encoder.finish(stream);
    return { jobManagerOwnedSnapshot: handle, checkpointedSize: stream.size, fullSize: stream.size };
  }
}

/** Encodes one key group's block (left open for endKeyGroupTo): every state's rows and queue elements of that key group, read from the view. */
function keyGroupEncoder(layout: KvRowLayout, resources: KvFullSnapshotResources, encoder: KeyedStateStreamEncoder): (g: number) => void {
  const { view, states, queues, ttlFilters } = resources;
  const spaces = states.map((s) => view.keySpace(s.space.name));
  const listOut = new DataOutputSerializer(256);
  return (g) => {
    encoder.beginKeyGroup(g);
    const lower = layout.keyGroupStart(g);
    const upper = layout.keyGroupStart(g + 1);
    states.forEach((s, i) => {
      const space = spaces[i];
      if (space === undefined) return;
      const ttl = ttlFilters[i];
      const ttlLayout = kvTtlLayoutKind(s.kind);
      // The encoder copies every row it is given: transient views of the store's buffer will do.
      forEachTransientEntry(space, lower, upper, (row, stored) => {
        // Cleanup in full snapshots (Flink's cleanupFullSnapshot): expired entries and list elements are not written.
        const value = ttl === undefined ? stored : kvWithoutExpired(ttlLayout, stored, ttl.ttlMs, ttl.now);
        if (value === undefined) return;
        const p = layout.parse(row);
        if (s.kind === 'MAP') encoder.writeMapEntry(i, p.key, p.namespace, p.userKey, kvMapValueToCanonical(value));
        else if (s.kind === 'LIST') encoder.writeEntry(i, p.key, p.namespace, kvListToCanonical(value, listOut));
        else encoder.writeEntry(i, p.key, p.namespace, value);
      });
    });
    writeQueueRecords(encoder, states.length, queues, g);
  };
}
