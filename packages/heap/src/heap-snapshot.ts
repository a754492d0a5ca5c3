import {
  DataOutputSerializer,
  KeyedStateStreamEncoder,
  SnapshotCancelledError,
  SnapshotOutputStream,
  type CheckpointOptions,
  type CheckpointStreamFactory,
  type KeyGroupRange,
  type KeyedStateHandle,
  type KeyedStateMetaInfo,
  type SnapshotFuture,
  type SnapshotResult,
  type TypeSerializer,
  type TypeSerializerSnapshot,
} from '@flowstate/core';
import { mapKeySerializer, mapValueSerializer } from './heap-registered.js';
import type { HeapMap } from './heap-states.js';
import { ABSENT, SnapshotView, type StateEntry, type StateTable } from './state-table.js';

/** How long the asynchronous part may hold the event loop before it yields to processing. */
const SLICE_MS = 4;

interface TableWriter {
  readonly table: StateTable;
  readonly index: number;
  readonly nsSerializer: TypeSerializer<unknown>;
  readonly stateSerializer: TypeSerializer<unknown>;
  readonly isMap: boolean;
  readonly userKeySerializer: TypeSerializer<unknown> | undefined;
  readonly userValueSerializer: TypeSerializer<unknown> | undefined;
}

/** What a heap snapshot needs from its backend, and no more. */
export interface HeapSnapshotSource {
  readonly keySerializer: TypeSerializer<unknown>;
  readonly keyGroupRange: KeyGroupRange;
  /** false: all serialization happens in the synchronous part (MemoryStateBackend). */
  readonly asynchronousSnapshots: boolean;
  readonly tables: readonly StateTable[];
  /** Copy-on-write views of running snapshots; state writes keep their preimages. */
  readonly views: Set<SnapshotView>;
  /** Asynchronous parts still running; the backend cancels them on dispose(). */
  readonly running: Set<{ cancel(): void }>;
  isDisposed(): boolean;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Starts a heap snapshot. The synchronous part registers a copy-on-write view and captures the
 * serializers; the asynchronous part serializes one key group at a time (synchronously per key
 * group, so no state access interleaves with it) and yields to the event loop between slices.
 * With `asynchronousSnapshots: false` (MemoryStateBackend) everything is serialized up front.
 */
export function startHeapSnapshot(
  backend: HeapSnapshotSource,
  checkpointId: number,
  _timestamp: number,
  streamFactory: CheckpointStreamFactory,
  _options: CheckpointOptions,
): SnapshotFuture<KeyedStateHandle> {
  const t0 = performance.now();
  const tables = backend.tables;
  if (tables.length === 0) {
    const empty: SnapshotResult<KeyedStateHandle> = { jobManagerOwnedSnapshot: null, checkpointedSize: 0, fullSize: 0 };
    return { checkpointId, result: Promise.resolve(empty), syncDurationMs: performance.now() - t0, cancel() {} };
  }

  const writers: TableWriter[] = tables.map((table, index) => {
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
    };
  });
  const metas: KeyedStateMetaInfo[] = writers.map((w) => ({
    name: w.table.meta.name,
    kind: w.table.meta.kind,
    namespaceSerializerSnapshot: w.nsSerializer.snapshotConfiguration(),
    stateSerializerSnapshot: w.stateSerializer.snapshotConfiguration(),
  }));
  const range = backend.keyGroupRange;
  const encoder = new KeyedStateStreamEncoder(range, backend.keySerializer.snapshotConfiguration() as TypeSerializerSnapshot<unknown>, metas);
  const view = new SnapshotView(range);
  backend.views.add(view);
  const release = () => {
    view.release();
    backend.views.delete(view);
  };
  const encodeGroup = groupEncoder(backend.keySerializer, encoder, writers, view);

  const header = encoder.encodeHeader();
  let precomputed: Uint8Array[] | undefined;
  if (!backend.asynchronousSnapshots) {
    precomputed = [];
    for (const g of range) precomputed.push(encodeGroup(g));
    release();
  }
  const syncDurationMs = performance.now() - t0;

  let cancelled = false;
  const checkCancelled = () => {
    // dispose() ends every running snapshot: its views are released, so it cannot go on.
    if (cancelled || backend.isDisposed()) throw new SnapshotCancelledError(checkpointId);
  };
  const control = { cancel: () => void (cancelled = true) };
  backend.running.add(control);
  const result = (async (): Promise<SnapshotResult<KeyedStateHandle>> => {
    await Promise.resolve();
    let out: SnapshotOutputStream | undefined;
    try {
      out = SnapshotOutputStream.open(streamFactory, 'EXCLUSIVE', checkCancelled);
      await out.write(header);
      if (precomputed !== undefined) {
        for (const block of precomputed) await out.write(block);
      } else {
        let sliceStart = performance.now();
        for (const g of range) {
          checkCancelled();
          await out.write(encodeGroup(g));
          if (performance.now() - sliceStart > SLICE_MS) {
            await yieldToEventLoop();
            sliceStart = performance.now();
          }
        }
      }
      const stream = await out.closeAndGetHandle();
      const handle = encoder.finish(stream);
      return { jobManagerOwnedSnapshot: handle, checkpointedSize: stream.size, fullSize: stream.size };
    } catch (e) {
      await out?.discard();
      // A failure caused by the cancellation (e.g. a stream closed under it) is still a cancellation.
      checkCancelled();
      throw e;
    } finally {
      // Also when the stream could not even be opened: a view left registered would make every
      // later write pay copy-on-write and pin preimages forever.
      release();
      backend.running.delete(control);
    }
  })();
  return { checkpointId, result, syncDurationMs, cancel: control.cancel };
}

function groupEncoder(
  keySerializer: TypeSerializer<unknown>,
  encoder: KeyedStateStreamEncoder,
  writers: readonly TableWriter[],
  view: SnapshotView,
): (g: number) => Uint8Array {
  const keyOut = new DataOutputSerializer(64);
  const nsOut = new DataOutputSerializer(64);
  const valOut = new DataOutputSerializer(256);
  const ukOut = new DataOutputSerializer(64);

  const write = (w: TableWriter, key: unknown, namespace: unknown, value: unknown) => {
    keyOut.clear();
    keySerializer.serialize(key, keyOut);
    nsOut.clear();
    w.nsSerializer.serialize(namespace, nsOut);
    if (w.isMap) {
      for (const [uk, uv] of (value as HeapMap).values()) {
        ukOut.clear();
        w.userKeySerializer!.serialize(uk, ukOut);
        let vb: Uint8Array | null = null;
        if (uv !== null && uv !== undefined) {
          valOut.clear();
          w.userValueSerializer!.serialize(uv, valOut);
          vb = valOut.bytesView();
        }
        encoder.writeMapEntry(w.index, keyOut.bytesView(), nsOut.bytesView(), ukOut.bytesView(), vb);
      }
    } else {
      valOut.clear();
      w.stateSerializer.serialize(value, valOut);
      encoder.writeEntry(w.index, keyOut.bytesView(), nsOut.bytesView(), valOut.bytesView());
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
          write(w, e.key, e.namespace, value);
        }
      }
      if (pre !== undefined) {
        // Entries removed after the snapshot started exist only as preimages.
        for (const [keyId, m] of pre) {
          for (const [nsId, p] of m) {
            if (p === ABSENT || w.table.get(g, keyId, nsId) !== undefined) continue;
            write(w, p.key, p.namespace, p.value);
          }
        }
      }
    }
    view.finishKeyGroup(g);
    return encoder.endKeyGroup();
  };
}
