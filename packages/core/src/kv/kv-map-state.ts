import { DataInputDeserializer } from '../io/data-input.js';
import type { MapSerializer } from '../serialization/collections.js';
import { ExactDeserializer } from '../serialization/type-serializer.js';
import type { InternalMapState, InternalMapStateIterator } from '../state/state.js';
import { prefixEnd, successorOf } from './kv-bytes.js';
import { AbstractKvState } from './kv-state-base.js';
import type { KvEntry } from './kv-store.js';

/** Entries read per scan while iterating a map (Flink's RocksDBMapIterator reads 128 too). */
const MAP_SCAN_BATCH = 128;
const NO_BYTES = new Uint8Array(0);

/** Map state: one row per user key, [kg][key][ns][user key] -> [presence byte][value]. */
export class KvMapState<N, K, V> extends AbstractKvState<N> implements InternalMapState<K, V> {
  /** Reused for every decoded user key (serializers do not call back into this state). */
  private readonly keyInput = new ExactDeserializer();
  private readonly valueInput = new DataInputDeserializer(NO_BYTES);

  private get ser(): MapSerializer<K, V> {
    return this.info.stateSerializer as unknown as MapSerializer<K, V>;
  }

  /** The row of a user key of the current key and namespace; valid until the next call. */
  private userRow(key: K): Uint8Array {
    if (key === null || key === undefined) this.reject('map keys must not be null or undefined');
    const k = this.keyOut;
    k.clear();
    k.writeBytes(this.ctx.currentKeyPrefix(this.name));
    k.writeBytes(this.nsBytes);
    this.ser.keySerializer.serialize(key, k);
    return k.bytesView();
  }

  /**
   * An iteration ended (its last next(), or return() when left early: `break`, a destructuring,
   * an exception in the loop's body): the reused deserializers let go of its last scan buffer (up
   * to 8 MiB from RocksDB) instead of keeping it reachable until the next read. Once per iteration.
   */
  private releaseScanBuffer(): void {
    this.keyInput.release();
    this.valueInput.reset(NO_BYTES);
  }

  /**
   * After a get() the value deserializer keeps the bytes it read, a view of RocksDB's value pool
   * (at most 16 KiB, value-pool.ts): kept deliberately, as letting go would cost the next get() a
   * new DataView (DataInputDeserializer.reset reuses its view only over the same buffer).
   */
  private decodeValue(bytes: Uint8Array): V | null {
    const input = this.valueInput;
    input.reset(bytes);
    const v = this.ser.deserializeNullableValue(input);
    if (input.remaining !== 0) input.fail('map value has trailing bytes');
    return v;
  }

  get(key: K): V | null | undefined {
    const bytes = this.space.get(this.userRow(key));
    return bytes === undefined ? undefined : this.decodeValue(bytes);
  }

  contains(key: K): boolean {
    return this.space.get(this.userRow(key)) !== undefined;
  }

  put(key: K, value: V | null): void {
    // No copy: the row and the value are in separate buffers, and stores copy what put is given.
    this.space.put(this.userRow(key), this.valueRow(value));
  }

  /**
   * One write of all entries (a write batch on RocksDB, one transaction on LMDB), like Flink's
   * RocksDBMapState.putAll: a store pays its per-write cost once, and an entry that cannot be
   * serialized leaves the map unchanged.
   */
  putAll(entries: Iterable<readonly [K, V | null]>): void {
    const rows: KvEntry[] = [];
    for (const [k, v] of entries) {
      const row = this.userRow(k).slice();
      rows.push([row, this.valueRow(v).slice()]);
    }
    if (rows.length > 0) this.space.putAll(rows);
  }

  /** The row value of `value` ([presence byte][value]); valid until the next call. */
  private valueRow(value: V | null | undefined): Uint8Array {
    const o = this.valueOut;
    o.clear();
    this.ser.serializeNullableValue(value === undefined ? null : value, o);
    return o.bytesView();
  }

  remove(key: K): void {
    this.space.delete(this.userRow(key));
  }

  override clear(): void {
    const prefix = this.rowKey().slice();
    this.space.deleteRange(prefix, prefixEnd(prefix));
  }

  isEmpty(): boolean {
    const prefix = this.rowKey().slice();
    return this.space.scan(prefix, prefixEnd(prefix), 1).length === 0;
  }

  entries(): InternalMapStateIterator<[K, V | null], V | null> {
    return this.iterate((k, v) => [k, v] as [K, V | null]);
  }

  keys(): InternalMapStateIterator<K, V | null> {
    return this.iterate((k) => k);
  }

  values(): InternalMapStateIterator<V | null, V | null> {
    return this.iterate((_k, v) => v);
  }

  /**
   * Reads the user entries of the current key and namespace in batches, each scan resuming after
   * the last row seen, so that writes between next() calls (remove() included) are safe. remove()
   * and setValue() write the row read last: the map of the key and namespace current when the
   * iteration began, whatever is current now.
   */
  private iterate<T>(project: (k: K, v: V | null) => T): InternalMapStateIterator<T, V | null> {
    const prefix = this.rowKey().slice();
    const upper = prefixEnd(prefix);
    const space = this.space;
    const ks = this.ser.keySerializer;
    let batch: KvEntry[] = [];
    let pos = 0;
    let lastRow: Uint8Array | undefined;
    let done = false;
    let canRemove = false;
    // A batch shorter than asked was the last one (scan returns fewer only at the end of the
    // range): like Flink's RocksDBMapIterator, no further scan just to find that out.
    let last = false;
    const finish = (): void => {
      done = true;
      canRemove = false;
      batch = [];
      lastRow = undefined;
      self.releaseScanBuffer();
    };
    const fetch = (): void => {
      batch = last ? [] : space.scan(lastRow === undefined ? prefix : successorOf(lastRow), upper, MAP_SCAN_BATCH);
      last = batch.length < MAP_SCAN_BATCH;
      pos = 0;
      if (batch.length === 0) finish();
    };
    const self = this;
    const iter: InternalMapStateIterator<T, V | null> = {
      next(): IteratorResult<T> {
        if (done) return { done: true, value: undefined };
        if (pos >= batch.length) {
          fetch();
          if (done) return { done: true, value: undefined };
        }
        const [row, value] = batch[pos++]!;
        lastRow = row;
        canRemove = true;
        const k = self.keyInput.decode(ks, row.subarray(prefix.length), 'map key');
        return { done: false, value: project(k, self.decodeValue(value)) };
      },
      remove(): void {
        const row = lastRow;
        if (!canRemove || row === undefined) return self.reject('iterator remove() without a preceding next(), or called twice');
        canRemove = false;
        space.delete(row);
      },
      setValue(value: V | null): void {
        const row = lastRow;
        if (row === undefined) return self.reject('iterator setValue() without a preceding next()');
        space.put(row, self.valueRow(value));
      },
      // Left before its end: the batch and the deserializers' scan buffer are released now.
      return(): IteratorResult<T> {
        if (!done) finish();
        return { done: true, value: undefined };
      },
      [Symbol.iterator]() {
        return iter;
      },
    };
    return iter;
  }
}
