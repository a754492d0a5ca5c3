import type { CheckpointOptions, SnapshotFuture, SnapshotResult } from '../backend/spi.js';
import { SnapshotCancelledError } from '../errors.js';
import { DataOutputSerializer } from '../io/data-output.js';
import type { KeyGroupRange } from '../keygroups/key-group-range.js';
import type { TypeSerializer, TypeSerializerSnapshot } from '../serialization/type-serializer.js';
import { KeyedStateStreamEncoder, type KeyedStateMetaInfo } from '../snapshot/keyed-state-stream.js';
import { SnapshotOutputStream } from '../snapshot/snapshot-output.js';
import type { KeyedStateHandle } from '../storage/handles.js';
import type { CheckpointStreamFactory } from '../storage/spi.js';
import type { RegisteredKvState } from './kv-registered.js';
import type { KvRowLayout } from './kv-row-layout.js';
import { forEachEntry, type KvStore, type KvView } from './kv-store.js';
import { kvListToCanonical, kvMapValueToCanonical } from './kv-values.js';

/** How long the asynchronous part may hold the event loop before it yields to processing. */
const SLICE_MS = 4;
const yieldToEventLoop = () => new Promise<void>((r) => setImmediate(r));

/** What a full snapshot of a KV backend needs from it, and no more. */
export interface KvSnapshotSource {
  readonly keySerializer: TypeSerializer<unknown>;
  readonly keyGroupRange: KeyGroupRange;
  readonly layout: KvRowLayout;
  readonly store: KvStore;
  readonly states: ReadonlyMap<string, RegisteredKvState>;
  /** Asynchronous parts still running; the backend cancels them on dispose(). */
  readonly runningSnapshots: Set<{ cancel(): void }>;
}

/** The canonical stream's encoder and header for the states as registered now. */
export function kvSnapshotEncoder(source: Pick<KvSnapshotSource, 'keySerializer' | 'keyGroupRange'>, states: readonly RegisteredKvState[]): { encoder: KeyedStateStreamEncoder; header: Uint8Array } {
  const metas: KeyedStateMetaInfo[] = states.map((s) => ({
    name: s.name,
    kind: s.kind,
    namespaceSerializerSnapshot: s.namespaceSerializer.snapshotConfiguration(),
    stateSerializerSnapshot: s.stateSerializer.snapshotConfiguration(),
  }));
  const encoder = new KeyedStateStreamEncoder(source.keyGroupRange, source.keySerializer.snapshotConfiguration() as TypeSerializerSnapshot<unknown>, metas);
  return { encoder, header: encoder.encodeHeader() };
}

/** A running asynchronous part: cancellable, removed from `running` when it settles. */
export function runSnapshotPart<H>(
  running: Set<{ cancel(): void }>,
  checkpointId: number,
  t0: number,
  run: (checkCancelled: () => void) => Promise<SnapshotResult<H>>,
): SnapshotFuture<H> {
  let cancelled = false;
  const checkCancelled = () => {
    if (cancelled) throw new SnapshotCancelledError(checkpointId);
  };
  const control = { cancel: () => void (cancelled = true) };
  running.add(control);
  const syncDurationMs = performance.now() - t0;
  const result = (async () => {
    await Promise.resolve();
    try {
      return await run(checkCancelled);
    } finally {
      running.delete(control);
    }
  })();
  return { checkpointId, result, syncDurationMs, cancel: control.cancel };
}

/**
 * Starts a canonical full snapshot of a KV backend: the synchronous part takes a consistent view
 * of the store; the asynchronous part streams the key groups in order from it through the
 * canonical encoder (the one the heap backends use), so it restores into any backend.
 */
export function startKvFullSnapshot(source: KvSnapshotSource, checkpointId: number, streamFactory: CheckpointStreamFactory, _options: CheckpointOptions): SnapshotFuture<KeyedStateHandle> {
  const t0 = performance.now();
  const states = [...source.states.values()];
  if (states.length === 0) {
    const empty: SnapshotResult<KeyedStateHandle> = { jobManagerOwnedSnapshot: null, checkpointedSize: 0, fullSize: 0 };
    return { checkpointId, result: Promise.resolve(empty), syncDurationMs: performance.now() - t0, cancel() {} };
  }
  const { encoder, header } = kvSnapshotEncoder(source, states);
  const view = source.store.view();
  return runSnapshotPart(source.runningSnapshots, checkpointId, t0, (checkCancelled) =>
    writeKvFullSnapshot(source, view, states, encoder, header, streamFactory, checkCancelled),
  );
}

async function writeKvFullSnapshot(
  source: KvSnapshotSource,
  view: KvView,
  states: readonly RegisteredKvState[],
  encoder: KeyedStateStreamEncoder,
  header: Uint8Array,
  streamFactory: CheckpointStreamFactory,
  checkCancelled: () => void,
): Promise<SnapshotResult<KeyedStateHandle>> {
  const encodeGroup = keyGroupEncoder(source.layout, view, states, encoder);
  let out: SnapshotOutputStream | undefined;
  try {
    out = SnapshotOutputStream.open(streamFactory, 'EXCLUSIVE', checkCancelled);
    await out.write(header);
    let sliceStart = performance.now();
    for (const g of source.keyGroupRange) {
      checkCancelled();
      await out.write(encodeGroup(g));
      if (performance.now() - sliceStart > SLICE_MS) {
        await yieldToEventLoop();
        sliceStart = performance.now();
      }
    }
    // Checks cancellation after the close too: a cancel() during it deletes the file.
    const stream = await out.closeAndGetHandle();
    const handle = encoder.finish(stream);
    return { jobManagerOwnedSnapshot: handle, checkpointedSize: stream.size, fullSize: stream.size };
  } catch (e) {
    await out?.discard();
    throw e;
  } finally {
    view.release();
  }
}

/** Encodes one key group's block: every state's rows of that key group, read from the view. */
function keyGroupEncoder(layout: KvRowLayout, view: KvView, states: readonly RegisteredKvState[], encoder: KeyedStateStreamEncoder): (g: number) => Uint8Array {
  const spaces = states.map((s) => view.keySpace(s.space.name));
  const listOut = new DataOutputSerializer(256);
  return (g) => {
    encoder.beginKeyGroup(g);
    const lower = layout.keyGroupStart(g);
    const upper = layout.keyGroupStart(g + 1);
    states.forEach((s, i) => {
      const space = spaces[i];
      if (space === undefined) return;
      forEachEntry(space, lower, upper, (row, value) => {
        const p = layout.parse(row);
        if (s.kind === 'MAP') encoder.writeMapEntry(i, p.key, p.namespace, p.userKey, kvMapValueToCanonical(value));
        else if (s.kind === 'LIST') encoder.writeEntry(i, p.key, p.namespace, kvListToCanonical(value, listOut));
        else encoder.writeEntry(i, p.key, p.namespace, value);
      });
    });
    return encoder.endKeyGroup();
  };
}
