import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  KeyGroupRange,
  KvKeyedStateBackend,
  MapStateDescriptor,
  MinimalKvStore,
  Serializers,
  StateTtlConfigBuilder,
  VoidNamespace,
  type KvEntry,
  type KvKeySpace,
  type MapState,
} from '@flowstate/core';

/**
 * A MinimalKvStore whose scans return their rows in one fresh buffer, as RocksDB's do, and keep
 * only a WeakRef to each buffer: what stays reachable after an iteration is then observable.
 */
class BufferedScanStore extends MinimalKvStore {
  readonly scanBuffers: WeakRef<ArrayBuffer>[] = [];
  override keySpace(name: string): KvKeySpace {
    const space = super.keySpace(name);
    const buffers = this.scanBuffers;
    return {
      name: space.name,
      get: (key) => space.get(key),
      put: (key, value) => space.put(key, value),
      delete: (key) => space.delete(key),
      deleteRange: (lower, upper) => space.deleteRange(lower, upper),
      putAll: (entries) => space.putAll(entries),
      scan(lower: Uint8Array, upper: Uint8Array, limit: number): KvEntry[] {
        const rows = space.scan(lower, upper, limit);
        const buffer = new ArrayBuffer(rows.reduce((n, [k, v]) => n + k.length + v.length, 0));
        buffers.push(new WeakRef(buffer));
        let pos = 0;
        const copy = (b: Uint8Array): Uint8Array => {
          const view = new Uint8Array(buffer, pos, b.length);
          view.set(b);
          pos += b.length;
          return view;
        };
        return rows.map(([k, v]) => [copy(k), copy(v)] as const);
      },
    };
  }
}

async function mapOver(store: BufferedScanStore, ttl: boolean): Promise<{ map: MapState<string, string>; dispose(): void }> {
  const kb = await KvKeyedStateBackend.open<string>(
    { operatorIdentifier: 'op', keySerializer: Serializers.string, maxParallelism: 128, keyGroupRange: KeyGroupRange.of(0, 127) },
    store,
  );
  const descriptor = new MapStateDescriptor<string, string>('m', Serializers.string, Serializers.string);
  if (ttl) descriptor.enableTimeToLive(StateTtlConfigBuilder.newBuilder(3_600_000).build());
  const map = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, descriptor);
  kb.setCurrentKey('k');
  for (let i = 0; i < 300; i++) map.put(`u${i}`, `v${i}`);
  return { map, dispose: () => kb.dispose() };
}

/** Scan buffers still reachable once the current job ended and full collections ran. */
async function reachableScanBuffers(store: BufferedScanStore): Promise<number> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  // WeakRef targets touched in this job stay alive until it ends: collect from later ones. V8
  // sometimes frees an unreachable buffer only after several full collections (Node 24 CI: 1 in
  // ~40 runs still had one after 5; a heap snapshot then showed no retainer at all, and on Node
  // 20 a stress probe needed up to 10): up to 20 rounds of 2, stopping when none is left. A
  // buffer the state really keeps survives every round, so the check still fails on a leak.
  let alive = store.scanBuffers.length;
  for (let round = 0; round < 20 && alive > 0; round++) {
    await new Promise((r) => setImmediate(r));
    gc();
    gc();
    alive = store.scanBuffers.filter((w) => w.deref() !== undefined).length;
  }
  return alive;
}

test('a completed map iteration leaves its last scan buffer to the garbage collector', async () => {
  const store = new BufferedScanStore();
  const { map, dispose } = await mapOver(store, false);
  let n = 0;
  for (const [k, v] of map.entries()) if (k.slice(1) === v?.slice(1)) n++;
  assert.equal(n, 300);
  assert.ok(store.scanBuffers.length >= 3, 'the iteration scanned in batches');
  const alive = await reachableScanBuffers(store);
  assert.equal(alive, 0, `${alive} scan buffer(s) still reachable after the iteration ended`);
  dispose();
});

for (const ttl of [false, true]) {
  test(`a map iteration left with break releases its scan buffer (return())${ttl ? ', through TTL' : ''}`, async () => {
    const store = new BufferedScanStore();
    const { map, dispose } = await mapOver(store, ttl);
    let n = 0;
    for (const k of map.keys()) {
      // In the second batch of rows: the iteration still has rows to read.
      if (++n === 150) break;
      assert.ok(k.startsWith('u'));
    }
    const before = store.scanBuffers.length;
    assert.ok(before >= 2, 'the iteration scanned in batches');
    // After return() the iteration is over: next() reads nothing more.
    const it = map.values();
    assert.equal(it.next().done, false);
    assert.deepEqual(it.return!(), { done: true, value: undefined });
    assert.equal(it.next().done, true);
    assert.equal(store.scanBuffers.length, before + 1, 'no scan after return()');
    if (ttl) assert.equal(map.isEmpty(), false, 'isEmpty reads one entry and leaves');
    const alive = await reachableScanBuffers(store);
    assert.equal(alive, 0, `${alive} scan buffer(s) still reachable after the iteration was left`);
    dispose();
  });
}
