import assert from 'node:assert/strict';
import { crc32c, StorageNotFoundError, type FileSystem } from '@flowstate/core';
import { patternBytes, writeBytes, writePattern } from '../test-data.js';
import { assertNotFound, MiB, storageCase, type StorageCaseGroup, type StorageSuiteSettings } from '../storage-case.js';

/** Whole files and ranges of them read back byte for byte, from empty to above 64 MiB; buffers stay the caller's. */
export function roundTripCases(settings: StorageSuiteSettings): StorageCaseGroup {
  const { largeFileBytes } = settings;
  const sizes = [0, 1, 4095, MiB + 5, 16 * MiB, largeFileBytes];
  return {
    name: 'write and read round trips',
    cases: [
      ...sizes.map((size) =>
        storageCase(`round-trips ${size} bytes written in chunks (verified by CRC32C)`, (fs, base) => roundTrip(fs, `${base}/sub/file-${size}.bin`, size)),
      ),
      storageCase('empty write() calls are allowed and change nothing', async (fs, base) => {
        const path = `${base}/empty-writes`;
        const w = await fs.create(path);
        await w.write(new Uint8Array(0));
        await w.write(Buffer.from('abc'));
        await w.write(new Uint8Array(0));
        await w.commit();
        assert.equal(Buffer.from(await fs.read(path)).toString(), 'abc');
      }),
      storageCase('a buffer the caller reuses after write() resolved does not change the file', async (fs, base) => {
        const path = `${base}/reused-buffer`;
        const buf = Buffer.alloc(64 * 1024, 1);
        const w = await fs.create(path);
        await w.write(buf);
        buf.fill(2);
        await w.write(buf);
        buf.fill(3);
        await w.commit();
        const data = Buffer.from(await fs.read(path));
        assert.equal(data.length, 128 * 1024);
        assert.ok(data.subarray(0, 64 * 1024).every((b) => b === 1));
        assert.ok(data.subarray(64 * 1024).every((b) => b === 2));
      }),
      storageCase('the bytes read() returns belong to the caller', async (fs, base) => {
        const path = `${base}/owned`;
        await writeBytes(fs, path, Buffer.from('original'));
        const whole = await fs.read(path);
        whole.fill(0x21);
        const part = await fs.read(path, { offset: 1, length: 3 });
        part.fill(0x21);
        assert.equal(Buffer.from(await fs.read(path)).toString(), 'original');
      }),
      storageCase('overwriting a file replaces its content on commit', async (fs, base) => {
        const path = `${base}/overwritten`;
        await writeBytes(fs, path, Buffer.from('first version, long'));
        await writeBytes(fs, path, Buffer.from('second'));
        assert.equal(Buffer.from(await fs.read(path)).toString(), 'second');
        assert.deepEqual(await fs.stat(path), { path, size: 6 });
      }),
      storageCase('concurrent writers to different files do not interfere', async (fs, base) => {
        const sizes = [0, 10, 300_000, 6 * MiB + 1, 123_457, 1, 2 * MiB, 77];
        const written = await Promise.all(sizes.map((size, i) => writePattern(fs, `${base}/c/${i}`, size, 1000 + i)));
        for (const f of written) {
          const data = await fs.read(f.path);
          assert.equal(data.length, f.size);
          assert.equal(crc32c(data), f.crc, f.path);
        }
      }),
      storageCase('a file cannot be created at the root itself', async (fs) => {
        await assert.rejects(async () => {
          const w = await fs.create('');
          await w.commit();
        });
      }),
      storageCase('reading a missing file is a StorageNotFoundError', async (fs, base) => {
        await assertNotFound(() => fs.read(`${base}/missing`));
        await assertNotFound(() => fs.read(`${base}/missing`, { offset: 0, length: 1 }));
      }),
    ],
  };
}

/** Writes `size` bytes to `path` in chunks, then reads them back whole and in ranges. */
async function roundTrip(fs: FileSystem, path: string, size: number): Promise<void> {
  const written = await writePattern(fs, path, size, size + 1);
  assert.deepEqual(await fs.stat(path), { path, size });
  let data: Uint8Array | undefined = await fs.read(path);
  assert.equal(data.length, size, 'read returns as many bytes as were written');
  assert.equal(crc32c(data), written.crc, 'read returns the bytes that were written');
  if (size <= MiB) assert.ok(Buffer.from(data).equals(patternBytes(size + 1, 0, size)));
  data = undefined;
  // Ranges at the start, the middle, across the 8 MiB and 5 MiB part boundaries, and the end.
  const mid = Math.floor(size / 2);
  for (const [offset, length] of [
    [0, 1000],
    [mid - 500, 1000],
    [8 * MiB - 17, 34],
    [5 * MiB - 1, 2],
    [size - 777, 777],
  ] as const) {
    if (offset < 0 || length <= 0 || offset + length > size) continue;
    const got = await fs.read(path, { offset, length });
    assert.ok(Buffer.from(got).equals(patternBytes(size + 1, offset, length)), `range [${offset}, +${length})`);
  }
}
