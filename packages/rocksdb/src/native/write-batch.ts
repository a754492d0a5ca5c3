// Atomic multi-column-family write batches.
import { loadBinding } from './binding.js';
import { nativeOfColumnFamily, type ColumnFamily } from './column-family.js';
import { checkDeleteRange, checkedWrapper } from './errors.js';
import type { NativeWriteBatch } from './native-types.js';

// @internal Module accessors, installed by the class's static block: the rest of the binding
// reaches the native object without exposing it (the barrel ../native.ts does not re-export them).
export let nativeOfBatch: (b: WriteBatch) => NativeWriteBatch;
/** @internal A column family the batch writes to that has been dropped since, if any (RocksDB.write refuses the batch then). */
export let droppedFamilyOf: (b: WriteBatch) => ColumnFamily | undefined;

/** An atomic batch of writes, applied with {@link RocksDB.write}. */
export class WriteBatch {
  readonly #native: NativeWriteBatch;
  /** The column families written to, each once; the last one added is kept apart, as consecutive writes mostly go to one. */
  readonly #families = new Set<ColumnFamily>();
  #lastFamily: ColumnFamily | undefined;

  constructor() {
    this.#native = new (loadBinding().WriteBatch)();
  }

  put(cf: ColumnFamily, key: Uint8Array, value: Uint8Array): this {
    this.#native.put(this.#nativeOf(cf), key, value);
    return this;
  }

  delete(cf: ColumnFamily, key: Uint8Array): this {
    this.#native.delete(this.#nativeOf(cf), key);
    return this;
  }

  merge(cf: ColumnFamily, key: Uint8Array, value: Uint8Array): this {
    this.#native.merge(this.#nativeOf(cf), key, value);
    return this;
  }

  /** Deletes keys in [begin, end). */
  deleteRange(cf: ColumnFamily, begin: Uint8Array, end: Uint8Array): this {
    checkDeleteRange(begin, end);
    this.#native.deleteRange(this.#nativeOf(cf), begin, end);
    return this;
  }

  clear(): void {
    this.#native.clear();
    this.#families.clear();
    this.#lastFamily = undefined;
  }

  /** Number of operations in the batch. */
  get count(): number {
    return this.#native.count();
  }

  /** Size of the batch's serialized representation in bytes. */
  get dataSize(): number {
    return this.#native.dataSize();
  }

  /** The native family of `cf`, remembering that the batch writes to it. */
  #nativeOf(cf: ColumnFamily) {
    const native = nativeOfColumnFamily(cf);
    if (cf !== this.#lastFamily) {
      this.#families.add(cf);
      this.#lastFamily = cf;
    }
    return native;
  }

  static {
    droppedFamilyOf = (b) => {
      for (const cf of b.#families) if (cf.isDropped) return cf;
      return undefined;
    };
    nativeOfBatch = (b) => checkedWrapper(b, (o): o is WriteBatch => #native in o, 'WriteBatch').#native;
  }
}
