import assert from 'node:assert/strict';
import { writeBytes } from '../test-data.js';
import { assertNotFound, storageCase, type StorageCaseGroup } from '../storage-case.js';

/** delete, deleteMany and deleteDirectory: idempotent, and they remove exactly what they name. */
export function deleteCases(): StorageCaseGroup {
  return {
    name: 'delete',
    cases: [
      storageCase('delete removes a file and is idempotent', async (fs, base) => {
        const path = `${base}/del`;
        await writeBytes(fs, path, Buffer.from('bye'));
        await writeBytes(fs, `${base}/del2`, Buffer.from('stay'));
        await fs.delete(path);
        assert.equal(await fs.stat(path), null);
        await assertNotFound(() => fs.read(path));
        await fs.delete(path);
        await fs.delete(`${base}/never-existed`);
        assert.equal(Buffer.from(await fs.read(`${base}/del2`)).toString(), 'stay');
      }),
      storageCase('deleteMany removes existing files, ignores missing ones, and accepts an empty list', async (fs, base) => {
        for (const n of ['a', 'b', 'c', 'keep']) await writeBytes(fs, `${base}/${n}`, Buffer.from(n));
        await fs.deleteMany([]);
        await fs.deleteMany([`${base}/a`, `${base}/missing`, `${base}/c`, `${base}/b`, `${base}/a`]);
        assert.deepEqual(await fs.list(base), [{ path: `${base}/keep`, size: 4 }]);
      }),
      storageCase('deleteDirectory is recursive, spares siblings with a common name prefix, and is idempotent', async (fs, base) => {
        for (const p of ['x/1', 'x/y/2', 'x/y/z/3', 'x2/keep', 'x.keep', 'xx']) await writeBytes(fs, `${base}/${p}`, Buffer.from(p));
        await fs.deleteDirectory(`${base}/x`);
        assert.deepEqual(await fs.list(`${base}/x`), []);
        assert.deepEqual(
          (await fs.list(base)).map((f) => f.path).sort(),
          [`${base}/x.keep`, `${base}/x2/keep`, `${base}/xx`],
        );
        await fs.deleteDirectory(`${base}/x`);
        await fs.deleteDirectory(`${base}/never-existed`);
      }),
    ],
  };
}
