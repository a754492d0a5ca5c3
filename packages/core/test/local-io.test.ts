import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { isNotFoundErrno, StorageError, storageErrorFromErrno, StorageNotFoundError, threadPoolReads } from '@flowstate/core';

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
