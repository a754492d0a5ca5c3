import assert from 'node:assert/strict';
import { writeBytes } from '../test-data.js';
import { storageCase, type StorageCaseGroup } from '../storage-case.js';

/** stat: a file's canonical path and size; null for anything that is not a committed file. */
export function statCases(): StorageCaseGroup {
  return {
    name: 'stat',
    cases: [
      storageCase('a missing file is null; a file has its canonical path and size', async (fs, base) => {
        assert.equal(await fs.stat(`${base}/nothing`), null);
        await writeBytes(fs, `${base}/d/f`, Buffer.from('12345'));
        assert.deepEqual(await fs.stat(`${base}/d/f`), { path: `${base}/d/f`, size: 5 });
        await writeBytes(fs, `${base}/d/zero`, new Uint8Array(0));
        assert.deepEqual(await fs.stat(`${base}/d/zero`), { path: `${base}/d/zero`, size: 0 });
      }),
      storageCase('a directory is not a file', async (fs, base) => {
        await writeBytes(fs, `${base}/dir/inner/f`, Buffer.from('x'));
        assert.equal(await fs.stat(`${base}/dir`), null);
        assert.equal(await fs.stat(`${base}/dir/inner`), null);
      }),
    ],
  };
}
