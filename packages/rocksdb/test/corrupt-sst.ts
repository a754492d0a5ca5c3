import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyedStateBackend } from '@flowstate/core';
import { RocksDBKeyedStateBackend } from '@flowstate/rocksdb';

/**
 * The SSTs checkpoint `checkpointId` of `backend` pinned (hard links in its working directory's
 * checkpoint-links/, named chk-<id>-<random>-<RocksDB's name>), by RocksDB's name, sorted.
 */
export function pinnedSsts(backend: KeyedStateBackend<unknown>, checkpointId: number): { readonly name: string; readonly path: string }[] {
  if (!(backend instanceof RocksDBKeyedStateBackend)) throw new TypeError('not a RocksDB keyed backend');
  const dir = join(backend.instanceDir, 'checkpoint-links');
  const ofCheckpoint = new RegExp(`^chk-${checkpointId}-[0-9a-f]{8}-(\\d+\\.sst)$`);
  return readdirSync(dir)
    .flatMap((n) => {
      const m = ofCheckpoint.exec(n);
      return m === null ? [] : [{ name: m[1]!, path: join(dir, n) }];
    })
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

/**
 * Damages the newest SST (the flush of the synchronous part, so never a reused one) checkpoint
 * `checkpointId` pinned. The damaged copy replaces the hard link, so the live database keeps its
 * intact file, as when the checkpoint's copy alone rots.
 */
export function corruptNewestSst(backend: KeyedStateBackend<unknown>, checkpointId: number): string {
  const newest = pinnedSsts(backend, checkpointId).at(-1);
  if (newest === undefined) throw new Error(`checkpoint ${checkpointId} pinned no SST`);
  const bytes = Uint8Array.from(readFileSync(newest.path));
  bytes[8] = bytes[8]! ^ 0xff; // inside the first data block
  writeFileSync(`${newest.path}.damaged`, bytes);
  renameSync(`${newest.path}.damaged`, newest.path);
  return newest.name;
}
