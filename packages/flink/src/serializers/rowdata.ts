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
const SUPPORTED = new Set(['BIGINT', 'INTEGER', 'SMALLINT', 'TINYINT', 'BOOLEAN', 'DOUBLE', 'FLOAT', 'VARCHAR', 'CHAR', 'DATE', 'TIME_WITHOUT_TIME_ZONE', 'BINARY', 'VARBINARY']);

/** The type root (LogicalTypeRoot enum constant) of a Java-serialized LogicalType. */
function typeRoot(v: JavaValue): string {
  if (typeof v === 'object' && v !== null && 'kind' in v && v.kind === 'object') {
    const r = v.fields['typeRoot'];
    if (typeof r === 'object' && r !== null && 'kind' in r && r.kind === 'enum') return r.constant;
    return v.className.replace(/^.*\./, '');
  }
  return 'UNKNOWN';
}

function nullBitsBytes(arity: number): number {
  return Math.floor((arity + 63 + 8) / 64) * 8;
}

/**
 * BinaryRowData (RowDataSerializer -> BinaryRowDataSerializer): i32 size, then the row: a header
 * with the RowKind byte and null bits, one 8-byte little-endian slot per field, then variable
 * data. Strings/binaries up to 7 bytes live in their slot (last byte 0x80 | length).
 */
export function rowDataSerializer(types: readonly string[]): FlinkTypeSerializer<FlinkRow> {
  const cls = `org.apache.flink.table.runtime.typeutils.RowDataSerializer(${types.join(', ')})`;
  const unsupported = types.find((t) => !SUPPORTED.has(t));
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

function readField(dv: DataView, row: Uint8Array, slot: number, t: string, i: JavaDataInput, rowAt: number): unknown {
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

function varBytes(dv: DataView, row: Uint8Array, slot: number, i: JavaDataInput, rowAt: number): Uint8Array {
  const mark = row[slot + 7]!;
  if ((mark & 0x80) !== 0) return row.subarray(slot, slot + (mark & 0x7f));
  const offset = dv.getUint32(slot + 4, true);
  const len = dv.getUint32(slot, true);
  if (offset + len > row.length) i.fail('variable-length field outside its row', rowAt);
  return row.subarray(offset, offset + len);
}

function writeRow(o: JavaDataOutput, v: FlinkRow, types: readonly string[], fixedStart: number, cls: string): void {
  const fixedEnd = fixedStart + 8 * types.length;
  const fixed = new Uint8Array(fixedEnd);
  const dv = new DataView(fixed.buffer);
  const extra: Uint8Array[] = [];
  let extraLen = 0;
  fixed[0] = KINDS.indexOf(v.kind);
  types.forEach((t, f) => {
    const x = v.fields[f];
    const slot = fixedStart + 8 * f;
    if (x === null || x === undefined) {
      const bit = f + 8;
      fixed[bit >> 3] = fixed[bit >> 3]! | (1 << (bit & 7));
      return;
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
    const padded = Math.ceil(b.length / 8) * 8;
    dv.setUint32(slot, b.length, true);
    dv.setUint32(slot + 4, fixedEnd + extraLen, true);
    const chunk = new Uint8Array(padded);
    chunk.set(b);
    extra.push(chunk);
    extraLen += padded;
  });
  o.writeInt(fixedEnd + extraLen);
  o.writeBytes(fixed);
  for (const e of extra) o.writeBytes(e);
}

/** RowDataSerializerSnapshot v3: i32 n, n Java-serialized LogicalTypes (own streams), nested field snapshots. */
export const readRowDataSnapshot: SnapshotReader = (ctx) => {
  if (ctx.version !== 3) ctx.input.fail(`RowDataSerializerSnapshot version ${ctx.version} is not supported (3 is)`);
  const n = ctx.input.readCount('number of row fields', 4);
  const types: string[] = [];
  for (let k = 0; k < n; k++) types.push(typeRoot(readEmbeddedJavaObject(ctx.input)));
  const nested = ctx.readNestedDelegate();
  return { serializer: rowDataSerializer(types), nested, config: { typeName: `Row(${types.join(', ')})`, types } };
};

/** ExternalSerializer: Java-serialized DataType and a flag outside, the internal serializer nested; values are its bytes. */
export const readExternalSnapshot: SnapshotReader = compositeReader(
  (nested) => ({ ...nested[0]!, serializerClass: `org.apache.flink.table.runtime.typeutils.ExternalSerializer(${nested[0]!.serializerClass})` }),
  (i) => {
    readEmbeddedJavaObject(i);
    return { isInternalInput: i.readBoolean() };
  },
);
