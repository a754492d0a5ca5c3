import assert from 'node:assert/strict';
import { StorageError } from '@flowstate/core';
import { patternBytes, writeBytes } from '../test-data.js';
import { assertNotFound, MiB, storageCase, type StorageCaseGroup } from '../storage-case.js';

/** Completion semantics: nothing is visible before commit, everything after it, and abort leaves nothing. */
export function completionCases(): StorageCaseGroup {
  return {
    name: 'completion semantics and abort',
    cases: [
      storageCase('nothing is visible before commit; everything is after', async (fs, base) => {
        const path = `${base}/pending/file`;
        const w = await fs.create(path);
        await w.write(patternBytes(1, 0, 200_000));
        assert.equal(await fs.stat(path), null);
        assert.deepEqual(await fs.list(`${base}/pending`), []);
        await assertNotFound(() => fs.read(path));
        await w.commit();
        assert.deepEqual(await fs.stat(path), { path, size: 200_000 });
      }),
      storageCase('an uncommitted overwrite leaves the old content readable until commit', async (fs, base) => {
        const path = `${base}/versioned`;
        await writeBytes(fs, path, Buffer.from('old'));
        const w = await fs.create(path);
        await w.write(Buffer.from('new content'));
        assert.equal(Buffer.from(await fs.read(path)).toString(), 'old');
        await w.commit();
        assert.equal(Buffer.from(await fs.read(path)).toString(), 'new content');
      }),
      ...[0, 100_000, 17 * MiB + 5].map((size) =>
        storageCase(`abort after writing ${size} bytes leaves nothing visible, and is idempotent`, async (fs, base) => {
          // 17 MiB is enough for multipart stores to have uploaded parts before the abort.
          const path = `${base}/aborted/file`;
          const w = await fs.create(path);
          for (let pos = 0; pos < size; pos += MiB) await w.write(patternBytes(8, pos, Math.min(MiB, size - pos)));
          await w.abort();
          await w.abort();
          await assert.rejects(async () => w.write(Buffer.from('late')), StorageError, 'write after abort fails');
          await assert.rejects(async () => w.commit(), StorageError, 'commit after abort fails');
          assert.equal(await fs.stat(path), null);
          assert.deepEqual(await fs.list(`${base}/aborted`), []);
          await assertNotFound(() => fs.read(path));
        }),
      ),
      storageCase('aborting an overwrite leaves the old content intact', async (fs, base) => {
        const path = `${base}/keep-old`;
        await writeBytes(fs, path, Buffer.from('old'));
        const w = await fs.create(path);
        await w.write(Buffer.from('never visible'));
        await w.abort();
        assert.equal(Buffer.from(await fs.read(path)).toString(), 'old');
      }),
      storageCase('abort after commit keeps the committed file; a second commit fails', async (fs, base) => {
        const path = `${base}/committed`;
        const w = await fs.create(path);
        await w.write(Buffer.from('durable'));
        await w.commit();
        await w.abort();
        await assert.rejects(async () => w.commit());
        await assert.rejects(async () => w.write(Buffer.from('more')));
        assert.equal(Buffer.from(await fs.read(path)).toString(), 'durable');
      }),
    ],
  };
}
