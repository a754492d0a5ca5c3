import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyedStateBackend } from '@flowstate/core';
import { RocksDBKeyedStateBackend } from '@flowstate/rocksdb';

/**
 * Damages the newest SST (the flush of the synchronous part, so never a reused one) of the local
 * checkpoint directory of `checkpointId`. The damaged copy replaces the hard link, so the live
 * database keeps its intact file, as when the checkpoint's copy alone rots.
 */
export function corruptNewestSst(backend: KeyedStateBackend<unknown>, checkpointId: number): string {
  if (!(backend instanceof RocksDBKeyedStateBackend)) throw new TypeError('not a RocksDB keyed backend');
  const dirs = readdirSync(backend.instanceDir).filter((n) => n.startsWith(`chk-${checkpointId}-`));
  if (dirs.length !== 1) throw new Error(`expected one local directory for checkpoint ${checkpointId}, found ${dirs.length}`);
  const dir = join(backend.instanceDir, dirs[0]!);
  const ssts = readdirSync(dir).filter((n) => n.endsWith('.sst')).sort();
  const name = ssts.at(-1);
  if (name === undefined) throw new Error(`no SST in ${dir}`);
  const bytes = Uint8Array.from(readFileSync(join(dir, name)));
  bytes[8] = bytes[8]! ^ 0xff; // inside the first data block
  writeFileSync(join(dir, `${name}.damaged`), bytes);
  renameSync(join(dir, `${name}.damaged`), join(dir, name));
  return name;
}

