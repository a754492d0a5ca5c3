// Column family handles. Valid until the family is dropped or the database closes.
import { checkedWrapper } from './errors.js';
import type { NativeColumnFamily } from './native-types.js';

// @internal Module accessors, installed by the class's static block: the rest of the binding
// reaches the native object without exposing it (the barrel ../native.ts does not re-export them).
export let wrapColumnFamily: (n: NativeColumnFamily) => ColumnFamily;
export let nativeOfColumnFamily: (cf: ColumnFamily) => NativeColumnFamily;

/** Handle to a column family of an open {@link RocksDB}. */
export class ColumnFamily {
  readonly #native: NativeColumnFamily;
  readonly name: string;
  /** RocksDB's numeric column family id. */
  readonly id: number;

  private constructor(native: NativeColumnFamily) {
    this.#native = native;
    this.name = native.name();
    this.id = native.id();
  }

  /** False once the family was dropped or its database closed. */
  get isValid(): boolean {
    return this.#native.isValid();
  }

  get isDropped(): boolean {
    return this.#native.isDropped();
  }

  static {
    wrapColumnFamily = (n) => new ColumnFamily(n);
    nativeOfColumnFamily = (cf) => checkedWrapper(cf, (o): o is ColumnFamily => #native in o, 'ColumnFamily').#native;
  }
}
