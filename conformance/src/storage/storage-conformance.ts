import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import {
  CorruptCheckpointError,
  crc32c,
  FsCheckpointStorage,
  PathEscapeError,
  StorageError,
  StorageNotFoundError,
  type FileSystem,
  type StreamStateHandle,
} from '@flowstate/core';
import { forEachLimit, patternBytes, writeBytes, writePattern } from './test-data.js';

export { patternBytes, writePattern, writeBytes, forEachLimit, type WrittenFile } from './test-data.js';

export interface StorageConformanceOptions {
  /** Shown in the test names, e.g. 'MemoryFileSystem' or 's3 (s3rver)'. */
  readonly name: string;
  /**
   * Called once per test. Returning a fresh, empty root each time is best; a shared root works too,
   * because every test confines itself to a directory with a random name.
   */
  readonly createFileSystem: () => Promise<FileSystem>;
  /** Called once after all tests of the suite. */
  readonly cleanup?: () => Promise<void>;
  /** Size of the largest round-trip file; must stay above 64 MiB to mean anything. Default 65 MiB + 123. */
  readonly largeFileBytes?: number;
  /**
   * Files in the bulk listing and deleteMany test. Above 1000 it crosses S3's page size for listing
   * and its batch limit for DeleteObjects. Default 1100.
   */
  readonly manyFiles?: number;
  /** Per-test timeout in milliseconds. Default 180 000. */
  readonly timeoutMs?: number;
}

const MiB = 1 << 20;

/** Paths that must never be accepted, for any operation. */
export const ESCAPING_PATHS: readonly string[] = [
  '..',
  '../x',
  '/abs',
  '/',
  'a/../../b',
  'a/..',
  '%2e%2e/x',
  '%2E%2e/x',
  'a%2fb',
  'http://x',
  's3://other-bucket/x',
  'file:///etc/passwd',
  'a\\b',
  '..\\x',
  'C:\\x',
  'a/./b',
  './a',
  'a//b',
  '~/x',
  'a\0b',
];

/**
 * Registers the storage conformance tests (node:test `describe`/`it`) for one FileSystem
 * implementation. Every storage package runs it, so the guarantees FsCheckpointStorage relies on
 * (atomic commit, nothing visible before it, abort leaves nothing, confinement, exact bytes) hold
 * for all of them, not only for the one the checkpoint code happened to be written against.
 */
export function runStorageConformance(options: StorageConformanceOptions): void {
  const largeFileBytes = options.largeFileBytes ?? 65 * MiB + 123;
  const manyFiles = options.manyFiles ?? 1100;
  const timeout = options.timeoutMs ?? 180_000;

  /** One fresh FileSystem and one private directory per test; the directory is removed afterwards. */
  const withFs = (fn: (fs: FileSystem, base: string) => Promise<void>) => async () => {
    const fs = await options.createFileSystem();
    const base = `conf-${randomUUID()}`;
    try {
      await fn(fs, base);
    } finally {
      await fs.deleteDirectory(base).catch(() => {});
    }
  };
  const test = (name: string, fn: (fs: FileSystem, base: string) => Promise<void>) => it(name, { timeout }, withFs(fn));

  describe(`storage conformance: ${options.name}`, () => {
    if (options.cleanup !== undefined) after(options.cleanup);

    describe('write and read round trips', () => {
      const sizes = [0, 1, 4095, MiB + 5, 16 * MiB, largeFileBytes];
      for (const size of sizes) {
        test(`round-trips ${size} bytes written in chunks (verified by CRC32C)`, async (fs, base) => {
          const path = `${base}/sub/file-${size}.bin`;
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
        });
      }

      test('empty write() calls are allowed and change nothing', async (fs, base) => {
        const path = `${base}/empty-writes`;
        const w = await fs.create(path);
        await w.write(new Uint8Array(0));
        await w.write(Buffer.from('abc'));
        await w.write(new Uint8Array(0));
        await w.commit();
        assert.equal(Buffer.from(await fs.read(path)).toString(), 'abc');
      });

      test('a buffer the caller reuses after write() resolved does not change the file', async (fs, base) => {
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
      });

      test('the bytes read() returns belong to the caller', async (fs, base) => {
        const path = `${base}/owned`;
        await writeBytes(fs, path, Buffer.from('original'));
        const whole = await fs.read(path);
        whole.fill(0x21);
        const part = await fs.read(path, { offset: 1, length: 3 });
        part.fill(0x21);
        assert.equal(Buffer.from(await fs.read(path)).toString(), 'original');
      });

      test('overwriting a file replaces its content on commit', async (fs, base) => {
        const path = `${base}/overwritten`;
        await writeBytes(fs, path, Buffer.from('first version, long'));
        await writeBytes(fs, path, Buffer.from('second'));
        assert.equal(Buffer.from(await fs.read(path)).toString(), 'second');
        assert.deepEqual(await fs.stat(path), { path, size: 6 });
      });

      test('concurrent writers to different files do not interfere', async (fs, base) => {
        const sizes = [0, 10, 300_000, 6 * MiB + 1, 123_457, 1, 2 * MiB, 77];
        const written = await Promise.all(sizes.map((size, i) => writePattern(fs, `${base}/c/${i}`, size, 1000 + i)));
        for (const f of written) {
          const data = await fs.read(f.path);
          assert.equal(data.length, f.size);
          assert.equal(crc32c(data), f.crc, f.path);
        }
      });

      test('a file cannot be created at the root itself', async (fs) => {
        await assert.rejects(async () => {
          const w = await fs.create('');
          await w.commit();
        });
      });

      test('reading a missing file is a StorageNotFoundError', async (fs, base) => {
        await assertNotFound(() => fs.read(`${base}/missing`));
        await assertNotFound(() => fs.read(`${base}/missing`, { offset: 0, length: 1 }));
      });
    });

    describe('range reads', () => {
      const size = 100_003;
      test('start, middle, end, whole and zero-length ranges', async (fs, base) => {
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
      });

      test('a range past the end of the file is an error, not a short read', async (fs, base) => {
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
      });

      test('ranges of an empty file', async (fs, base) => {
        const path = `${base}/empty`;
        await writeBytes(fs, path, new Uint8Array(0));
        assert.equal((await fs.read(path, { offset: 0, length: 0 })).length, 0);
        await assert.rejects(async () => fs.read(path, { offset: 0, length: 1 }), StorageError);
      });
    });

    describe('stat', () => {
      test('a missing file is null; a file has its canonical path and size', async (fs, base) => {
        assert.equal(await fs.stat(`${base}/nothing`), null);
        await writeBytes(fs, `${base}/d/f`, Buffer.from('12345'));
        assert.deepEqual(await fs.stat(`${base}/d/f`), { path: `${base}/d/f`, size: 5 });
        await writeBytes(fs, `${base}/d/zero`, new Uint8Array(0));
        assert.deepEqual(await fs.stat(`${base}/d/zero`), { path: `${base}/d/zero`, size: 0 });
      });

      test('a directory is not a file', async (fs, base) => {
        await writeBytes(fs, `${base}/dir/inner/f`, Buffer.from('x'));
        assert.equal(await fs.stat(`${base}/dir`), null);
        assert.equal(await fs.stat(`${base}/dir/inner`), null);
      });
    });

    describe('listing', () => {
      test('lists all files below a directory, recursively, with sizes', async (fs, base) => {
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
      });

      test('a missing directory, or a file taken as a directory, lists as empty', async (fs, base) => {
        await writeBytes(fs, `${base}/file`, Buffer.from('x'));
        await writeBytes(fs, `${base}/file2/y`, Buffer.from('y'));
        assert.deepEqual(await fs.list(`${base}/nothing-here`), []);
        assert.deepEqual(await fs.list(`${base}/file`), []);
        assert.deepEqual(await fs.list(`${base}/fil`), []);
      });

      test(`lists and bulk-deletes ${manyFiles} files (pagination and batching)`, async (fs, base) => {
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
      });
    });

    describe('delete', () => {
      test('delete removes a file and is idempotent', async (fs, base) => {
        const path = `${base}/del`;
        await writeBytes(fs, path, Buffer.from('bye'));
        await writeBytes(fs, `${base}/del2`, Buffer.from('stay'));
        await fs.delete(path);
        assert.equal(await fs.stat(path), null);
        await assertNotFound(() => fs.read(path));
        await fs.delete(path);
        await fs.delete(`${base}/never-existed`);
        assert.equal(Buffer.from(await fs.read(`${base}/del2`)).toString(), 'stay');
      });

      test('deleteMany removes existing files, ignores missing ones, and accepts an empty list', async (fs, base) => {
        for (const n of ['a', 'b', 'c', 'keep']) await writeBytes(fs, `${base}/${n}`, Buffer.from(n));
        await fs.deleteMany([]);
        await fs.deleteMany([`${base}/a`, `${base}/missing`, `${base}/c`, `${base}/b`, `${base}/a`]);
        assert.deepEqual(await fs.list(base), [{ path: `${base}/keep`, size: 4 }]);
      });

      test('deleteDirectory is recursive, spares siblings with a common name prefix, and is idempotent', async (fs, base) => {
        for (const p of ['x/1', 'x/y/2', 'x/y/z/3', 'x2/keep', 'x.keep', 'xx']) await writeBytes(fs, `${base}/${p}`, Buffer.from(p));
        await fs.deleteDirectory(`${base}/x`);
        assert.deepEqual(await fs.list(`${base}/x`), []);
        assert.deepEqual(
          (await fs.list(base)).map((f) => f.path).sort(),
          [`${base}/x.keep`, `${base}/x2/keep`, `${base}/xx`],
        );
        await fs.deleteDirectory(`${base}/x`);
        await fs.deleteDirectory(`${base}/never-existed`);
      });
    });

    describe('completion semantics and abort', () => {
      test('nothing is visible before commit; everything is after', async (fs, base) => {
        const path = `${base}/pending/file`;
        const w = await fs.create(path);
        await w.write(patternBytes(1, 0, 200_000));
        assert.equal(await fs.stat(path), null);
        assert.deepEqual(await fs.list(`${base}/pending`), []);
        await assertNotFound(() => fs.read(path));
        await w.commit();
        assert.deepEqual(await fs.stat(path), { path, size: 200_000 });
      });

      test('an uncommitted overwrite leaves the old content readable until commit', async (fs, base) => {
        const path = `${base}/versioned`;
        await writeBytes(fs, path, Buffer.from('old'));
        const w = await fs.create(path);
        await w.write(Buffer.from('new content'));
        assert.equal(Buffer.from(await fs.read(path)).toString(), 'old');
        await w.commit();
        assert.equal(Buffer.from(await fs.read(path)).toString(), 'new content');
      });

      for (const size of [0, 100_000, 17 * MiB + 5]) {
        test(`abort after writing ${size} bytes leaves nothing visible, and is idempotent`, async (fs, base) => {
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
        });
      }

      test('aborting an overwrite leaves the old content intact', async (fs, base) => {
        const path = `${base}/keep-old`;
        await writeBytes(fs, path, Buffer.from('old'));
        const w = await fs.create(path);
        await w.write(Buffer.from('never visible'));
        await w.abort();
        assert.equal(Buffer.from(await fs.read(path)).toString(), 'old');
      });

      test('abort after commit keeps the committed file; a second commit fails', async (fs, base) => {
        const path = `${base}/committed`;
        const w = await fs.create(path);
        await w.write(Buffer.from('durable'));
        await w.commit();
        await w.abort();
        await assert.rejects(async () => w.commit());
        await assert.rejects(async () => w.write(Buffer.from('more')));
        assert.equal(Buffer.from(await fs.read(path)).toString(), 'durable');
      });
    });

    describe('path confinement', () => {
      for (const bad of ESCAPING_PATHS) {
        test(`rejects ${JSON.stringify(bad)} in every operation with PathEscapeError`, async (fs, base) => {
          const ops: Record<string, () => Promise<unknown>> = {
            create: async () => fs.create(bad),
            read: async () => fs.read(bad),
            'read range': async () => fs.read(bad, { offset: 0, length: 1 }),
            stat: async () => fs.stat(bad),
            list: async () => fs.list(bad),
            delete: async () => fs.delete(bad),
            deleteMany: async () => fs.deleteMany([`${base}/fine`, bad]),
            deleteDirectory: async () => fs.deleteDirectory(bad),
          };
          for (const [op, fn] of Object.entries(ops)) {
            await assert.rejects(fn, (e: unknown) => e instanceof PathEscapeError, `${op}(${JSON.stringify(bad)}) must throw PathEscapeError`);
          }
        });
      }
    });

    describe('FsCheckpointStorage over this file system', () => {
      /** Checkpoint ids unique per test, because a factory may hand out one shared root. */
      const freshId = () => 1_000_000 + Math.floor(Math.random() * 1_000_000_000);

      const writeState = async (storage: FsCheckpointStorage, id: number, scope: 'EXCLUSIVE' | 'SHARED', size: number, seed: number) => {
        const loc = await storage.initializeLocationForCheckpoint(id);
        const out = loc.streamFactory.createCheckpointStateOutputStream(scope);
        for (let pos = 0; pos < size; pos += 70_001) await out.write(patternBytes(seed, pos, Math.min(70_001, size - pos)));
        return { loc, handle: await out.closeAndGetHandle() };
      };

      const expectCorrupt = async (fn: () => Promise<unknown>, handle: StreamStateHandle, what: string) => {
        await assert.rejects(
          fn,
          (e: unknown) => {
            assert.ok(e instanceof CorruptCheckpointError, `${what}: expected CorruptCheckpointError, got ${String(e)}`);
            assert.equal(e.code, 'CORRUPT_CHECKPOINT');
            assert.ok(handle.type === 'file' && e.file.endsWith(handle.path), `${what}: error names the file (${e.file})`);
            assert.ok(e.message.includes(handle.type === 'file' ? handle.path : ''), `${what}: message names the file`);
            return true;
          },
        );
      };

      test('state files round-trip and are verified by size and CRC32C', async (fs) => {
        const storage = new FsCheckpointStorage(fs, { writeBufferSize: 64 * 1024 });
        const id = freshId();
        const size = 1_000_003;
        for (const scope of ['EXCLUSIVE', 'SHARED'] as const) {
          const { handle } = await writeState(storage, id, scope, size, 5);
          assert.equal(handle.type, 'file');
          assert.equal(handle.size, size);
          const data = await storage.readFully(handle, id);
          assert.ok(Buffer.from(data).equals(patternBytes(5, 0, size)));
          assert.ok(Buffer.from(await storage.readRange(handle, 400_000, 1234, id)).equals(patternBytes(5, 400_000, 1234)));
          await storage.discardStateHandle(handle);
        }
        await storage.discardCheckpoint(id);
      });

      test('a buffer reused after a checkpoint stream write() resolved does not change the state file', async (fs) => {
        const storage = new FsCheckpointStorage(fs, { writeBufferSize: 256 * 1024 });
        const id = freshId();
        const loc = await storage.initializeLocationForCheckpoint(id);
        const out = loc.streamFactory.createCheckpointStateOutputStream('EXCLUSIVE');
        const buf = Buffer.alloc(100_000);
        for (let i = 0; i < 5; i++) {
          buf.fill(i + 1);
          await out.write(buf);
        }
        buf.fill(0xff);
        const handle = await out.closeAndGetHandle();
        const data = Buffer.from(await storage.readFully(handle, id));
        for (let i = 0; i < 5; i++) assert.ok(data.subarray(i * 100_000, (i + 1) * 100_000).every((b) => b === i + 1), `block ${i}`);
        await storage.discardCheckpoint(id);
      });

      test('a corrupted, truncated or missing state file is a CorruptCheckpointError naming the file', async (fs) => {
        const storage = new FsCheckpointStorage(fs);
        const id = freshId();
        const size = 300_001;
        const { handle } = await writeState(storage, id, 'EXCLUSIVE', size, 9);
        assert.ok(handle.type === 'file');
        const original = Buffer.from(await fs.read(handle.path));

        const flipped = Buffer.from(original);
        flipped[size >> 1] = flipped[size >> 1]! ^ 0x10;
        await writeBytes(fs, handle.path, flipped);
        await expectCorrupt(() => storage.readFully(handle, id), handle, 'one flipped bit');

        await writeBytes(fs, handle.path, original.subarray(0, size - 1));
        await expectCorrupt(() => storage.readFully(handle, id), handle, 'truncated (readFully)');
        await expectCorrupt(() => storage.readRange(handle, 0, 10, id), handle, 'truncated (readRange)');

        await writeBytes(fs, handle.path, Buffer.concat([original, Buffer.from([0])]));
        await expectCorrupt(() => storage.readFully(handle, id), handle, 'extended');

        await fs.delete(handle.path);
        await expectCorrupt(() => storage.readFully(handle, id), handle, 'missing (readFully)');
        await expectCorrupt(() => storage.readRange(handle, 0, 10, id), handle, 'missing (readRange)');
        await storage.discardCheckpoint(id);
      });

      test('a checkpoint without _metadata is neither listed nor resolvable', async (fs) => {
        const storage = new FsCheckpointStorage(fs);
        const id = freshId();
        const pointer = `chk-${id}`;
        const { loc, handle } = await writeState(storage, id, 'EXCLUSIVE', 10_000, 11);
        assert.equal(loc.pointer, pointer);

        const notComplete = async (what: string) => {
          assert.ok(!(await storage.listCompletedCheckpoints()).includes(pointer), `${what}: not listed`);
          await assert.rejects(() => storage.resolveCheckpoint(pointer), StorageNotFoundError, `${what}: not resolvable`);
        };
        await notComplete('state written, no metadata');

        // A metadata file that is being written, or whose write was aborted, does not complete it.
        const w = await fs.create(`${pointer}/_metadata`);
        await w.write(Buffer.from('half-written metadata'));
        await notComplete('metadata write in progress');
        await w.abort();
        await notComplete('metadata write aborted');

        const metadata = patternBytes(12, 0, 5000);
        const completed = await loc.finalizeCheckpoint(metadata);
        assert.equal(completed.pointer, pointer);
        assert.ok((await storage.listCompletedCheckpoints()).includes(pointer));
        const resolved = await storage.resolveCheckpoint(pointer);
        assert.equal(resolved.checkpointId, id);
        assert.ok(Buffer.from(resolved.metadata).equals(metadata));
        assert.equal((await resolved.reader.readFully(handle, id)).length, 10_000);

        await storage.discardCheckpoint(id);
        await notComplete('discarded');
        assert.deepEqual(await fs.list(pointer), []);
      });

      test('disposeOnFailure removes what a failed checkpoint wrote', async (fs) => {
        const storage = new FsCheckpointStorage(fs);
        const id = freshId();
        const { loc } = await writeState(storage, id, 'EXCLUSIVE', 2000, 13);
        assert.equal((await fs.list(`chk-${id}`)).length, 1);
        await loc.disposeOnFailure();
        assert.deepEqual(await fs.list(`chk-${id}`), []);
        assert.ok(!(await storage.listCompletedCheckpoints()).includes(`chk-${id}`));
      });
    });
  });
}

async function assertNotFound(fn: () => Promise<unknown>): Promise<void> {
  await assert.rejects(fn, (e: unknown) => e instanceof StorageNotFoundError && e.code === 'STORAGE_NOT_FOUND');
}

function sortByPath<T extends { path: string }>(files: T[]): T[] {
  return [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
