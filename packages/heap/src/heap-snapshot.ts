import {
  DataOutputSerializer,
  isPrimitiveType,
  KeyedStateStreamEncoder,
  writeQueueRecords,
  type PriorityQueueStates,
  type QueueSnapshotWriter,
  type KeyGroupRange,
  type KeyedStateHandle,
  type KeyedStateMetaInfo,
  type SnapshotContext,
  type SnapshotResources,
  type SnapshotResult,
  type SnapshotStrategy,
  type TypeSerializer,
  type TypeSerializerSnapshot,
  type TtlSnapshotFilter,
  type Identity,
} from '@flowstate/core';
import { mapKeySerializer, mapKeysOf, mapValueSerializer } from './heap-registered.js';
import type { HeapMap, HeapMapKeys } from './heap-map.js';
import { heapWithoutExpired } from './heap-ttl.js';
import { ABSENT, SnapshotView, type RunningViews, type StateEntry, type StateTable } from './state-table.js';

interface TableWriter {
  readonly table: StateTable;
  readonly index: number;
  readonly nsSerializer: TypeSerializer<unknown>;
  readonly stateSerializer: TypeSerializer<unknown>;
  readonly isMap: boolean;
  readonly userKeySerializer: TypeSerializer<unknown> | undefined;
  readonly userValueSerializer: TypeSerializer<unknown> | undefined;
  /** Map state: the layout of its values (a function of the serializer captured here). */
  readonly mapKeys: HeapMapKeys | undefined;
  /** Cleanup in full snapshots of a TTL'd state: expired entries are not written. */
  readonly ttl: TtlSnapshotFilter | undefined;
}

/** What a heap snapshot needs from its backend, and no more. */
export interface HeapSnapshotSource {
  readonly keySerializer: TypeSerializer<unknown>;
  readonly keyGroupRange: KeyGroupRange;
  /** false: all serialization happens in the synchronous part (MemoryStateBackend). */
  readonly asynchronousSnapshots: boolean;
  /** The state tables as of now. */
  tables(): StateTable[];
  /** The priority queues (timers); written after the tables. */
  readonly queues: PriorityQueueStates;
  /** Copy-on-write views of running snapshots; state writes keep their preimages. */
  readonly views: RunningViews;
  /** For a TTL'd state with cleanup in full snapshots: the time to drop expired entries against. */
  readonly ttlFilter?: (table: StateTable) => TtlSnapshotFilter | undefined;
}

/** What the synchronous part captured: the encoder, and either a live view or every block already encoded. */
interface HeapSnapshotResources extends SnapshotResources {
  readonly encoder: KeyedStateStreamEncoder;
  readonly header: Uint8Array;
  /** Asynchronous snapshots: encodes one key group through the copy-on-write view (the block is left open). */
  readonly encodeGroup: ((g: number) => void) | undefined;
  /** Synchronous snapshots (MemoryStateBackend): every key group, encoded up front. */
  readonly precomputed: readonly Uint8Array[] | undefined;
}

/**
 * Full snapshots of a heap backend (Flink's HeapSnapshotStrategy). The synchronous part registers
 * a copy-on-write view and captures the serializers; the asynchronous part serializes one key
 * group at a time (synchronously per key group, so no state access interleaves with it) and
 * yields to the event loop between slices. With `asynchronousSnapshots: false`
 * (MemoryStateBackend) everything is serialized in the synchronous part.
 */
export class HeapSnapshotStrategy implements SnapshotStrategy<KeyedStateHandle, HeapSnapshotResources> {
  constructor(private readonly source: HeapSnapshotSource) {}

  syncPrepareResources(): HeapSnapshotResources | null {
    const tables = this.source.tables();
    const queues = this.source.queues.capture(undefined);
    if (tables.length === 0 && queues.length === 0) return null;
    const writers = tables.map((t, i) => tableWriter(t, i, this.source.ttlFilter?.(t)));
    const range = this.source.keyGroupRange;
    const keySnapshot = this.source.keySerializer.snapshotConfiguration() as TypeSerializerSnapshot<unknown>;
    const encoder = new KeyedStateStreamEncoder(range, keySnapshot, [...writers.map(metaInfo), ...queues.map((q) => q.meta)]);
    const view = new SnapshotView(range);
    const views = this.source.views;
    views.add(view);
    // A view left registered would make every later write pay copy-on-write and pin preimages forever.
    const release = () => {
      view.release();
      views.delete(view);
    };
    const encodeGroup = groupEncoder(this.source.keySerializer, encoder, writers, queues, view);
    const header = encoder.encodeHeader();
    if (this.source.asynchronousSnapshots) return { encoder, header, encodeGroup, precomputed: undefined, release };
    try {
      const precomputed = [...range].map((g) => {
        encodeGroup(g);
        return encoder.endKeyGroup();
      });
      return { encoder, header, encodeGroup: undefined, precomputed, release() {} };
    } finally {
      release();
    }
  }

  async asyncSnapshot(resources: HeapSnapshotResources, context: SnapshotContext): Promise<SnapshotResult<KeyedStateHandle>> {
    const out = context.openStream('EXCLUSIVE');
    await out.write(resources.header);
    if (resources.precomputed !== undefined) {
      for (const block of resources.precomputed) await out.write(block);
    } else {
      for (const g of this.source.keyGroupRange) {
        context.throwIfCancelled();
        resources.encodeGroup!(g);
        await resources.encoder.endKeyGroupTo(out);
        await context.yieldIfBusy();
      }
      // Every key group is encoded: the view goes before the stream is made durable. (It already
      // needed no preimage, but each state write still looped over the running views until then.)
      context.releaseResources();
    }
    const stream = await out.closeAndGetHandle();
    const handle = resources.encoder.finish(stream);
    return { jobManagerOwnedSnapshot: handle, checkpointedSize: stream.size, fullSize: stream.size };
  }
}

function tableWriter(table: StateTable, index: number, ttl: TtlSnapshotFilter | undefined): TableWriter {
  const meta = table.meta;
  const isMap = meta.kind === 'MAP';
  return {
    table,
    index,
    nsSerializer: meta.namespaceSerializer,
    stateSerializer: meta.stateSerializer,
    isMap,
    userKeySerializer: isMap ? mapKeySerializer(meta) : undefined,
    userValueSerializer: isMap ? mapValueSerializer(meta) : undefined,
    mapKeys: isMap ? mapKeysOf(meta) : undefined,
    ttl,
  };
}

function metaInfo(w: TableWriter): KeyedStateMetaInfo {
  return {
    name: w.table.meta.name,
    kind: w.table.meta.kind,
    namespaceSerializerSnapshot: w.nsSerializer.snapshotConfiguration(),
    stateSerializerSnapshot: w.stateSerializer.snapshotConfiguration(),
  };
}

/**
 * The serialized bytes of an entry's key, valid until the next call. A key that is not a JS
 * primitive is written from its identity, which is its serialized bytes as of setCurrentKey (a
 * latin1 string, see keyIdOf): those bytes put the entry in its key group. The key object itself
 * may have been changed by the caller since (state keeps it, not a copy), and its bytes now would
 * hash elsewhere: restore refused such a checkpoint. Primitive keys cannot change: serialized.
 */
function keyBytesWriter(keySerializer: TypeSerializer<unknown>): (keyId: Identity, key: unknown) => Uint8Array {
  if (isPrimitiveType(keySerializer)) {
    const out = new DataOutputSerializer(64);
    return (_keyId, key) => {
      out.clear();
      keySerializer.serialize(key, out);
      return out.bytesView();
    };
  }
  let buf = Buffer.allocUnsafe(64);
  return (keyId) => {
    const id = keyId as string;
    const n = id.length;
    if (n > buf.length) buf = Buffer.allocUnsafe(Math.max(n, buf.length * 2));
    // Short keys byte by byte: through Buffer.write's call into C++, a snapshot of 6-byte
    // byte-array keys cost 12% more instructions than serializing each key again.
    if (n <= 64) for (let i = 0; i < n; i++) buf[i] = id.charCodeAt(i);
    else buf.write(id, 0, 'latin1');
    return buf.subarray(0, n);
  };
}

function groupEncoder(
  keySerializer: TypeSerializer<unknown>,
  encoder: KeyedStateStreamEncoder,
  writers: readonly TableWriter[],
  queues: readonly QueueSnapshotWriter[],
  view: SnapshotView,
): (g: number) => void {
  const keyBytes = keyBytesWriter(keySerializer);
  const nsOut = new DataOutputSerializer(64);
  const valOut = new DataOutputSerializer(256);
  const ukOut = new DataOutputSerializer(64);

  const write = (w: TableWriter, keyId: Identity, key: unknown, namespace: unknown, stored: unknown) => {
    const value = w.ttl === undefined ? stored : heapWithoutExpired(w.table.meta.kind, stored, w.ttl.ttlMs, w.ttl.now, w.mapKeys?.tupled ?? false);
    if (value === undefined) return;
    const kb = keyBytes(keyId, key);
    nsOut.clear();
    w.nsSerializer.serialize(namespace, nsOut);
    if (w.isMap) {
      for (const [uk, uv] of w.mapKeys!.entries(value as HeapMap)) {
        ukOut.clear();
        w.userKeySerializer!.serialize(uk, ukOut);
        let vb: Uint8Array | null = null;
        if (uv !== null && uv !== undefined) {
          valOut.clear();
          w.userValueSerializer!.serialize(uv, valOut);
          vb = valOut.bytesView();
        }
        encoder.writeMapEntry(w.index, kb, nsOut.bytesView(), ukOut.bytesView(), vb);
      }
    } else {
      encoder.writeSerializedEntry(w.index, kb, nsOut.bytesView(), w.stateSerializer, value);
    }
  };

  return (g: number) => {
    encoder.beginKeyGroup(g);
    for (const w of writers) {
      const live = w.table.group(g);
      const pre = view.preimagesOf(w.table, g);
      for (const [keyId, head] of live) {
        for (let e: StateEntry | undefined = head; e !== undefined; e = e.next) {
          let value = e.value;
          if (pre !== undefined) {
            const p = pre.get(keyId)?.get(e.nsId);
            if (p === ABSENT) continue;
            if (p !== undefined) value = p.value;
          }
          write(w, keyId, w.table.keyOf(keyId, e), w.table.namespaceOf(e), value);
        }
      }
      if (pre !== undefined) {
        // Entries removed after the snapshot started exist only as preimages.
        for (const [keyId, m] of pre) {
          for (const [nsId, p] of m) {
            if (p === ABSENT || w.table.get(g, keyId, nsId) !== undefined) continue;
            write(w, keyId, p.key, p.namespace, p.value);
          }
        }
      }
    }
    view.finishKeyGroup(g);
    writeQueueRecords(encoder, writers.length, queues, g);
  };
}
