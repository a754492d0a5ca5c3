import { BlockField, BytesSerializer, ExactDeserializer, type KeyGroupRecordFields, type TypeSerializer } from '@flowstate/core';
import { wrapDecodeError } from './keyed.js';

/**
 * Most bytes one shared copy holds (unless one value field is larger): bounds what a kept value
 * keeps alive. Below what glibc serves with a fresh mmap (128 KiB) and below the 64 KiB from which
 * a free may return the heap's top to the kernel: with 256 KiB runs nearly every page of a read's
 * copies could be a new page fault (issue 16, session 10: up to 10,500–13,600 faults per 64 MiB
 * read alone in a process). 32 KiB, not 8 KiB: every run is an ArrayBuffer of its own (its
 * allocation, GC tracking and release cost about as much as copying its bytes), and 4× fewer of
 * them made a 64 MiB copied read of 4 KiB values 10–20% faster in the savepoint suite's process
 * (CPU median 85 vs 105 ms, interleaved; page faults the same, 0–15 per read after warm-up).
 */
export const VALUE_COPY_RUN_BYTES = 32 << 10;

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
  /** Per record of the state: the run holding its copy, and where in it the copy starts (its length is the field's). */
  private readonly runs: Array<Uint8Array | undefined>;
  private readonly starts: number[];
  /** Records before this index have been copied (or are not of the state). */
  private end = 0;
  /** Decodes over the runs only: a deserializer shared with the block's fields would switch buffers (a new DataView) twice per record. */
  private readonly decoder = new ExactDeserializer();

  constructor(
    private readonly fields: KeyGroupRecordFields,
    /** The reader's map from a record's state index to the state's (other states' records are not copied). */
    private readonly stateIndexMap: readonly number[],
    private readonly stateIndex: number,
  ) {
    this.runs = new Array<Uint8Array | undefined>(fields.count);
    this.starts = new Array<number>(fields.count).fill(0);
  }

  /**
   * Record j's value (j of the state), decoded as a view (deserializeView) over its copy. Errors
   * name `file` and the stream offset in the value field where decoding failed (not the copy's).
   */
  decode<T>(j: number, serializer: TypeSerializer<T>, what: string, file: string): T {
    if (j >= this.end) this.copyRun(j);
    const f = this.fields;
    const start = this.starts[j]!;
    const offset = f.offset + f.start(j, BlockField.value);
    try {
      return this.decoder.decodeRange(serializer, this.runs[j]!, start, start + f.end(j, BlockField.value) - f.start(j, BlockField.value), what, offset, true);
    } catch (e) {
      wrapDecodeError(e, file, offset);
    }
  }

  /** Whether record j belongs to the state being read: the reader's own per-record test, as plain loads. */
  private isOfState(j: number): boolean {
    return this.stateIndexMap[this.fields.stateIndex(j)] === this.stateIndex;
  }

  private copyRun(from: number): void {
    const f = this.fields;
    let total = 0;
    let to = from;
    for (; to < f.count; to++) {
      if (!this.isOfState(to)) continue;
      const n = f.end(to, BlockField.value) - f.start(to, BlockField.value);
      if (to > from && total + n > VALUE_COPY_RUN_BYTES) break;
      total += n;
    }
    // Uninitialized: every byte is written below.
    const run = new Uint8Array(Buffer.allocUnsafeSlow(total).buffer, 0, total);
    let at = 0;
    for (let j = from; j < to; j++) {
      if (!this.isOfState(j)) continue;
      const start = f.start(j, BlockField.value);
      const end = f.end(j, BlockField.value);
      run.set(f.bytes.subarray(start, end), at);
      this.runs[j] = run;
      this.starts[j] = at;
      at += end - start;
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
