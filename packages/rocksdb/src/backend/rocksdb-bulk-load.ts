import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AdoptableReadBuffers, IllegalStateUsageError, type KvBulkLoad, type KvKeySpace, type LentReadBuffer } from '@flowstate/core';
import type { ColumnFamily, IngestExternalFileOptions, RocksDB, SstFileInfo } from '../native.js';
import { releaseRowChunks, RowArena } from './row-arena.js';

/** Row bytes (keys + values) buffered before they are sorted and written into SST files. */
export const BULK_LOAD_SPILL_BYTES = 64 << 20;

/**
 * Row bytes after which a key-group boundary writes the buffered rows (KvBulkLoad.keyGroupBoundary):
 * the files are then built on the thread pool while the restore decodes the next key groups,
 * instead of all at the end (issue 16: the event loop idled while one subtask's rows became one
 * SST). Smaller files cost a little per file (index, footer, one more upload and link).
 */
export const BULK_LOAD_BOUNDARY_SPILL_BYTES = 8 << 20;

/** Rows of one column family not yet written. */
interface PendingRows {
  readonly cf: ColumnFamily;
  readonly keys: Uint8Array[];
  readonly values: Uint8Array[];
}

/**
 * Core's bulk load (canonical restores) for RocksDB: rows are buffered per column family, sorted,
 * written into SST files with SstFileWriter (the database's own options) and ingested with
 * IngestExternalFile (files moved, not copied), instead of going through write batches, the
 * memtable and a flush. Files are built (blocks, compression, writes, fsync) and ingested on
 * the libuv thread pool; the event loop only copies and sorts the rows. Files of one column family
 * may overlap (a spill in the middle of a key group): RocksDB then gives each a newer sequence
 * number in list order, so a key added twice keeps its last value, as with puts.
 *
 * add() keeps a value read into one of its readBuffers as it is, with a hold on that buffer, and
 * copies every other key and value into a RowArena (copiesOnAdd: a restore reads into reused
 * buffers, and its row keys are written into one reused serializer). A spill's chunks and holds
 * are given back only once every SST file built from them is written.
 */
export class RocksDBBulkLoad implements KvBulkLoad {
  readonly copiesOnAdd = true;
  readonly readBuffers = new AdoptableReadBuffers();
  private readonly arena = new RowArena();
  /** Holds on the read buffers of the values buffered since the last spill. */
  private holds: LentReadBuffer[] = [];
  /**
   * Bytes of the buffers those holds pin (whole buffers, however few of their bytes are rows), the
   * latest hold's excepted: its rows are still being added and the reader keeps it lent until it
   * moves past it, so a spill cannot free it. Counted, a buffer of spillBytes or more (a block
   * that large is read alone into a buffer of its size) made every row spill: one SST file per
   * row, and RocksDB keeps every ingested file open (EMFILE).
   */
  private heldBytes = 0;
  private readonly pending = new Map<string, PendingRows>();
  private readonly files = new Map<string, { readonly cf: ColumnFamily; readonly paths: string[] }>();
  private readonly finishing: Promise<SstFileInfo>[] = [];
  private bufferedBytes = 0;
  private fileCount = 0;
  private state: 'open' | 'finishing' | 'failed' | 'closed' = 'open';
  /** What failed, once a spill failed: the load then accepts only abort(). */
  private failure = '';
  /**
   * @param dir scratch directory for the SST files (created on first use; left, empty, when the
   *   files were ingested, removed after a failure); inside the database's directory, so that
   *   ingestion can move the files and the database's removal takes it.
   */
  constructor(
    private readonly db: RocksDB,
    private readonly dir: string,
    /** The column family of a key space of this store. */
    private readonly cfOf: (space: KvKeySpace) => ColumnFamily,
    private readonly spillBytes = BULK_LOAD_SPILL_BYTES,
    private readonly boundarySpillBytes = BULK_LOAD_BOUNDARY_SPILL_BYTES,
    /** Removes the scratch directory; never rejects (tests hold it to see who waits). */
    private readonly removeDirectory: (dir: string) => Promise<void> = removeQuietly,
  ) {}

  add(space: KvKeySpace, key: Uint8Array, value: Uint8Array): void {
    if (this.state !== 'open') throw this.notOpen();
    const cf = this.cfOf(space);
    let rows = this.pending.get(cf.name);
    if (rows === undefined) {
      rows = { cf, keys: [], values: [] };
      this.pending.set(cf.name, rows);
    }
    rows.keys.push(this.arena.copy(key));
    rows.values.push(this.adopt(value));
    this.bufferedBytes += key.length + value.length;
    // A spill bounds what it can free: the rows copied into the arena and the buffers the reader
    // moved past, held whole (many small handles, a rescaling restore, would otherwise pin a
    // buffer each until the rows reached the threshold). The buffer the rows come from is bounded
    // by the reader (two lent at once, each at most a coalesced read or one block); its rows
    // count as bytes like any other. Each spill thus writes spillBytes of rows or frees spillBytes
    // of buffers, each buffer counted once: files stay few however large a block is.
    if (this.bufferedBytes >= this.spillBytes || this.heldBytes >= this.spillBytes) this.spill();
  }

  /** `value` itself if it lies in a read buffer held for the rows since the last spill (a hold is taken on first use), else a copy. */
  private adopt(value: Uint8Array): Uint8Array {
    // Rows of one read come one after the other: the latest hold serves them all, and a new one
    // means the reader moved past the buffer of the one before.
    const latest = this.holds[this.holds.length - 1];
    if (value.buffer === latest?.bytes.buffer) return value;
    const held = this.readBuffers.hold(value);
    if (held === undefined) return this.arena.copy(value);
    if (latest !== undefined) this.heldBytes += latest.bytes.length;
    this.holds.push(held);
    return value;
  }

  keyGroupBoundary(): void {
    if (this.state !== 'open') throw this.notOpen();
    if (this.bufferedBytes >= this.boundarySpillBytes) this.spill();
  }

  async finish(): Promise<void> {
    if (this.state !== 'open') throw this.notOpen();
    this.spill();
    this.state = 'finishing';
    try {
      const written = new Map((await Promise.all(this.finishing)).map((info) => [info.path, info.fileChecksum]));
      for (const { cf, paths } of this.files.values()) await this.db.ingestExternalFileAsync(cf, paths, ingestOptions(paths, written));
    } catch (e) {
      await this.removeAfterFailure();
      throw e;
    }
    // Ingestion moved every file into the database: the directory is empty, and the database's
    // removal takes it. Removing it now cost a thread-pool job that queued behind the SST builds
    // and syncs of other restores (issue 16, session 29), and its rmdir waited for the device
    // where freed blocks are discarded synchronously (ext4 mounted with `discard`: 4-13 ms behind
    // other subtasks' syncs, 3-4% of a conversion to native; session 30).
    this.state = 'closed';
  }

  /**
   * After a failed finish: removes the scratch directory and the files left in it, off the event
   * loop (a synchronous rmdir waits for the device where freed blocks are discarded synchronously,
   * behind concurrent syncs; issue 16: milliseconds each, while the other subtasks waited).
   */
  private async removeAfterFailure(): Promise<void> {
    this.state = 'closed';
    await this.removeDirectory(this.dir);
  }

  abort(): void {
    if (this.state === 'closed') return;
    this.pending.clear();
    // Only rows never handed to a writer are in the unsealed chunks and the current holds.
    releaseRowChunks(this.arena.seal());
    this.unholdAll(this.takeHolds());
    // SST writers still finishing on the thread pool write through open descriptors: removing
    // their (unlinked) files is safe, and their promises must not be reported as unhandled.
    for (const f of this.finishing) f.catch(() => {});
    this.close();
  }

  private notOpen(): IllegalStateUsageError {
    if (this.state === 'failed') return new IllegalStateUsageError(undefined, `bulk load failed (${this.failure}); only abort() is accepted`);
    return new IllegalStateUsageError(undefined, `bulk load is ${this.state}`);
  }

  /** Number of SST files written so far (tests: proves the spill path runs). */
  get filesWritten(): number {
    return this.fileCount;
  }

  /** abort() is synchronous: it removes the directory on the calling thread. */
  private close(): void {
    this.state = 'closed';
    rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * Writes every column family's buffered rows into one sorted SST file each; their chunks go back
   * to the pool when every one of these files settled (written or failed: the writers read the
   * rows until then, also after an abort), and only then, even when starting a later file throws.
   * Such a failure leaves the load 'failed': its rows are dropped, since their bytes go back to
   * the pools (another bulk load may reuse them) and another spill would write those instead.
   */
  private spill(): void {
    const chunks = this.arena.seal();
    const holds = this.takeHolds();
    const written: Promise<SstFileInfo>[] = [];
    let cf = '';
    try {
      for (const rows of this.pending.values()) {
        cf = rows.cf.name;
        if (rows.keys.length > 0) written.push(this.writeSst(rows));
      }
    } catch (e) {
      this.state = 'failed';
      this.failure = `writing an SST file of column family '${cf}': ${e instanceof Error ? e.message : String(e)}`;
      throw e;
    } finally {
      void Promise.allSettled(written).then(() => {
        releaseRowChunks(chunks);
        this.unholdAll(holds);
      });
      this.pending.clear();
      this.bufferedBytes = 0;
    }
  }

  /** The holds of the rows since the last spill; the next row takes a hold of its own. */
  private takeHolds(): LentReadBuffer[] {
    const holds = this.holds;
    this.holds = [];
    this.heldBytes = 0;
    return holds;
  }

  private unholdAll(holds: readonly LentReadBuffer[]): void {
    for (const h of holds) this.readBuffers.unhold(h);
  }

  private writeSst(rows: PendingRows): Promise<SstFileInfo> {
    if (this.fileCount === 0) mkdirSync(this.dir, { recursive: true });
    const path = join(this.dir, `${this.fileCount++}-${randomUUID().slice(0, 8)}.sst`);
    const writer = this.db.createSstFileWriter();
    writer.open(path);
    // Building the file (blocks, compression, writes, fsync) runs on the thread pool, reading the
    // rows' bytes in place until the file settles: nothing may change them (spill() drops the
    // arrays from `pending`; arena chunks and read-buffer holds are released only after every
    // file settled), and the binding keeps alive the buffers they lie in.
    const sorted = rowsInKeyOrder(rows.keys, rows.values);
    const written = writer.putSortedAndFinishAsync(sorted.keys, sorted.values);
    this.finishing.push(written);
    let target = this.files.get(rows.cf.name);
    if (target === undefined) {
      target = { cf: rows.cf, paths: [] };
      this.files.set(rows.cf.name, target);
    }
    target.paths.push(path);
    return written;
  }
}

/** A directory left behind (inside the database's, removed with it) must not fail the restore or hide its error. */
async function removeQuietly(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true }).catch(() => {});
}

/**
 * Moves the files in; with the CRC32C each SstFileWriter computed while writing (all of them or
 * none), RocksDB records those instead of reading every file twice to checksum it (before and
 * after ingestion, on the critical path of a restore: issue 16) and leaves the files unmodified.
 */
export function ingestOptions(paths: readonly string[], written: ReadonlyMap<string, number | undefined>): IngestExternalFileOptions {
  const fileChecksums = paths.map((p) => written.get(p));
  return fileChecksums.every((c) => c !== undefined) ? { moveFiles: true, fileChecksums } : { moveFiles: true };
}

/**
 * The rows in ascending key order, each key once (the last added of equal keys): the arrays given
 * when the keys already ascend strictly, checked in one pass, else sorted copies (sortedLastWins).
 * Rows of a canonical stream written from a sorted store (RocksDB, LMDB, any savepoint this build
 * converted) arrive in key order, key group after key group. Sorting them anyway costs twice the
 * comparisons (the sort finds the one run, dropping duplicates compares each pair again), an index
 * array, a comparator call per comparison and two copies of the arrays: ~0.53 against ~0.17 ms
 * per 2,000 rows (a 64 MiB conversion to native has ~16,000, issue 16).
 */
export function rowsInKeyOrder(keys: readonly Uint8Array[], values: readonly Uint8Array[]): { readonly keys: readonly Uint8Array[]; readonly values: readonly Uint8Array[] } {
  let ascending = true;
  for (let i = 1; i < keys.length && ascending; i++) ascending = Buffer.compare(keys[i - 1]!, keys[i]!) < 0;
  if (ascending) return { keys, values };
  const order = sortedLastWins(keys);
  return { keys: order.map((i) => keys[i]!), values: order.map((i) => values[i]!) };
}

/**
 * Indexes of `keys` in ascending key order (unsigned bytes, as RocksDB's bytewise comparator),
 * each key once: of equal keys the last added wins (SstFileWriter needs strictly ascending keys).
 */
export function sortedLastWins(keys: readonly Uint8Array[]): number[] {
  const order = Array.from(keys.keys()).sort((a, b) => Buffer.compare(keys[a]!, keys[b]!) || a - b);
  const out: number[] = [];
  for (const i of order) {
    if (out.length > 0 && Buffer.compare(keys[out[out.length - 1]!]!, keys[i]!) === 0) out[out.length - 1] = i;
    else out.push(i);
  }
  return out;
}
