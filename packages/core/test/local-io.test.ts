import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackgroundDataSync, fileDataSyncable, poolSyncLimit, isNotFoundErrno, startSyncThreads, StorageConfigError, StorageError, storageErrorFromErrno, StorageNotFoundError, syncCounts, threadPoolReads } from '@flowstate/core';

const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`${code}: failed`), { code });

describe('local file errors and read concurrency', () => {
  it('storageErrorFromErrno: a missing file is StorageNotFoundError, other failures a StorageError naming the code', () => {
    for (const code of ['ENOENT', 'ENOTDIR']) {
      const e = storageErrorFromErrno('/x/f', 'open', errno(code));
      assert.ok(e instanceof StorageNotFoundError, code);
      assert.equal(e.path, '/x/f');
      assert.ok(isNotFoundErrno(errno(code)));
    }
    const denied = storageErrorFromErrno('/x/f', 'read', errno('EACCES'));
    assert.ok(denied instanceof StorageError && !(denied instanceof StorageNotFoundError));
    assert.match(denied.message, /read failed: EACCES \(permission denied\)/);
    assert.equal(denied.transient, false);
    assert.ok(!isNotFoundErrno(errno('EACCES')));
    const plain = storageErrorFromErrno('/x/f', 'stat', new Error('no code here'));
    assert.match(plain.message, /stat failed: no code here/);
    assert.equal(plain.transient, false);
  });

  it('storageErrorFromErrno: busy, interrupted and out-of-descriptor failures are transient, the rest are not', () => {
    for (const code of ['EAGAIN', 'EBUSY', 'EINTR', 'EMFILE', 'ENFILE']) {
      assert.equal(storageErrorFromErrno('/f', 'open', errno(code)).transient, true, code);
    }
    for (const code of ['EACCES', 'EPERM', 'EISDIR', 'ELOOP', 'EIO', 'ENAMETOOLONG']) {
      assert.equal(storageErrorFromErrno('/f', 'open', errno(code)).transient, false, code);
    }
  });

  it("threadPoolReads follows UV_THREADPOOL_SIZE: default 4, bad values give the default, large ones are capped", () => {
    assert.equal(threadPoolReads({}), 4);
    assert.equal(threadPoolReads({ UV_THREADPOOL_SIZE: '8' }), 8);
    assert.equal(threadPoolReads({ UV_THREADPOOL_SIZE: ' 2 ' }), 2);
    for (const bad of ['', '0', '-3', 'abc', '1.5']) assert.equal(threadPoolReads({ UV_THREADPOOL_SIZE: bad }), 4, `'${bad}'`);
    assert.equal(threadPoolReads({ UV_THREADPOOL_SIZE: '100000' }), 128);
  });
});

/** A file whose data syncs the test completes or fails by hand. */
function manualSyncs() {
  const calls: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  const bytes = { written: 0 };
  const file = {
    // Short writes (at most 64 bytes a call): BackgroundDataSync.write must go on until all are written.
    write: async (_b: Uint8Array, _o: number, length: number) => {
      const bytesWritten = Math.min(length, 64);
      bytes.written += bytesWritten;
      return { bytesWritten };
    },
    startDataSync: (): Promise<void> | undefined => new Promise<void>((resolve, reject) => void calls.push({ resolve, reject })),
  };
  return { calls, file, bytes };
}
const tick = () => new Promise<void>((r) => setImmediate(r));
const eio = () => Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });

/** A write of `n` bytes through `bg`. */
const write = (bg: BackgroundDataSync, n: number): Promise<void> => bg.write(new Uint8Array(n));

describe('BackgroundDataSync', () => {
  it('starts a sync before a write once everyBytes were written since the last start, never two at once; the last write starts none', async () => {
    const { calls, file, bytes } = manualSyncs();
    const bg = new BackgroundDataSync(file, 100);
    await write(bg, 60);
    await write(bg, 40);
    assert.equal(calls.length, 0, 'nothing before a write that follows 100 bytes');
    await write(bg, 500);
    assert.equal(calls.length, 1, 'the write after 100 bytes starts one, for them');
    await write(bg, 500);
    assert.equal(calls.length, 1, 'one runs: no second');
    calls[0]!.resolve();
    await tick();
    await write(bg, 1);
    assert.equal(calls.length, 2, 'the bytes written while it ran start the next once it ended');
    calls[1]!.resolve();
    await bg.finish();
    assert.equal(bg.started, 2);
    assert.equal(bytes.written, 60 + 40 + 500 + 500 + 1, 'every byte of every write, in short writes');
  });

  it('finish starts no more syncs; everyBytes 0 never starts one; a bad threshold is a StorageConfigError', async () => {
    const { calls, file } = manualSyncs();
    const bg = new BackgroundDataSync(file, 10);
    await write(bg, 10);
    await bg.finish();
    await write(bg, 10);
    assert.equal(calls.length, 0, 'after finish: none');
    const off = new BackgroundDataSync(file, 0);
    await write(off, 4096);
    await write(off, 1);
    await off.finish();
    assert.equal(calls.length, 0);
    for (const bad of [-1, 1.5, NaN, Infinity]) assert.throws(() => new BackgroundDataSync(file, bad), StorageConfigError, String(bad));
  });

  it('a file whose startDataSync starts none counts nothing and tries again before its next write', async () => {
    const { calls, file } = manualSyncs();
    let refuse = 2;
    const bg = new BackgroundDataSync({ write: file.write, startDataSync: () => (refuse > 0 ? (refuse--, undefined) : file.startDataSync()) }, 10);
    await write(bg, 10);
    await write(bg, 1);
    await write(bg, 1);
    assert.equal(bg.started, 0, 'refused twice: none started');
    await write(bg, 1);
    assert.equal(bg.started, 1, 'the third try starts it');
    assert.equal(calls.length, 1);
    calls[0]!.resolve();
    await bg.finish();
  });

  it("poolSyncLimit is half of UV_THREADPOOL_SIZE's threads, at least one", () => {
    assert.equal(poolSyncLimit({}), 2);
    assert.equal(poolSyncLimit({ UV_THREADPOOL_SIZE: '1' }), 1);
    assert.equal(poolSyncLimit({ UV_THREADPOOL_SIZE: '9' }), 4);
  });

  it("a FileHandle's background syncs past the pool's share run on a sync thread (fileDataSyncable: optionalSync), not skipped", async () => {
    // The module '@flowstate/core' loads (same file, same slots): its test hook takes the pool's share.
    const st = (await import(new URL('../src/storage/sync-threads.js', import.meta.resolve('@flowstate/core')).href)) as { takePoolSync(): boolean; releasePoolSync(): void };
    const setting = process.env['FLOWSTATE_SYNC_THREADS'];
    process.env['FLOWSTATE_SYNC_THREADS'] = '2';
    const dir = mkdtempSync(join(tmpdir(), 'flowstate-background-sync-'));
    let taken = 0;
    try {
      await startSyncThreads();
      while (st.takePoolSync()) taken++;
      const fh = await open(join(dir, 'f'), 'w');
      const bg = new BackgroundDataSync(fileDataSyncable(fh), 10);
      try {
        const before = syncCounts();
        await write(bg, 10);
        await write(bg, 5);
        assert.equal(bg.started, 1, 'started, not skipped');
        assert.equal(syncCounts().threads - before.threads, 1, 'on a sync thread');
        assert.equal(syncCounts().pool, before.pool, 'not on the pool');
        await bg.finish();
      } finally {
        // The sync uses the raw descriptor: it ends before the file closes, also after a failed assertion.
        await bg.finish().catch(() => {});
        await fh.close();
      }
      assert.equal(readFileSync(join(dir, 'f')).length, 15);
    } finally {
      for (; taken > 0; taken--) st.releasePoolSync();
      if (setting === undefined) delete process.env['FLOWSTATE_SYNC_THREADS'];
      else process.env['FLOWSTATE_SYNC_THREADS'] = setting;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a background datasync that throws instead of rejecting fails the file', async () => {
    const throwing = new BackgroundDataSync({ write: async (_b, _o, l) => ({ bytesWritten: l }), startDataSync: () => { throw new Error('thrown'); } }, 1);
    await throwing.write(new Uint8Array(1));
    await throwing.write(new Uint8Array(1));
    assert.equal(throwing.started, 1);
    await assert.rejects(throwing.finish(), /thrown/);
  });

  it('finish waits for the running sync and rethrows the first failure, also one while it waits and after later syncs succeeded', async () => {
    const { calls, file } = manualSyncs();
    const bg = new BackgroundDataSync(file, 10);
    await write(bg, 10);
    await write(bg, 10);
    calls[0]!.reject(eio());
    await tick();
    await write(bg, 10);
    calls[1]!.resolve();
    // The commit's own fsync would not see the failure again: finish must.
    await assert.rejects(bg.finish(), /EIO/);
    await assert.rejects(bg.finish(), /EIO/, 'every later finish too');
    const waiting = new BackgroundDataSync(file, 10);
    await write(waiting, 10);
    await write(waiting, 10);
    let settled = false;
    const f = waiting.finish().catch((e: unknown) => ((settled = true), e));
    await tick();
    assert.equal(settled, false, 'finish waits for the running sync');
    calls[2]!.reject(eio());
    assert.match(String(await f), /EIO/);
  });
});
