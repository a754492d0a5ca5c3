import { checkRestoredKeySerializer } from '../backend/abstract-keyed-state-backend.js';
import { StateMigrationError } from '../errors.js';
import { DataOutputSerializer } from '../io/data-output.js';
import { KeyGroupRange } from '../keygroups/key-group-range.js';
import type { SerializerSnapshotRegistry } from '../serialization/snapshot-registry.js';
import type { TypeSerializer } from '../serialization/type-serializer.js';
import { readKeyedStateHeader, readKeyGroups, type KeyedStateRecord, type KeyedStateStreamHeader } from '../snapshot/keyed-state-stream.js';
import { giveBackReadBuffers, takeReadBuffers, type ReadBufferLender } from '../snapshot/read-buffers.js';
import type { StateKind } from '../state/descriptors.js';
import type { KeyGroupsStateHandle } from '../storage/handles.js';
import type { StateHandleReader } from '../storage/spi.js';
import type { KvBackendStates, RegisteredKvState } from './kv-registered.js';
import type { KvRowLayout } from './kv-row-layout.js';
import type { KvBulkLoad, KvEntry } from './kv-store.js';
import { canonicalListToKv, canonicalMapValueToKv } from './kv-values.js';
import { restoredQueueSinks } from '../pq/queue-stream.js';

/** Rows per putAll while restoring. */
const BATCH_ENTRIES = 4096;

/** What a restore into a KV backend needs from it, and no more. */
export interface KvRestoreTarget extends KvBackendStates {
  readonly operatorIdentifier: string;
  readonly maxParallelism: number;
  registerKeySpace(name: string, kind: StateKind, ns: TypeSerializer<unknown>, st: TypeSerializer<unknown>, restored?: RegisteredKvState['restored']): RegisteredKvState;
  /** The store's bulk load, when it has one (restores then use it instead of putAll). */
  bulkLoad?(): KvBulkLoad | undefined;
}

/**
 * Checks the key serializer and registers the restored keyed states (compatibility is resolved on
 * re-registration); priority queues are registered by whoever brings their records.
 */
export function registerRestoredKvStates(target: KvRestoreTarget, header: KeyedStateStreamHeader, handleType: string): void {
  checkRestoredKeySerializer(header.keySerializerSnapshot, target.keySerializer, target.operatorIdentifier);
  for (const meta of header.states) {
    if (meta.kind === 'PRIORITY_QUEUE') continue;
    const existing = target.states.get(meta.name);
    if (existing !== undefined) {
      if (existing.kind !== meta.kind) throw new StateMigrationError(meta.name, `restored as ${meta.kind} from a '${handleType}' handle and ${existing.kind} from another`);
      continue;
    }
    if (target.queues.has(meta.name)) throw new StateMigrationError(meta.name, `restored as ${meta.kind} from a '${handleType}' handle and as a priority queue from another`);
    target.registerKeySpace(meta.name, meta.kind, meta.namespaceSerializerSnapshot.restoreSerializer(), meta.stateSerializerSnapshot.restoreSerializer(), {
      namespaceSnapshot: meta.namespaceSerializerSnapshot,
      stateSnapshot: meta.stateSerializerSnapshot,
    });
  }
}

/**
 * Restores canonical key-group streams (from any backend, of any number of old subtasks): only
 * the key groups intersecting the target's range are read, and their records are written as rows:
 * into the store's bulk load if it has one (the priority queues' rows too), else in batches (putAll).
 */
export async function restoreKvCanonical(target: KvRestoreTarget, handles: readonly KeyGroupsStateHandle[], reader: StateHandleReader, registry: SerializerSnapshotRegistry, signal?: AbortSignal): Promise<void> {
  // One bulk load for every handle (fewer, larger files for a store that writes files).
  const bulk = target.bulkLoad?.();
  // The key group of the last record, across handles: old subtasks own disjoint key groups, so
  // the first record of the next handle is a boundary like any change of key group.
  const last = { group: -1 };
  try {
    for (const h of handles) {
      const range = KeyGroupRange.fromJSON(h.keyGroupRange).intersection(target.keyGroupRange);
      if (range.numberOfKeyGroups === 0) continue;
      const header = await readKeyedStateHeader(reader, h, registry);
      registerRestoredKvStates(target, header, h.type);
      await writeRows(target, h, header, range, reader, { bulk, last }, signal);
    }
    await bulk?.finish();
  } catch (e) {
    bulk?.abort();
    throw e;
  }
}

/** Where restored rows go: the bulk load (if any), and the key group of the last record written (for its boundaries). */
interface RowSink {
  readonly bulk: KvBulkLoad | undefined;
  readonly last: { group: number };
}

async function writeRows(target: KvRestoreTarget, h: KeyGroupsStateHandle, header: KeyedStateStreamHeader, range: KeyGroupRange, reader: StateHandleReader, sink: RowSink, signal: AbortSignal | undefined): Promise<void> {
  const { bulk, last } = sink;
  const sinks = restoredQueueSinks(header, target.queues, bulk);
  const states = header.states.map((m) => target.states.get(m.name));
  const pending: KvEntry[][] = states.map(() => []);
  const flush = (i: number) => {
    if (pending[i]!.length > 0) states[i]!.space.putAll(pending[i]!);
    pending[i] = [];
  };
  const row = new DataOutputSerializer(64);
  // Reused read buffers (no fresh multi-MiB buffer per read) only when nothing keeps a view of a
  // record: the bulk load copies what it is given or holds the buffers of what it keeps, and queue
  // sinks copy what they keep (RestoredQueueSink.add).
  const lent = readBuffersFor(bulk);
  const buffers = lent?.buffers;
  // The row serializer is reused for every record: a key outlives it only as a copy, unless the
  // bulk load copies what it is given.
  const copies: RowCopies = { key: bulk?.copiesOnAdd !== true, value: bulk === undefined };
  try {
    await readKeyGroups(reader, h, header, range, (g, rec) => {
      if (g !== last.group) {
        if (last.group !== -1) bulk?.keyGroupBoundary?.();
        last.group = g;
      }
      const i = rec.stateIndex;
      const sink = sinks[i];
      if (sink !== undefined) return sink.add(g, rec.key, rec.value!);
      row.clear();
      // Values go to a bulk load as views: one that does not copy keeps the rows until it writes
      // them, and its reads go into new buffers that no later read reuses; one that copies copies
      // them, or holds the buffer of a value it keeps (its readBuffers). putAll stores may keep
      // what they are given (a heap store does), so they get copies.
      const entry = toRow(target.layout, row, states[i]!.kind, g, rec, copies);
      if (bulk !== undefined) {
        bulk.add(states[i]!.space, entry[0], entry[1]);
        return;
      }
      pending[i]!.push(entry);
      if (pending[i]!.length >= BATCH_ENTRIES) flush(i);
    }, { signal, operatorIdentifier: target.operatorIdentifier, maxParallelism: target.maxParallelism, ...(buffers === undefined ? {} : { readBuffers: buffers }) });
  } finally {
    // readKeyGroups settled every read into them before it returned or threw.
    lent?.done();
  }
  states.forEach((_s, i) => flush(i));
  for (const s of sinks) s?.flush();
}

/**
 * The bulk load's own read buffers, else the process's reused ones if it copies what it is given,
 * else none (a new buffer per read); `done` gives them back once every read into them settled.
 */
function readBuffersFor(bulk: KvBulkLoad | undefined): { readonly buffers: ReadBufferLender; readonly done: () => void } | undefined {
  const own = bulk?.readBuffers;
  if (own !== undefined) return { buffers: own, done: () => own.release() };
  if (bulk?.copiesOnAdd !== true) return undefined;
  const reused = takeReadBuffers();
  return { buffers: reused, done: () => giveBackReadBuffers(reused) };
}

/** Which parts of a row toRow hands out as copies: the others are views, valid until the next record. */
interface RowCopies {
  readonly key: boolean;
  readonly value: boolean;
}

/** A canonical record as the row the KV states read (see kv-values.ts). */
function toRow(layout: KvRowLayout, row: DataOutputSerializer, kind: StateKind, g: number, rec: KeyedStateRecord, copies: RowCopies): KvEntry {
  if (kind === 'MAP') layout.writeRow(row, g, rec.key, rec.namespace, rec.userKey!);
  else layout.writeRow(row, g, rec.key, rec.namespace);
  const key = copies.key ? row.toBytes() : row.bytesView();
  if (kind === 'MAP') return [key, canonicalMapValueToKv(rec.value)];
  if (kind === 'LIST') return [key, canonicalListToKv(rec.value!)];
  return [key, copies.value ? rec.value!.slice() : rec.value!];
}
