import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  assignToKeyGroup,
  checkRestoredKeySerializer,
  CorruptCheckpointError,
  CorruptDataError,
  DataInputDeserializer,
  DataOutputSerializer,
  decodeHeader,
  defaultSerializerRegistry,
  IllegalStateUsageError,
  isKeyGroupsStateHandle,
  KeyGroupRange,
  readKeyedStateHeader,
  readKeyGroups,
  StateMigrationError,
  streamHandleName,
  untrustedHandleName,
  type KeyedStateBackendParameters,
  type KeyedStateStreamHeader,
  type KeyGroupsStateHandle,
  type SerializerSnapshotRegistry,
  type StateHandleReader,
  type StateKind,
  type TypeSerializer,
} from '@flowstate/core';
import { encodeListElements, RocksDB, WriteBatch } from '../native.js';
import { checkIncrementalRocksDBStateHandleStructure, isIncrementalRocksDBStateHandle, type IncrementalRocksDBStateHandle } from './handles.js';
import { checkRocksFileNames } from './handle-checks.js';
import type { KeyLayout } from './key-layout.js';
import { STATE_CF_PREFIX, type RegisteredRocksState } from './rocksdb-registered.js';

const BATCH_ENTRIES = 4096;

/** What a RocksDB restore needs from its backend, and no more. */
export interface RocksRestoreTarget {
  readonly operatorIdentifier: string;
  readonly keySerializer: TypeSerializer<unknown>;
  readonly keyGroupRange: KeyGroupRange;
  readonly maxParallelism: number;
  readonly layout: KeyLayout;
  /** Scratch space for downloads; removed with the backend. */
  readonly instanceDir: string;
  /** Where the database lives; a native restore downloads into it before openDb(). */
  readonly dbDir: string;
  /** Valid after openDb(). */
  readonly db: RocksDB;
  readonly states: ReadonlyMap<string, RegisteredRocksState>;
  openDb(): void;
  registerColumnFamily(name: string, kind: StateKind, ns: TypeSerializer<unknown>, st: TypeSerializer<unknown>, restored?: RegisteredRocksState['restored']): RegisteredRocksState;
}

/**
 * Restores a RocksDB keyed backend.
 * - Canonical key-group streams (from any backend): rows are rebuilt from the records of the key
 *   groups in range and written in write batches.
 * - Native incremental handles: the handle that overlaps most is downloaded (sizes and checksums
 *   verified) and opened directly; key groups outside the range are dropped with DeleteRange. The
 *   other overlapping handles are opened one by one, and their rows in range are written into SST
 *   files with SstFileWriter and ingested, not reinserted key by key.
 * The first checkpoint after a restore uploads everything (no files of the restored snapshot are
 * reused: NO_CLAIM), because the new backend's SharedFileReuseTracker starts empty.
 */
export async function restoreRocksKeyedState<K>(backend: RocksRestoreTarget, params: KeyedStateBackendParameters<K>): Promise<void> {
  const handles = params.restoreState ?? [];
  const registry = params.serializerRegistry ?? defaultSerializerRegistry;
  const reader = params.stateHandleReader;
  if (handles.length > 0 && reader === undefined) throw new IllegalStateUsageError(undefined, 'restoreState was given without a stateHandleReader');
  const incremental = handles.filter(isIncrementalRocksDBStateHandle);
  for (const h of incremental) checkIncrementalRocksDBStateHandleStructure(h, `restoreState[${handles.indexOf(h)}]`, untrustedHandleName({ stream: h.meta }));
  const canonical = handles.filter(isKeyGroupsStateHandle);
  const unknown = handles.filter((h) => !isIncrementalRocksDBStateHandle(h) && !isKeyGroupsStateHandle(h));
  if (unknown.length > 0) throw new IllegalStateUsageError(undefined, `the RocksDB backend cannot restore '${unknown[0]!.type}' handles`);
  if (incremental.length > 0 && canonical.length > 0) throw new IllegalStateUsageError(undefined, 'cannot restore native and canonical handles together');

  incremental.forEach(checkRocksFileNames);
  const range = backend.keyGroupRange;
  const overlap = (h: { keyGroupRange: { start: number; end: number } }) => KeyGroupRange.fromJSON(h.keyGroupRange).intersection(range).numberOfKeyGroups;
  if (incremental.length > 0) {
    const relevant = incremental.filter((h) => overlap(h) > 0).sort((a, b) => overlap(b) - overlap(a));
    for (const h of relevant) {
      if (h.maxParallelism !== backend.maxParallelism) {
        throw new StateMigrationError(`<key groups of ${backend.operatorIdentifier}>`, `native snapshot has maxParallelism ${h.maxParallelism}, the job ${backend.maxParallelism}; rescale the savepoint first`);
      }
    }
    if (relevant.length === 0) {
      backend.openDb();
      return;
    }
    const [base, ...others] = relevant;
    await download(base!, backend.dbDir, reader!);
    backend.openDb();
    await registerStates(backend, await readNativeHeader(base!, reader!, registry), base!);
    clipToRange(backend);
    for (const other of others) await ingestRange(backend, other, reader!, registry);
    return;
  }
  backend.openDb();
  for (const h of canonical) {
    if (overlap(h) === 0) continue;
    const header = await readKeyedStateHeader(reader!, h, registry);
    await registerStates(backend, header, h);
    await writeCanonical(backend, h, header, reader!);
  }
}

async function download(h: IncrementalRocksDBStateHandle, dir: string, reader: StateHandleReader): Promise<void> {
  mkdirSync(dir, { recursive: true });
  // File names were checked by checkRocksFileNames: plain, distinct names inside `dir`.
  for (const f of [...h.sharedFiles, ...h.privateFiles]) writeFileSync(join(dir, f.name), await reader.readFully(f.handle, h.checkpointId));
}

async function readNativeHeader(h: IncrementalRocksDBStateHandle, reader: StateHandleReader, registry: SerializerSnapshotRegistry): Promise<KeyedStateStreamHeader> {
  const bytes = await reader.readFully(h.meta, h.checkpointId);
  try {
    return decodeHeader(new DataInputDeserializer(bytes), registry);
  } catch (e) {
    if (e instanceof CorruptDataError) throw new CorruptCheckpointError(streamHandleName(h.meta), e.detail, h.checkpointId, e.offset);
    throw e;
  }
}

/** Checks the key serializer and registers the restored states (compatibility is resolved on re-registration). */
async function registerStates(backend: RocksRestoreTarget, header: KeyedStateStreamHeader, h: { type: string }): Promise<void> {
  checkRestoredKeySerializer(header.keySerializerSnapshot, backend.keySerializer, backend.operatorIdentifier);
  for (const meta of header.states) {
    const existing = backend.states.get(meta.name);
    if (existing !== undefined) {
      if (existing.kind !== meta.kind) throw new StateMigrationError(meta.name, `restored as ${meta.kind} from a '${h.type}' handle and ${existing.kind} from another`);
      continue;
    }
    backend.registerColumnFamily(meta.name, meta.kind, meta.namespaceSerializerSnapshot.restoreSerializer(), meta.stateSerializerSnapshot.restoreSerializer(), {
      namespaceSnapshot: meta.namespaceSerializerSnapshot,
      stateSnapshot: meta.stateSerializerSnapshot,
    });
  }
}

function clipToRange(backend: RocksRestoreTarget): void {
  const range = backend.keyGroupRange;
  const layout = backend.layout;
  for (const s of backend.states.values()) {
    // Always both sides: cheap, and no trust in what a downloaded database holds outside its range.
    if (range.startKeyGroup > 0) backend.db.deleteRange(s.cf, layout.keyGroupStart(0), layout.keyGroupStart(range.startKeyGroup));
    if (range.endKeyGroup + 1 < backend.maxParallelism) backend.db.deleteRange(s.cf, layout.keyGroupStart(range.endKeyGroup + 1), layout.keyGroupStart(backend.maxParallelism));
  }
}

async function ingestRange(backend: RocksRestoreTarget, h: IncrementalRocksDBStateHandle, reader: StateHandleReader, registry: SerializerSnapshotRegistry): Promise<void> {
  const tmp = join(backend.instanceDir, `restore-${h.checkpointId}-${Math.random().toString(36).slice(2, 10)}`);
  try {
    await download(h, join(tmp, 'db'), reader);
    const header = await readNativeHeader(h, reader, registry);
    await registerStates(backend, header, h);
    const src = RocksDB.open(join(tmp, 'db'), { createIfMissing: false });
    try {
      const layout = backend.layout;
      const lower = layout.keyGroupStart(backend.keyGroupRange.startKeyGroup);
      const upper = layout.keyGroupStart(backend.keyGroupRange.endKeyGroup + 1);
      let n = 0;
      for (const meta of header.states) {
        const srcCf = src.getColumnFamily(STATE_CF_PREFIX + meta.name);
        const target = backend.states.get(meta.name)!;
        if (srcCf === undefined) continue;
        const it = src.iterator(srcCf, { lowerBound: lower, upperBound: upper, fillCache: false });
        const writer = backend.db.createSstFileWriter();
        const sst = join(tmp, `ingest-${n++}.sst`);
        let rows = 0;
        try {
          it.seekToFirst();
          while (it.valid()) {
            for (const [k, v] of it.nextBatch(1024)) {
              if (rows === 0) writer.open(sst);
              writer.put(k, v);
              rows++;
            }
          }
        } finally {
          it.close();
        }
        if (rows > 0) {
          writer.finish();
          backend.db.ingestExternalFile(target.cf, [sst], { moveFiles: true });
        }
      }
    } finally {
      src.close();
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function writeCanonical(backend: RocksRestoreTarget, h: KeyGroupsStateHandle, header: KeyedStateStreamHeader, reader: StateHandleReader): Promise<void> {
  const layout = backend.layout;
  const targets = header.states.map((m) => backend.states.get(m.name)!);
  let batch = new WriteBatch();
  const row = new DataOutputSerializer(64);
  const flush = () => {
    if (batch.count > 0) backend.db.write(batch);
    batch = new WriteBatch();
  };
  const range = KeyGroupRange.fromJSON(h.keyGroupRange).intersection(backend.keyGroupRange);
  await readKeyGroups(reader, h, header, range, (g, rec) => {
    if (assignToKeyGroup(rec.key, backend.maxParallelism) !== g) {
      throw new CorruptDataError(`a key in key group ${g} hashes to another key group (different maxParallelism?)`, 0);
    }
    const t = targets[rec.stateIndex]!;
    row.clear();
    layout.writeKeyGroup(row, g);
    row.writeLengthPrefixed(rec.key);
    row.writeLengthPrefixed(rec.namespace);
    if (t.kind === 'MAP') {
      row.writeBytes(rec.userKey!);
      const v = rec.value === null ? new Uint8Array([0]) : Buffer.concat([new Uint8Array([1]), rec.value]);
      batch.put(t.cf, row.toBytes(), v);
    } else if (t.kind === 'LIST') {
      const input = new DataInputDeserializer(rec.value!);
      const n = input.readLength('list length');
      const elements: Uint8Array[] = [];
      for (let i = 0; i < n; i++) elements.push(input.readLengthPrefixed());
      if (input.remaining !== 0) input.fail('list value has trailing bytes');
      batch.put(t.cf, row.toBytes(), encodeListElements(elements));
    } else {
      batch.put(t.cf, row.toBytes(), rec.value!.slice());
    }
    if (batch.count >= BATCH_ENTRIES) flush();
  });
  flush();
}
