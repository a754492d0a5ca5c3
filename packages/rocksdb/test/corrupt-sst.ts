import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { KeyedStateBackend } from '@flowstate/core';
import { RocksDBKeyedStateBackend } from '@flowstate/rocksdb';
import { CHECKPOINT_LINKS_DIR } from '../src/backend/local-checkpoint-files.js';

/** The prefix a checkpoint gives the files it pins. */
const PINNED_PREFIX = /^chk-\d+-[0-9a-f]{8}-/;

/** RocksDB's name of a local file: a pinned file's link (`chk-<id>-<random>-000012.sst`) by its file's name. */
export function rocksName(path: string): string {
  return basename(path).replace(PINNED_PREFIX, '');
}

/**
 * The SSTs checkpoint `checkpointId` of `backend` pinned (hard links in its working directory's
 * checkpoint-links/, named chk-<id>-<random>-<RocksDB's name>), by RocksDB's name, sorted.
 */
export function pinnedSsts(backend: KeyedStateBackend<unknown>, checkpointId: number): { readonly name: string; readonly path: string }[] {
  if (!(backend instanceof RocksDBKeyedStateBackend)) throw new TypeError('not a RocksDB keyed backend');
  const dir = join(backend.instanceDir, CHECKPOINT_LINKS_DIR);
  return readdirSync(dir)
    .filter((n) => n.startsWith(`chk-${checkpointId}-`) && n.endsWith('.sst'))
    .map((n) => ({ name: rocksName(n), path: join(dir, n) }))
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
