import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  CHECKPOINT,
  FsCheckpointStorage,
  IllegalStateUsageError,
  KeyGroupRange,
  MemoryFileSystem,
  Serializers,
  ValueStateDescriptor,
  VoidNamespace,
  compareBytes,
  mulberry32,
  successorOf,
  type KvEntry,
} from '@flowstate/core';
import { LMDB_MAX_KEY_BYTES, LMDB_MAX_READERS, LmdbKvStore, LmdbStateBackend } from '@flowstate/lmdb';

// What the conformance suite cannot see: LMDB's own limits and traps, handled inside the store.

const base = mkdtempSync(join(tmpdir(), 'flowstate-lmdb-test-'));
after(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const newStore = () => new LmdbKvStore({ path: join(base, `store-${n++}`), maxKeySpaces: 8 });
const bytes = (...b: number[]) => new Uint8Array(b);
const keysOf = (entries: KvEntry[]) => entries.map(([k]) => [...k]);

describe('LmdbKvStore', () => {
  it('orders keys as the SPI asks (unsigned bytes, then shorter first), key groups 0 to 4 included', () => {
    const store = newStore();
    const space = store.keySpace('s');
    const random = mulberry32(0x1d3b);
    const keys: Uint8Array[] = [bytes(0), bytes(0, 0), bytes(4), bytes(5), bytes(0xff, 0)];
    for (let i = 0; i < 300; i++) keys.push(Uint8Array.from({ length: 1 + Math.floor(random() * 4) }, () => Math.floor(random() * 3) * 0x7f));
    for (const k of keys) space.put(k, k);
    const expected = [...new Map(keys.map((k) => [k.join(), k])).values()].sort(compareBytes);
    assert.deepEqual(keysOf(space.scan(bytes(0), bytes(0xff, 0xff), 10_000)), expected.map((k) => [...k]));
    store.close();
  });

  it('stores a key of exactly the limit and resumes a scan after it (the successor is one byte longer)', () => {
    const store = newStore();
    const space = store.keySpace('s');
    const longest = new Uint8Array(LMDB_MAX_KEY_BYTES).fill(7);
    const next = bytes(7, 8);
    space.put(longest, bytes(1));
    space.put(next, bytes(2));
    assert.deepEqual(keysOf(space.scan(bytes(7), bytes(8), 1)), [[...longest]]);
    // Without cutting the bound lmdb-js refuses it: "Key of size 1979 was too large".
    assert.deepEqual(keysOf(space.scan(successorOf(longest), bytes(8), 10)), [[...next]]);
    // A cut upper bound keeps the cut key itself: [longest, longest + 0) holds exactly `longest`.
    assert.deepEqual(keysOf(space.scan(bytes(7), successorOf(longest), 10)), [[...longest]]);
    space.deleteRange(bytes(7), successorOf(longest));
    assert.deepEqual(keysOf(space.scan(bytes(0), bytes(0xff), 10)), [[...next]]);
    store.close();
  });

  it('refuses a longer key with IllegalStateUsageError naming the state; putAll then writes nothing', () => {
    const store = newStore();
    const space = store.keySpace('too-long');
    const long = new Uint8Array(LMDB_MAX_KEY_BYTES + 1);
    assert.throws(() => space.put(long, bytes(1)), (e) => e instanceof IllegalStateUsageError && /too-long/.test(e.message) && /1979 bytes/.test(e.message));
    assert.throws(() => space.putAll([[bytes(1), bytes(1)], [long, bytes(1)]]), IllegalStateUsageError);
    assert.equal(space.get(bytes(1)), undefined);
    assert.equal(space.get(long), undefined);
    store.close();
  });

  it('deletes ranges larger than one delete batch', () => {
    const store = newStore();
    const space = store.keySpace('s');
    space.putAll(Array.from({ length: 2500 }, (_, i): KvEntry => [bytes(1, i >> 8, i & 0xff), bytes(i & 0xff)]));
    space.put(bytes(2), bytes(2));
    space.deleteRange(bytes(1), bytes(2));
    assert.deepEqual(keysOf(space.scan(bytes(0), bytes(0xff), 10)), [[2]]);
    store.close();
  });

  it('a view sees the store as it was: not later writes, deletes or key spaces', () => {
    const store = newStore();
    const a = store.keySpace('a');
    a.put(bytes(1), bytes(0));
    a.get(bytes(1)); // lmdb-js caches a read transaction for live reads; the view must not be that stale one
    a.put(bytes(1), bytes(1));
    a.put(bytes(2), bytes(2));
    const view = store.view();
    a.put(bytes(1), bytes(9));
    a.delete(bytes(2));
    store.keySpace('b').put(bytes(1), bytes(1));
    assert.deepEqual([...view.keySpace('a')!.get(bytes(1))!], [1]);
    assert.deepEqual(keysOf(view.keySpace('a')!.scan(bytes(0), bytes(9), 10)), [[1], [2]]);
    assert.equal(view.keySpace('b'), undefined);
    assert.deepEqual([...a.get(bytes(1))!], [9]);
    const reader = view.keySpace('a')!;
    view.release();
    assert.throws(() => reader.get(bytes(1)), IllegalStateUsageError);
    store.close();
  });

  it('close() ends open views first (a later release is a no-op) and deletes the directory', () => {
    const store = newStore();
    store.keySpace('a').put(bytes(1), bytes(1));
    const view = store.view();
    store.close();
    assert.equal(existsSync(store.options.path), false);
    view.release();
  });

  it('refuses a view beyond LMDB_MAX_READERS open at once with IllegalStateUsageError naming the store; a release frees a slot', () => {
    assert.ok(LMDB_MAX_READERS > 126, 'more than LMDB\'s default of 126 readers');
    const store = newStore();
    const space = store.keySpace('a');
    const views = [];
    let refused: unknown;
    // A write between views: views of the same state share a read transaction (one reader slot).
    for (let i = 0; i <= LMDB_MAX_READERS && refused === undefined; i++) {
      space.put(bytes(i & 0xff, i >> 8), bytes(1));
      try {
        views.push(store.view());
      } catch (e) {
        refused = e;
      }
    }
    assert.ok(views.length >= LMDB_MAX_READERS - 2, `only ${views.length} views`);
    assert.ok(refused instanceof IllegalStateUsageError && refused.message.includes(store.options.path) && /views/.test(refused.message), String(refused));
    views.pop()!.release();
    const again = store.view();
    assert.deepEqual([...again.keySpace('a')!.get(bytes(0, 0))!], [1]);
    again.release();
    for (const v of views) v.release();
    store.close();
  });

  it('reads, writes and views of a closed store are IllegalStateUsageErrors naming its path', () => {
    const store = newStore();
    const space = store.keySpace('a');
    space.put(bytes(1), bytes(1));
    store.close();
    const closed = (e: unknown) => e instanceof IllegalStateUsageError && e.message.includes(store.options.path) && /closed/.test(e.message);
    assert.throws(() => space.get(bytes(1)), closed);
    assert.throws(() => space.scan(bytes(0), bytes(2), 10), closed);
    assert.throws(() => space.put(bytes(1), bytes(2)), closed);
    assert.throws(() => space.delete(bytes(1)), closed);
    assert.throws(() => space.deleteRange(bytes(0), bytes(2)), closed);
    assert.throws(() => space.putAll([[bytes(1), bytes(2)]]), closed);
    assert.throws(() => store.view(), closed);
    // A new key space of a closed store is refused as closed too, not as one too many.
    assert.throws(() => store.keySpace('b'), (e: unknown) => closed(e) && !/maxKeySpaces/.test((e as Error).message));
  });

  it('refuses more states than maxKeySpaces with IllegalStateUsageError naming the state', () => {
    const store = newStore();
    for (let i = 0; i < 8; i++) store.keySpace(`s${i}`);
    assert.throws(() => store.keySpace('one-too-many'), (e) => e instanceof IllegalStateUsageError && /one-too-many/.test(e.message));
    store.close();
  });
  it('keeps key spaces apart whose names differ only after a NUL or in a lone surrogate (LMDB names are C strings)', () => {
    const store = newStore();
    const pairs = [['x\0a', 'x\0b'], ['\uD800', '\uD801']] as const;
    pairs.forEach(([a, b], i) => {
      store.keySpace(a).put(bytes(i), bytes(1));
      assert.equal(store.keySpace(b).get(bytes(i)), undefined, `'${JSON.stringify(b)}' sees the rows of '${JSON.stringify(a)}'`);
    });
    const view = store.view();
    assert.equal(view.keySpace('x\0b')!.get(bytes(0)), undefined);
    assert.deepEqual([...view.keySpace('x\0a')!.get(bytes(0))!], [1]);
    view.release();
    store.close();
  });

  it('refuses a maxKeySpaces that is not an integer from 1 to 65536 with IllegalStateUsageError, before LMDB sees it', () => {
    for (const maxKeySpaces of [-1, 0, 1.5, NaN, 65537, 1e9]) {
      const path = join(base, `bad-max-${n++}`);
      assert.throws(() => new LmdbKvStore({ path, maxKeySpaces }), (e) => e instanceof IllegalStateUsageError && /maxKeySpaces/.test(e.message), String(maxKeySpaces));
      assert.equal(existsSync(path), false);
      assert.throws(() => new LmdbStateBackend({ maxKeySpaces }), IllegalStateUsageError);
    }
  });

  it('maxReaders sets the read transactions open at once: more views than LMDB_MAX_READERS with a larger one, fewer with a smaller one', () => {
    const openViews = (store: LmdbKvStore, most: number) => {
      const space = store.keySpace('a');
      const views = [];
      let refused: unknown;
      // A write between views: views of the same state share a read transaction (one reader slot).
      for (let i = 0; i < most && refused === undefined; i++) {
        space.put(bytes(i & 0xff, i >> 8), bytes(1));
        try {
          views.push(store.view());
        } catch (e) {
          refused = e;
        }
      }
      for (const v of views) v.release();
      store.close();
      return { opened: views.length, refused };
    };
    const larger = LMDB_MAX_READERS + 200;
    const big = openViews(new LmdbKvStore({ path: join(base, `store-${n++}`), maxKeySpaces: 8, maxReaders: larger }), LMDB_MAX_READERS + 100);
    assert.equal(big.refused, undefined, String(big.refused));
    assert.equal(big.opened, LMDB_MAX_READERS + 100);
    const small = openViews(new LmdbKvStore({ path: join(base, `store-${n++}`), maxKeySpaces: 8, maxReaders: 8 }), 100);
    assert.ok(small.opened <= 8, `${small.opened} views with 8 readers`);
    assert.ok(small.refused instanceof IllegalStateUsageError && /\b8 read transactions\b/.test(small.refused.message) && /maxReaders/.test(small.refused.message), String(small.refused));
  });

  it('refuses a maxReaders that is not an integer from 2 to 65536 with IllegalStateUsageError, before LMDB sees it', () => {
    for (const maxReaders of [-1, 0, 1, 1.5, NaN, Infinity, 65537, 1e9]) {
      const path = join(base, `bad-readers-${n++}`);
      assert.throws(() => new LmdbKvStore({ path, maxKeySpaces: 8, maxReaders }), (e) => e instanceof IllegalStateUsageError && /maxReaders/.test(e.message), String(maxReaders));
      assert.equal(existsSync(path), false);
      assert.throws(() => new LmdbStateBackend({ maxReaders }), (e) => e instanceof IllegalStateUsageError && /maxReaders/.test(e.message), String(maxReaders));
    }
  });

  it('keeps the environment in the directory it is given, also when its name has a dot, and close() deletes all of it', () => {
    const dir = join(base, `dotted-${n++}`);
    const store = new LmdbKvStore({ path: join(dir, 'env.v1'), maxKeySpaces: 8 });
    store.keySpace('a').put(bytes(1), bytes(1));
    assert.deepEqual(readdirSync(dir), ['env.v1']);
    store.close();
    assert.deepEqual(readdirSync(dir), []);
  });
});

describe('LmdbStateBackend working directory', () => {
  it('each keyed backend gets its own directory, deleted by dispose()', async () => {
    const localDirectory = join(base, 'backends');
    const backend = new LmdbStateBackend({ localDirectory });
    const params = { operatorIdentifier: 'op', keySerializer: Serializers.string, maxParallelism: 128, keyGroupRange: new KeyGroupRange(0, 127) };
    const kb1 = await backend.createKeyedStateBackend(params);
    const kb2 = await backend.createKeyedStateBackend(params);
    assert.equal(readdirSync(localDirectory).length, 2);
    const count = kb1.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ValueStateDescriptor('count', Serializers.int32, 0));
    kb1.setCurrentKey('x'.repeat(LMDB_MAX_KEY_BYTES));
    assert.throws(() => count.update(1), (e) => e instanceof IllegalStateUsageError && /'count'/.test(e.message));
    kb1.dispose();
    kb2.dispose();
    assert.deepEqual(readdirSync(localDirectory), []);
  });

  it("maxReaders reaches each keyed backend's environment: with 2, a third snapshot running at once is refused", async () => {
    const params = { operatorIdentifier: 'op', keySerializer: Serializers.string, maxParallelism: 128, keyGroupRange: new KeyGroupRange(0, 127) };
    const kb = await new LmdbStateBackend({ localDirectory: join(base, 'readers'), maxReaders: 2 }).createKeyedStateBackend(params);
    const storage = new FsCheckpointStorage(new MemoryFileSystem());
    const count = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ValueStateDescriptor('count', Serializers.int32, 0));
    const snapshot = async (id: number) => {
      // A write first: a snapshot after one needs a read transaction of its own.
      kb.setCurrentKey(`k${id}`);
      count.update(id);
      return kb.snapshot(id, id, (await storage.initializeLocationForCheckpoint(id)).streamFactory, CHECKPOINT);
    };
    try {
      const running = [await snapshot(1), await snapshot(2)];
      await assert.rejects(async () => (await snapshot(3)).result, (e) => e instanceof IllegalStateUsageError && /2 read transactions/.test(e.message));
      for (const f of running) await f.result;
    } finally {
      kb.dispose();
    }
  });

  it('a state used after dispose() is an IllegalStateUsageError', async () => {
    const params = { operatorIdentifier: 'op', keySerializer: Serializers.string, maxParallelism: 128, keyGroupRange: new KeyGroupRange(0, 127) };
    const kb = await new LmdbStateBackend({ localDirectory: join(base, 'disposed') }).createKeyedStateBackend(params);
    const count = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ValueStateDescriptor('count', Serializers.int32, 0));
    kb.setCurrentKey('k');
    count.update(1);
    kb.dispose();
    assert.throws(() => count.value(), IllegalStateUsageError);
    assert.throws(() => count.update(2), IllegalStateUsageError);
  });
});

