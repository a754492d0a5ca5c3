import assert from 'node:assert/strict';
import { appendValue, forEachEntry, successorOf, type KvEntry, type KvReadableKeySpace, type KvStore } from '@flowstate/core';

/** One contract case of the KvStore SPI. */
export interface KvStoreCase {
  readonly name: string;
  /** Optional parts of the SPI the case exercises; a store declares those it lacks not applicable. */
  readonly requires?: readonly KvStoreCapability[];
  run(store: KvStore): void | Promise<void>;
}

const b = (...bytes: number[]) => new Uint8Array(bytes);
const hex = (entries: readonly KvEntry[]) => entries.map(([k, v]) => `${Buffer.from(k).toString('hex')}=${Buffer.from(v).toString('hex')}`);
const ALL_LOWER = b();
const ALL_UPPER = b(0xff, 0xff, 0xff, 0xff);

/** Optional parts of the KvStore SPI. A store without one declares it not applicable, with a reason. */
export type KvStoreCapability = 'bulkLoad' | 'bulkLoadCopies' | 'bulkLoadReadBuffers' | 'forEachTransient';

export const KV_STORE_CAPABILITIES: Readonly<Record<KvStoreCapability, string>> = Object.freeze({
  bulkLoad: 'KvStore.bulkLoad(): restores stream rows into the store outside the write path (RocksDB ingests SST files).',
  bulkLoadCopies: 'KvBulkLoad.copiesOnAdd: add() copies the bytes it is given, so restores read into reused buffers.',
  bulkLoadReadBuffers: 'KvBulkLoad.readBuffers: restores read into buffers the bulk load lends, and add() keeps the values read into them as views instead of copying them.',
  forEachTransient: 'KvReadableKeySpace.forEachTransient(): visits a range through views valid during the visit only (full snapshots read through it).',
});

/** Every entry forEachTransient visits in [lower, upper), copied (its views are only valid during the visit). */
function visitedCopies(space: KvReadableKeySpace, lower: Uint8Array, upper: Uint8Array): KvEntry[] {
  assert.ok(space.forEachTransient !== undefined, 'the key space has no forEachTransient: declare it not applicable with a reason');
  const out: KvEntry[] = [];
  space.forEachTransient(lower, upper, (k, v) => void out.push([k.slice(), v.slice()]));
  return out;
}

/** Rows of one byte key each: small ones, 40 of 64 KiB, one of 3 MiB (larger than any reasonable reused buffer), small ones. */
function transientRows(): KvEntry[] {
  const rows: KvEntry[] = [];
  for (let i = 0; i < 10; i++) rows.push([b(0x10, i), b(i)]);
  for (let i = 0; i < 40; i++) rows.push([b(0x20, i), new Uint8Array(64 << 10).fill(i)]);
  rows.push([b(0x30), new Uint8Array(3 << 20).fill(0x33)]);
  for (let i = 0; i < 10; i++) rows.push([b(0x40, i), b(i, i)]);
  return rows;
}

/** Compares entries by content (a 3 MiB value would make deepEqual's failure message unreadable). */
function assertSameEntries(actual: readonly KvEntry[], expected: readonly KvEntry[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: entry count`);
  actual.forEach(([k, v], i) => {
    assert.ok(Buffer.from(k).equals(expected[i]![0]) && Buffer.from(v).equals(expected[i]![1]), `${what}: entry ${i} (key ${Buffer.from(k).toString('hex')})`);
  });
}

/** The guarantees core's KV states and KvKeyedStateBackend rely on. */
export const KV_STORE_CASES: readonly KvStoreCase[] = [
  {
    name: 'get, put (overwrites), delete; a missing key reads undefined',
    run(store) {
      const s = store.keySpace('a');
      assert.equal(s.get(b(1)), undefined);
      s.put(b(1), b(10));
      s.put(b(1), b(11));
      assert.deepEqual(s.get(b(1)), b(11));
      s.delete(b(1));
      s.delete(b(2)); // deleting a missing key is no error
      assert.equal(s.get(b(1)), undefined);
    },
  },
  {
    name: 'the store keeps no reference to the buffers it is given',
    run(store) {
      const s = store.keySpace('a');
      const key = b(1, 2);
      const value = b(3, 4);
      s.put(key, value);
      key[0] = 9;
      value[0] = 9;
      assert.deepEqual(s.get(b(1, 2)), b(3, 4));
      assert.equal(s.get(b(9, 2)), undefined);
      s.putAll([[key, value]]);
      key[1] = 7;
      assert.deepEqual(s.get(b(9, 2)), b(9, 4));
    },
  },
  {
    name: 'keys order as unsigned bytes, a prefix before its extensions; scan is [lower, upper) with a limit',
    run(store) {
      const s = store.keySpace('a');
      for (const k of [b(0x80), b(0x01, 0x00), b(0xff), b(0x01), b(0x7f, 0xff), b(0x00)]) s.put(k, b(k.length));
      assert.deepEqual(hex(s.scan(ALL_LOWER, ALL_UPPER, 100)), ['00=01', '01=01', '0100=02', '7fff=02', '80=01', 'ff=01']);
      assert.deepEqual(hex(s.scan(b(0x01), b(0x80), 100)), ['01=01', '0100=02', '7fff=02']);
      assert.deepEqual(hex(s.scan(b(0x01, 0x00), b(0xff), 2)), ['0100=02', '7fff=02']);
      assert.deepEqual(s.scan(b(0x02), b(0x7f), 10), []);
    },
  },
  {
    name: 'scans resumed after the last key return every entry exactly once, across batches',
    run(store) {
      const s = store.keySpace('a');
      const n = 2500;
      for (let i = 0; i < n; i++) s.put(b(i >> 8, i & 0xff), b(i & 0xff));
      const seen: number[] = [];
      let from: Uint8Array = ALL_LOWER;
      for (;;) {
        const batch = s.scan(from, ALL_UPPER, 97);
        for (const [k] of batch) seen.push((k[0]! << 8) | k[1]!);
        if (batch.length < 97) break;
        from = successorOf(batch[batch.length - 1]![0]);
      }
      assert.deepEqual(seen, Array.from({ length: n }, (_, i) => i));
      let count = 0;
      forEachEntry(s, ALL_LOWER, ALL_UPPER, () => void count++);
      assert.equal(count, n);
    },
  },
  {
    name: 'deleteRange removes exactly [lower, upper)',
    run(store) {
      const s = store.keySpace('a');
      for (let i = 0; i < 10; i++) s.put(b(i), b(i));
      s.put(b(3, 0), b(30));
      s.deleteRange(b(3), b(6));
      assert.deepEqual(hex(s.scan(ALL_LOWER, ALL_UPPER, 100)), ['00=00', '01=01', '02=02', '06=06', '07=07', '08=08', '09=09']);
    },
  },
  {
    name: 'putAll writes every entry (a later entry for the same key wins), and each putAll only its own entries',
    run(store) {
      const s = store.keySpace('a');
      s.put(b(5), b(0));
      s.putAll([[b(2), b(20)], [b(5), b(50)], [b(1), b(10)], [b(1), b(11)]]);
      assert.deepEqual(hex(s.scan(ALL_LOWER, ALL_UPPER, 100)), ['01=0b', '02=14', '05=32']);
      s.putAll([]);
      // A store that reuses its batch (RocksDB) must not write the previous call's entries again.
      s.delete(b(1));
      s.putAll([[b(7), b(70)]]);
      assert.deepEqual(hex(s.scan(ALL_LOWER, ALL_UPPER, 100)), ['02=14', '05=32', '07=46']);
    },
  },
  {
    name: 'append (or its read-modify-write fallback) concatenates; an absent value starts with the suffix',
    run(store) {
      const s = store.keySpace('a');
      appendValue(s, b(1), b(0, 0, 0, 1, 7));
      appendValue(s, b(1), b(0, 0, 0, 1, 8));
      assert.deepEqual(s.get(b(1)), b(0, 0, 0, 1, 7, 0, 0, 0, 1, 8));
      s.delete(b(1));
      appendValue(s, b(1), b(0, 0, 0, 1, 9));
      assert.deepEqual(s.get(b(1)), b(0, 0, 0, 1, 9));
    },
  },
  {
    name: 'key spaces are independent and listed; opening one again sees its entries',
    run(store) {
      store.keySpace('x').put(b(1), b(1));
      store.keySpace('y').put(b(1), b(2));
      store.keySpace('default');
      assert.deepEqual(store.keySpace('x').get(b(1)), b(1));
      assert.deepEqual(store.keySpace('y').get(b(1)), b(2));
      store.keySpace('y').deleteRange(ALL_LOWER, ALL_UPPER);
      assert.deepEqual(store.keySpace('x').get(b(1)), b(1));
      assert.deepEqual(store.keySpaceNames().sort(), ['default', 'x', 'y']);
    },
  },
  {
    name: 'a view is consistent: later puts, deletes, range deletes and new key spaces are invisible to it',
    run(store) {
      const s = store.keySpace('a');
      for (let i = 0; i < 5; i++) s.put(b(i), b(i));
      const view = store.view();
      s.put(b(1), b(99));
      s.delete(b(2));
      s.deleteRange(b(3), b(5));
      s.put(b(7), b(7));
      appendValue(s, b(0), b(1));
      store.keySpace('later').put(b(1), b(1));
      const v = view.keySpace('a');
      assert.ok(v !== undefined);
      assert.deepEqual(hex(v.scan(ALL_LOWER, ALL_UPPER, 100)), ['00=00', '01=01', '02=02', '03=03', '04=04']);
      assert.deepEqual(v.get(b(1)), b(1));
      assert.equal(view.keySpace('later'), undefined);
      view.release();
      assert.deepEqual(hex(s.scan(ALL_LOWER, ALL_UPPER, 100)), ['00=0001', '01=63', '07=07']);
    },
  },
  {
    // Stores without the optional bulk load (restores then use putAll) declare it not applicable.
    name: 'bulkLoad: rows in any order, invisible until finish, then all there; a key added twice keeps its last value; abort discards',
    requires: ['bulkLoad'],
    async run(store) {
      assert.ok(store.bulkLoad !== undefined, 'the store has no bulkLoad: declare it not applicable with a reason');
      const s = store.keySpace('a');
      const t = store.keySpace('b');
      s.put(b(9), b(1));
      const load = store.bulkLoad();
      for (const k of [5, 1, 0x80, 3, 1]) load.add(s, b(k), b(k, 0x10));
      load.add(s, b(1), b(0x77)); // the last of three for key 1
      load.add(t, b(2), b(2));
      assert.equal(s.get(b(5)), undefined);
      await load.finish();
      assert.deepEqual(hex(s.scan(ALL_LOWER, ALL_UPPER, 100)), ['01=77', '03=0310', '05=0510', '09=01', '80=8010']);
      assert.deepEqual(hex(t.scan(ALL_LOWER, ALL_UPPER, 100)), ['02=02']);
      const aborted = store.bulkLoad();
      aborted.add(s, b(4), b(4));
      aborted.abort();
      aborted.abort();
      assert.equal(s.get(b(4)), undefined);
    },
  },
  {
    name: 'keyGroupBoundary calls between key groups keep every row: there after finish, none before',
    requires: ['bulkLoad'],
    async run(store) {
      const s = store.keySpace('a');
      const load = store.bulkLoad!();
      // Rows start with their key group (here one byte); a boundary between groups, as a restore calls it.
      for (let g = 0; g < 4; g++) {
        if (g > 0) load.keyGroupBoundary?.();
        for (const k of [2, 0, 1]) load.add(s, b(g, k), b(g, k, 0x10));
      }
      assert.equal(s.get(b(0, 0)), undefined);
      await load.finish();
      assert.equal(s.scan(ALL_LOWER, ALL_UPPER, 100).length, 12);
      for (let g = 0; g < 4; g++) for (let k = 0; k < 3; k++) assert.deepEqual(s.get(b(g, k)), b(g, k, 0x10));
    },
  },
  {
    name: 'bulkLoad with copiesOnAdd: bytes the caller changes after add() change no row, across key-group boundaries too',
    requires: ['bulkLoad', 'bulkLoadCopies'],
    async run(store) {
      const s = store.keySpace('a');
      const load = store.bulkLoad!();
      assert.equal(load.copiesOnAdd, true, 'the bulk load keeps what add() is given: declare bulkLoadCopies not applicable with a reason');
      // One buffer for every key and value, as a restore reading into reused buffers hands them out.
      const shared = new Uint8Array(64);
      for (let g = 0; g < 4; g++) {
        if (g > 0) load.keyGroupBoundary?.();
        for (let k = 0; k < 3; k++) {
          shared.fill(g * 3 + k);
          shared.set([g, k], 0);
          load.add(s, shared.subarray(0, 2), shared.subarray(2, 34));
        }
      }
      shared.fill(0xee);
      await load.finish();
      for (let g = 0; g < 4; g++) for (let k = 0; k < 3; k++) assert.deepEqual(s.get(b(g, k)), new Uint8Array(32).fill(g * 3 + k), `row ${g}/${k}`);
    },
  },
  {
    name: 'bulkLoad readBuffers: values kept as views of a read buffer stay intact while the reader reads on into buffers it is lent afterwards',
    requires: ['bulkLoad', 'bulkLoadReadBuffers'],
    async run(store) {
      const s = store.keySpace('a');
      const load = store.bulkLoad!();
      const lender = load.readBuffers;
      assert.ok(lender !== undefined, 'the bulk load lends no read buffers: declare bulkLoadReadBuffers not applicable with a reason');
      // A restore's reads, as readKeyGroupBlocks makes them: request i + 1 is taken while the
      // records of request i are added, so the buffer of request i - 1 is the reader's no more.
      // Keys are fresh (copiesOnAdd is the bulkLoadCopies case's); the values are the read's views.
      const key = new Uint8Array(2);
      for (let r = 0; r < 4; r++) {
        const read = lender.take(64 * 8);
        if (r > 0) load.keyGroupBoundary?.();
        for (let k = 0; k < 8; k++) {
          read.fill(r * 8 + k, k * 64, (k + 1) * 64);
          key.set([r, k]);
          load.add(s, key.slice(), read.subarray(k * 64, (k + 1) * 64));
        }
      }
      lender.release();
      // Reads that follow (another handle, another restore) overwrite whatever they are lent.
      for (let i = 0; i < 6; i++) lender.take(64 * 8).fill(0xee);
      lender.release();
      await load.finish();
      for (let r = 0; r < 4; r++) for (let k = 0; k < 8; k++) assert.deepEqual(s.get(b(r, k)), new Uint8Array(64).fill(r * 8 + k), `row ${r}/${k}`);
    },
  },
  {
    name: 'forEachTransient visits what scan returns, in order and within bounds, across batches and past a 3 MiB value, live and in a view',
    requires: ['forEachTransient'],
    run(store) {
      const s = store.keySpace('a');
      const rows = transientRows();
      for (const [k, v] of rows) s.put(k, v);
      assertSameEntries(visitedCopies(s, ALL_LOWER, ALL_UPPER), rows, 'all rows');
      assertSameEntries(visitedCopies(s, b(0x20, 5), b(0x40, 3)), rows.filter(([k]) => Buffer.compare(k, b(0x20, 5)) >= 0 && Buffer.compare(k, b(0x40, 3)) < 0), '[20 05, 40 03)');
      assert.deepEqual(visitedCopies(s, b(0x50), b(0x60)), [], 'an empty range visits nothing');
      const view = store.view();
      try {
        s.put(b(0x10, 0x80), b(1));
        s.delete(b(0x30));
        const v = view.keySpace('a');
        assert.ok(v !== undefined);
        assertSameEntries(visitedCopies(v, ALL_LOWER, ALL_UPPER), rows, 'the view: later writes invisible');
        assertSameEntries(visitedCopies(v, b(0x30), b(0x31)), [rows[50]!], 'the view: the 3 MiB row alone');
      } finally {
        view.release();
      }
    },
  },
  {
    name: 'forEachTransient: a visitor may run another forEachTransient and write to the space; what it was given stays intact during its call',
    requires: ['forEachTransient'],
    run(store) {
      const s = store.keySpace('a');
      const t = store.keySpace('b');
      for (let i = 0; i < 40; i++) s.put(b(i), new Uint8Array(64 << 10).fill(i));
      for (let i = 0; i < 40; i++) t.put(b(i), new Uint8Array(64 << 10).fill(0x80 + i));
      let visits = 0;
      s.forEachTransient!(ALL_LOWER, ALL_UPPER, (k, v) => {
        const i = k[0]!;
        // Rows this visitor wrote may or may not be visited (as with forEachEntry): they are not checked.
        if (i >= 0x70) return;
        // A nested visit of the other space, then a write: neither may overwrite k and v.
        const inner = visitedCopies(t, b(i), b(i + 1));
        assert.equal(inner.length, 1);
        assert.ok(inner[0]![1].every((x) => x === 0x80 + i), `inner value ${i}`);
        s.put(b(0x70 + i), b(i));
        assert.equal(k[0], i, 'the key is unchanged after the nested visit');
        assert.ok(v.length === 64 << 10 && v.every((x) => x === i), `value ${i} unchanged after the nested visit`);
        visits++;
      });
      assert.equal(visits, 40, 'every row visited once');
    },
  },
];
