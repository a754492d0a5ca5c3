// The TTL compaction filter end to end: TTL'd values written through the KvStore in core's byte
// layout, time advanced, a manual compaction, then (1) an in-process scan and the SST entry counts,
// which always run, and (2) RocksDB's own `ldb idump` of the internal entries (every version,
// tombstone and merge operand), which shows that expired data left the SST files.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { IllegalStateUsageError, KeyGroupRange, ListStateDescriptor, Serializers, ValueStateDescriptor, VoidNamespace, type KvEntry, type KvTtlLayout } from '@flowstate/core';
import { RocksDBKvStore, RocksDBStateBackend, STATE_CF_PREFIX, type RocksDBKeyedStateBackend, type RocksDBKeySpace } from '@flowstate/rocksdb';
import { RocksDB, RocksDBError } from '@flowstate/rocksdb/native';
import { tempDirs } from './temp-dirs.js';
import { ttlList, ttlMapValue, ttlValue } from './ttl-values.js';

const tempDir = tempDirs();
const TTL = 1000;
const NOW = 1_000_000; // the TTL time set before compacting
const EXPIRED = NOW - TTL; // ts + ttl <= now
const ALIVE = NOW - TTL + 1;
const layout = (l: KvTtlLayout['layout'], timeCharacteristic: KvTtlLayout['timeCharacteristic'] = 'ProcessingTime'): KvTtlLayout => ({ layout: l, ttlMs: TTL, timeCharacteristic });

const k = (s: string): Buffer => Buffer.from(s);
const all = (space: RocksDBKeySpace): Map<string, string> =>
  new Map(space.scan(new Uint8Array(0), new Uint8Array([0xff]), 10_000).map(([key, v]: KvEntry) => [Buffer.from(key).toString(), Buffer.from(v).toString('hex')]));

function openStore(dir: string): RocksDBKvStore {
  return new RocksDBKvStore(RocksDB.open(dir, { createIfMissing: true, disableWAL: true }));
}

/** Entries (values and tombstones) in the live SST files of a key space, from RocksDB's own metadata. */
function sstEntries(store: RocksDBKvStore, space: string): number {
  return store.db
    .getLiveFilesMetaData({ uniqueIds: false })
    .filter((f) => f.columnFamily === STATE_CF_PREFIX + space)
    .reduce((n, f) => n + f.numEntries, 0);
}

interface IdumpEntry {
  readonly key: string;
  readonly type: number; // 0 deletion, 1 value, 2 merge operand
  readonly value: string;
}

const LDB_SKIP = 'ldb (Debian package rocksdb-tools) is not installed; the in-process assertions still ran';
function ldbAvailable(t: TestContext): boolean {
  if (spawnSync('ldb', ['--help'], { encoding: 'utf8' }).error === undefined) return true;
  if (process.env['CI'] === 'true') assert.fail('ldb (Debian package rocksdb-tools) must be installed in CI');
  t.skip(LDB_SKIP);
  return false;
}

/** Every internal entry of a key space in a closed database, as `ldb idump --hex` prints it. */
function idump(dir: string, space: string): IdumpEntry[] {
  const r = spawnSync('ldb', [`--db=${dir}`, `--column_family=${STATE_CF_PREFIX}${space}`, '--hex', 'idump'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out: IdumpEntry[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^'([0-9A-F]*)' seq:\d+, type:(\d+) => ([0-9A-F]*)$/.exec(line.trim());
    if (m !== null) out.push({ key: Buffer.from(m[1]!, 'hex').toString(), type: Number(m[2]), value: m[3]!.toLowerCase() });
  }
  assert.match(r.stdout, /Internal keys in range: \d+/, r.stdout);
  return out;
}

/** The three layouts, each with expired, unexpired and (for lists) partially expired entries. */
function writeFixture(store: RocksDBKvStore): { expected: Record<string, Map<string, string>>; expiredKeys: Record<string, string[]> } {
  const value = store.keySpace('value', { ttl: layout('VALUE') });
  value.put(k('v-expired'), ttlValue(EXPIRED, 'gone'));
  value.put(k('v-alive'), ttlValue(ALIVE, 'stays'));
  value.put(k('v-overwritten'), ttlValue(EXPIRED, 'old version'));
  value.put(k('v-overwritten'), ttlValue(NOW, 'new version'));
  const map = store.keySpace('map', { ttl: layout('MAP') });
  map.put(k('m-expired'), ttlMapValue(EXPIRED, 'gone'));
  map.put(k('m-expired-null'), ttlMapValue(EXPIRED, null));
  map.put(k('m-alive'), ttlMapValue(ALIVE, 'stays'));
  const list = store.keySpace('list', { ttl: layout('LIST') });
  list.put(k('l-all-expired'), ttlList([EXPIRED, 'a'], [EXPIRED - 5, 'b']));
  list.put(k('l-none-expired'), ttlList([ALIVE, 'a'], [NOW, 'b']));
  // Partially expired, as put + appends (merge operands): expired elements in the base value and
  // in operands, in every position. The base goes into its own SST first, so that the compaction
  // merges operands from one file into a value from another (a merge result RocksDB does not pass
  // through the filter: compact() needs its second pass for it).
  list.put(k('l-partial'), ttlList([EXPIRED, 'x1'], [ALIVE, 'keep1'], [EXPIRED, 'x2']));
  list.put(k('l-merged-in-memtable'), ttlList([EXPIRED, 'y1'], [ALIVE, 'keep1']));
  store.db.flush();
  list.append(k('l-partial'), ttlList([EXPIRED, 'x3']));
  list.append(k('l-partial'), ttlList([NOW, 'keep2'], [EXPIRED, 'x4']));
  list.append(k('l-appended-expired'), ttlList([EXPIRED, 'only']));
  list.put(k('l-merged-in-memtable'), ttlList([EXPIRED, 'y2'], [ALIVE, 'keep2']));
  list.append(k('l-merged-in-memtable'), ttlList([EXPIRED, 'y3'], [NOW, 'keep3']));
  store.db.flush();
  const hex = (b: Buffer) => b.toString('hex');
  return {
    // In key order, as scans and ldb list them.
    expected: {
      value: new Map([
        ['v-alive', hex(ttlValue(ALIVE, 'stays'))],
        ['v-overwritten', hex(ttlValue(NOW, 'new version'))],
      ]),
      map: new Map([['m-alive', hex(ttlMapValue(ALIVE, 'stays'))]]),
      list: new Map([
        ['l-merged-in-memtable', hex(ttlList([ALIVE, 'keep2'], [NOW, 'keep3']))],
        ['l-none-expired', hex(ttlList([ALIVE, 'a'], [NOW, 'b']))],
        ['l-partial', hex(ttlList([ALIVE, 'keep1'], [NOW, 'keep2']))],
      ]),
    },
    expiredKeys: { value: ['v-expired'], map: ['m-expired', 'm-expired-null'], list: ['l-all-expired', 'l-appended-expired'] },
  };
}

describe('RocksDB TTL compaction filter', () => {
  it('drops expired VALUE and MAP entries and expired LIST elements from the SST files; unexpired data is intact', (t) => {
    const dir = join(tempDir('ttl-filter'), 'db');
    const store = openStore(dir);
    const { expected, expiredKeys } = writeFixture(store);
    const before = join(tempDir('ttl-before'), 'db');
    store.db.createCheckpoint(before); // what the SSTs held before compaction, for ldb
    store.setTtlTime(NOW);
    for (const name of ['value', 'map', 'list']) store.keySpace(name).compact();

    for (const name of ['value', 'map', 'list']) {
      assert.deepEqual(all(store.keySpace(name)), expected[name], `${name}: what a scan sees after compaction`);
      assert.equal(sstEntries(store, name), expected[name]!.size, `${name}: SST entries after compaction (no tombstones left)`);
    }
    store.close();

    if (!ldbAvailable(t)) return;
    for (const name of ['value', 'map', 'list']) {
      const beforeKeys = new Set(idump(before, name).map((e) => e.key));
      for (const key of expiredKeys[name]!) assert.ok(beforeKeys.has(key), `${name}/${key} was in the SSTs before compaction`);
      const after = idump(dir, name);
      assert.deepEqual(
        after.map((e) => [e.key, e.type, e.value]),
        [...expected[name]!].map(([key, v]) => [key, 1, v]),
        `${name}: ldb idump after compaction holds exactly the unexpired values, one version each`,
      );
    }
  });

  it('keeps malformed values untouched in every layout', (t) => {
    const dir = join(tempDir('ttl-malformed'), 'db');
    const store = openStore(dir);
    const truncatedList = ttlList([1, 'a'], [2, 'b']).subarray(0, 20);
    const badFrameLen = ttlList([1, 'a']);
    badFrameLen.writeUInt32BE(3, 0);
    const bad: Record<string, Buffer[]> = {
      value: [Buffer.from([1, 2, 3])],
      map: [Buffer.concat([Buffer.from([7]), ttlValue(1, 'v')]), Buffer.from([1, 0, 0])],
      list: [truncatedList, badFrameLen],
    };
    const spaces = { value: store.keySpace('value', { ttl: layout('VALUE') }), map: store.keySpace('map', { ttl: layout('MAP') }), list: store.keySpace('list', { ttl: layout('LIST') }) };
    for (const [name, values] of Object.entries(bad)) values.forEach((v, i) => spaces[name as keyof typeof spaces].put(k(`bad-${i}`), v));
    store.setTtlTime(Number.MAX_SAFE_INTEGER); // everything well-formed would be expired
    for (const space of Object.values(spaces)) space.compact();
    for (const [name, values] of Object.entries(bad)) {
      assert.deepEqual(all(spaces[name as keyof typeof spaces]), new Map(values.map((v, i) => [`bad-${i}`, v.toString('hex')])), name);
    }
    store.close();
    if (!ldbAvailable(t)) return;
    for (const [name, values] of Object.entries(bad)) {
      assert.deepEqual(
        idump(dir, name).map((e) => e.value),
        values.map((v) => v.toString('hex')),
        `${name}: ldb still finds the malformed values`,
      );
    }
  });

  it('filters a reopened column family once the key space is opened with its TTL layout again', () => {
    const dir = join(tempDir('ttl-reopen'), 'db');
    let store = openStore(dir);
    const value = store.keySpace('value', { ttl: layout('VALUE') });
    value.put(k('expired'), ttlValue(EXPIRED, 'x'));
    value.put(k('alive'), ttlValue(ALIVE, 'y'));
    store.close();
    store = openStore(dir); // as a restore from a native checkpoint opens it
    store.setTtlTime(NOW);
    store.keySpace('value').compact();
    assert.deepEqual([...all(store.keySpace('value')).keys()], ['alive', 'expired'], 'without the layout the reopened family is not filtered');
    store.keySpace('value', { ttl: layout('VALUE') }).compact();
    assert.deepEqual([...all(store.keySpace('value')).keys()], ['alive'], 'with it, it is');
    store.close();
  });

  it('compactAsync filters like compact', async () => {
    const store = openStore(join(tempDir('ttl-async'), 'db'));
    const list = store.keySpace('list', { ttl: layout('LIST') });
    list.put(k('a'), ttlList([EXPIRED, 'x'], [ALIVE, 'y']));
    store.db.flush();
    list.append(k('a'), ttlList([EXPIRED, 'z']));
    list.append(k('b'), ttlList([EXPIRED, 'z']));
    store.setTtlTime(NOW);
    await list.compactAsync();
    assert.deepEqual(all(list), new Map([['a', ttlList([ALIVE, 'y']).toString('hex')]]));
    store.close();
  });

  it('RocksDBKeyedStateBackend.compactStates compacts every state and keeps what is live', async () => {
    const backend = (await new RocksDBStateBackend({ localDirectory: tempDir('ttl-backend') }).createKeyedStateBackend({
      operatorIdentifier: 'op',
      keySerializer: Serializers.string,
      maxParallelism: 128,
      keyGroupRange: new KeyGroupRange(0, 127),
    })) as RocksDBKeyedStateBackend<string>;
    try {
      const count = backend.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ValueStateDescriptor('count', Serializers.int32, 0));
      const names = backend.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ListStateDescriptor('names', Serializers.string));
      for (let i = 0; i < 50; i++) {
        backend.setCurrentKey(`k${i}`);
        count.update(i);
        names.add(`n${i}`);
      }
      await backend.compactStates();
      for (let i = 0; i < 50; i++) {
        backend.setCurrentKey(`k${i}`);
        assert.equal(count.value(), i);
        assert.deepEqual([...(names.get() ?? [])], [`n${i}`]);
      }
    } finally {
      backend.dispose();
    }
  });

  it('leaves key spaces without TTL alone, and can switch a filter off', () => {
    const store = openStore(join(tempDir('ttl-plain'), 'db'));
    const plain = store.keySpace('plain');
    plain.put(k('looks-expired'), ttlValue(EXPIRED, 'x'));
    const off = store.keySpace('off', { ttl: layout('VALUE') });
    off.put(k('looks-expired'), ttlValue(EXPIRED, 'x'));
    store.db.setTtlCompactionFilter(off.cf, undefined);
    store.setTtlTime(NOW);
    plain.compact();
    off.compact();
    assert.equal(all(plain).size, 1);
    assert.equal(all(off).size, 1);
    store.close();
  });

  it('uses the wall clock until setTtlTime for processing time, and keeps everything for event time', () => {
    const store = openStore(join(tempDir('ttl-clock'), 'db'));
    const wall = Date.now();
    const proc = store.keySpace('proc', { ttl: layout('VALUE') });
    const event = store.keySpace('event', { ttl: layout('VALUE', 'EventTime') });
    for (const space of [proc, event]) {
      space.put(k('expired-by-wall-clock'), ttlValue(wall - 10 * TTL, 'x'));
      space.put(k('alive-by-wall-clock'), ttlValue(wall + 3_600_000, 'y'));
      space.compact();
    }
    assert.deepEqual([...all(proc).keys()], ['alive-by-wall-clock'], 'processing time: the wall clock');
    assert.equal(all(event).size, 2, 'event time without a watermark: nothing is dropped');
    store.setTtlTime(wall + 3_600_000 + TTL); // a watermark past both entries
    event.compact();
    assert.equal(all(event).size, 0, 'event time after setTtlTime');
    store.close();
  });

  it('rejects a bad TTL layout with a typed error naming the state', () => {
    const store = openStore(join(tempDir('ttl-bad'), 'db'));
    assert.throws(() => store.keySpace('s', { ttl: { layout: 'SET', ttlMs: 1, timeCharacteristic: 'ProcessingTime' } as unknown as KvTtlLayout }), (e) => e instanceof IllegalStateUsageError && /state 's'/.test(e.message));
    assert.throws(() => store.keySpace('s', { ttl: { layout: 'VALUE', ttlMs: 0, timeCharacteristic: 'ProcessingTime' } }), IllegalStateUsageError);
    assert.throws(() => new RocksDBKvStore(store.db, { ttlQueryTimeAfterNumEntries: 0 }), (e) => e instanceof RocksDBError && e.code === 'ROCKSDB_INVALID_ARGUMENT');
    const cf = store.keySpace('s').cf;
    assert.throws(() => store.db.compactRange(cf, undefined, undefined, { bottommostLevelCompaction: 'always' as 'force' }), (e) => e instanceof RocksDBError && e.code === 'ROCKSDB_INVALID_ARGUMENT');
    store.close();
  });
});
