// The savepoint package's committed fixture (source tree), copied into any file system.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FileSystem } from '@flowstate/core';

/** A savepoint whose scan reads several files: the savepoint package's fixture of format version 1. */
export const FIXTURE = fileURLToPath(new URL('../../../savepoint/test/fixtures/v1', import.meta.url));

/** Copies FIXTURE into `dir` of `fs`. */
export async function copyFixture(fs: FileSystem, dir: string): Promise<void> {
  for (const name of readdirSync(FIXTURE)) {
    const w = await fs.create(`${dir}/${name}`);
    await w.write(readFileSync(join(FIXTURE, name)));
    await w.commit();
  }
}
