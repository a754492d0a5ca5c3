import { mkdirSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  assert,
  checkRestoreNotCancelled,
  CorruptCheckpointError,
  CorruptDataError,
  DataInputDeserializer,
  decodeHeader,
  defaultSerializerRegistry,
  IllegalStateUsageError,
  isKeyGroupsStateHandle,
  KeyGroupRange,
  KvPriorityQueues,
  registerRestoredKvStates,
  type KvKeySpace,
  type KvRowLayout,
  StateMigrationError,
  streamHandleName,
  untrustedHandleName,
  type KeyedStateBackendParameters,
  type KeyedStateHandle,
  type KeyedStateStreamHeader,
  type KvRestoreTarget,
  type SerializerSnapshotRegistry,
  type StateHandleReader,
} from '@flowstate/core';
import { RocksDB, RocksDBError, SCRATCH_DATABASE_OPTIONS, type ColumnFamily, type SstFileInfo } from '../native.js';
import { checkIncrementalRocksDBStateHandleStructure, checkRocksDBHandleFormatVersion, isIncrementalRocksDBStateHandle, type IncrementalRocksDBStateHandle } from './handles.js';
import { checkRocksFileNames } from './handle-checks.js';
import { ingestOptions } from './rocksdb-bulk-load.js';
import { RocksDBKeySpace, STATE_CF_PREFIX, type RocksDBKvStore } from './rocksdb-kv-store.js';

/** What a RocksDB restore needs from its backend, and no more. */
export interface RocksRestoreTarget extends KvRestoreTarget {
  /** Scratch space for downloads; removed with the backend. */
  readonly instanceDir: string;
  /** Where the database lives; a native restore downloads into it before openStore(). */
  readonly dbDir: string;
  /** Hard-link downloaded SSTs from the storage when it can (RocksDBStateBackendOptions.linkRestoredFiles). */
  readonly linkRestoredFiles: boolean;
  /** Opens the database in dbDir and makes it the backend's store. */
  openStore(): Promise<RocksDBKvStore>;
  /** Restores canonical key-group streams into the opened store (core's generic restore). */
  restoreCanonical(handles: readonly KeyedStateHandle[]): Promise<void>;
}

/**
 * Restores a RocksDB keyed backend.
 * - Canonical key-group streams (from any backend): rows are rebuilt from the records of the key
 *   groups in range (core's restoreKvCanonical) and bulk loaded: sorted into SST files and
 *   ingested (RocksDBBulkLoad), not written through write batches.
 * - Native incremental handles: the handle that overlaps most is downloaded (sizes and checksums
 *   verified) and opened directly; key groups outside the range are dropped with DeleteRange. The
 *   other overlapping handles are opened one by one, and their rows in range are written into SST
 *   files with SstFileWriter and ingested, not reinserted key by key.
 * The first checkpoint after a restore uploads everything (no files of the restored snapshot are
 * reused: NO_CLAIM), because the new backend's SharedFileReuseTracker starts empty.
 */
export async function restoreRocksKeyedState<K>(backend: RocksRestoreTarget, params: KeyedStateBackendParameters<K>): Promise<void> {
  const handles = params.restoreState ?? [];
  const reader = params.stateHandleReader;
  if (handles.length > 0 && reader === undefined) throw new IllegalStateUsageError(undefined, 'restoreState was given without a stateHandleReader');
  const incremental = handles.filter(isIncrementalRocksDBStateHandle);
  for (const h of incremental) {
    const file = untrustedHandleName({ stream: h.meta });
    checkIncrementalRocksDBStateHandleStructure(h, `restoreState[${handles.indexOf(h)}]`, file);
    checkRocksDBHandleFormatVersion(h, file);
  }
  const canonical = handles.filter(isKeyGroupsStateHandle);
  const unknown = handles.filter((h) => !isIncrementalRocksDBStateHandle(h) && !isKeyGroupsStateHandle(h));
  if (unknown.length > 0) throw new IllegalStateUsageError(undefined, `the RocksDB backend cannot restore '${unknown[0]!.type}' handles`);
  if (incremental.length > 0 && canonical.length > 0) throw new IllegalStateUsageError(undefined, 'cannot restore native and canonical handles together');
  if (incremental.length > 0) {
    await restoreNative(backend, incremental, reader!, params.serializerRegistry ?? defaultSerializerRegistry, params.signal);
    return;
  }
  await backend.openStore();
  await backend.restoreCanonical(canonical);
}

async function restoreNative(backend: RocksRestoreTarget, incremental: readonly IncrementalRocksDBStateHandle[], reader: StateHandleReader, registry: SerializerSnapshotRegistry, signal: AbortSignal | undefined): Promise<void> {
  const checkCancelled = () => checkRestoreNotCancelled(signal, backend.operatorIdentifier);
  incremental.forEach(checkRocksFileNames);
  const overlap = (h: IncrementalRocksDBStateHandle) => KeyGroupRange.fromJSON(h.keyGroupRange).intersection(backend.keyGroupRange).numberOfKeyGroups;
  const relevant = incremental.filter((h) => overlap(h) > 0).sort((a, b) => overlap(b) - overlap(a));
  for (const h of relevant) {
    if (h.maxParallelism !== backend.maxParallelism) {
      throw new StateMigrationError(`<key groups of ${backend.operatorIdentifier}>`, `native snapshot has maxParallelism ${h.maxParallelism}, the job ${backend.maxParallelism}; rescale the savepoint first`);
    }
  }
  if (relevant.length === 0) {
    await backend.openStore();
    return;
  }
  const [base, ...others] = relevant;
  await download(base!, backend.dbDir, reader, backend.linkRestoredFiles);
  checkCancelled();
  const store = await openDownloaded(base!, () => backend.openStore());
  registerRestored(backend, await readNativeHeader(base!, reader, registry), base!.type);
  clipToRange(backend);
  for (const other of others) {
    checkCancelled();
    await ingestRange(backend, store, other, reader, registry);
  }
  // Heap queues of every handle: core's canonical restore takes the key groups in range.
  const heapQueues = relevant.flatMap((h) => (h.heapPriorityQueues === undefined ? [] : [h.heapPriorityQueues]));
  if (heapQueues.length > 0) await backend.restoreCanonical(heapQueues);
}

/** Registers the keyed states and the store's priority queues of a native header. */
function registerRestored(backend: RocksRestoreTarget, header: KeyedStateStreamHeader, handleType: string): void {
  registerRestoredKvStates(backend, header, handleType);
  for (const meta of header.states) {
    if (meta.kind !== 'PRIORITY_QUEUE') continue;
    if (!(backend.queues instanceof KvPriorityQueues)) {
      throw new StateMigrationError(meta.name, 'a native snapshot with RocksDB timers cannot be restored with HEAP timers; restore from a canonical savepoint to switch');
    }
    backend.queues.registerRestored(meta);
  }
}

/** Every key space with key-group-prefixed rows: the states' and the store's queues'. */
function keySpaces(backend: RocksRestoreTarget): RocksDBKeySpace[] {
  const queues = backend.queues instanceof KvPriorityQueues ? backend.queues.spaces() : [];
  return [...[...backend.states.values()].map((s) => s.space), ...queues].map(rocksKeySpace);
}

/** A key space of the RocksDB store (every space a RocksDB backend registers is one). */
function rocksKeySpace(space: KvKeySpace): RocksDBKeySpace {
  assert(space instanceof RocksDBKeySpace, `a RocksDB backend's key space '${space.name}' is a RocksDBKeySpace`);
  return space;
}

async function download(h: IncrementalRocksDBStateHandle, dir: string, reader: StateHandleReader, link: boolean): Promise<void> {
  mkdirSync(dir, { recursive: true });
  // File names were checked by checkRocksFileNames: plain, distinct names inside `dir`. Written
  // asynchronously: a synchronous write of each SST blocked the event loop for the whole download.
  for (const f of [...h.sharedFiles, ...h.privateFiles]) {
    const dest = join(dir, f.name);
    // Only SSTs are linked: RocksDB never writes to a finished SST, but it may to the other files.
    if (link && f.name.endsWith('.sst') && reader.linkFile !== undefined && (await reader.linkFile(f.handle, dest, h.checkpointId))) continue;
    await writeFile(dest, await reader.readFully(f.handle, h.checkpointId));
  }
}

/**
 * Opens the database downloaded from `h`. RocksDB refuses files that are damaged or missing (a
 * handle without its MANIFEST or one of its SSTs: files the checkpoint should hold) with a
 * ROCKSDB_CORRUPTION or a ROCKSDB_IO_ERROR for a missing file; that is a corrupt checkpoint, named
 * by the handle's meta stream. Other failures (out of disk, a closed database) stay as they are.
 */
async function openDownloaded<T>(h: IncrementalRocksDBStateHandle, open: () => Promise<T>): Promise<T> {
  try {
    return await open();
  } catch (e) {
    if (!meansDamagedFiles(e)) throw e;
    throw new CorruptCheckpointError(streamHandleName(h.meta), `the native RocksDB snapshot does not open: ${e.status ?? e.message}`, h.checkpointId, undefined, { cause: e });
  }
}

function meansDamagedFiles(e: unknown): e is RocksDBError {
  if (!(e instanceof RocksDBError)) return false;
  if (e.code === 'ROCKSDB_CORRUPTION') return true;
  // rocksdb::IOError::PathNotFound: the file RocksDB reads (the MANIFEST CURRENT names, an SST) is not there.
  return e.code === 'ROCKSDB_IO_ERROR' && /No such file or directory|PathNotFound/i.test(e.status ?? e.message);
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

function clipToRange(backend: RocksRestoreTarget): void {
  deleteRowsOutside(keySpaces(backend), backend.keyGroupRange, backend.layout);
}

/** What a clip needs of a key space: its rows below a key, its last key, and range deletion. */
export type ClippedKeySpace = Pick<KvKeySpace, 'scan' | 'deleteRange'> & { lastKey(): Uint8Array | undefined };

/**
 * Deletes the rows of `spaces` outside `range` (a restored database: a handle of a wider range, or
 * SSTs that hold more than their handle says; nothing downloaded is trusted), one DeleteRange per
 * side and key space, but only where that side holds a row. A range tombstone over nothing changes
 * no row, yet it stays until a compaction drops it, and every scan of the key space meanwhile
 * checks its keys against it (a savepoint conversion to canonical took ~3.5% longer with one on
 * each side of every subtask's range; issue 16). The sides are open-ended: below, from the empty
 * key (a hostile SST may hold keys shorter than a key-group prefix); above, through the space's
 * last key (prefixes at or above maxParallelism, which no reader asks for, would otherwise be
 * carried into every later snapshot).
 */
export function deleteRowsOutside(spaces: readonly ClippedKeySpace[], range: KeyGroupRange, layout: KvRowLayout): void {
  const below = layout.keyGroupStart(range.startKeyGroup);
  const above = layout.keyGroupStart(range.endKeyGroup + 1);
  for (const space of spaces) {
    if (space.scan(EMPTY_KEY, below, 1).length > 0) space.deleteRange(EMPTY_KEY, below);
    const last = space.lastKey();
    if (last !== undefined && Buffer.compare(last, above) >= 0) space.deleteRange(above, keyAfter(last));
  }
}

const EMPTY_KEY = new Uint8Array(0);

/** The least key greater than `key` (an exclusive upper bound that includes it). */
function keyAfter(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key.length + 1);
  out.set(key);
  return out;
}

/** Writes the rows in range of another native handle into SST files and ingests them into `store`. */
async function ingestRange(backend: RocksRestoreTarget, store: RocksDBKvStore, h: IncrementalRocksDBStateHandle, reader: StateHandleReader, registry: SerializerSnapshotRegistry): Promise<void> {
  const tmp = join(backend.instanceDir, `restore-${h.checkpointId}-${Math.random().toString(36).slice(2, 10)}`);
  try {
    await download(h, join(tmp, 'db'), reader, backend.linkRestoredFiles);
    const header = await readNativeHeader(h, reader, registry);
    registerRestored(backend, header, h.type);
    const src = await openDownloaded(h, () => RocksDB.openAsync(join(tmp, 'db'), { ...SCRATCH_DATABASE_OPTIONS, createIfMissing: false }));
    try {
      header.states.forEach((meta, i) => {
        const srcCf = src.getColumnFamily(STATE_CF_PREFIX + meta.name);
        if (srcCf === undefined) return;
        const sst = join(tmp, `ingest-${i}.sst`);
        const written = copyRangeToSst(backend, store, src, srcCf, sst);
        // With the writer's checksum: RocksDB neither reads the file twice nor rewrites it (rocksdb-bulk-load.ts).
        if (written !== undefined) store.db.ingestExternalFile(store.keySpace(meta.name).cf, [sst], ingestOptions([sst], new Map([[sst, written.fileChecksum]])));
      });
    } finally {
      src.close();
    }
  } finally {
    // Off the event loop: where freed blocks are discarded synchronously, each unlink waits for the device.
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Copies the rows of `srcCf` in the backend's key groups into a new SST file: what its writer reports, or undefined when there are none. */
function copyRangeToSst(backend: RocksRestoreTarget, store: RocksDBKvStore, src: RocksDB, srcCf: ColumnFamily, sst: string): SstFileInfo | undefined {
  const layout = backend.layout;
  const lower = layout.keyGroupStart(backend.keyGroupRange.startKeyGroup);
  const upper = layout.keyGroupStart(backend.keyGroupRange.endKeyGroup + 1);
  const it = src.iterator(srcCf, { lowerBound: lower, upperBound: upper, fillCache: false });
  const writer = store.db.createSstFileWriter();
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
  } catch (e) {
    // A failed read or put: close and delete the partial file now, not when the writer is collected.
    if (writer.state === 'open') writer.abandon();
    throw e;
  } finally {
    it.close();
  }
  // A failed finish deletes its partial file itself.
  return rows > 0 ? writer.finish() : undefined;
}
