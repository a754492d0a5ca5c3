import { corrupt } from '../errors.js';
import type { ByteArrayCopies } from './byte-copies.js';

/** Decoded items of no bytes (Avro null, an empty record) an input may hold beyond one per byte of it. */
const ZERO_WIDTH_ITEM_ALLOWANCE = 1024;

/**
 * A bounds-checked reader of Java `DataInput` encodings (big-endian, modified UTF-8) over bytes
 * of one file. Every failure is a CorruptCheckpointError naming the file and absolute offset;
 * no read ever allocates more than the bytes that remain.
 */
export class JavaDataInput {
  /** Created on the first multi-byte read: most inputs of a record (keys, byte[] values) never need one. */
  private dataView: DataView | undefined;
  private pos: number;
  private readonly end: number;
  /** Where readBytesCopy packs its copies (set by record decoders); without it each copy has its own buffer. */
  copies: ByteArrayCopies | undefined = undefined;
  /** Items of no bytes claimed so far (claimItems), and how many this input's bytes allow. */
  private claimed = 0;
  private readonly itemLimit: number;

  constructor(
    readonly bytes: Uint8Array,
    /** File named in errors. */
    readonly file: string,
    /** Offset of bytes[0] within that file (for error messages). */
    readonly baseOffset = 0,
    start = 0,
    end = bytes.length,
  ) {
    this.pos = start;
    this.end = end;
    this.itemLimit = end - start + ZERO_WIDTH_ITEM_ALLOWANCE;
  }

  private get view(): DataView {
    return (this.dataView ??= new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength));
  }

  get position(): number {
    return this.pos;
  }

  set position(p: number) {
    if (p < 0 || p > this.end) this.fail(`seek to ${p} outside [0, ${this.end}]`);
    this.pos = p;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  get fileOffset(): number {
    return this.baseOffset + this.pos;
  }

  /** A reader of the next n bytes, advancing this one past them. */
  slice(n: number, what: string): JavaDataInput {
    const at = this.take(n, what);
    return new JavaDataInput(this.bytes, this.file, this.baseOffset, at, at + n);
  }

  fail(detail: string, at = this.pos): never {
    throw corrupt(this.file, this.baseOffset + at, detail);
  }

  need(n: number, what: string): void {
    if (n < 0 || n > this.end - this.pos) this.fail(`truncated: need ${n} bytes for ${what}, ${this.end - this.pos} left`);
  }

  /** Claims the next n bytes (bounds-checked) and returns where they start. */
  private take(n: number, what: string): number {
    this.need(n, what);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  readByte(): number {
    this.need(1, 'byte');
    return (this.bytes[this.pos++]! << 24) >> 24;
  }

  readUnsignedByte(): number {
    this.need(1, 'byte');
    return this.bytes[this.pos++]!;
  }

  readBoolean(): boolean {
    const b = this.readUnsignedByte();
    if (b > 1) this.fail(`invalid boolean byte ${b}`, this.pos - 1);
    return b === 1;
  }

  readShort(): number {
    return this.view.getInt16(this.take(2, 'short'));
  }

  readUnsignedShort(): number {
    return this.view.getUint16(this.take(2, 'short'));
  }

  readChar(): number {
    return this.readUnsignedShort();
  }

  readInt(): number {
    const p = this.take(4, 'int');
    const b = this.bytes;
    return (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
  }

  readLong(): bigint {
    return this.view.getBigInt64(this.take(8, 'long'));
  }

  /** A long that must be a non-negative safe integer (offsets, sizes, ids). */
  readLongAsNumber(what: string): number {
    const at = this.pos;
    const v = this.readLong();
    if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`${what} ${v} out of range`, at);
    return Number(v);
  }

  readFloat(): number {
    return this.view.getFloat32(this.take(4, 'float'));
  }

  readDouble(): number {
    return this.view.getFloat64(this.take(8, 'double'));
  }

  /** A count read as i32 that must be >= 0 and fit in what remains (each item >= minItemBytes). */
  readCount(what: string, minItemBytes = 1): number {
    const at = this.pos;
    const n = this.readInt();
    this.checkCount(n, what, minItemBytes, at);
    return n;
  }

  checkCount(n: number, what: string, minItemBytes: number, at: number): void {
    if (n < 0) this.fail(`negative ${what} ${n}`, at);
    if (n * minItemBytes > this.remaining) this.fail(`${what} ${n} exceeds the ${this.remaining} bytes left`, at);
  }

  /**
   * Claims n decoded items that take no bytes (Avro null, an empty record). A count checked only
   * against the bytes left lets such items claim those bytes again at every count, and nested
   * counts multiply: all of one input's items of no bytes together may not outnumber its bytes
   * (plus ZERO_WIDTH_ITEM_ALLOWANCE), so decoding stays linear in the input. Items of real data
   * are bounded by the bytes they take, and are not claimed: a record of an int and four nulls
   * claims four, not five (its container claiming it too refused valid data of that shape).
   */
  claimItems(n: number, what: string, at = this.pos): void {
    this.claimed += n;
    if (this.claimed <= this.itemLimit) return;
    const bytes = this.itemLimit - ZERO_WIDTH_ITEM_ALLOWANCE;
    this.fail(`${what}: ${this.claimed} items from ${bytes} bytes (at most one per byte and ${ZERO_WIDTH_ITEM_ALLOWANCE} of no bytes)`, at);
  }

  /**
   * How far decoding has come: bytes read plus items claimed. Values read forward only, so an
   * item of a list, array or map that leaves it unchanged took no bytes and claimed nothing.
   */
  get progress(): number {
    return this.pos + this.claimed;
  }

  /**
   * Claims the item of a list, array or map read since `progress` was `before` if it took no bytes
   * and claimed nothing itself (a value of no bytes whose serializer does not claim it): an item of
   * bytes is paid for by them, and one that claimed its values of no bytes is counted already.
   */
  claimIfEmpty(before: number, what: string, at: number): void {
    if (this.progress === before) this.claimItems(1, what, at);
  }

  /** n bytes as a view into the input (no copy). */
  readBytes(n: number): Uint8Array {
    this.need(n, 'bytes');
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** n bytes as a copy that does not alias the input (see ByteArrayCopies for how copies share buffers). */
  readBytesCopy(n: number): Uint8Array {
    const view = this.readBytes(n);
    return this.copies === undefined ? new Uint8Array(view) : this.copies.copy(view);
  }

  /**
   * The next n bytes as the string of their char codes if every one is below 0x80 (then past
   * them), else undefined (and the position unchanged).
   */
  readAsciiChars(n: number): string | undefined {
    this.need(n, 'characters');
    const b = this.bytes;
    const start = this.pos;
    const end = start + n;
    for (let i = start; i < end; i++) if (b[i]! >= 0x80) return undefined;
    this.pos = end;
    return latin1(b, start, end);
  }

  skip(n: number): void {
    this.need(n, 'skip');
    this.pos += n;
  }

  /** `DataInput.readUTF`: u16 byte length, then modified UTF-8. */
  readUTF(): string {
    const at = this.pos;
    const len = this.readUnsignedShort();
    const bytes = this.readBytes(len);
    const s = decodeModifiedUtf8(bytes);
    if (s === undefined) this.fail('malformed modified UTF-8 string', at);
    return s;
  }
}

/** Strings up to this length are built char by char (V8 keeps them flat); longer ones in one native step. */
const SHORT_LATIN1 = 12;

function latin1(b: Uint8Array, start: number, end: number): string {
  if (end - start > SHORT_LATIN1) return Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('latin1');
  // Short keys are most strings read per record: a Buffer and a native call cost more than the loop.
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(b[i]!);
  return s;
}

/** Decodes Java's modified UTF-8 (1-3 byte sequences only); undefined when malformed. */
export function decodeModifiedUtf8(b: Uint8Array): string | undefined {
  let ascii = true;
  for (let i = 0; i < b.length; i++) if (b[i]! >= 0x80 || b[i] === 0) { ascii = false; break; }
  if (ascii) return latin1(b, 0, b.length);
  const units: number[] = [];
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      if (c === 0) return undefined;
      units.push(c);
      i += 1;
    } else if ((c & 0xe0) === 0xc0) {
      const c2 = b[i + 1];
      if (c2 === undefined || (c2 & 0xc0) !== 0x80) return undefined;
      units.push(((c & 0x1f) << 6) | (c2 & 0x3f));
      i += 2;
    } else if ((c & 0xf0) === 0xe0) {
      const c2 = b[i + 1];
      const c3 = b[i + 2];
      if (c2 === undefined || c3 === undefined || (c2 & 0xc0) !== 0x80 || (c3 & 0xc0) !== 0x80) return undefined;
      units.push(((c & 0x0f) << 12) | ((c2 & 0x3f) << 6) | (c3 & 0x3f));
      i += 3;
    } else {
      return undefined;
    }
  }
  let s = '';
  for (let k = 0; k < units.length; k += 4096) s += String.fromCharCode(...units.slice(k, k + 4096));
  return s;
}

/** Encodes Java's modified UTF-8 (NUL as C0 80, surrogates as 3-byte sequences). */
export function encodeModifiedUtf8(s: string): Uint8Array {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    n += c >= 1 && c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
  }
  const out = new Uint8Array(n);
  let p = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 1 && c < 0x80) out[p++] = c;
    else if (c < 0x800) {
      out[p++] = 0xc0 | (c >> 6);
      out[p++] = 0x80 | (c & 0x3f);
    } else {
      out[p++] = 0xe0 | (c >> 12);
      out[p++] = 0x80 | ((c >> 6) & 0x3f);
      out[p++] = 0x80 | (c & 0x3f);
    }
  }
  return out;
}
