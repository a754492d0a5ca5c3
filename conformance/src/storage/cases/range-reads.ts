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
      storageCase('a range read into a lent buffer (ReadRange.into) gives the same bytes, used or not, and one too small is ignored', async (fs, base) => {
        const path = `${base}/lent`;
        await writePattern(fs, path, size, 44);
        const lent = new Uint8Array(20_000).fill(0xee);
        for (const [offset, length, into] of [
          [0, 4096, lent],
          [49_999, 20_000, lent],
          [size - 10, 10, lent],
          [0, 0, lent],
          [1000, 20_001, lent],
          [10, 100, new Uint8Array(99)],
        ] as const) {
          const got = await fs.read(path, { offset, length, into });
          assert.equal(got.length, length, `length of range [${offset}, +${length}) read into ${into.length} bytes`);
          assert.ok(Buffer.from(got).equals(patternBytes(44, offset, length)), `bytes of range [${offset}, +${length}) read into ${into.length} bytes`);
          // A lent buffer is used from its start, or not at all.
          if (got.buffer === into.buffer && length > 0) assert.equal(got.byteOffset, into.byteOffset);
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
