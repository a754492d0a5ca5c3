import { murmur3_32 } from '@flowstate/core';
import { FlinkOpaqueSerializerError } from '../errors.js';
import { JavaDataOutput as RowOut } from '../io/java-output.js';
import type { JavaDataInput } from '../io/java-input.js';
import type { JavaDataOutput } from '../io/java-output.js';
import { readEmbeddedJavaObject, type JavaValue } from '../java/serialization.js';
import { compositeReader } from './composite.js';
import type { SnapshotReader } from './registry.js';
import type { FlinkTypeSerializer } from './types.js';

/** A SQL row: its RowKind (+I, -U, +U, -D) and field values (null for SQL NULL). */
export interface FlinkRow {
  readonly kind: '+I' | '-U' | '+U' | '-D';
  readonly fields: unknown[];
}
const KINDS = ['+I', '-U', '+U', '-D'] as const;

/** Logical type roots flowstate decodes in BinaryRowData (8-byte little-endian slots). */
const SUPPORTED = new Set(['BIGINT', 'INTEGER', 'SMALLINT', 'TINYINT', 'BOOLEAN', 'DOUBLE', 'FLOAT', 'VARCHAR', 'CHAR', 'DATE', 'TIME_WITHOUT_TIME_ZONE', 'BINARY', 'VARBINARY', 'DECIMAL', 'TIMESTAMP_WITHOUT_TIME_ZONE', 'TIMESTAMP_WITH_LOCAL_TIME_ZONE']);

/** A field's logical type: its root, and precision/scale where the layout depends on them (DECIMAL, TIMESTAMP). */
export interface RowFieldType {
  readonly root: string;
  readonly precision?: number;
  readonly scale?: number;
}

/** A TIMESTAMP / TIMESTAMP_LTZ value as TimestampData holds it. */
export interface FlinkTimestamp {
  readonly millisecond: bigint;
  readonly nanoOfMillisecond: number;
}

/** DecimalData.MAX_COMPACT_PRECISION: up to 18 digits the unscaled value is the slot's long. */
const MAX_COMPACT_DECIMAL = 18;
/** TimestampData.isCompact: up to millisecond precision the slot holds the epoch millisecond. */
const MAX_COMPACT_TIMESTAMP = 3;
/** DECIMAL precision is at most 38 in Flink: its unscaled BigInteger never needs more bytes (and longer input would cost quadratic BigInt work). */
const MAX_DECIMAL_BYTES = 16;
const NANOS_PER_MILLI = 1_000_000;
const TIMESTAMPS = new Set(['TIMESTAMP_WITHOUT_TIME_ZONE', 'TIMESTAMP_WITH_LOCAL_TIME_ZONE']);

/** The type (LogicalTypeRoot enum constant, precision, scale) of a Java-serialized LogicalType. */
function fieldType(v: JavaValue): RowFieldType {
  if (typeof v === 'object' && v !== null && 'kind' in v && v.kind === 'object') {
    const r = v.fields['typeRoot'];
    const root = typeof r === 'object' && r !== null && 'kind' in r && r.kind === 'enum' ? r.constant : v.className.replace(/^.*\./, '');
    const int = (name: string): number | undefined => (typeof v.fields[name] === 'number' ? (v.fields[name] as number) : undefined);
    const [precision, scale] = [int('precision'), int('scale')];
    return { root, ...(precision === undefined ? {} : { precision }), ...(scale === undefined ? {} : { scale }) };
  }
  return { root: 'UNKNOWN' };
}

function asType(t: string | RowFieldType): RowFieldType {
  return typeof t === 'string' ? { root: t } : t;
}

function describeType(t: RowFieldType): string {
  return t.precision === undefined ? t.root : `${t.root}(${t.precision}${t.scale === undefined ? '' : `, ${t.scale}`})`;
}

function nullBitsBytes(arity: number): number {
  return Math.floor((arity + 63 + 8) / 64) * 8;
}

/**
 * BinaryRowData (RowDataSerializer -> BinaryRowDataSerializer): i32 size, then the row: a header
 * with the RowKind byte and null bits, one 8-byte little-endian slot per field, then variable
 * data. Strings/binaries up to 7 bytes live in their slot (last byte 0x80 | length).
 */
export function rowDataSerializer(fieldTypes: readonly (string | RowFieldType)[]): FlinkTypeSerializer<FlinkRow> {
  const types = fieldTypes.map(asType);
  const cls = `org.apache.flink.table.runtime.typeutils.RowDataSerializer(${types.map(describeType).join(', ')})`;
  const unsupported = types.map((t) => t.root).find((t) => !SUPPORTED.has(t));
  const fixedStart = nullBitsBytes(types.length);
  return {
    serializerClass: cls,
    length: -1,
    deserialize: (i) => {
      if (unsupported !== undefined) throw new FlinkOpaqueSerializerError(undefined, cls, `logical type ${unsupported} is not decoded by flowstate`);
      const size = i.readCount('row size');
      const rowAt = i.position;
      const row = i.readBytes(size);
      if (size < fixedStart + 8 * types.length) i.fail(`row of ${size} bytes is shorter than its ${types.length} fields`, rowAt);
      const dv = new DataView(row.buffer, row.byteOffset, row.byteLength);
      const kind = KINDS[row[0]!] ?? i.fail(`unknown RowKind ${row[0]}`, rowAt);
      const fields = types.map((t, f) => {
        const bit = f + 8;
        if ((row[bit >> 3]! & (1 << (bit & 7))) !== 0) return null;
        return readField(dv, row, fixedStart + 8 * f, t, i, rowAt);
      });
      return { kind, fields };
    },
    serialize: (v, o) => writeRow(o, v, types, fixedStart, cls),
    // BinaryRowData.hashCode: Murmur3 (seed 42) over the row's bytes, which are whole 8-byte words.
    hashCode: (v) => {
      const o = new RowOut(64);
      writeRow(o, v, types, fixedStart, cls);
      return murmur3_32(o.bytesView().subarray(4), 42) | 0;
    },
  };
}

function readField(dv: DataView, row: Uint8Array, slot: number, type: RowFieldType, i: JavaDataInput, rowAt: number): unknown {
  const t = type.root;
  if (t === 'DECIMAL') return readDecimal(dv, row, slot, type, i, rowAt);
  if (TIMESTAMPS.has(t)) return readTimestamp(dv, row, slot, type, i, rowAt);
  switch (t) {
    case 'BIGINT': return dv.getBigInt64(slot, true);
    case 'INTEGER': case 'DATE': case 'TIME_WITHOUT_TIME_ZONE': return dv.getInt32(slot, true);
    case 'SMALLINT': return dv.getInt16(slot, true);
    case 'TINYINT': return dv.getInt8(slot);
    case 'BOOLEAN': return row[slot] !== 0;
    case 'DOUBLE': return dv.getFloat64(slot, true);
    case 'FLOAT': return dv.getFloat32(slot, true);
  }
  const bytes = varBytes(dv, row, slot, i, rowAt);
  return t === 'VARCHAR' || t === 'CHAR' ? new TextDecoder().decode(bytes) : new Uint8Array(bytes);
}

/** DECIMAL as its exact decimal string with `scale` fraction digits (e.g. "-12.30"). */
function readDecimal(dv: DataView, row: Uint8Array, slot: number, t: RowFieldType, i: JavaDataInput, rowAt: number): string {
  if ((t.precision ?? 10) <= MAX_COMPACT_DECIMAL) return formatDecimal(dv.getBigInt64(slot, true), t.scale ?? 0);
  const bytes = varBytes(dv, row, slot, i, rowAt);
  if (bytes.length > MAX_DECIMAL_BYTES) i.fail(`DECIMAL(${t.precision}) of ${bytes.length} bytes (at most ${MAX_DECIMAL_BYTES})`, rowAt);
  return formatDecimal(bigIntFromTwosComplement(bytes), t.scale ?? 0);
}

/** Compact: the slot is the epoch millisecond; else the slot is (offset << 32 | nanoOfMillisecond) and the millisecond a long at offset. */
function readTimestamp(dv: DataView, row: Uint8Array, slot: number, t: RowFieldType, i: JavaDataInput, rowAt: number): FlinkTimestamp {
  if ((t.precision ?? 6) <= MAX_COMPACT_TIMESTAMP) return { millisecond: dv.getBigInt64(slot, true), nanoOfMillisecond: 0 };
  const nanoOfMillisecond = dv.getInt32(slot, true);
  if (nanoOfMillisecond < 0 || nanoOfMillisecond >= NANOS_PER_MILLI) i.fail(`timestamp nanoOfMillisecond ${nanoOfMillisecond} is outside [0, ${NANOS_PER_MILLI})`, rowAt);
  const offset = dv.getUint32(slot + 4, true);
  if (offset + 8 > row.length) i.fail('timestamp outside its row', rowAt);
  return { millisecond: dv.getBigInt64(offset, true), nanoOfMillisecond };
}

/** Java BigInteger.toByteArray: big-endian two's complement. */
function bigIntFromTwosComplement(b: Uint8Array): bigint {
  if (b.length === 0) return 0n;
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return (b[0]! & 0x80) !== 0 ? v - (1n << BigInt(8 * b.length)) : v;
}

function twosComplementOf(v: bigint): Uint8Array {
  const out: number[] = [];
  // Minimal length, as BigInteger.toByteArray: stop when the sign bit of the top byte is the sign.
  for (;;) {
    out.unshift(Number(v & 0xffn));
    v >>= 8n;
    if ((v === 0n && (out[0]! & 0x80) === 0) || (v === -1n && (out[0]! & 0x80) !== 0)) return Uint8Array.from(out);
  }
}

export function formatDecimal(unscaled: bigint, scale: number): string {
  const neg = unscaled < 0n;
  const digits = (neg ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  const s = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return neg ? `-${s}` : s;
}

/** The unscaled value of a decimal string at `scale` (more fraction digits than the scale are refused, not rounded). */
export function parseDecimal(v: string, scale: number, cls: string): bigint {
  const m = /^(-?)(\d+)(?:\.(\d*))?$/.exec(v);
  const frac = m?.[3] ?? '';
  if (m === null || frac.length > scale) throw new FlinkOpaqueSerializerError(undefined, cls, `'${v}' is not a DECIMAL of scale ${scale}`);
  const u = BigInt(`${m[2]}${frac.padEnd(scale, '0')}`);
  return m[1] === '-' ? -u : u;
}

function varBytes(dv: DataView, row: Uint8Array, slot: number, i: JavaDataInput, rowAt: number): Uint8Array {
  const mark = row[slot + 7]!;
  if ((mark & 0x80) !== 0) return row.subarray(slot, slot + (mark & 0x7f));
  const offset = dv.getUint32(slot + 4, true);
  const len = dv.getUint32(slot, true);
  if (offset + len > row.length) i.fail('variable-length field outside its row', rowAt);
  return row.subarray(offset, offset + len);
}

function writeRow(o: JavaDataOutput, v: FlinkRow, types: readonly RowFieldType[], fixedStart: number, cls: string): void {
  const fixedEnd = fixedStart + 8 * types.length;
  const fixed = new Uint8Array(fixedEnd);
  const dv = new DataView(fixed.buffer);
  const extra: Uint8Array[] = [];
  let extraLen = 0;
  fixed[0] = KINDS.indexOf(v.kind);
  // Variable-length parts in field order, each 8-byte aligned (BinaryRowWriter's cursor).
  const variable = (b: Uint8Array, reserve: number): number => {
    const offset = fixedEnd + extraLen;
    const chunk = new Uint8Array(reserve);
    chunk.set(b);
    extra.push(chunk);
    extraLen += reserve;
    return offset;
  };
  types.forEach((type, f) => {
    const t = type.root;
    const x = v.fields[f];
    const slot = fixedStart + 8 * f;
    if (x === null || x === undefined) {
      const bit = f + 8;
      fixed[bit >> 3] = fixed[bit >> 3]! | (1 << (bit & 7));
      return;
    }
    if (t === 'DECIMAL') {
      const unscaled = parseDecimal(String(x), type.scale ?? 0, cls);
      const precision = type.precision ?? 10;
      if ((unscaled < 0n ? -unscaled : unscaled).toString().length > precision) {
        throw new FlinkOpaqueSerializerError(undefined, cls, `'${String(x).slice(0, 80)}' has more than the ${precision} digits of its DECIMAL(${precision}, ${type.scale ?? 0})`);
      }
      if (precision <= MAX_COMPACT_DECIMAL) return dv.setBigInt64(slot, unscaled, true);
      // Non-compact: 16 bytes reserved and zeroed, the BigInteger bytes at their start, size = their length.
      const b = twosComplementOf(unscaled);
      if (b.length > MAX_DECIMAL_BYTES) throw new FlinkOpaqueSerializerError(undefined, cls, `DECIMAL '${String(x)}' needs more than 16 bytes`);
      dv.setUint32(slot, b.length, true);
      return dv.setUint32(slot + 4, variable(b, 16), true);
    }
    if (TIMESTAMPS.has(t)) {
      const ts = checkedTimestamp(x, (type.precision ?? 6) <= MAX_COMPACT_TIMESTAMP, cls);
      if ((type.precision ?? 6) <= MAX_COMPACT_TIMESTAMP) return dv.setBigInt64(slot, ts.millisecond, true);
      const ms = new Uint8Array(8);
      new DataView(ms.buffer).setBigInt64(0, ts.millisecond, true);
      dv.setInt32(slot, ts.nanoOfMillisecond, true);
      return dv.setUint32(slot + 4, variable(ms, 8), true);
    }
    switch (t) {
      case 'BIGINT': return dv.setBigInt64(slot, x as bigint, true);
      case 'INTEGER': case 'DATE': case 'TIME_WITHOUT_TIME_ZONE': return dv.setInt32(slot, x as number, true);
      case 'SMALLINT': return dv.setInt16(slot, x as number, true);
      case 'TINYINT': return dv.setInt8(slot, x as number);
      case 'BOOLEAN': return void (fixed[slot] = x === true ? 1 : 0);
      case 'DOUBLE': return dv.setFloat64(slot, x as number, true);
      case 'FLOAT': return dv.setFloat32(slot, x as number, true);
    }
    const b = typeof x === 'string' ? new TextEncoder().encode(x) : (x as Uint8Array);
    if (!SUPPORTED.has(t)) throw new FlinkOpaqueSerializerError(undefined, cls, `logical type ${t} is not encoded by flowstate`);
    if (b.length <= 7) {
      fixed.set(b, slot);
      fixed[slot + 7] = 0x80 | b.length;
      return;
    }
    // Variable part is 8-byte aligned, as BinaryRowWriter rounds it up.
    dv.setUint32(slot, b.length, true);
    dv.setUint32(slot + 4, variable(b, Math.ceil(b.length / 8) * 8), true);
  });
  o.writeInt(fixedEnd + extraLen);
  o.writeBytes(fixed);
  for (const e of extra) o.writeBytes(e);
}

/** A TimestampData to write: a 64-bit millisecond and 0 <= nanoOfMillisecond < 10^6, which a compact timestamp (precision <= 3) cannot hold but as 0. */
function checkedTimestamp(x: unknown, compact: boolean, cls: string): FlinkTimestamp {
  const ts = x as Partial<FlinkTimestamp> | null;
  const ms = typeof ts === 'object' && ts !== null ? ts.millisecond : undefined;
  const nano = typeof ts === 'object' && ts !== null ? ts.nanoOfMillisecond : undefined;
  if (typeof ms !== 'bigint' || BigInt.asIntN(64, ms) !== ms) throw new FlinkOpaqueSerializerError(undefined, cls, 'a TIMESTAMP needs a 64-bit bigint millisecond');
  if (typeof nano !== 'number' || !Number.isInteger(nano) || nano < 0 || nano >= NANOS_PER_MILLI) {
    throw new FlinkOpaqueSerializerError(undefined, cls, `TIMESTAMP nanoOfMillisecond ${String(nano)} is not an integer in [0, ${NANOS_PER_MILLI})`);
  }
  if (compact && nano !== 0) throw new FlinkOpaqueSerializerError(undefined, cls, `TIMESTAMP of precision <= ${MAX_COMPACT_TIMESTAMP} cannot hold nanoOfMillisecond ${nano}`);
  return { millisecond: ms, nanoOfMillisecond: nano };
}

/** RowDataSerializerSnapshot v3: i32 n, n Java-serialized LogicalTypes (own streams), nested field snapshots. */
export const readRowDataSnapshot: SnapshotReader = (ctx) => {
  if (ctx.version !== 3) ctx.input.fail(`RowDataSerializerSnapshot version ${ctx.version} is not supported (3 is)`);
  const n = ctx.input.readCount('number of row fields', 4);
  const fields: RowFieldType[] = [];
  for (let k = 0; k < n; k++) fields.push(fieldType(readEmbeddedJavaObject(ctx.input)));
  // One field serializer per logical type (RowDataSerializer's getNestedSerializers).
  const nested = ctx.readNestedDelegate(n);
  const types = fields.map(describeType);
  return { serializer: rowDataSerializer(fields), nested, config: { typeName: `Row(${types.join(', ')})`, types } };
};

/** ExternalSerializer: Java-serialized DataType and a flag outside, the internal serializer nested; values are its bytes. */
export const readExternalSnapshot: SnapshotReader = compositeReader(
  (nested) => ({ ...nested[0]!, serializerClass: `org.apache.flink.table.runtime.typeutils.ExternalSerializer(${nested[0]!.serializerClass})` }),
  (i) => {
    readEmbeddedJavaObject(i);
    return { isInternalInput: i.readBoolean() };
  },
  1,
);
