import assert from 'node:assert/strict';
import { it } from 'node:test';
import { CorruptDataError, DataOutputSerializer, KvRowLayout } from '../src/index.js';

const bytes = (...xs: number[]) => new Uint8Array(xs);

/** A row of `layout` written at `offset` into a fresh buffer of `size` bytes (rows of a scan are views of one buffer). */
function rowIn(layout: KvRowLayout, size: number, offset: number, keyGroup: number, key: Uint8Array, namespace: Uint8Array, userKey?: Uint8Array): Uint8Array {
  const out = new DataOutputSerializer(16);
  layout.writeRow(out, keyGroup, key, namespace, userKey);
  const row = out.toBytes();
  const buffer = new Uint8Array(size);
  buffer.set(row, offset);
  return buffer.subarray(offset, offset + row.length);
}

it('parse splits rows of different buffers, prefix widths and offsets, also after a corrupt row (one reader reused)', () => {
  for (const maxParallelism of [128, 32768]) {
    const layout = new KvRowLayout(maxParallelism);
    const a = rowIn(layout, 64, 5, 7, bytes(1, 2, 3), bytes(9));
    const b = rowIn(layout, 4096, 1000, 100, bytes(4), bytes(), bytes(8, 8));
    const check = (row: Uint8Array, keyGroup: number, key: Uint8Array, namespace: Uint8Array, userKey: Uint8Array) => {
      const p = layout.parse(row);
      assert.deepEqual([p.keyGroup, p.key, p.namespace, p.userKey], [keyGroup, key, namespace, userKey]);
      // Views into the row, not copies.
      assert.equal(p.key.buffer, row.buffer);
    };
    check(a, 7, bytes(1, 2, 3), bytes(9), bytes());
    check(b, 100, bytes(4), bytes(), bytes(8, 8));
    // Cut inside the key (its length prefix says 3 bytes, 1 is left): a typed error, and the next
    // row parses as if none came before.
    const corrupt = a.slice(0, layout.keyGroupPrefixBytes + 2);
    assert.throws(() => layout.parse(corrupt), CorruptDataError);
    check(a, 7, bytes(1, 2, 3), bytes(9), bytes());
    check(b.slice(), 100, bytes(4), bytes(), bytes(8, 8));
  }
});
