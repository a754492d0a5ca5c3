import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { BackgroundDataSync, isNotFoundErrno, StorageError, storageErrorFromErrno, StorageNotFoundError, threadPoolReads } from '@flowstate/core';

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
  return { calls, file: { datasync: () => new Promise<void>((resolve, reject) => void calls.push({ resolve, reject })) } };
}
const tick = () => new Promise<void>((r) => setImmediate(r));

describe('BackgroundDataSync', () => {
  it('starts a sync once everyBytes were written since the last start, never two at once', async () => {
    const { calls, file } = manualSyncs();
    const bg = new BackgroundDataSync(file, 100);
    bg.wrote(60);
    assert.equal(calls.length, 0, 'under everyBytes: none');
    bg.wrote(40);
    assert.equal(calls.length, 1, 'everyBytes reached: one starts');
    bg.wrote(500);
    assert.equal(calls.length, 1, 'one runs: no second');
    calls[0]!.resolve();
    await tick();
    bg.wrote(1);
    assert.equal(calls.length, 2, 'the bytes written while it ran start the next once it ended');
    calls[1]!.resolve();
    await bg.settle();
    assert.equal(bg.started, 2);
  });

  it('everyBytes 0 never starts one', async () => {
    const { calls, file } = manualSyncs();
    const bg = new BackgroundDataSync(file, 0);
    bg.wrote(1 << 30);
    await bg.settle();
    assert.equal(calls.length, 0);
  });

  it('settle waits for the running sync and rethrows the first failure, also after later syncs succeeded', async () => {
    const { calls, file } = manualSyncs();
    const bg = new BackgroundDataSync(file, 10);
    bg.wrote(10);
    let settled = false;
    const s = bg.settle().then(() => void (settled = true));
    await tick();
    assert.equal(settled, false, 'settle waits for the running sync');
    calls[0]!.resolve();
    await s;
    bg.wrote(10);
    const eio = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    calls[1]!.reject(eio);
    await tick();
    bg.wrote(10);
    calls[2]!.resolve();
    // The commit's own fsync would not see the failure again: settle must.
    await assert.rejects(bg.settle(), (e) => e === eio);
    await assert.rejects(bg.settle(), (e) => e === eio, 'every later settle too');
  });
});
