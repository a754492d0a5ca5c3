import { assert } from '../assert.js';

const encoder = new TextEncoder();

/** The high word of the canonical float64 NaN 0x7ff8000000000000; its low word is 0. */
export const CANONICAL_NAN_HIGH_WORD = 0x7ff80000;
/** The canonical float32 NaN. */
const CANONICAL_FLOAT32_NAN = 0x7fc00000;

/**
 * A growable big-endian binary writer. All multi-byte integers are big-endian; lengths and counts
 * are unsigned LEB128 varints ("varuint", at most 5 bytes, values < 2^32).
 */
export class DataOutputSerializer {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;

  constructor(initialCapacity = 256) {
    this.buf = new Uint8Array(initialCapacity);
    this.view = new DataView(this.buf.buffer);
  }

  get length(): number {
    return this.pos;
  }

  /** Bytes the buffer holds before it has to grow. */
  get capacity(): number {
    return this.buf.length;
  }

  /** Drops the content but keeps the buffer, so hot paths can reuse one serializer. */
  clear(): void {
    this.pos = 0;
  }

  private ensure(extra: number): void {
    const need = this.pos + extra;
    if (need > this.buf.length) this.grow(need);
  }

  /** The slow path of ensure and claim, kept out of them so that they stay small enough to inline. */
  private grow(need: number): void {
    // At least 16: doubling an empty buffer (initialCapacity 0) would never grow.
    let cap = Math.max(this.buf.length * 2, 16);
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  writeUint8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
  }

  writeBoolean(v: boolean): void {
    this.writeUint8(v ? 1 : 0);
  }

  /**
   * Claims the next n bytes (growing the buffer) and returns their position. Callers read
   * `this.view` after the claim: growing replaces the view.
   */
  private claim(n: number): number {
    const at = this.pos;
    const end = at + n;
    if (end > this.buf.length) this.grow(end);
    this.pos = end;
    return at;
  }

  writeUint16(v: number): void {
    const at = this.claim(2);
    this.view.setUint16(at, v);
  }

  writeInt32(v: number): void {
    const at = this.claim(4);
    this.view.setInt32(at, v);
  }

  writeUint32(v: number): void {
    const at = this.claim(4);
    this.view.setUint32(at, v);
  }

  /** Overwrites 4 bytes already written (e.g. a length reserved before its content). */
  writeUint32At(position: number, v: number): void {
    assert(position >= 0 && position + 4 <= this.pos, `uint32 at ${position} lies within the ${this.pos} bytes written`);
    this.view.setUint32(position, v);
  }

  /** IEEE 754 single, every NaN as the canonical NaN (as Java's floatToIntBits): DataView would keep a NaN's payload and sign. */
  writeFloat32(v: number): void {
    const at = this.claim(4);
    if (v !== v) this.view.setUint32(at, CANONICAL_FLOAT32_NAN);
    else this.view.setFloat32(at, v);
  }

  /**
   * IEEE 754 double, every NaN as the canonical NaN 0x7ff8000000000000 (as Java's
   * doubleToLongBits, which Flink's DoubleSerializer writes): two NaNs, one value in JS and for
   * Double.equals, must not be two keys in different key groups.
   */
  writeFloat64(v: number): void {
    const at = this.claim(8);
    if (v !== v) {
      this.view.setUint32(at, CANONICAL_NAN_HIGH_WORD);
      this.view.setUint32(at + 4, 0);
    } else {
      this.view.setFloat64(at, v);
    }
  }

  writeBigInt64(v: bigint): void {
    const at = this.claim(8);
    this.view.setBigInt64(at, v);
  }

  writeUint64(v: number): void {
    assert(Number.isSafeInteger(v) && v >= 0, `uint64 out of safe range: ${v}`);
    const at = this.claim(8);
    this.view.setBigUint64(at, BigInt(v));
  }

  writeVarUint(v: number): void {
    assert(Number.isInteger(v) && v >= 0 && v <= 0xffffffff, `varuint out of range: ${v}`);
    this.ensure(5);
    this.pos = this.putVarUint(this.pos, v);
  }

  /** Raw bytes, no length prefix. */
  writeBytes(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** varuint length, then the bytes. */
  writeLengthPrefixed(bytes: Uint8Array): void {
    this.writeVarUint(bytes.length);
    this.writeBytes(bytes);
  }

  /**
   * varuint length, then what `serializer` writes for `value`, serialized in place: no temporary
   * buffer and no copy of the value's bytes. The prefix is sized for `expectedLength`; when the
   * actual length needs another prefix size, the bytes are moved once. Returns the length.
   */
  writeSerializedLengthPrefixed<T>(serializer: { serialize(value: T, out: DataOutputSerializer): void }, value: T, expectedLength: number): number {
    const reserved = varUintSize(expectedLength);
    this.ensure(reserved);
    const start = this.pos;
    this.pos += reserved;
    serializer.serialize(value, this);
    const length = this.pos - start - reserved;
    const actual = varUintSize(length);
    if (actual !== reserved) {
      this.ensure(actual - reserved);
      this.buf.copyWithin(start + actual, start + reserved, this.pos);
    }
    // In place, not through writeVarUint: its ensure(5) could grow the buffer from `start`, and a
    // growth copies only the bytes before `pos`, dropping a short value written after the prefix.
    this.putVarUint(start, length);
    this.pos = start + actual + length;
    return length;
  }

  /** Writes `v` as a varuint at `at`, where the buffer already has room (no growth); returns the position after it. */
  private putVarUint(at: number, v: number): number {
    while (v >= 0x80) {
      this.buf[at++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[at++] = v;
    return at;
  }

  /** UTF-8 string: varuint byte length, then the bytes. */
  writeString(s: string): void {
    // Worst case 3 bytes per UTF-16 unit; encode in place to avoid a temporary buffer.
    const max = s.length * 3;
    this.ensure(5 + max);
    const lenPos = this.pos;
    // Reserve 5 bytes for the length, encode, then move if the varint is shorter.
    const { written } = encoder.encodeInto(s, this.buf.subarray(lenPos + 5));
    const lenBytes = varUintSize(written);
    if (lenBytes !== 5) this.buf.copyWithin(lenPos + lenBytes, lenPos + 5, lenPos + 5 + written);
    this.putVarUint(lenPos, written);
    this.pos = lenPos + lenBytes + written;
  }

  /** A view of the written bytes; valid until the next write or clear. */
  bytesView(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  /** A copy of the written bytes. */
  toBytes(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

export function varUintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  return 5;
}
