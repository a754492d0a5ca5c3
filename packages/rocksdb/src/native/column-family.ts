// Column family handles. Valid until the family is dropped or the database closes.
import { checkedWrapper } from './errors.js';
import type { BoundGetInto, BoundPut, NativeColumnFamily, NativeDatabase } from './native-types.js';

/**
 * @internal Identifies one open database to the families bound to it: a plain object the database
 * holds, never the database itself, so a family kept after its database was dropped does not keep
 * the native database (its LOCK, memtables and cache) from being finalized.
 */
export type BindToken = object;

/** @internal get (without a snapshot) and put of one family, bound in native code to the database of `owner`. */
export interface BoundOps {
  readonly owner: BindToken;
  readonly getInto: BoundGetInto;
  readonly put: BoundPut;
}

// @internal Module accessors, installed by the class's static block: the rest of the binding
// reaches the native object without exposing it (the barrel ../native.ts does not re-export them).
export let wrapColumnFamily: (n: NativeColumnFamily) => ColumnFamily;
export let nativeOfColumnFamily: (cf: ColumnFamily) => NativeColumnFamily;
/**
 * The family's bound ops for database `db`, identified by `owner` (made on first use and kept). A
 * family handed to another database's get/put gets that database's bind, which throws as the
 * general path does.
 */
export let boundOpsOf: (cf: ColumnFamily, db: NativeDatabase, owner: BindToken) => BoundOps;

/** Handle to a column family of an open {@link RocksDB}. */
export class ColumnFamily {
  readonly #native: NativeColumnFamily;
  #bound: BoundOps | undefined = undefined;
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
    boundOpsOf = (cf, db, owner) => {
      const b = checkedWrapper(cf, (o): o is ColumnFamily => #native in o, 'ColumnFamily').#bound;
      if (b !== undefined && b.owner === owner) return b;
      const [getInto, put] = db.bindColumnFamily(cf.#native);
      return (cf.#bound = { owner, getInto, put });
    };
  }
}
