// Canonical full snapshots of RocksDB read the view one batch ahead (scanAsync): pinned to the
// synchronous path, which writes the same bytes.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  KeyGroupRange,
  ListStateDescriptor,
  MapStateDescriptor,
  Serializers,
  ValueStateDescriptor,
  VoidNamespace,
  isKeyGroupsStateHandle,
  type KvView,
} from '@flowstate/core';
import { RocksDBKvStore, RocksDBStateBackend } from '@flowstate/rocksdb';
import { localCheckpointStorage } from '@flowstate/storage-local';
import { tempDirs } from './temp-dirs.js';

const tempDir = tempDirs();
const CANONICAL_SAVEPOINT = { checkpointType: 'SAVEPOINT', formatType: 'CANONICAL' } as const;

/** The canonical snapshot's bytes; `readAhead` false takes the views' scanAsync away (the synchronous path). */
async function canonicalBytes(readAhead: boolean): Promise<{ bytes: Buffer; asyncScans: number }> {
  const kb = await new RocksDBStateBackend({ localDirectory: tempDir('read-ahead-local') }).createKeyedStateBackend({
    operatorIdentifier: 'op',
    keySerializer: Serializers.string,
    maxParallelism: 32,
    keyGroupRange: new KeyGroupRange(0, 31),
  });
  const view = RocksDBKvStore.prototype.view;
  let asyncScans = 0;
  // Counts (or removes) the view's asynchronous reads; the snapshot itself is unchanged.
  RocksDBKvStore.prototype.view = function (this: RocksDBKvStore): KvView {
    const v = view.call(this);
    return {
      release: () => v.release(),
      keySpace: (name) => {
        const s = v.keySpace(name);
        if (s === undefined || s.scanAsync === undefined) return s;
        const scanAsync = s.scanAsync.bind(s);
        return { get: (k) => s.get(k), scan: (l, u, n) => s.scan(l, u, n), ...(readAhead ? { scanAsync: (l: Uint8Array, u: Uint8Array, n: number) => (asyncScans++, scanAsync(l, u, n)) } : {}) };
      },
    };
  };
  try {
    const value = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ValueStateDescriptor('v', Serializers.string, ''));
    const list = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ListStateDescriptor('l', Serializers.int32));
    const map = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new MapStateDescriptor('m', Serializers.string, Serializers.int32));
    kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ValueStateDescriptor('empty', Serializers.int32, 0));
    // 3000 keys: key groups of ~90 rows, and one key with 1500 map entries (more than one scan batch).
    for (let i = 0; i < 3000; i++) {
      kb.setCurrentKey(`key-${i}`);
      value.update('x'.repeat(i % 37));
      if (i % 3 === 0) list.update([i, i + 1]);
      if (i % 5 === 0) map.put(`u${i}`, i);
    }
    kb.setCurrentKey('wide');
    for (let j = 0; j < 1500; j++) map.put(`w${j}`, j);
    const root = tempDir('read-ahead-storage');
    const storage = localCheckpointStorage(root);
    const loc = await storage.initializeLocationForCheckpoint(1);
    const h = (await kb.snapshot(1, 1, loc.streamFactory, CANONICAL_SAVEPOINT).result).jobManagerOwnedSnapshot;
    assert.ok(h !== null && h !== undefined && isKeyGroupsStateHandle(h) && h.stream.type === 'file');
    return { bytes: readFileSync(join(root, h.stream.path)), asyncScans };
  } finally {
    RocksDBKvStore.prototype.view = view;
    kb.dispose();
  }
}

describe('canonical snapshots of RocksDB read one batch ahead', () => {
  it('write the bytes the synchronous path writes, through scanAsync', async () => {
    const ahead = await canonicalBytes(true);
    const sync = await canonicalBytes(false);
    assert.ok(ahead.asyncScans >= 32 * 3, `every key group of every state was read asynchronously (${ahead.asyncScans} reads)`);
    assert.equal(sync.asyncScans, 0);
    assert.ok(sync.bytes.length > 100_000);
    assert.ok(ahead.bytes.equals(sync.bytes), 'same canonical stream');
  });
});
