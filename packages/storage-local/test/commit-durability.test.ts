import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { crc32c, FsCheckpointStateOutputStream, MemoryFileSystem, PathEscapeError, StorageConfigError, StorageError, syncCounts } from '@flowstate/core';
import { DirectorySyncs, IN_PROGRESS_SUFFIX, LocalFileSystem } from '@flowstate/storage-local';
import { tempRoots } from './temp-roots.js';

const freshRoot = tempRoots('flowstate-durable-');

/** A directory fsync the test completes or fails by hand. */
function manualFsync() {
  const calls: Array<{ dir: string; resolve: () => void; reject: (e: Error) => void }> = [];
  const fsync = (dir: string) => new Promise<void>((resolve, reject) => void calls.push({ dir, resolve, reject }));
  return { calls, fsync };
}

const settledFlag = (p: Promise<void>) => {
  const s = { done: false, error: undefined as unknown };
  p.then(
    () => void (s.done = true),
    (e: unknown) => void ((s.done = true), (s.error = e)),
  );
  return s;
};
const tick = () => new Promise<void>((r) => setImmediate(r));

/** A file system whose fsyncs of `root` itself fail (EIO) while `failing`, counted in `calls`. */
function failingRootFsync(root: string) {
  const state = { failing: true, calls: 0 };
  const fs = new LocalFileSystem(root, {
    fsyncDirectory: async (dir) => {
      if (dir !== root) return;
      state.calls++;
      if (state.failing) throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
    },
  });
  return { fs, root: state };
}

describe('DirectorySyncs (group commit of directory fsyncs)', () => {
  it('a caller arriving while an fsync runs waits for the next one, which every such caller shares', async () => {
    const { calls, fsync } = manualFsync();
    const syncs = new DirectorySyncs(fsync);
    const a = settledFlag(syncs.sync('d'));
    await tick();
    assert.equal(calls.length, 1, 'the first caller starts an fsync');
    // b and c renamed after the running fsync may have started: it does not cover them.
    const b = settledFlag(syncs.sync('d'));
    const c = settledFlag(syncs.sync('d'));
    await tick();
    assert.equal(calls.length, 1, 'no second fsync while one runs');
    calls[0]!.resolve();
    await tick();
    assert.ok(a.done && a.error === undefined);
    assert.ok(!b.done && !c.done, 'b and c are not durable by an fsync that started before them');
    assert.equal(calls.length, 2, 'one more fsync, started after the first ended, for both');
    calls[1]!.resolve();
    await tick();
    assert.ok(b.done && c.done && b.error === undefined && c.error === undefined);
    // Idle again: the next caller starts a fresh fsync at once.
    const d = settledFlag(syncs.sync('d'));
    await tick();
    assert.equal(calls.length, 3);
    calls[2]!.resolve();
    await tick();
    assert.ok(d.done);
  });

  it('a failed fsync fails every caller that waited on it; other directories are independent', async () => {
    const { calls, fsync } = manualFsync();
    const syncs = new DirectorySyncs(fsync);
    const a = settledFlag(syncs.sync('d'));
    const other = settledFlag(syncs.sync('e'));
    await tick();
    const b = settledFlag(syncs.sync('d'));
    const c = settledFlag(syncs.sync('d'));
    calls.find((x) => x.dir === 'd')!.resolve();
    await tick();
    assert.ok(a.done && !b.done);
    calls[2]!.reject(new Error('EIO'));
    await tick();
    assert.match(String(b.error), /EIO/);
    assert.match(String(c.error), /EIO/);
    assert.ok(!other.done, "'e' still waits for its own fsync");
    calls[1]!.resolve();
    await tick();
    assert.ok(other.done && other.error === undefined);
  });
});

describe('LocalFileSystem commits', () => {
  it('resolve only after an fsync of their directory that started after their rename; concurrent commits share fsyncs', async () => {
    const root = freshRoot();
    const files = Array.from({ length: 8 }, (_, i) => `chk-1/f${i}`);
    const chk = join(root, 'chk-1');
    let fsyncs = 0;
    /** Names in each directory when an fsync of it started, added once that fsync completed. */
    const durable = new Set<string>();
    const fs = new LocalFileSystem(root, {
      fsyncDirectory: async (dir) => {
        const names = readdirSync(dir).map((n) => join(dir, n));
        if (dir !== chk) {
          for (const n of names) durable.add(n);
          return;
        }
        // The first fsync of the checkpoint directory is held until every commit has asked for
        // one (after its rename): the other seven arrive while it runs, so they share the next.
        if (++fsyncs === 1) while (joined < files.length) await tick();
        for (const n of names) durable.add(n);
      },
    });
    let joined = 0;
    const syncs = (fs as unknown as { directorySyncs: DirectorySyncs }).directorySyncs;
    const sync = syncs.sync.bind(syncs);
    syncs.sync = (dir: string) => {
      if (dir === chk) joined++;
      return sync(dir);
    };
    await Promise.all(
      files.map(async (f) => {
        const w = await fs.create(f);
        await w.write(new Uint8Array([1, 2, 3]));
        await w.commit();
        assert.ok(durable.has(join(root, f)), `${f}: committed before a directory fsync that saw it completed`);
      }),
    );
    assert.equal(fsyncs, 2, `${fsyncs} fsyncs of the checkpoint directory for ${files.length} concurrent commits`);
  });

  it('a commit or link into directories it created resolves only after each new directory\'s parent was fsynced (POSIX: a new entry is durable only then)', async () => {
    const root = freshRoot();
    rmSync(root, { recursive: true, force: true });
    const synced: string[] = [];
    const fs = new LocalFileSystem(root, {
      fsyncDirectory: async (dir) => {
        await tick();
        synced.push(dir);
      },
    });
    const w = await fs.create('chk-1/sub/f');
    await w.write(new Uint8Array([1]));
    await w.commit();
    for (const dir of [join(root, '..'), root, join(root, 'chk-1'), join(root, 'chk-1', 'sub')]) {
      assert.ok(synced.includes(join(dir)), `${dir} fsynced before the commit resolved: ${synced.join(', ')}`);
    }
    synced.length = 0;
    const local = join(root, 'chk-1', 'sub', 'f');
    assert.equal(await fs.linkFrom(local, 'shared/g'), true);
    assert.deepEqual(new Set(synced), new Set([root, join(root, 'shared')]), 'a link into a new directory: it and its parent');
    synced.length = 0;
    const again = await fs.create('shared/h');
    await again.commit();
    assert.deepEqual(synced, [join(root, 'shared')], 'a directory already made durable: only its own fsync');
  });

  it('a commit into an intermediate directory another write created (mkdir -p) waits for the same parents\' fsyncs', async () => {
    const root = freshRoot();
    let releaseRoot!: () => void;
    const rootHeld = new Promise<void>((r) => (releaseRoot = r));
    let syncsOfP = 0;
    const fs = new LocalFileSystem(root, {
      fsyncDirectory: async (dir) => {
        if (dir === root) await rootHeld;
        if (dir === join(root, 'p')) syncsOfP++;
      },
    });
    const deep = await fs.create('p/q/f1');
    const shallow = await fs.create('p/f2');
    const committed = settledFlag(shallow.commit());
    // The second fsync of p is the commit's own (the first made q's entry durable): past it, only
    // the root's fsync can hold the commit.
    while (syncsOfP < 2) await tick();
    for (let i = 0; i < 20; i++) await tick();
    assert.equal(committed.done, false, "p/f2 waits for the fsync of p's entry in the root");
    releaseRoot();
    await deep.commit();
    while (!committed.done) await tick();
    assert.equal(committed.error, undefined);
  });

  it("a failed fsync of a new directory's parent fails the commits waiting for it, and the next write into it syncs the parent again", async () => {
    const root = freshRoot();
    const { fs, root: rootFsync } = failingRootFsync(root);
    const first = await fs.create('d/f1');
    // The root's fsync (for d's entry) fails before the commit begins.
    while (rootFsync.calls < 1) await tick();
    await tick();
    await assert.rejects(first.commit(), StorageError, 'failed, though the sync failed before the commit began');
    rootFsync.failing = false;
    const before = rootFsync.calls;
    const second = await fs.create('d/f2');
    await second.commit();
    assert.equal(rootFsync.calls, before + 1, "the root's fsync ran once more, for d's entry");
  });

  it("a new directory below one whose entry's sync failed: its commit syncs that entry again, not only its own", async () => {
    const root = freshRoot();
    const { fs, root: rootFsync } = failingRootFsync(root);
    await assert.rejects((await fs.create('d/f1')).commit(), StorageError);
    rootFsync.failing = false;
    const before = rootFsync.calls;
    // mkdir -p creates only d/e here: d exists, its entry in the root is still not durable.
    await (await fs.create('d/e/f2')).commit();
    assert.equal(rootFsync.calls, before + 1, "the root's fsync ran again, for d's entry");
  });

  it('a new directory below one whose entry is still being synced: its commit waits for that sync too', async () => {
    const root = freshRoot();
    let releaseRoot!: () => void;
    const rootHeld = new Promise<void>((r) => (releaseRoot = r));
    const fs = new LocalFileSystem(root, {
      fsyncDirectory: async (dir) => {
        if (dir === root) await rootHeld;
      },
    });
    const shallow = await fs.create('p/f1');
    const deep = await fs.create('p/q/f2');
    const committed = settledFlag(deep.commit());
    for (let i = 0; i < 50; i++) await tick();
    assert.equal(committed.done, false, "p/q/f2 waits for the fsync of p's entry in the root");
    releaseRoot();
    await shallow.commit();
    while (!committed.done) await tick();
    assert.equal(committed.error, undefined);
  });

  it('a failed directory fsync fails the commit (it is never reported durable)', async () => {
    const root = freshRoot();
    const fs = new LocalFileSystem(root, { fsyncDirectory: async () => Promise.reject(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' })) });
    const w = await fs.create('chk-1/f');
    await w.write(new Uint8Array([1]));
    await assert.rejects(w.commit(), (e: unknown) => e instanceof StorageError && /commit failed: EIO/.test(e.message));
    assert.deepEqual(readdirSync(join(root, 'chk-1')), [], 'the renamed file is removed: nothing will ever reference it');
  });

  it('a commit fsyncs its file through syncDescriptor (not a pool-only FileHandle.sync), as it does its directory', async () => {
    const fs = new LocalFileSystem(freshRoot());
    const before = syncCounts();
    const w = await fs.create('d/f');
    await w.write(new Uint8Array([1]));
    await w.commit();
    const after = syncCounts();
    assert.equal(after.pool + after.threads - (before.pool + before.threads), 3, "the file's fsync, its directory's and that new directory's parent's");
  });

  it("an abort while the commit's sync runs closes the file only after it, and the commit fails instead of renaming", async () => {
    const root = freshRoot();
    let release = () => {};
    let fdAtRelease = -1;
    let handle: { fd: number } | undefined;
    const fs = new LocalFileSystem(root, {
      commitSync: (file) => {
        handle = file;
        return new Promise<void>((resolve) => (release = () => ((fdAtRelease = file.fd), resolve())));
      },
    });
    const w = await fs.create('f');
    await w.write(new Uint8Array(1));
    // Its outcome taken at once: it may settle before the test looks (no unhandled rejection).
    const committed = w.commit().then(() => undefined, (e: unknown) => e);
    while (handle === undefined) await tick();
    const aborted = w.abort().then(() => undefined, (e: unknown) => e);
    await tick();
    assert.notEqual(handle.fd, -1, 'still open while its sync runs');
    release();
    assert.equal(await aborted, undefined);
    const e = await committed;
    assert.ok(e instanceof StorageError && /commit after aborted/.test(e.message), String(e));
    assert.notEqual(fdAtRelease, -1, 'open when its sync ended');
    assert.equal(handle.fd, -1, 'closed after');
    assert.deepEqual(readdirSync(root), [], 'neither the file nor its temporary file');
  });

  it('a file written in chunks starts a background data sync before each write that follows backgroundSyncBytes, and keeps every byte', async () => {
    const root = freshRoot();
    let background = 0;
    let lastSync: Promise<void> = Promise.resolve();
    const fs = new LocalFileSystem(root, { backgroundSyncBytes: 1000, backgroundDatasync: (file) => (background++, (lastSync = file.datasync())) });
    const w = await fs.create('chk-1/f');
    const bytes = new Uint8Array(10_000).map((_, i) => i % 251);
    for (let at = 0; at < bytes.length; at += 500) {
      await w.write(bytes.subarray(at, at + 500));
      // The real datasync ends before the next bytes reach the threshold (one runs at a time).
      await lastSync;
      await tick();
    }
    await w.commit();
    assert.equal(background, 9, 'before the writes at 1000, 2000, ... 9000 bytes; the last write starts none');
    assert.deepEqual(new Uint8Array(readFileSync(join(root, 'chk-1', 'f'))), bytes);
    assert.throws(() => new LocalFileSystem(root, { backgroundSyncBytes: -1 }), StorageConfigError);
  });

  it('at the default threshold (Linux: 2 MiB) a checkpoint-sized file starts none, and a write after 2 MiB starts one', { skip: process.platform !== 'linux' && 'background data syncs are off by default outside Linux' }, async () => {
    let background = 0;
    const fs = new LocalFileSystem(freshRoot(), { backgroundDatasync: async () => void background++ });
    const w = await fs.create('f');
    await w.write(new Uint8Array(64 << 10));
    await w.write(new Uint8Array((2 << 20) - (64 << 10)));
    assert.equal(background, 0, 'under 2 MiB: none');
    await w.write(new Uint8Array(1));
    assert.equal(background, 1);
    await w.commit();
  });

  it("by default a background data sync goes through core's optionalSync (counted with the commit's sync), not a pool-only FileHandle.datasync", { skip: process.platform !== 'linux' && 'background data syncs are off by default outside Linux' }, async () => {
    const root = freshRoot();
    const w = await new LocalFileSystem(root).create('f');
    const before = syncCounts();
    await w.write(new Uint8Array(2 << 20));
    await w.write(new Uint8Array(1));
    const started = syncCounts();
    await w.commit();
    const after = syncCounts();
    assert.equal(started.pool + started.threads - (before.pool + before.threads), 1, 'the second write started one');
    assert.equal(after.pool + after.threads - (started.pool + started.threads), 2, "then the commit's own: the file's and its directory's");
    assert.equal(statSync(join(root, 'f')).size, (2 << 20) + 1);
  });

  it('a commit waits for a running background data sync before it renames, and fails if that sync fails (the final fsync would not report it again)', async () => {
    const root = freshRoot();
    const pending: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
    const fs = new LocalFileSystem(root, { backgroundSyncBytes: 100, backgroundDatasync: () => new Promise<void>((resolve, reject) => void pending.push({ resolve, reject })) });
    for (const fail of [false, true]) {
      const w = await fs.create(`chk-1/${fail}`);
      await w.write(new Uint8Array(100));
      await w.write(new Uint8Array(1));
      assert.equal(pending.length, 1, 'the second write started a sync');
      const commit = settledFlag(w.commit());
      await tick();
      assert.ok(!commit.done && !existsSync(join(root, 'chk-1', String(fail))), 'neither resolved nor renamed while the sync runs');
      const sync = pending.pop()!;
      if (fail) sync.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
      else sync.resolve();
      while (!commit.done) await tick();
      if (!fail) assert.equal(commit.error, undefined);
      else assert.ok(commit.error instanceof StorageError && /commit failed: EIO/.test(commit.error.message) && commit.error.path.endsWith('chk-1/true'));
    }
    assert.deepEqual(readdirSync(join(root, 'chk-1')), ['false'], 'the failed commit left neither its file nor its temporary');
  });

  it('an abort while a background data sync runs closes the file only after it', async () => {
    const root = freshRoot();
    let release = (): void => assert.fail('no background sync started');
    let fdAtRelease: number | undefined;
    let handle: { fd: number } | undefined;
    const fs = new LocalFileSystem(root, {
      backgroundSyncBytes: 100,
      backgroundDatasync: (file) =>
        new Promise<void>((resolve) => {
          handle = file;
          release = () => ((fdAtRelease = file.fd), resolve());
        }),
    });
    const w = await fs.create('f');
    await w.write(new Uint8Array(100));
    await w.write(new Uint8Array(1));
    const aborted = w.abort();
    await tick();
    release();
    await aborted;
    assert.notEqual(fdAtRelease, -1, 'still open when its sync ended');
    assert.equal(handle!.fd, -1, 'closed after');
    assert.deepEqual(readdirSync(root), []);
  });

  it('a range read longer than the file is refused with its size before any buffer is allocated', async () => {
    const root = freshRoot();
    const fs = new LocalFileSystem(root);
    const w = await fs.create('f');
    await w.write(new Uint8Array([1, 2, 3]));
    await w.commit();
    // Longer than any Buffer: allocating first failed with a RangeError ("read failed: ...").
    await assert.rejects(fs.read('f', { offset: 0, length: Number.MAX_SAFE_INTEGER }), (e: unknown) => e instanceof StorageError && /outside the file of 3 bytes/.test(e.message));
  });

  it('re-checks a directory it deleted: a symlink put in its place is rejected, not followed', async () => {
    const root = freshRoot();
    const outside = freshRoot();
    const fs = new LocalFileSystem(root);
    const w = await fs.create('d/x');
    await w.write(new Uint8Array([1]));
    await w.commit();
    assert.deepEqual([...(await fs.read('d/x'))], [1]);
    await fs.deleteDirectory('d');
    writeFileSync(join(outside, 'x'), 'secret');
    symlinkSync(outside, join(root, 'd'));
    await assert.rejects(fs.create('d/y'), PathEscapeError);
    await assert.rejects(fs.read('d/x'), PathEscapeError);
    await assert.rejects(fs.read('d/x', { offset: 0, length: 1 }), PathEscapeError);
    assert.deepEqual(readdirSync(outside), ['x'], 'nothing written outside the root');
  });

  it('recreates a directory that vanished behind its back (another process deleted a checkpoint directory)', async () => {
    const root = freshRoot();
    const fs = new LocalFileSystem(root);
    for (const name of ['a', 'b']) {
      const w = await fs.create(`chk-1/${name}`);
      await w.write(new Uint8Array([1]));
      await w.commit();
      if (name === 'a') rmSync(join(root, 'chk-1'), { recursive: true });
    }
    assert.deepEqual(readdirSync(join(root, 'chk-1')), ['b']);
    assert.ok(!readdirSync(join(root, 'chk-1')).some((n) => n.endsWith(IN_PROGRESS_SUFFIX)));
  });

  it('range reads: exact ranges, empty ranges up to the end, and ranges past the end rejected with the file size', async () => {
    const root = freshRoot();
    const fs = new LocalFileSystem(root);
    const w = await fs.create('f');
    await w.write(new Uint8Array([0, 1, 2, 3, 4]));
    await w.commit();
    assert.deepEqual([...(await fs.read('f', { offset: 1, length: 3 }))], [1, 2, 3]);
    assert.deepEqual([...(await fs.read('f', { offset: 5, length: 0 }))], []);
    await assert.rejects(fs.read('f', { offset: 6, length: 0 }), /outside the file of 5 bytes/);
    await assert.rejects(fs.read('f', { offset: 3, length: 3 }), /range \[3, \+3\) is outside the file of 5 bytes/);
    await assert.rejects(fs.read('f', { offset: -1, length: 1 }), /outside the file of 5 bytes/);
  });
});

describe('LocalFileSystem.linkFrom (hard links instead of copies)', () => {
  it('links the local file in: same bytes and inode, visible only once its directory fsync that saw it completed', async () => {
    const root = freshRoot();
    const local = join(freshRoot(), '000042.sst');
    writeFileSync(local, 'immutable sst bytes');
    const durable = new Set<string>();
    const fs = new LocalFileSystem(root, {
      fsyncDirectory: async (dir) => {
        const names = readdirSync(dir).map((n) => join(dir, n));
        await tick();
        for (const n of names) durable.add(n);
      },
    });
    assert.equal(await fs.linkFrom(local, 'shared/a'), true);
    assert.ok(durable.has(join(root, 'shared', 'a')), 'resolved after a directory fsync that saw the link');
    assert.equal(statSync(join(root, 'shared', 'a')).ino, statSync(local).ino, 'a hard link, not a copy');
    assert.equal(readFileSync(join(root, 'shared', 'a'), 'utf8'), 'immutable sst bytes');
  });

  it('concurrent links into a directory deleted behind its back all recreate it once and succeed', async () => {
    const root = freshRoot();
    const local = join(freshRoot(), '000007.sst');
    writeFileSync(local, 'sst');
    const fs = new LocalFileSystem(root);
    assert.equal(await fs.linkFrom(local, 'shared/first'), true);
    rmSync(join(root, 'shared'), { recursive: true });
    // Each call finds the directory missing; only one of them dropped the cached entry, and the
    // others gave up (StorageNotFoundError) before every call retried on its own.
    const names = Array.from({ length: 6 }, (_, i) => `shared/n${i}`);
    assert.deepEqual(await Promise.all(names.map((n) => fs.linkFrom(local, n))), names.map(() => true));
    assert.deepEqual(readdirSync(join(root, 'shared')).sort(), names.map((n) => n.slice('shared/'.length)).sort());
  });

  it('a failed directory fsync fails the link and removes it; another device is declined (false), nothing created', async () => {
    const root = freshRoot();
    const local = join(freshRoot(), 'f.sst');
    writeFileSync(local, 'x');
    const failing = new LocalFileSystem(root, { fsyncDirectory: () => Promise.reject(Object.assign(new Error('EIO: fsync'), { code: 'EIO' })) });
    await assert.rejects(failing.linkFrom(local, 'shared/a'), (e: unknown) => e instanceof StorageError && /link failed: EIO/.test(e.message));
    assert.equal(existsSync(join(root, 'shared', 'a')), false, 'no name left behind that was never durable');
    if (existsSync('/dev/shm')) {
      const other = freshRoot('/dev/shm');
      writeFileSync(join(other, 'f.sst'), 'y');
      assert.equal(await new LocalFileSystem(root).linkFrom(join(other, 'f.sst'), 'shared/b'), false, 'EXDEV: the caller copies');
      assert.equal(existsSync(join(root, 'shared', 'b')), false);
    }
  });

  it("syncs the local file's data before the link exists, unless the caller says it is synced (sourceSynced)", async () => {
    const root = freshRoot();
    const local = join(freshRoot(), '000043.sst');
    writeFileSync(local, 'sst');
    const synced: Array<{ path: string; linkedYet: boolean }> = [];
    const fs = new LocalFileSystem(root, { datasyncFile: async (p) => void synced.push({ path: p, linkedYet: existsSync(join(root, 'shared', 'a')) }) });
    assert.equal(await fs.linkFrom(local, 'shared/a'), true);
    assert.deepEqual(synced, [{ path: local, linkedYet: false }], 'synced once, before the name appeared');
    assert.equal(await fs.linkFrom(local, 'shared/b', { sourceSynced: true }), true);
    assert.equal(synced.length, 1, 'a source the caller made durable is not synced again');
    assert.equal(statSync(join(root, 'shared', 'b')).ino, statSync(local).ino);
  });

  it('whileSyncing runs once the link exists, alongside the directory fsync; its failure removes the link and rejects with its own error', async () => {
    const root = freshRoot();
    const local = join(freshRoot(), '000044.sst');
    writeFileSync(local, 'sst bytes');
    // An existing directory: the only directory fsync is the link's (none for a new entry in the root).
    mkdirSync(join(root, 'shared'));
    const { calls, fsync } = manualFsync();
    const fs = new LocalFileSystem(root, { fsyncDirectory: fsync });
    const seen: Array<{ path: string; exists: boolean; fsyncsPending: number }> = [];
    const linked = settledFlag(
      fs.linkFrom(local, 'shared/a', { whileSyncing: async (p) => void seen.push({ path: p, exists: existsSync(p), fsyncsPending: calls.length }) }).then(() => {}),
    );
    while (calls.length === 0) await tick();
    await tick();
    assert.deepEqual(seen, [{ path: join(root, 'shared', 'a'), exists: true, fsyncsPending: 1 }], 'ran through the new name while the fsync was still running');
    assert.equal(linked.done, false, 'not resolved before the directory fsync');
    calls[0]!.resolve();
    while (!linked.done) await tick();
    assert.equal(linked.error, undefined);

    const damaged = new Error('damaged: block checksum mismatch');
    const failing = fs.linkFrom(local, 'shared/b', { whileSyncing: () => Promise.reject(damaged) });
    while (calls.length < 2) await tick();
    calls[1]!.resolve();
    await assert.rejects(failing, (e: unknown) => e === damaged);
    assert.equal(existsSync(join(root, 'shared', 'b')), false, 'the link is removed');

    const thrown = new Error('thrown before any await');
    const throwing = fs.linkFrom(local, 'shared/c', {
      whileSyncing: () => {
        throw thrown;
      },
    });
    while (calls.length < 3) await tick();
    calls[2]!.resolve();
    await assert.rejects(throwing, (e: unknown) => e === thrown);
    assert.equal(existsSync(join(root, 'shared', 'c')), false, 'a callback throwing synchronously: the link is removed too');
  });

  it("an adoption with the caller's running data sync (sourceSyncing) links while it runs, resolves only after it, and a failed sync removes the link", async () => {
    const root = freshRoot();
    const local = join(freshRoot(), 'k.sst');
    writeFileSync(local, new Uint8Array(100).fill(5));
    // An existing directory: the only directory fsync is the link's (none for a new entry in the root).
    mkdirSync(join(root, 'shared'));
    const { calls, fsync } = manualFsync();
    const datasyncs: string[] = [];
    const fs = new LocalFileSystem(root, { fsyncDirectory: fsync, datasyncFile: async (p) => void datasyncs.push(p) });
    let finishSync!: () => void;
    const sourceSyncing = new Promise<void>((resolve) => (finishSync = resolve));
    const adopted = settledFlag(new FsCheckpointStateOutputStream(fs, 'shared/k').adoptLocalFile(local, { sourceSyncing }).then(() => {}));
    while (calls.length === 0) await tick();
    assert.ok(existsSync(join(root, 'shared', 'k')), 'linked while the sync runs');
    calls[0]!.resolve();
    for (let i = 0; i < 5; i++) await tick();
    assert.equal(adopted.done, false, 'the directory is durable, the data not yet');
    finishSync();
    while (!adopted.done) await tick();
    assert.equal(adopted.error, undefined);
    assert.deepEqual(datasyncs, [], 'the file system does not sync the data again');

    const failed = new Error('fdatasync: EIO');
    const failing = new FsCheckpointStateOutputStream(fs, 'shared/l').adoptLocalFile(local, { sourceSyncing: Promise.reject(failed), checksum: async () => ({ size: 100, checksum: 0 }) });
    while (calls.length < 2) await tick();
    calls[1]!.resolve();
    await assert.rejects(failing, (e: unknown) => e === failed);
    assert.equal(existsSync(join(root, 'shared', 'l')), false, 'the link of bytes that may not be durable is removed');
  });

  it("a file system whose linkFrom ignores whileSyncing: an adoption with a caller's checksum declines (the caller copies and checks) instead of linking unchecked", async () => {
    const root = freshRoot();
    const local = join(freshRoot(), 'h.sst');
    writeFileSync(local, new Uint8Array(1000).fill(3));
    class IgnoresWhileSyncing extends LocalFileSystem {
      override linkFrom(localPath: string, path: string): Promise<boolean> {
        return super.linkFrom(localPath, path);
      }
    }
    const fs = new IgnoresWhileSyncing(root);
    let checked = 0;
    const checksum = async () => {
      checked++;
      return { size: 1000, checksum: 0 };
    };
    const stream = new FsCheckpointStateOutputStream(fs, 'shared/h');
    assert.equal(await stream.adoptLocalFile(local, { checksum }), null, 'declined: the check never ran');
    assert.equal(checked, 0);
    assert.equal(existsSync(join(root, 'shared', 'h')), false, 'the unchecked link is removed');
    const unsynced = new FsCheckpointStateOutputStream(fs, 'shared/u');
    assert.equal(await unsynced.adoptLocalFile(local, { sourceSyncing: new Promise<void>(() => {}) }), null, 'declined: nothing waited for the sync');
    assert.equal(existsSync(join(root, 'shared', 'u')), false, 'the link of bytes that may not be durable is removed');
    await stream.write(new Uint8Array([9]));
    assert.equal((await stream.closeAndGetHandle()).size, 1, 'the stream stays open for the copy');
  });

  it("an adopting stream's handle from the caller's checksum (read through the new name) equals the one read back", async () => {
    const root = freshRoot();
    const local = join(freshRoot(), 'g.sst');
    const bytes = new Uint8Array((1 << 20) + 5).map((_, i) => (i * 13) & 0xff);
    writeFileSync(local, bytes);
    const fs = new LocalFileSystem(root);
    const readBack = await new FsCheckpointStateOutputStream(fs, 'shared/r').adoptLocalFile(local);
    const paths: string[] = [];
    const checksum = async (p: string) => {
      paths.push(p);
      const b = readFileSync(p);
      return { size: b.length, checksum: crc32c(b) };
    };
    const given = await new FsCheckpointStateOutputStream(fs, 'shared/c').adoptLocalFile(local, { checksum });
    assert.deepEqual(paths, [join(root, 'shared', 'c')], 'the checksum read the new name');
    assert.deepEqual(given, { ...readBack, path: 'shared/c' });
    assert.deepEqual(readBack, { type: 'file', path: 'shared/r', size: bytes.length, checksum: crc32c(bytes) });
  });

  it('a checkpoint stream adopts a local file with the CRC32C read back through the new name; without linkFrom, or after a write, it declines', async () => {
    const root = freshRoot();
    const local = join(freshRoot(), 'f.sst');
    const bytes = new Uint8Array(3 << 20).map((_, i) => (i * 7) & 0xff);
    writeFileSync(local, bytes);
    const adopted = await new FsCheckpointStateOutputStream(new LocalFileSystem(root), 'shared/x').adoptLocalFile(local);
    assert.deepEqual(adopted, { type: 'file', path: 'shared/x', size: bytes.length, checksum: crc32c(bytes) });
    assert.equal(await new FsCheckpointStateOutputStream(new MemoryFileSystem(), 'shared/y').adoptLocalFile(local), null, 'no linkFrom: the caller copies');
    const written = new FsCheckpointStateOutputStream(new LocalFileSystem(root), 'shared/z');
    await written.write(new Uint8Array([1]));
    assert.equal(await written.adoptLocalFile(local), null, 'bytes already written: not replaced by a link');
    await written.abort();
  });
});
