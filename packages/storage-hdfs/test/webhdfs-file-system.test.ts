import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FsCheckpointStorage, PathEscapeError, serializeCheckpointMetadata, StorageError, StorageNotFoundError, writeCommitted } from '@flowstate/core';
import { WebHdfsClient, WebHdfsConfigError, WebHdfsFileSystem, WebHdfsProtocolError, WebHdfsRenameRefusedError } from '../src/index.js';
import { WebHdfsTestServer, type FaultRule } from './webhdfs-server.js';
import { bytes, clientFor, proxyFetch } from './helpers.js';

const TEMP_RE = /\._COPYING_[0-9a-f-]{36}$/;

describe('WebHdfsFileSystem', () => {
  let server: WebHdfsTestServer;
  let client: WebHdfsClient;
  let fs: WebHdfsFileSystem;

  before(async () => {
    server = await WebHdfsTestServer.start({ listingPageSize: 2, requireUser: true });
    client = clientFor(server).client;
    fs = new WebHdfsFileSystem({ client, basePath: '/flowstate/job-1/', writeChunkSize: 1024 });
  });
  after(() => server.close());

  it('lists the temporary file of a writer that never committed as incomplete, for garbage collection', async () => {
    const w = await fs.create('crashed/state');
    await w.write(bytes(3000));
    // The writer "crashes": no commit, no abort.
    assert.deepEqual(await fs.list('crashed'), []);
    const incomplete = await fs.listIncomplete('crashed');
    assert.equal(incomplete.length, 1);
    assert.match(incomplete[0]!.path, TEMP_RE);
    await fs.deleteMany(incomplete.map((f) => f.path));
    assert.deepEqual(await fs.listIncomplete('crashed'), []);
  });

  it('rejects option values that would mean no work or endless retries', () => {
    assert.throws(() => new WebHdfsFileSystem({ client, basePath: '/x', concurrency: Number.NaN }), WebHdfsConfigError);
    assert.throws(() => new WebHdfsClient({ endpoint: server.namenodeUrl, retry: { maxAttempts: Number.NaN } }), WebHdfsConfigError);
  });

  it('describes itself without credentials', () => {
    const port = new URL(server.namenodeUrl).port;
    assert.equal(fs.scheme, 'hdfs');
    assert.equal(fs.displayRoot, `webhdfs://127.0.0.1:${port}/flowstate/job-1`);
    assert.equal(fs.basePath, '/flowstate/job-1');
    const withToken = new WebHdfsFileSystem({ client: { endpoint: server.namenodeUrl, delegationToken: 'SECRET-TOKEN' }, basePath: '/' });
    assert.ok(!withToken.displayRoot.includes('SECRET'));
    assert.throws(() => new WebHdfsFileSystem({ client, basePath: 'relative' }), WebHdfsConfigError);
    assert.throws(() => new WebHdfsFileSystem({ client, basePath: '/a/../b' }), WebHdfsConfigError);
  });

  it('writes through a hidden temporary file and publishes it by one atomic RENAME', async () => {
    const w = await fs.create('chk-1/state');
    await w.write(bytes(100));
    // Below the chunk size nothing has been sent yet; nothing is visible either way.
    assert.deepEqual(server.listFiles('/flowstate/job-1'), []);
    await w.write(bytes(2000, 2));
    const during = server.listFiles('/flowstate/job-1');
    assert.equal(during.length, 1);
    assert.match(during[0]!, /^\/flowstate\/job-1\/chk-1\/state\._COPYING_[0-9a-f-]{36}$/);
    assert.equal(await fs.stat('chk-1/state'), null);
    assert.deepEqual(await fs.list(''), [], 'the temporary file is not listed');

    const before = server.requestLog.length;
    await w.write(bytes(1, 3));
    await w.commit();
    const ops = server.requestLog.slice(before).filter((r) => r.role === 'namenode').map((r) => r.op);
    // GETFILESTATUS: the temporary file's length is checked before it is published.
    assert.deepEqual(ops, ['APPEND', 'GETFILESTATUS', 'RENAME']);
    const rename = server.requestLog.slice(before).find((r) => r.op === 'RENAME')!;
    assert.equal(rename.params['renameoptions'], 'OVERWRITE');
    assert.equal(rename.params['destination'], '/flowstate/job-1/chk-1/state');
    assert.deepEqual(server.listFiles('/flowstate/job-1'), ['/flowstate/job-1/chk-1/state']);
    assert.deepEqual(Buffer.from(await fs.read('chk-1/state')), Buffer.concat([bytes(100), bytes(2000, 2), bytes(1, 3)]));
  });

  it('sends one CREATE and then APPENDs of the chunk size', async () => {
    const before = server.requestLog.length;
    const w = await fs.create('chunks');
    for (let i = 0; i < 10; i++) await w.write(bytes(333, i + 1));
    await w.commit();
    const dn = server.requestLog.slice(before).filter((r) => r.role === 'datanode').map((r) => r.op);
    assert.deepEqual(dn, ['CREATE', 'APPEND', 'APPEND']);
    assert.equal((await fs.stat('chunks'))?.size, 3330);
    assert.equal(server.stats.namenodeBodyBytes, 0);
  });

  it('creates empty files, replaces existing ones, and copies the caller’s buffers', async () => {
    const empty = await fs.create('e/empty');
    await empty.commit();
    assert.deepEqual(await fs.stat('e/empty'), { path: 'e/empty', size: 0 });

    for (const content of ['first, longer content', 'second']) {
      const w = await fs.create('e/replaced');
      await w.write(Buffer.from(content));
      await w.commit();
    }
    assert.equal(Buffer.from(await fs.read('e/replaced')).toString(), 'second');

    const buf = Buffer.alloc(10, 7);
    const w = await fs.create('e/copied');
    await w.write(buf);
    buf.fill(9);
    await w.commit();
    assert.deepEqual(Buffer.from(await fs.read('e/copied')), Buffer.alloc(10, 7));
  });

  it('abort deletes the temporary file, is idempotent, and leaves an older version in place', async () => {
    const w0 = await fs.create('a/file');
    await w0.write(Buffer.from('old'));
    await w0.commit();
    const w = await fs.create('a/file');
    await w.write(bytes(5000));
    assert.equal(server.listFiles('/flowstate/job-1/a').length, 2);
    await w.abort();
    await w.abort();
    assert.deepEqual(server.listFiles('/flowstate/job-1/a'), ['/flowstate/job-1/a/file']);
    assert.equal(Buffer.from(await fs.read('a/file')).toString(), 'old');
    await assert.rejects(w.write(bytes(1)), StorageError);
    await assert.rejects(w.commit(), StorageError);
  });

  it('a committed writer refuses further writes and commits, and abort keeps the file', async () => {
    const w = await fs.create('c/done');
    await w.write(Buffer.from('x'));
    await w.commit();
    await assert.rejects(w.write(Buffer.from('y')), StorageError);
    await assert.rejects(w.commit(), StorageError);
    await w.abort();
    assert.deepEqual(await fs.stat('c/done'), { path: 'c/done', size: 1 });
  });

  it('reads ranges, and rejects ranges outside the file with non-transient errors', async () => {
    const w = await fs.create('r/f');
    await w.write(bytes(5000));
    await w.commit();
    assert.deepEqual(await fs.read('r/f', { offset: 4990, length: 10 }), bytes(5000).subarray(4990));
    assert.equal((await fs.read('r/f', { offset: 5000, length: 0 })).length, 0);
    for (const [offset, length] of [[4999, 2], [5000, 1], [5001, 0], [-1, 1], [0, 1.5]] as const) {
      await assert.rejects(fs.read('r/f', { offset, length }), (e: unknown) => e instanceof StorageError && !(e instanceof StorageNotFoundError) && !e.transient, `[${offset}, +${length})`);
    }
    await assert.rejects(fs.read('r/missing'), StorageNotFoundError);
    await assert.rejects(fs.read('r/missing', { offset: 0, length: 0 }), StorageNotFoundError);
    await assert.rejects(fs.read('r'), StorageNotFoundError, 'a directory is not a file');
  });

  it('lists recursively across pages, skipping temporary files and treating files as empty directories', async () => {
    const names = ['l/a', 'l/b', 'l/c/d', 'l/c/e/f', 'l/c/e/g', 'l/h', 'l2/x'];
    for (const n of names) {
      const w = await fs.create(n);
      await w.write(Buffer.from(n));
      await w.commit();
    }
    const pending = await fs.create('l/c/pending');
    await pending.write(bytes(2000));
    const listed = (await fs.list('l')).sort((x, y) => x.path.localeCompare(y.path));
    assert.deepEqual(listed, names.filter((n) => n.startsWith('l/')).map((n) => ({ path: n, size: n.length })));
    assert.deepEqual(await fs.list('l/a'), []);
    assert.deepEqual(await fs.list('nothing'), []);
    assert.ok(server.listFiles('/flowstate/job-1/l/c').some((p) => TEMP_RE.test(p)));
    await pending.abort();
  });

  it('delete, deleteMany and deleteDirectory are idempotent; deleteDirectory("") keeps the base', async () => {
    for (const n of ['d/1', 'd/2', 'd/3', 'd/sub/4', 'keep']) {
      const w = await fs.create(n);
      await w.commit();
    }
    await fs.delete('d/1');
    await fs.delete('d/1');
    await fs.deleteMany(['d/2', 'd/3', 'd/nope']);
    assert.deepEqual((await fs.list('d')).map((f) => f.path), ['d/sub/4']);
    await fs.deleteDirectory('d');
    await fs.deleteDirectory('d');
    assert.equal(server.exists('/flowstate/job-1/d'), false);
    await fs.deleteDirectory('');
    assert.deepEqual(await fs.list(''), []);
    assert.equal(server.exists('/flowstate/job-1'), true);
    await assert.rejects(fs.delete(''), StorageError);
  });

  describe('deleteEmptyDirectory', () => {
    const base = '/flowstate/job-1/ede';
    /** The DELETE requests the server got since `from`, as 'path recursive'. */
    const deletesSince = (from: number) => server.requestLog.slice(from).filter((r) => r.op === 'DELETE').map((r) => `${r.path} ${r.params['recursive']}`);

    it('removes an empty directory with a non-recursive DELETE, and answers true for one that is absent', async () => {
      await client.mkdirs(`${base}/empty/inner`);
      const from = server.requestLog.length;
      assert.equal(await fs.deleteEmptyDirectory('ede/empty/inner'), true);
      assert.equal(await fs.deleteEmptyDirectory('ede/empty'), true);
      assert.equal(server.exists(`${base}/empty`), false);
      assert.deepEqual(deletesSince(from), [`${base}/empty/inner false`, `${base}/empty false`]);
      assert.equal(await fs.deleteEmptyDirectory('ede/empty'), true, 'absent: nothing left to remove');
      assert.equal(await fs.deleteEmptyDirectory('ede/no/such/dir'), true);
    });

    it('leaves a directory that is not empty, even when all it holds is an empty directory listings do not show', async () => {
      await writeCommitted(fs, 'ede/full/file', (w) => w.write(bytes(10)));
      await client.mkdirs(`${base}/hidden/foreign`);
      assert.deepEqual(await fs.list('ede/hidden'), [], 'nothing listed');
      assert.equal(await fs.deleteEmptyDirectory('ede/full'), false);
      assert.equal(await fs.deleteEmptyDirectory('ede/hidden'), false);
      assert.equal(Buffer.from(await fs.read('ede/full/file')).length, 10);
      assert.equal(server.exists(`${base}/hidden/foreign`), true);
    });

    it('leaves a file alone without sending it a DELETE (which would delete a file too)', async () => {
      await writeCommitted(fs, 'ede/a-file', (w) => w.write(bytes(5)));
      const from = server.requestLog.length;
      assert.equal(await fs.deleteEmptyDirectory('ede/a-file'), false);
      assert.deepEqual(deletesSince(from), []);
      assert.equal((await fs.stat('ede/a-file'))?.size, 5);
      assert.equal(await fs.deleteEmptyDirectory('ede/a-file/below'), true, 'below a file: nothing there');
    });

    it("takes an older namenode's IOException 'is non empty' for a directory that is not empty", async () => {
      await writeCommitted(fs, 'ede/old/file', (w) => w.write(bytes(1)));
      // Namenodes before PathIsNotEmptyDirectoryException threw a plain IOException.
      const oldNamenode = proxyFetch({
        response: (u) =>
          u.searchParams.get('op') === 'DELETE'
            ? Response.json({ RemoteException: { exception: 'IOException', javaClassName: 'java.io.IOException', message: `${base}/old is non empty` } }, { status: 403 })
            : undefined,
      });
      const old = new WebHdfsFileSystem({ client: clientFor(server, { fetch: oldNamenode }).client, basePath: '/flowstate/job-1' });
      assert.equal(await old.deleteEmptyDirectory('ede/old'), false);
      assert.equal(server.exists(`${base}/old/file`), true);
    });

    it('refuses the root and paths outside it, before any request; other failures are typed errors naming the path', async () => {
      const from = server.requestLog.length;
      await assert.rejects(fs.deleteEmptyDirectory(''), StorageError);
      for (const bad of ['../x', '/abs', 'a/../../b', '%2e%2e/x']) await assert.rejects(fs.deleteEmptyDirectory(bad), PathEscapeError);
      assert.equal(server.requestLog.length, from);
      await client.mkdirs(`${base}/denied`);
      server.faults.add({ fault: { kind: 'status', status: 403, exception: 'AccessControlException', javaClassName: 'org.apache.hadoop.security.AccessControlException' }, op: 'DELETE', pathPrefix: `${base}/denied` });
      const err = await fs.deleteEmptyDirectory('ede/denied').catch((e: unknown) => e);
      assert.ok(err instanceof StorageError, String(err));
      assert.equal(err.code, 'STORAGE_ACCESS_DENIED');
      assert.equal(err.path, client.uri(`${base}/denied`));
      assert.equal(server.exists(`${base}/denied`), true);
      server.faults.clear();
      server.resetFaultCounts();
    });
  });

  it('treats ParentNotDirectoryException (a parent is a file) like a missing path', async () => {
    const w = await fs.create('pnd/file');
    await w.commit();
    const pnd: FaultRule['fault'] = { kind: 'status', status: 403, exception: 'ParentNotDirectoryException', javaClassName: 'org.apache.hadoop.fs.ParentNotDirectoryException' };
    for (const op of ['GETFILESTATUS', 'LISTSTATUS_BATCH', 'OPEN', 'DELETE']) server.faults.add({ fault: pnd, op, pathPrefix: '/flowstate/job-1/pnd/file/' });
    assert.equal(await fs.stat('pnd/file/x'), null);
    assert.deepEqual(await fs.list('pnd/file/x'), []);
    await assert.rejects(fs.read('pnd/file/x'), StorageNotFoundError);
    await fs.delete('pnd/file/x');
    assert.equal(server.faultCounts()['status:403'], 4);
    server.faults.clear();
  });

  it('confines every path before any request is made', async () => {
    const before = server.requestLog.length;
    for (const bad of ['../x', '/abs', 'a/../../b', '%2e%2e/x', 'a\\b', 'hdfs://nn/x', 'a//b']) {
      await assert.rejects(fs.create(bad), PathEscapeError);
      await assert.rejects(fs.read(bad), PathEscapeError);
      await assert.rejects(fs.stat(bad), PathEscapeError);
      await assert.rejects(fs.list(bad), PathEscapeError);
      await assert.rejects(fs.delete(bad), PathEscapeError);
      await assert.rejects(fs.deleteMany(['ok', bad]), PathEscapeError);
      await assert.rejects(fs.deleteDirectory(bad), PathEscapeError);
    }
    assert.equal(server.requestLog.length, before);
  });

  it('handles awkward names, and keeps temporary names under the 255-byte component limit', async () => {
    const long = 'ü'.repeat(120); // 240 bytes: fine as a name, too long with a temp suffix appended
    for (const name of ['with space', 'plus+hash#q?', 'ünï✓', long]) {
      const w = await fs.create(`n/${name}`);
      await w.write(Buffer.from(name));
      await w.commit();
      assert.equal(Buffer.from(await fs.read(`n/${name}`)).toString(), name);
    }
    assert.equal((await fs.list('n')).length, 4);
    await assert.rejects(fs.create(`n/x._COPYING_${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}`), StorageError);
  });

  it('refuses to replace a file through a server that ignores renameoptions (HttpFS), keeping the old one', async () => {
    // HttpFS defines only `destination` for RENAME, so it runs the legacy rename, which answers
    // {"boolean": false} instead of replacing an existing file.
    const httpFs = proxyFetch({
      url: (u) => {
        if (u.searchParams.get('op') === 'RENAME') u.searchParams.delete('renameoptions');
        return u;
      },
    });
    const gw = new WebHdfsFileSystem({ client: clientFor(server, { fetch: httpFs }).client, basePath: '/flowstate/httpfs' });
    const write = (content: string) => writeCommitted(gw, 'chk-1/_metadata', (w) => w.write(Buffer.from(content)));
    await write('OLD');
    assert.equal(Buffer.from(await gw.read('chk-1/_metadata')).toString(), 'OLD', 'a new file is published by the legacy rename');
    const err = await write('NEW-CONTENT').catch((e: unknown) => e);
    assert.ok(err instanceof WebHdfsRenameRefusedError, `expected WebHdfsRenameRefusedError, got ${String(err)}`);
    assert.equal(err.code, 'WEBHDFS_RENAME_REFUSED');
    assert.equal(err.transient, false);
    assert.match(err.path, /^webhdfs:\/\/127\.0\.0\.1:\d+\/flowstate\/httpfs\/chk-1\/_metadata\._COPYING_/);
    assert.ok(err.message.includes(`'${gw.client.uri('/flowstate/httpfs/chk-1/_metadata')}'`), err.message);
    assert.equal(Buffer.from(await gw.read('chk-1/_metadata')).toString(), 'OLD');
    assert.deepEqual(server.listFiles('/flowstate/httpfs'), ['/flowstate/httpfs/chk-1/_metadata'], 'the temporary file was aborted');
  });

  it('fails on a 404 that is not from WebHDFS (wrong gateway prefix) instead of seeing an empty store', async () => {
    server.writeFile('/flowstate/job-1/chk-9/_metadata', Buffer.from('meta'));
    // The test server answers a bare text/plain 404 outside /webhdfs/v1, like any web server.
    const wrong = new WebHdfsFileSystem({ client: { endpoint: `${server.namenodeUrl}/gateway/default`, user: 'flink' }, basePath: '/flowstate/job-1' });
    const isProtocolError = (e: unknown) =>
      e instanceof WebHdfsProtocolError && !(e instanceof StorageNotFoundError) && e.code === 'STORAGE_PROTOCOL_ERROR' && !e.transient && e.httpStatus === 404 && e.path.startsWith('webhdfs://');
    await assert.rejects(wrong.list(''), isProtocolError);
    await assert.rejects(wrong.stat('chk-9/_metadata'), isProtocolError);
    await assert.rejects(wrong.read('chk-9/_metadata'), isProtocolError);
    await assert.rejects(new FsCheckpointStorage(wrong).listCompletedCheckpoints(), isProtocolError);
    // A real FileNotFoundException still means "nothing there".
    assert.equal(await fs.stat('chk-9/none'), null);
    assert.deepEqual(await fs.list('no-such-dir'), []);
    await fs.deleteDirectory('chk-9');
  });

  it('serves FsCheckpointStorage end to end', async () => {
    const storage = new FsCheckpointStorage(fs, { writeBufferSize: 700 });
    assert.match(storage.description, /^checkpoint storage at webhdfs:\/\//);
    const loc = await storage.initializeLocationForCheckpoint(7);
    const out = loc.streamFactory.createCheckpointStateOutputStream('SHARED');
    for (let i = 0; i < 10; i++) await out.write(bytes(500, i + 1));
    const handle = await out.closeAndGetHandle();
    const subtasks = [{ subtaskIndex: 0, keyed: [], operator: [], channelState: [handle] }];
    const metadata = serializeCheckpointMetadata({ checkpointId: 7, kind: 'CHECKPOINT', timestamp: 0, operators: [{ uid: 'op', parallelism: 1, maxParallelism: 1, subtasks }] });
    await loc.finalizeCheckpoint(metadata);
    assert.deepEqual(await storage.listCompletedCheckpoints(), ['chk-7']);
    const resolved = await storage.resolveCheckpoint('chk-7');
    assert.deepEqual(Buffer.from(resolved.metadata), Buffer.from(metadata));
    assert.equal((await storage.readFully(handle, 7)).length, 5000);
    assert.deepEqual(await storage.readRange(handle, 500, 500, 7), bytes(500, 2));
    await storage.discardCheckpoint(7);
    assert.deepEqual(await storage.listCompletedCheckpoints(), []);
  });
});
