import { strict as assert } from 'node:assert';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CorruptCheckpointError, crc32c, FsCheckpointStorage, StorageError, StorageNotFoundError, type FileStatus, type FileStateHandle } from '@flowstate/core';
import { LocalFileSystem, localCheckpointStorage } from '@flowstate/storage-local';
import { tempRoots } from './temp-roots.js';

const freshRoot = tempRoots('flowstate-link-to-');

/** `n` bytes that are not all alike. */
const pattern = (n: number) => new Uint8Array(n).map((_, i) => (i * 131 + (i >> 9)) & 0xff);

describe('LocalFileSystem.linkTo (restores without a copy)', () => {
  it('links a stored file to a local path: same inode and bytes; nothing is written to the storage', async () => {
    const root = freshRoot();
    writeFileSync(join(root, 'f.sst'), 'stored sst bytes');
    const local = join(freshRoot(), '000001.sst');
    assert.equal(await new LocalFileSystem(root).linkTo('f.sst', local), true);
    assert.equal(statSync(local).ino, statSync(join(root, 'f.sst')).ino, 'a hard link, not a copy');
    assert.equal(readFileSync(local, 'utf8'), 'stored sst bytes');
  });

  it('a missing stored file is StorageNotFoundError; a missing local directory is a StorageError about the local path; another device is declined', async () => {
    const root = freshRoot();
    const fs = new LocalFileSystem(root);
    await assert.rejects(fs.linkTo('missing', join(freshRoot(), 'x')), StorageNotFoundError);
    writeFileSync(join(root, 'f'), 'x');
    const noDir = join(freshRoot(), 'no-such-dir', 'x');
    await assert.rejects(fs.linkTo('f', noDir), (e: unknown) => e instanceof StorageError && !(e instanceof StorageNotFoundError) && e.message.includes(noDir));
    if (existsSync('/dev/shm')) {
      const other = join(freshRoot('/dev/shm'), 'x');
      assert.equal(await fs.linkTo('f', other), false, 'EXDEV: the caller copies');
      assert.equal(existsSync(other), false);
    }
  });
});

describe('FsCheckpointStorage.linkFile (a checked link instead of a download)', () => {
  it('links a stored file after checking its size and CRC32C; a mismatch is CorruptCheckpointError and leaves no link', async () => {
    const root = freshRoot();
    const scratch = freshRoot();
    const storage = localCheckpointStorage(root);
    const loc = await storage.initializeLocationForCheckpoint(5);
    const out = loc.streamFactory.createCheckpointStateOutputStream('EXCLUSIVE');
    // Over one read-back chunk (4 MiB): the running CRC32C over chunks is exercised.
    const bytes = pattern((4 << 20) + 3000);
    await out.write(bytes);
    const h = (await out.closeAndGetHandle()) as FileStateHandle;
    const dest = join(scratch, 'linked.sst');
    assert.equal(await storage.linkFile(h, dest, 5), true);
    assert.equal(statSync(dest).ino, statSync(join(root, ...h.path.split('/'))).ino);
    assert.deepEqual(new Uint8Array(readFileSync(dest)), bytes);

    const badCrc = join(scratch, 'bad-crc.sst');
    await assert.rejects(storage.linkFile({ ...h, checksum: (h.checksum + 1) >>> 0 }, badCrc, 5), (e: unknown) => e instanceof CorruptCheckpointError && /CRC32C/.test(e.message) && e.message.includes(h.path));
    assert.equal(existsSync(badCrc), false, 'a link whose bytes failed the check is removed');
    const badSize = join(scratch, 'bad-size.sst');
    await assert.rejects(storage.linkFile({ ...h, size: h.size + 1 }, badSize, 5), (e: unknown) => e instanceof CorruptCheckpointError && /bytes/.test(e.message));
    assert.equal(existsSync(badSize), false);
    await assert.rejects(storage.linkFile({ ...h, path: 'chk-5/missing' }, join(scratch, 'missing.sst'), 5), (e: unknown) => e instanceof CorruptCheckpointError && /missing/.test(e.message));
    // Inline bytes have no file to link: the caller reads them.
    const inline = new Uint8Array([1]);
    assert.equal(await storage.linkFile({ type: 'bytes', name: 'x', size: 1, checksum: crc32c(inline), data: inline }, join(scratch, 'inline'), 5), false);
    assert.equal(existsSync(join(scratch, 'inline')), false);
  });

  it('a stored file deleted between the link and its read-back is CorruptCheckpointError (missing), and leaves no link', async () => {
    const root = freshRoot();
    const out = (await localCheckpointStorage(root).initializeLocationForCheckpoint(6)).streamFactory.createCheckpointStateOutputStream('EXCLUSIVE');
    await out.write(pattern(5000));
    const h = (await out.closeAndGetHandle()) as FileStateHandle;
    /** Deletes a file right after its size was taken: a discard racing the restore. */
    class DeletedAfterStat extends LocalFileSystem {
      override async stat(path: string): Promise<FileStatus | null> {
        const st = await super.stat(path);
        if (st !== null) await this.delete(path);
        return st;
      }
    }
    const dest = join(freshRoot(), 'raced.sst');
    await assert.rejects(new FsCheckpointStorage(new DeletedAfterStat(root)).linkFile(h, dest, 6), (e: unknown) => e instanceof CorruptCheckpointError && /missing/.test(e.message) && e.message.includes(h.path));
    assert.equal(existsSync(dest), false);
  });
});
