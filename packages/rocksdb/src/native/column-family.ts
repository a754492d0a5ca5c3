// Column family handles. Valid until the family is dropped or the database closes.
import { checkedWrapper } from './errors.js';
import type { BoundGetInto, BoundPut, NativeColumnFamily, NativeDatabase } from './native-types.js';

/** @internal get (without a snapshot) and put of one family, bound in native code to its database `db`. */
export interface BoundOps {
  readonly db: NativeDatabase;
  readonly getInto: BoundGetInto;
  readonly put: BoundPut;
}

// @internal Module accessors, installed by the class's static block: the rest of the binding
// reaches the native object without exposing it (the barrel ../native.ts does not re-export them).
export let wrapColumnFamily: (n: NativeColumnFamily) => ColumnFamily;
export let nativeOfColumnFamily: (cf: ColumnFamily) => NativeColumnFamily;
/**
 * The family's bound ops for database `db` (made on first use and kept). A family handed to
 * another database's get/put gets that database's bind, which throws as the general path does.
 */
export let boundOpsOf: (cf: ColumnFamily, db: NativeDatabase) => BoundOps;

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
    boundOpsOf = (cf, db) => {
      const b = checkedWrapper(cf, (o): o is ColumnFamily => #native in o, 'ColumnFamily').#bound;
      if (b !== undefined && b.db === db) return b;
      const [getInto, put] = db.bindColumnFamily(cf.#native);
      return (cf.#bound = { db, getInto, put });
    };
  }
}
