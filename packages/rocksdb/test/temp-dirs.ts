import { strict as assert } from 'node:assert';
import { assignToKeyGroup, DataOutputSerializer, KeyGroupRange, Serializers, ValueStateDescriptor, VoidNamespace } from '@flowstate/core';
import { RocksDBKeyedStateBackend, RocksDBStateBackend } from '@flowstate/rocksdb';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

/** A maker of named temp directories that are all removed after the calling test file's tests. */
export function tempDirs(): (name: string) => string {
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  return (name) => {
    const d = mkdtempSync(join(tmpdir(), `flowstate-${name}-`));
    dirs.push(d);
    return d;
  };
}

/** The int32 counter value state (default 0) the RocksDB tests write. */
export const COUNT = new ValueStateDescriptor<number>('count', Serializers.int32, 0);

/** An incremental RocksDB backend (key groups 0-127) with `keys` counters written, local files under `localDirectory`. */
export async function backendWithState(localDirectory: string, keys: number, verifySstsBeforeUpload = true): Promise<RocksDBKeyedStateBackend<string>> {
  const kb = await new RocksDBStateBackend({ incrementalCheckpoints: true, localDirectory, verifySstsBeforeUpload }).createKeyedStateBackend({
    operatorIdentifier: 'op',
    keySerializer: Serializers.string,
    maxParallelism: 128,
    keyGroupRange: new KeyGroupRange(0, 127),
  });
  const count = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT);
  for (let i = 0; i < keys; i++) {
    kb.setCurrentKey(`k${i}`);
    count.update(i);
  }
  assert.ok(kb instanceof RocksDBKeyedStateBackend);
  return kb;
}

/**
 * The space the file system holds for the live MANIFEST (named by CURRENT) of the database in
 * `dbDir`: its bytes, what is allocated for it (st_blocks counts 512-byte units) and what its bytes
 * need in whole file-system blocks. Read it before the database closes: closing trims what RocksDB
 * preallocated.
 */
export function liveManifestSpace(dbDir: string): { size: number; allocated: number; needed: number } {
  const st = statSync(join(dbDir, readFileSync(join(dbDir, 'CURRENT'), 'utf8').trim()));
  return { size: st.size, allocated: st.blocks * 512, needed: Math.ceil(st.size / st.blksize) * st.blksize };
}

/** The key group of a string key (the general path: serialize, then murmur3 of the bytes). */
export function stringKeyGroup(key: string, maxParallelism = 128): number {
  const out = new DataOutputSerializer();
  Serializers.string.serialize(key, out);
  return assignToKeyGroup(out.toBytes(), maxParallelism);
}
