// Writing SST files for ingestion (restore and rescaling load state this way).
import { types } from 'node:util';
import { loadBinding } from './binding.js';
import { asyncCall, checkDeleteRange, invalid } from './errors.js';
import type { NativeSstFileWriter } from './native-types.js';
import type { SstFileInfo, SstFileWriterOptions, SstFileWriterState } from './types.js';

// @internal Module accessors, installed by the class's static block: the rest of the binding
// reaches the native object without exposing it (the barrel ../native.ts does not re-export them).
export let wrapSstFileWriter: (n: NativeSstFileWriter) => SstFileWriter;
// Set only for the duration of one `new SstFileWriter()` inside wrapSstFileWriter.
let adoptNextSstWriter: NativeSstFileWriter | undefined;

/**
 * Writes an SST file for {@link RocksDB.ingestExternalFile}. Keys must be added
 * in strictly increasing (bytewise) order. Uses the bytewise comparator and
 * the `flowstate.list-append` merge operator, like every column family.
 */
export class SstFileWriter {
  readonly #native: NativeSstFileWriter;
  /** The file last opened, for argument errors (the binding's own errors name it too). */
  #path = '';

  /** A standalone writer; prefer {@link RocksDB.createSstFileWriter} to copy a DB's table options. */
  constructor(options: SstFileWriterOptions = {}) {
    const adopted = adoptNextSstWriter;
    adoptNextSstWriter = undefined;
    if (adopted !== undefined) {
      this.#native = adopted;
    } else {
      this.#native = new (loadBinding().SstFileWriter)();
      this.#native.configure(options);
    }
  }

  open(path: string): void {
    this.#native.open(path);
    this.#path = path;
  }

  put(key: Uint8Array, value: Uint8Array): void {
    this.#native.put(key, value);
  }

  merge(key: Uint8Array, value: Uint8Array): void {
    this.#native.merge(key, value);
  }

  delete(key: Uint8Array): void {
    this.#native.delete(key);
  }

  /** Deletes keys in [begin, end) (a range tombstone in the file). */
  deleteRange(begin: Uint8Array, end: Uint8Array): void {
    checkDeleteRange(begin, end);
    this.#native.deleteRange(begin, end);
  }

  /**
   * Finalizes the file. The writer can then be opened again for another file. Throws when the
   * file cannot be finished (no entries, an I/O error): the partial file is deleted and the writer
   * is idle.
   */
  finish(): SstFileInfo {
    return this.#native.finish();
  }

  /** finish() on the libuv thread pool; other calls throw ROCKSDB_BUSY until it settles. */
  finishAsync(): Promise<SstFileInfo> {
    return asyncCall(() => this.#native.finishAsync());
  }

  /**
   * Adds `rows` (keys strictly ascending) and finishes the file, all on the libuv thread pool: the
   * block building, compression and writes of a whole file stay off the event loop. The rows are
   * not copied: the native side reads the keys' and values' bytes in place, so they must not be
   * changed until the promise settles. Rejects (leaving the writer idle and the file deleted) when
   * a key is out of order or the file cannot be finished.
   */
  putAllAndFinishAsync(rows: Iterable<readonly [Uint8Array, Uint8Array]>): Promise<SstFileInfo> {
    const keys: Uint8Array[] = [];
    const values: Uint8Array[] = [];
    for (const [k, v] of rows) {
      keys.push(k);
      values.push(v);
    }
    return this.putSortedAndFinishAsync(keys, values);
  }

  /** putAllAndFinishAsync of `keys[i]` → `values[i]`; the rows' bytes are the binding's until the promise settles. */
  putSortedAndFinishAsync(keys: readonly Uint8Array[], values: readonly Uint8Array[]): Promise<SstFileInfo> {
    return asyncCall(() => {
      // The writer's state first, as the binding checks it: a busy or unopened writer's error
      // comes before any about the rows.
      if (this.#native.state() !== 'open') return this.#native.putPackedRowsAndFinishAsync([], new Float64Array(0));
      const { buffers, layout } = packRows(keys, values, this.#path);
      return this.#native.putPackedRowsAndFinishAsync(buffers, layout);
    });
  }

  /** Abandons an open, unfinished file and deletes it; the writer is idle. */
  abandon(): void {
    this.#native.abandon();
  }

  /** Bytes written so far to the open file. */
  get fileSize(): number {
    return this.#native.fileSize();
  }

  get state(): SstFileWriterState {
    return this.#native.state();
  }

  static {
    wrapSstFileWriter = (n) => {
      adoptNextSstWriter = n;
      return new SstFileWriter();
    };
  }
}

/**
 * The rows as ranges of the few buffers they lie in (a bulk load's keys in arena chunks, its
 * values in read buffers): `layout` holds (buffer index, byte offset, length) for each key, then
 * for each value. The binding then reads two arguments per file instead of a typed array per key
 * and per value (issue 16: those N-API calls took 4–10 ms of the event loop per 64 MiB conversion).
 */
function packRows(keys: readonly Uint8Array[], values: readonly Uint8Array[], path: string): { buffers: Uint8Array[]; layout: Float64Array } {
  const bad = (message: string) => invalid(`${message} (sst file: ${path})`);
  if (!Array.isArray(keys) || !Array.isArray(values)) throw bad('keys and values must be arrays');
  if (keys.length !== values.length) throw bad(`keys and values differ in length (${keys.length}, ${values.length})`);
  const buffers: Uint8Array[] = [];
  const indexOf = new Map<ArrayBufferLike, number>();
  const layout = new Float64Array(6 * keys.length);
  // Consecutive keys (and values) mostly share a buffer: the last one found is tried first.
  const slot = (last: { buffer: ArrayBufferLike | undefined; index: number }, row: Uint8Array, at: number): void => {
    // Of any realm, as the binding accepts them.
    if (!types.isUint8Array(row)) throw bad('every key and value must be a Uint8Array');
    layout[at + 1] = row.byteOffset;
    layout[at + 2] = row.length;
    // An empty row needs no buffer (and asking an empty array for its buffer would make one).
    if (row.length === 0) return;
    const buffer = row.buffer;
    if (buffer !== last.buffer) {
      let index = indexOf.get(buffer);
      if (index === undefined) {
        index = buffers.push(new Uint8Array(buffer)) - 1;
        indexOf.set(buffer, index);
      }
      last.buffer = buffer;
      last.index = index;
    }
    layout[at] = last.index;
  };
  const lastKey = { buffer: undefined as ArrayBufferLike | undefined, index: -1 };
  const lastValue = { buffer: undefined as ArrayBufferLike | undefined, index: -1 };
  for (let i = 0; i < keys.length; i++) {
    slot(lastKey, keys[i]!, 6 * i);
    slot(lastValue, values[i]!, 6 * i + 3);
  }
  return { buffers, layout };
}

