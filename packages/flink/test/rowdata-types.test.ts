import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FlinkOpaqueSerializerError, JavaDataInput, JavaDataOutput, rowDataSerializer, type FlinkRow } from '../src/index.js';

// BinaryRowData of DECIMAL and TIMESTAMP / TIMESTAMP_LTZ fields, compact and not, against the layout
// BinaryRowWriter / AbstractBinaryWriter write: expected bytes are built here slot by slot.

const types = [
  { root: 'DECIMAL', precision: 10, scale: 2 },
  { root: 'DECIMAL', precision: 20, scale: 3 },
  { root: 'TIMESTAMP_WITHOUT_TIME_ZONE', precision: 3 },
  { root: 'TIMESTAMP_WITH_LOCAL_TIME_ZONE', precision: 9 },
];

/** i32 size (big-endian, BinaryRowDataSerializer) and the row. */
function serialized(row: Buffer): string {
  const size = Buffer.alloc(4);
  size.writeInt32BE(row.length);
  return Buffer.concat([size, row]).toString('hex');
}

function encode(row: FlinkRow): string {
  const o = new JavaDataOutput();
  rowDataSerializer(types).serialize(row, o);
  return Buffer.from(o.toBytes()).toString('hex');
}

function decode(hex: string): FlinkRow {
  const i = new JavaDataInput(Buffer.from(hex, 'hex'), 'test');
  const row = rowDataSerializer(types).deserialize(i);
  assert.equal(i.remaining, 0);
  return row;
}

describe('RowData: DECIMAL and TIMESTAMP in BinaryRowData', () => {
  it('compact and non-compact values, byte for byte', () => {
    // 8 bytes header (RowKind, null bits), 4 slots, then 16 bytes for the big decimal and 8 for the precise timestamp.
    const row = Buffer.alloc(8 + 32 + 16 + 8);
    row[0] = 2; // +U
    row.writeBigInt64LE(-1234n, 8); // DECIMAL(10, 2) -12.34: the unscaled long
    // DECIMAL(20, 3) 12345678901234567.891: BigInteger.toByteArray of 12345678901234567891 (9 bytes, a leading 0 sign byte).
    const unscaled = Buffer.from('00ab54a98ceb1f0ad3', 'hex');
    row.writeUInt32LE(unscaled.length, 16);
    row.writeUInt32LE(40, 20);
    unscaled.copy(row, 40);
    row.writeBigInt64LE(1_700_000_000_123n, 24); // TIMESTAMP(3): epoch millisecond
    row.writeInt32LE(999_999, 32); // TIMESTAMP_LTZ(9): nanoOfMillisecond, offset of the millisecond
    row.writeUInt32LE(56, 36);
    row.writeBigInt64LE(-1n, 56);
    const value: FlinkRow = {
      kind: '+U',
      fields: ['-12.34', '12345678901234567.891', { millisecond: 1_700_000_000_123n, nanoOfMillisecond: 0 }, { millisecond: -1n, nanoOfMillisecond: 999_999 }],
    };
    assert.equal(encode(value), serialized(row));
    assert.deepEqual(decode(serialized(row)), value);
  });

  it('negative big decimals, small scales and nulls (null bit, zero slot, no variable part)', () => {
    const row = Buffer.alloc(8 + 32 + 16);
    row[1] = (1 << 0) | (1 << 2) | (1 << 3); // fields 0, 2, 3 null: bits 8, 10, 11
    // -1.000 at scale 3: unscaled -1000 = 0xfc18 (two bytes, minimal two's complement).
    row.writeUInt32LE(2, 16);
    row.writeUInt32LE(40, 20);
    Buffer.from('fc18', 'hex').copy(row, 40);
    const value: FlinkRow = { kind: '+I', fields: [null, '-1.000', null, null] };
    assert.equal(encode(value), serialized(row));
    assert.deepEqual(decode(serialized(row)), value);
    assert.deepEqual(decode(encode({ kind: '+I', fields: ['0.05', '-0.001', null, null] })).fields.slice(0, 2), ['0.05', '-0.001']);
  });

  it('a decimal with more fraction digits than its scale is a typed error, not rounded', () => {
    assert.throws(() => encode({ kind: '+I', fields: ['1.234', '0', null, null] }), FlinkOpaqueSerializerError);
  });

  it('a decimal with more digits than its precision is a typed error, not wrapped', () => {
    assert.throws(() => encode({ kind: '+I', fields: ['123456789012345678901.00', '0', null, null] }), FlinkOpaqueSerializerError);
    assert.throws(() => encode({ kind: '+I', fields: ['123456789.00', '0', null, null] }), FlinkOpaqueSerializerError);
    assert.throws(() => encode({ kind: '+I', fields: [null, '123456789012345678.000', null, null] }), FlinkOpaqueSerializerError);
    assert.deepEqual(decode(encode({ kind: '+I', fields: ['-99999999.99', '99999999999999999.999', null, null] })).fields.slice(0, 2), ['-99999999.99', '99999999999999999.999']);
  });

  it('a non-compact decimal of more than 16 bytes is a typed error on read', () => {
    const row = Buffer.alloc(8 + 32 + 24);
    row[1] = (1 << 0) | (1 << 2) | (1 << 3);
    row.writeUInt32LE(17, 16);
    row.writeUInt32LE(40, 20);
    row[40] = 1;
    assert.throws(() => decode(serialized(row)), (e: Error & { code?: string }) => e.code === 'CORRUPT_CHECKPOINT' && /17 bytes/.test(e.message));
  });

  it('a timestamp needs a bigint millisecond and an integer nanoOfMillisecond in [0, 10^6), 0 when compact', () => {
    const ts = (millisecond: unknown, nanoOfMillisecond: unknown) => ({ millisecond, nanoOfMillisecond });
    for (const [compact, precise] of [
      [ts(1n, 5), null],
      [ts(1, 0), null],
      [null, ts(1n, 1_000_000)],
      [null, ts(1n, -1)],
      [null, ts(1n, 1.5)],
      [null, ts(2n ** 63n, 0)],
    ]) {
      assert.throws(() => encode({ kind: '+I', fields: [null, null, compact, precise] }), FlinkOpaqueSerializerError, JSON.stringify([compact, precise], (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)));
    }
    assert.deepEqual(decode(encode({ kind: '+I', fields: [null, null, ts(-5n, 0), ts(7n, 999_999)] })).fields.slice(2), [ts(-5n, 0), ts(7n, 999_999)]);
  });

  it('a timestamp whose nanoOfMillisecond is outside [0, 10^6) is a typed error on read', () => {
    const row = Buffer.alloc(8 + 32 + 8);
    row[1] = (1 << 0) | (1 << 1) | (1 << 2);
    row.writeInt32LE(1_000_000, 32);
    row.writeUInt32LE(40, 36);
    assert.throws(() => decode(serialized(row)), (e: Error & { code?: string }) => e.code === 'CORRUPT_CHECKPOINT' && /nanoOfMillisecond/.test(e.message));
  });
});
