import { strict as assert } from 'node:assert';
import { existsSync, symlinkSync, mkdirSync, truncateSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runStorageConformance } from '@flowstate/conformance';
import { CorruptCheckpointError, PathEscapeError, serializeCheckpointMetadata, StorageError, StorageNotFoundError, type FileStateHandle } from '@flowstate/core';
import { IN_PROGRESS_SUFFIX, LocalFileSystem, localCheckpointStorage } from '@flowstate/storage-local';
import { tempRoots } from './temp-roots.js';

const freshRoot = tempRoots('flowstate-local-');

runStorageConformance({ name: 'LocalFileSystem', createFileSystem: async () => new LocalFileSystem(freshRoot()) });

describe('LocalFileSystem specifics', () => {
  it('maps file-system errors of input paths to typed errors: ENAMETOOLONG, a path through a file (ENOTDIR)', async () => {
    const root = freshRoot();
    const fs = new LocalFileSystem(root);
    const long = 'x'.repeat(256);
    for (const op of [() => fs.read(long), () => fs.read(`${long}/y`, { offset: 0, length: 1 }), () => fs.stat(long), () => fs.create(long), () => fs.delete(long)]) {
      await assert.rejects(op(), (e: unknown) => e instanceof StorageError && e.code === 'STORAGE_ERROR' && /ENAMETOOLONG/.test(e.message) && e.message.includes(long));
    }
    writeFileSync(join(root, 'file'), 'x');
    await assert.rejects(fs.read('file/_metadata'), StorageNotFoundError);
    assert.equal(await fs.stat('file/_metadata'), null);
    assert.deepEqual(await fs.list('file'), []);
    // A root that is a file: nothing exists below it.
    const fileRoot = new LocalFileSystem(join(root, 'file'));
    await assert.rejects(fileRoot.read('_metadata'), StorageNotFoundError);
  });

  it('rejects a symlink that leads outside the root', async () => {
    const root = freshRoot();
    const outside = freshRoot();
    symlinkSync(outside, join(root, 'escape'));
    const fs = new LocalFileSystem(root);
    await assert.rejects(fs.create('escape/file'), PathEscapeError);
    await assert.rejects(fs.read('escape/file'), PathEscapeError);
  });

  describe('deleteEmptyDirectory', () => {
    it('removes an empty directory, and answers true for one that is absent', async () => {
      const root = freshRoot();
      mkdirSync(join(root, 'a/b'), { recursive: true });
      writeFileSync(join(root, 'file'), 'x');
      const fs = new LocalFileSystem(root);
      assert.equal(await fs.deleteEmptyDirectory('a/b'), true);
      assert.equal(await fs.deleteEmptyDirectory('a'), true);
      assert.equal(existsSync(join(root, 'a')), false);
      assert.equal(await fs.deleteEmptyDirectory('a'), true, 'absent');
      assert.equal(await fs.deleteEmptyDirectory('file/below'), true, 'below a file: nothing there');
    });

    it('leaves a directory that is not empty, even when all it holds is an empty directory listings do not show', async () => {
      const root = freshRoot();
      mkdirSync(join(root, 'full'));
      writeFileSync(join(root, 'full/f'), 'x');
      mkdirSync(join(root, 'hidden/foreign'), { recursive: true });
      const fs = new LocalFileSystem(root);
      assert.deepEqual(await fs.list('hidden'), []);
      assert.equal(await fs.deleteEmptyDirectory('full'), false);
      assert.equal(await fs.deleteEmptyDirectory('hidden'), false);
      assert.equal(existsSync(join(root, 'full/f')), true);
      assert.equal(existsSync(join(root, 'hidden/foreign')), true);
    });

    it('leaves a file and a symbolic link (to a directory) alone', async () => {
      const root = freshRoot();
      writeFileSync(join(root, 'file'), 'x');
      mkdirSync(join(root, 'target'));
      symlinkSync(join(root, 'target'), join(root, 'link'));
      const fs = new LocalFileSystem(root);
      assert.equal(await fs.deleteEmptyDirectory('file'), false);
      assert.equal(await fs.deleteEmptyDirectory('link'), false);
      assert.deepEqual(readdirSync(root).sort(), ['file', 'link', 'target']);
    });

    it('refuses the root, and paths that leave it (PathEscapeError), through a symbolic link too', async () => {
      const root = freshRoot();
      const outside = freshRoot();
      mkdirSync(join(outside, 'sub'));
      symlinkSync(outside, join(root, 'escape'));
      const fs = new LocalFileSystem(root);
      await assert.rejects(fs.deleteEmptyDirectory(''), StorageError);
      for (const bad of ['../x', '/abs', 'a/../../b']) await assert.rejects(fs.deleteEmptyDirectory(bad), PathEscapeError);
      await assert.rejects(fs.deleteEmptyDirectory('escape/sub'), PathEscapeError);
      assert.equal(existsSync(join(outside, 'sub')), true);
      assert.equal(existsSync(root), true);
    });

    it('forgets what it knew of the removed directory: a symbolic link put in its place is checked again', async () => {
      const root = freshRoot();
      const outside = freshRoot();
      const fs = new LocalFileSystem(root);
      const w = await fs.create('d/f');
      await w.commit();
      await fs.delete('d/f');
      assert.equal(await fs.deleteEmptyDirectory('d'), true);
      // Known (confined, created) while it existed; a link to outside the root replaces it.
      symlinkSync(outside, join(root, 'd'));
      await assert.rejects(fs.create('d/g'), PathEscapeError);
      assert.deepEqual(readdirSync(outside), []);
    });
  });

  it('reads a range into a lent buffer that is large enough (ReadRange.into), not into a new one', async () => {
    const root = freshRoot();
    writeFileSync(join(root, 'f'), Buffer.from('0123456789'));
    const fs = new LocalFileSystem(root);
    const lent = new Uint8Array(8);
    const got = await fs.read('f', { offset: 2, length: 5, into: lent });
    assert.equal(got.buffer, lent.buffer);
    assert.equal(Buffer.from(got).toString(), '23456');
    assert.equal(Buffer.from(lent.subarray(0, 5)).toString(), '23456');
    const other = await fs.read('f', { offset: 0, length: 9, into: lent });
    assert.notEqual(other.buffer, lent.buffer, 'a buffer too small is not used');
    assert.equal(Buffer.from(other).toString(), '012345678');
  });

  it('leaves nothing but the final file after commit, and nothing after abort', async () => {
    const root = freshRoot();
    const fs = new LocalFileSystem(root);
    const w = await fs.create('a/b');
    await w.write(new Uint8Array([1, 2, 3]));
    assert.equal((await fs.stat('a/b')), null, 'not visible before commit');
    await w.commit();
    assert.deepEqual(readdirSync(join(root, 'a')), ['b']);
    const w2 = await fs.create('a/c');
    await w2.write(new Uint8Array([1]));
    await w2.abort();
    assert.deepEqual(readdirSync(join(root, 'a')), ['b']);
    assert.ok(!readdirSync(join(root, 'a')).some((n) => n.endsWith(IN_PROGRESS_SUFFIX)));
  });

  it('a truncated or replaced state file is a CorruptCheckpointError naming the file and checkpoint', async () => {
    const root = freshRoot();
    const storage = localCheckpointStorage(root);
    const loc = await storage.initializeLocationForCheckpoint(4);
    const out = loc.streamFactory.createCheckpointStateOutputStream('EXCLUSIVE');
    await out.write(new Uint8Array(1000).fill(7));
    const h = (await out.closeAndGetHandle()) as FileStateHandle;
    assert.equal(h.size, 1000);
    assert.match(h.path, /^chk-4\//);
    const abs = join(root, ...h.path.split('/'));
    truncateSync(abs, 500);
    await assert.rejects(storage.readFully(h, 4), (e: Error) => e instanceof CorruptCheckpointError && e.message.includes(h.path) && e.message.includes('checkpoint 4'));
    await assert.rejects(storage.readRange(h, 0, 10, 4), CorruptCheckpointError);
    writeFileSync(abs, Buffer.alloc(1000, 8));
    await assert.rejects(storage.readFully(h, 4), /CRC32C/);
  });

  it('a checkpoint without _metadata is neither listed nor resolvable', async () => {
    const root = freshRoot();
    const storage = localCheckpointStorage(root);
    mkdirSync(join(root, 'chk-9'), { recursive: true });
    writeFileSync(join(root, 'chk-9', 'some-state'), 'x');
    const loc = await storage.initializeLocationForCheckpoint(10);
    await loc.finalizeCheckpoint(serializeCheckpointMetadata({ checkpointId: 10, kind: 'CHECKPOINT', timestamp: 0, operators: [] }));
    assert.deepEqual(await storage.listCompletedCheckpoints(), ['chk-10']);
    await assert.rejects(storage.resolveCheckpoint('chk-9'), { code: 'STORAGE_NOT_FOUND' });
    await assert.rejects(storage.resolveCheckpoint('../chk-10'), PathEscapeError);
  });
});
