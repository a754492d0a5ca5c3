import { BytesSerializer, type KeyedStateRecord, type TypeSerializer } from '@flowstate/core';

/** Most bytes one shared copy holds (unless one value field is larger): bounds what a kept value keeps alive. */
export const VALUE_COPY_RUN_BYTES = 256 << 10;

/**
 * Copies of the value fields of a block's records, made a run of records at a time into one
 * ArrayBuffer per run, for a read whose values are copies of their bytes (byte arrays): the
 * values are then decoded as views into the copy. A copied read otherwise allocates one
 * ArrayBuffer per value, each an allocation outside the JS heap, a GC-tracked extension and its
 * release, which made allocation and GC, not the copy, most of its time (issue 16).
 *
 * A run is the value fields of consecutive records of the state, in full, up to
 * VALUE_COPY_RUN_BYTES (at least one field): every byte of its buffer is written (no old memory
 * shows through `value.buffer`), and a value a caller keeps keeps at most its run alive. A value
 * is a Uint8Array over a range of its run (`byteOffset` may be non-zero; `buffer` is the run's).
 */
export class ValueFieldCopies {
  private readonly copies: Array<Uint8Array | undefined>;
  /** Records before this index have been copied (or are not of the state). */
  private end = 0;

  constructor(
    private readonly records: readonly KeyedStateRecord[],
    /** The reader's map from a record's state index to the state's (other states' records are not copied). */
    private readonly stateIndexMap: readonly number[],
    private readonly stateIndex: number,
  ) {
    this.copies = new Array<Uint8Array | undefined>(records.length);
  }

  /** The copy of record j's value field (j of the state). */
  fieldOf(j: number): Uint8Array {
    if (j >= this.end) this.copyRun(j);
    return this.copies[j]!;
  }

  /** Whether record j belongs to the state being read: the reader's own per-record test, as plain loads. */
  private isOfState(j: number): boolean {
    return this.stateIndexMap[this.records[j]!.stateIndex] === this.stateIndex;
  }

  private copyRun(from: number): void {
    const records = this.records;
    let total = 0;
    let to = from;
    for (; to < records.length; to++) {
      if (!this.isOfState(to)) continue;
      const n = records[to]!.value!.length;
      if (to > from && total + n > VALUE_COPY_RUN_BYTES) break;
      total += n;
    }
    // Uninitialized: every byte is written below.
    const run = new Uint8Array(Buffer.allocUnsafeSlow(total).buffer, 0, total);
    let at = 0;
    for (let j = from; j < to; j++) {
      if (!this.isOfState(j)) continue;
      const field = records[j]!.value!;
      run.set(field, at);
      this.copies[j] = run.subarray(at, at + field.length);
      at += field.length;
    }
    this.end = to;
  }
}

/**
 * Whether a copy of a value of `serializer` is exactly its view (deserializeView) over a copy of
 * its bytes: then a copied read decodes views over ValueFieldCopies. Only the byte-array
 * serializer itself (a subclass may decode differently).
 */
export function copiesItsView(serializer: TypeSerializer<unknown>): boolean {
  return serializer.constructor === BytesSerializer;
}
