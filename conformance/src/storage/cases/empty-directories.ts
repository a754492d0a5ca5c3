import assert from 'node:assert/strict';
import type { FileSystem } from '@flowstate/core';
import { writeBytes } from '../test-data.js';
import { storageCase, type StorageCaseGroup } from '../storage-case.js';

function deleteEmptyDirectory(fs: FileSystem, dir: string): Promise<boolean> {
  assert.ok(fs.deleteEmptyDirectory !== undefined, `${fs.scheme}: deleteEmptyDirectory is not implemented; declare it not applicable with a reason`);
  return fs.deleteEmptyDirectory(dir);
}

/**
 * deleteEmptyDirectory: a directory goes only when nothing at all is in it (not even an empty
 * directory, which listings do not show), a file is never removed by it, and an absent directory
 * counts as gone. Run only by storages that implement it.
 */
export function emptyDirectoryCases(): StorageCaseGroup {
  const requires = ['deleteEmptyDirectory'] as const;
  return {
    name: 'empty directories (deleteEmptyDirectory)',
    cases: [
      storageCase(
        'removes an empty directory and answers true for an absent one',
        async (fs, base) => {
          // A directory emptied by deleting its only file (no mkdir in the SPI).
          await writeBytes(fs, `${base}/e/f`, Buffer.from('f'));
          await fs.delete(`${base}/e/f`);
          assert.equal(await deleteEmptyDirectory(fs, `${base}/e`), true);
          assert.equal(await deleteEmptyDirectory(fs, `${base}/e`), true);
          assert.equal(await deleteEmptyDirectory(fs, `${base}/never-existed`), true);
          await writeBytes(fs, `${base}/e/again`, Buffer.from('a'));
          assert.deepEqual(await fs.list(`${base}/e`), [{ path: `${base}/e/again`, size: 1 }]);
        },
        requires,
      ),
      storageCase(
        'keeps a directory holding a file or only an empty directory, and never removes a file',
        async (fs, base) => {
          await writeBytes(fs, `${base}/n/keep`, Buffer.from('keep'));
          await writeBytes(fs, `${base}/m/inner/f`, Buffer.from('f'));
          await fs.delete(`${base}/m/inner/f`);
          assert.equal(await deleteEmptyDirectory(fs, `${base}/n`), false);
          assert.equal(await deleteEmptyDirectory(fs, `${base}/m`), false);
          assert.equal(await deleteEmptyDirectory(fs, `${base}/n/keep`), false);
          assert.deepEqual(await fs.list(`${base}/n`), [{ path: `${base}/n/keep`, size: 4 }]);
          // Deepest first, the empty tree goes.
          assert.equal(await deleteEmptyDirectory(fs, `${base}/m/inner`), true);
          assert.equal(await deleteEmptyDirectory(fs, `${base}/m`), true);
        },
        requires,
      ),
    ],
  };
}
