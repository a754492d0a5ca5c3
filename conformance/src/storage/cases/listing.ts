import assert from 'node:assert/strict';
import { forEachLimit } from '@flowstate/core';
import { patternBytes, writeBytes } from '../test-data.js';
import { sortByPath, storageCase, type StorageCaseGroup, type StorageSuiteSettings } from '../storage-case.js';

/** list: every committed file below a directory, recursively, and nothing else; pagination and batching. */
export function listingCases(settings: StorageSuiteSettings): StorageCaseGroup {
  const { manyFiles } = settings;
  return {
    name: 'listing',
    cases: [
      storageCase('lists all files below a directory, recursively, with sizes', async (fs, base) => {
        const files: Record<string, number> = {
          [`${base}/d/a`]: 1,
          [`${base}/d/b/c`]: 22,
          [`${base}/d/b/d/e`]: 0,
          [`${base}/d/b/d/f`]: 333,
        };
        // Siblings whose names start with the same characters must not leak into the listing.
        const siblings: Record<string, number> = { [`${base}/d2/x`]: 4, [`${base}/d.txt`]: 5, [`${base}/dd`]: 6 };
        for (const [p, n] of Object.entries({ ...files, ...siblings })) await writeBytes(fs, p, patternBytes(n, 0, n));
        const listed = sortByPath(await fs.list(`${base}/d`));
        assert.deepEqual(listed, sortByPath(Object.entries(files).map(([path, size]) => ({ path, size }))));
        assert.deepEqual(sortByPath(await fs.list(`${base}/d/b/d`)), [
          { path: `${base}/d/b/d/e`, size: 0 },
          { path: `${base}/d/b/d/f`, size: 333 },
        ]);
        const all = new Set((await fs.list('')).map((f) => f.path));
        for (const p of [...Object.keys(files), ...Object.keys(siblings)]) assert.ok(all.has(p), `list('') includes ${p}`);
      }),
      storageCase('a missing directory, or a file taken as a directory, lists as empty', async (fs, base) => {
        await writeBytes(fs, `${base}/file`, Buffer.from('x'));
        await writeBytes(fs, `${base}/file2/y`, Buffer.from('y'));
        assert.deepEqual(await fs.list(`${base}/nothing-here`), []);
        assert.deepEqual(await fs.list(`${base}/file`), []);
        assert.deepEqual(await fs.list(`${base}/fil`), []);
      }),
      storageCase(`lists and bulk-deletes ${manyFiles} files (pagination and batching)`, async (fs, base) => {
        const paths = Array.from({ length: manyFiles }, (_, i) => `${base}/many/${i % 3 === 0 ? 'n/' : ''}f${String(i).padStart(5, '0')}`);
        await forEachLimit(paths, 32, async (p, i) => writeBytes(fs, p, patternBytes(i, 0, i % 5)));
        const listed = await fs.list(`${base}/many`);
        assert.equal(listed.length, manyFiles);
        assert.deepEqual(
          listed.map((f) => f.path).sort(),
          [...paths].sort(),
        );
        for (const f of listed) assert.equal(f.size, Number(f.path.slice(-5)) % 5, f.path);
        await fs.deleteMany([...paths, `${base}/many/not-there`]);
        assert.deepEqual(await fs.list(`${base}/many`), []);
      }),
    ],
  };
}
