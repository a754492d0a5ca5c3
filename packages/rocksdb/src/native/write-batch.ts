// Atomic multi-column-family write batches.
import { loadBinding } from './binding.js';
import { nativeOfColumnFamily, type ColumnFamily } from './column-family.js';
import { checkedWrapper } from './errors.js';
import type { NativeWriteBatch } from './native-types.js';

// @internal Module accessors, installed by the class's static block: the rest of the binding
// reaches the native object without exposing it (the barrel ../native.ts does not re-export them).
export let nativeOfBatch: (b: WriteBatch) => NativeWriteBatch;

/** An atomic batch of writes, applied with {@link RocksDB.write}. */
export class WriteBatch {
  readonly #native: NativeWriteBatch;

  constructor() {
    this.#native = new (loadBinding().WriteBatch)();
  }

  put(cf: ColumnFamily, key: Uint8Array, value: Uint8Array): this {
    this.#native.put(nativeOfColumnFamily(cf), key, value);
    return this;
  }

  delete(cf: ColumnFamily, key: Uint8Array): this {
    this.#native.delete(nativeOfColumnFamily(cf), key);
    return this;
  }

  merge(cf: ColumnFamily, key: Uint8Array, value: Uint8Array): this {
    this.#native.merge(nativeOfColumnFamily(cf), key, value);
    return this;
  }

  /** Deletes keys in [begin, end). */
  deleteRange(cf: ColumnFamily, begin: Uint8Array, end: Uint8Array): this {
    this.#native.deleteRange(nativeOfColumnFamily(cf), begin, end);
    return this;
  }

  clear(): void {
    this.#native.clear();
  }

  /** Number of operations in the batch. */
  get count(): number {
    return this.#native.count();
  }

  /** Size of the batch's serialized representation in bytes. */
  get dataSize(): number {
    return this.#native.dataSize();
  }

  static {
    nativeOfBatch = (b) => checkedWrapper(b, (o): o is WriteBatch => #native in o, 'WriteBatch').#native;
  }
}
