import { assert } from '@flowstate/core';
import { encodeModifiedUtf8 } from './java-input.js';

/** A growable writer of Java `DataOutput` encodings (big-endian, modified UTF-8). */
export class JavaDataOutput {
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

  private ensure(extra: number): void {
    const need = this.pos + extra;
    if (need <= this.buf.length) return;
    let cap = Math.max(this.buf.length * 2, 16);
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  writeByte(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
  }

  writeBoolean(v: boolean): void {
    this.writeByte(v ? 1 : 0);
  }

  writeShort(v: number): void {
    this.ensure(2);
    this.view.setUint16(this.pos, v & 0xffff);
    this.pos += 2;
  }

  writeChar(v: number): void {
    this.writeShort(v);
  }

  writeInt(v: number): void {
    this.ensure(4);
    this.view.setInt32(this.pos, v | 0);
    this.pos += 4;
  }

  writeLong(v: bigint | number): void {
    this.ensure(8);
    this.view.setBigInt64(this.pos, BigInt.asIntN(64, BigInt(v)));
    this.pos += 8;
  }

  writeFloat(v: number): void {
    this.ensure(4);
    this.view.setFloat32(this.pos, v);
    this.pos += 4;
  }

  writeDouble(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, v);
    this.pos += 8;
  }

  writeBytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  writeUTF(s: string): void {
    const b = encodeModifiedUtf8(s);
    assert(b.length <= 0xffff, `writeUTF: encoded string of ${b.length} bytes exceeds 65535`);
    this.writeShort(b.length);
    this.writeBytes(b);
  }

  /** Overwrites an int already written (lengths reserved before their content). */
  writeIntAt(position: number, v: number): void {
    assert(position >= 0 && position + 4 <= this.pos, `int at ${position} within the ${this.pos} bytes written`);
    this.view.setInt32(position, v | 0);
  }

  /** Sets bits of a byte already written (Flink's "meta data follows" flag on a key). */
  orByteAt(position: number, bits: number): void {
    assert(position >= 0 && position < this.pos, `byte at ${position} within the ${this.pos} bytes written`);
    this.buf[position] = this.buf[position]! | bits;
  }

  bytesView(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  toBytes(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }

  clear(): void {
    this.pos = 0;
  }
}
