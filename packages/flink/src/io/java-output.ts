import { assert, DataOutputSerializer } from '@flowstate/core';
import { encodeModifiedUtf8 } from './java-input.js';

/**
 * Java's `DataOutput` encodings on core's growable big-endian writer: the names Flink's
 * serializers use, Java's wrapping of ints and longs, and modified UTF-8 (`writeUTF`), which is
 * Java's alone and so lives here rather than in core.
 */
export class JavaDataOutput extends DataOutputSerializer {
  writeByte(v: number): void {
    this.writeUint8(v);
  }

  writeShort(v: number): void {
    this.writeUint16(v & 0xffff);
  }

  writeChar(v: number): void {
    this.writeUint16(v & 0xffff);
  }

  writeInt(v: number): void {
    this.writeInt32(v | 0);
  }

  /** Java longs wrap: any bigint (or safe integer) is written as its low 64 bits. */
  writeLong(v: bigint | number): void {
    this.writeBigInt64(BigInt.asIntN(64, BigInt(v)));
  }

  /** As Java's DataOutput.writeFloat (floatToIntBits): writeFloat32 writes every NaN as the canonical NaN. */
  writeFloat(v: number): void {
    this.writeFloat32(v);
  }

  /** As Java's DataOutput.writeDouble (doubleToLongBits): writeFloat64 writes every NaN as the canonical NaN. */
  writeDouble(v: number): void {
    this.writeFloat64(v);
  }

  writeUTF(s: string): void {
    const b = encodeModifiedUtf8(s);
    assert(b.length <= 0xffff, `writeUTF: encoded string of ${b.length} bytes exceeds 65535`);
    this.writeUint16(b.length);
    this.writeBytes(b);
  }

  /** Overwrites an int already written (lengths reserved before their content). */
  writeIntAt(position: number, v: number): void {
    this.writeUint32At(position, v >>> 0);
  }

  /** Sets bits of a byte already written (Flink's "meta data follows" flag on a key). */
  orByteAt(position: number, bits: number): void {
    assert(position >= 0 && position < this.length, `byte at ${position} within the ${this.length} bytes written`);
    const written = this.bytesView();
    written[position] = written[position]! | bits;
  }
}
