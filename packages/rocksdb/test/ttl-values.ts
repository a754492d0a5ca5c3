// Values in core's KvTtlLayout byte layout (packages/core/src/state/ttl.ts), written directly so
// these tests do not depend on core's TTL state wrappers.

function i64(ts: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(ts));
  return b;
}

/** VALUE: [i64 ts][value] */
export function ttlValue(ts: number, value: string): Buffer {
  return Buffer.concat([i64(ts), Buffer.from(value)]);
}

/** MAP: [u8 1][i64 ts][u8 user-value presence][user value] */
export function ttlMapValue(ts: number, value: string | null): Buffer {
  return Buffer.concat([Buffer.from([1]), i64(ts), Buffer.from([value === null ? 0 : 1]), Buffer.from(value ?? '')]);
}

/** LIST: ([u32 len][i64 ts][element])*, len = 8 + element bytes */
export function ttlList(...elements: ReadonlyArray<readonly [ts: number, element: string]>): Buffer {
  return Buffer.concat(
    elements.map(([ts, e]) => {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(8 + Buffer.byteLength(e));
      return Buffer.concat([len, i64(ts), Buffer.from(e)]);
    }),
  );
}
