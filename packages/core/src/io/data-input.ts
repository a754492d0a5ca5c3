import { CorruptDataError } from '../errors.js';
import { assert } from '../assert.js';

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * A bounds-checked big-endian reader over an in-memory buffer. Every read checks the remaining
 * length first, so a corrupt length prefix can never make us allocate or read past the end:
 * byte strings are returned as views, never as buffers sized from untrusted input.
 */
export class DataInputDeserializer {
  /** Over the whole ArrayBuffer behind `buf` (reads add `start`), so reset() rarely needs a new one. */
  private view: DataView;
  /** buf.byteOffset. */
  private start: number;
  private pos: number;
  /** Reads stop here (`bound` unless limitTo narrowed them to one element of buf). */
  private end: number;
  /** How far limitTo may widen reads: buf.length after reset, `to` after resetRange (never into the next field's bytes). */
  private bound: number;

  constructor(
    private buf: Uint8Array,
    /** Added to positions in error messages, so they name offsets within the enclosing file. */
    private baseOffset = 0,
  ) {
    this.view = new DataView(buf.buffer);
    this.start = buf.byteOffset;
    this.pos = 0;
    this.end = buf.length;
    this.bound = buf.length;
  }

  /** Reads `buf` from its start, as a new deserializer would (hot loops reuse one). */
  reset(buf: Uint8Array, baseOffset = 0): void {
    // The same array again (fields of one block) skips the `buffer` lookup.
    if (buf !== this.buf && this.view.buffer !== buf.buffer) this.view = new DataView(buf.buffer);
    this.buf = buf;
    this.start = buf.byteOffset;
    this.baseOffset = baseOffset;
    this.pos = 0;
    this.end = buf.length;
    this.bound = buf.length;
  }

  /**
   * Reads buf[from, to) as reset() would read a view of it (buf.subarray(from, to), `baseOffset`),
   * without that view: the same values, bounds (limitTo too stays within `to`) and error offsets.
   * `position` and views handed out are still within buf: position starts at `from`, not 0.
   */
  resetRange(buf: Uint8Array, from: number, to: number, baseOffset = 0): void {
    // The message is built only when the check fails: this runs for every field a reader decodes.
    if (from < 0 || from > to || to > buf.length) assert(false, `range [${from}, ${to}) within [0, ${buf.length}]`);
    this.reset(buf, baseOffset - from);
    this.pos = from;
    this.end = to;
    this.bound = to;
  }

  /**
   * Narrows reads to end at `end` (a position in buf, not before the current one, not past the
   * end reset / resetRange set): one deserializer walks the elements of a packed value, each read
   * as if it were the whole input, without a subarray per element.
   */
  limitTo(end: number): void {
    // The message is built only when the check fails: this runs twice per list element read.
    if (end < this.pos || end > this.bound) assert(false, `limit ${end} within [${this.pos}, ${this.bound}]`);
    this.end = end;
  }

  /**
   * Index in the buffer of the next byte to read. After the constructor or reset(buf) that is the
   * number of bytes read; after resetRange(buf, from, to) it is `from` plus that number (an index
   * into the whole buf): a serializer that wants the bytes it consumed subtracts the position it
   * started at, which is right for both.
   */
  get position(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  /** Absolute offset (within the enclosing file) of the next byte. */
  get fileOffset(): number {
    return this.baseOffset + this.pos;
  }

  fail(detail: string): never {
    throw new CorruptDataError(detail, this.baseOffset + this.pos);
  }

  private need(n: number, what: string): void {
    if (n > this.end - this.pos) {
      this.fail(`truncated input: need ${n} bytes for ${what}, ${this.end - this.pos} left`);
    }
  }

  readUint8(): number {
    this.need(1, 'uint8');
    return this.buf[this.pos++]!;
  }

  readBoolean(): boolean {
    const b = this.readUint8();
    if (b > 1) this.fail(`invalid boolean byte ${b}`);
    return b === 1;
  }

  /** Claims the next n bytes (bounds-checked): their offset in the ArrayBuffer, for the DataView reads. */
  private take(n: number, what: string): number {
    this.need(n, what);
    const at = this.start + this.pos;
    this.pos += n;
    return at;
  }

  readUint16(): number {
    return this.view.getUint16(this.take(2, 'uint16'));
  }

  readInt32(): number {
    return this.view.getInt32(this.take(4, 'int32'));
  }

  readUint32(): number {
    return this.view.getUint32(this.take(4, 'uint32'));
  }

  readFloat64(): number {
    return this.view.getFloat64(this.take(8, 'float64'));
  }

  readBigInt64(): bigint {
    return this.view.getBigInt64(this.take(8, 'int64'));
  }

  readUint64(): number {
    const v = this.view.getBigUint64(this.take(8, 'uint64'));
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`uint64 ${v} exceeds 2^53`);
    return Number(v);
  }

  readVarUint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 5; i++) {
      const b = this.readUint8();
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        if (result > 0xffffffff) this.fail('varuint exceeds 32 bits');
        return result;
      }
      mul *= 128;
    }
    this.fail('varuint longer than 5 bytes');
  }

  /** A length or count that must not exceed what is left in the input (each item >= minItemBytes). */
  readLength(what: string, minItemBytes = 1): number {
    const start = this.pos;
    const n = this.readVarUint();
    if (n * minItemBytes > this.remaining) {
      this.pos = start;
      this.fail(`${what} ${n} exceeds the ${this.remaining} bytes left`);
    }
    return n;
  }

  /** n raw bytes as a view into the input (no copy). */
  readBytes(n: number): Uint8Array {
    this.need(n, 'bytes');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  readLengthPrefixed(): Uint8Array {
    const n = this.readLength('byte length');
    return this.readBytes(n);
  }

  readString(): string {
    const bytes = this.readLengthPrefixed();
    try {
      return decoder.decode(bytes);
    } catch {
      this.fail('invalid UTF-8 in string');
    }
  }

  skip(n: number): void {
    this.need(n, 'skip');
    this.pos += n;
  }
}
