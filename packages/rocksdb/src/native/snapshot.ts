// Point-in-time read views of a database.
import { checkedWrapper } from './errors.js';
import type { NativeSnapshot } from './native-types.js';

// @internal Module accessors, installed by the class's static block: the rest of the binding
// reaches the native object without exposing it (the barrel ../native.ts does not re-export them).
export let wrapSnapshot: (n: NativeSnapshot) => Snapshot;
export let nativeOfSnapshot: (s: Snapshot) => NativeSnapshot;

/** @internal */
export function nativeSnapshotOrUndefined(s: Snapshot | undefined): NativeSnapshot | undefined {
  return s === undefined ? undefined : nativeOfSnapshot(s);
}

/** A consistent point-in-time view of the database. */
export class Snapshot {
  readonly #native: NativeSnapshot;
  /** RocksDB sequence number of the snapshot. */
  readonly sequenceNumber: number;

  private constructor(native: NativeSnapshot) {
    this.#native = native;
    this.sequenceNumber = native.sequenceNumber();
  }

  /** Releases the snapshot (idempotent). Iterators already reading at it keep working until closed. */
  release(): void {
    this.#native.release();
  }

  get isReleased(): boolean {
    return this.#native.isReleased();
  }

  static {
    wrapSnapshot = (n) => new Snapshot(n);
    nativeOfSnapshot = (s) => checkedWrapper(s, (o): o is Snapshot => #native in o, 'Snapshot').#native;
  }
}
