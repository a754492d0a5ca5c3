import assert from 'node:assert/strict';
import { StorageError, StorageNotFoundError } from '@flowstate/core';
import { patternBytes, writeBytes, writePattern } from '../test-data.js';
import { storageCase, type StorageCaseGroup } from '../storage-case.js';

/** Range reads: exact bytes inside the file, a non-transient StorageError (never a short read) outside it. */
export function rangeReadCases(): StorageCaseGroup {
  const size = 100_003;
  return {
    name: 'range reads',
    cases: [
      storageCase('start, middle, end, whole and zero-length ranges', async (fs, base) => {
        const path = `${base}/ranged`;
        await writePattern(fs, path, size, 42);
        const expectRange = async (offset: number, length: number) => {
          const got = await fs.read(path, { offset, length });
          assert.equal(got.length, length, `length of range [${offset}, +${length})`);
          assert.ok(Buffer.from(got).equals(patternBytes(42, offset, length)), `bytes of range [${offset}, +${length})`);
        };
        await expectRange(0, 1);
        await expectRange(0, 4096);
        await expectRange(50_000, 1);
        await expectRange(49_999, 10_007);
        await expectRange(size - 1, 1);
        await expectRange(size - 4096, 4096);
        await expectRange(0, size);
        await expectRange(0, 0);
        await expectRange(50_000, 0);
        await expectRange(size, 0);
      }),
      storageCase('a range past the end of the file is an error, not a short read', async (fs, base) => {
        const path = `${base}/short`;
        await writePattern(fs, path, size, 43);
        for (const [offset, length] of [
          [size - 1, 2],
          [size, 1],
          [size + 1, 0],
          [size + 100, 10],
          [0, size + 1],
          [-1, 1],
          [0, -1],
        ] as const) {
          await assert.rejects(
            async () => fs.read(path, { offset, length }),
            (e: unknown) => e instanceof StorageError && !(e instanceof StorageNotFoundError) && !e.transient,
            `range [${offset}, +${length}) of a ${size}-byte file must fail with a non-transient StorageError`,
          );
        }
      }),
      storageCase('ranges of an empty file', async (fs, base) => {
        const path = `${base}/empty`;
        await writeBytes(fs, path, new Uint8Array(0));
        assert.equal((await fs.read(path, { offset: 0, length: 0 })).length, 0);
        await assert.rejects(async () => fs.read(path, { offset: 0, length: 1 }), StorageError);
      }),
    ],
  };
}
