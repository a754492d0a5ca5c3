import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { FileSystemRegistry, Serializers, StorageNotFoundError, ValueStateDescriptor, type FileSystemProvider } from '@flowstate/core';
import { localFileSystemProvider } from '@flowstate/storage-local';
import { s3FileSystemProvider } from '@flowstate/storage-s3';
import { s3rverClientConfig, startS3rver, type S3rverInstance } from '@flowstate/storage-s3/testing';
import { webHdfsFileSystemProvider, type WebHdfsFileSystem } from '@flowstate/storage-hdfs';
import { WebHdfsTestServer } from '@flowstate/storage-hdfs/testing';
import { diffSavepoints, disposeSavepoint, rescaleSavepoint, SavepointReader, SavepointWriter, validateSavepoint } from '../src/index.js';
import { deleteLocationIfEmpty } from '../src/location.js';
import { KEYED_UID, writeFixture } from './fixture-data.js';
import { cleanup, FIXTURE_V1, HEAP, tempDir } from './helpers.js';

// The library on S3 and HDFS through an explicitly built FileSystemRegistry (no environment, no
// process-wide registration needed): write (bootstrap), read, validate, rescale across storages.
let s3: S3rverInstance | undefined;
let hdfs: WebHdfsTestServer | undefined;
let fileSystems: FileSystemRegistry;
const local = tempDir();

before(async () => {
  s3 = await startS3rver({ buckets: ['lib'] });
  hdfs = await WebHdfsTestServer.start({ requireUser: true });
  const s3Provider: FileSystemProvider = s3FileSystemProvider({ clientConfig: s3rverClientConfig(s3.endpoint) });
  fileSystems = new FileSystemRegistry()
    .register(localFileSystemProvider)
    .register(s3Provider)
    .register(webHdfsFileSystemProvider({ client: { endpoint: hdfs.namenodeUrl, user: 'flink' } }));
});

after(async () => {
  await s3?.stop();
  await hdfs?.close();
  cleanup(local);
});

describe('savepoints on remote storage, by URI (library)', () => {
  for (const [name, base] of [
    ['S3', () => 's3://lib/savepoints'],
    ['HDFS', () => `webhdfs://${new URL(hdfs!.namenodeUrl).host}/flowstate/savepoints`],
  ] as const) {
    it(`${name}: a bootstrapped savepoint is written, read, validated and rescaled there`, async () => {
      const sp = `${base()}/bootstrapped`;
      const written = await writeFixture(sp, { fileSystems });
      assert.equal(written.directory, sp);
      const reader = await SavepointReader.load(sp, { fileSystems });
      const fixture = await SavepointReader.load(FIXTURE_V1, { fileSystems });
      assert.equal((await diffSavepoints(fixture, reader)).equal, true, 'same state as the committed fixture');
      assert.equal((await validateSavepoint(sp, { fileSystems })).ok, true);
      let n = 0;
      for await (const _ of reader.readKeyedState(KEYED_UID, 'count')) n++;
      assert.equal(n, 40);
      // Across storages (remote in, local out), remote to remote, and a non-empty remote output is refused.
      const rescaled = `${local}/rescaled-${name}`;
      await rescaleSavepoint(sp, rescaled, { maxParallelism: 32, parallelism: 3 }, { fileSystems });
      assert.equal((await validateSavepoint(rescaled, { fileSystems })).ok, true);
      const copy = `${base()}/copy`;
      await SavepointWriter.fromExisting(reader).write(copy);
      assert.equal((await validateSavepoint(copy, { fileSystems })).ok, true);
      await assert.rejects(SavepointWriter.fromExisting(reader).write(copy), /not empty/);
      // Disposed there: nothing is left in the listings, so the directory goes too.
      const disposed = await disposeSavepoint(copy, { fileSystems });
      assert.deepEqual([disposed.leftAlone, disposed.directoryRemoved], [[], true]);
      assert.deepEqual(await fileSystems.resolve(new URL(copy)).list(''), []);
    });
  }
});

describe('dispose on HDFS, which has directories its listings do not show when empty', () => {
  // No file is listed once the savepoint's files went, yet the directory is not empty: a recursive
  // DELETE of it (what dispose did) took someone else's empty directory along. Each directory now
  // goes with FileSystem.deleteEmptyDirectory (a non-recursive DELETE), only if empty.
  it("leaves an empty directory that is not the savepoint's alone", async () => {
    const sp = `webhdfs://${new URL(hdfs!.namenodeUrl).host}/flowstate/foreign-empty`;
    await writeFixture(sp, { fileSystems });
    const fs = fileSystems.resolve(new URL(sp)) as WebHdfsFileSystem;
    await fs.client.mkdirs(`${fs.basePath}/foreign`);
    const disposed = await disposeSavepoint(sp, { fileSystems });
    assert.deepEqual(await fs.list(''), [], "the savepoint's files went");
    const left = await fs.client.listStatus(fs.basePath).catch(() => []);
    assert.deepEqual(left.map((st) => `${st.pathSuffix} ${st.type}`), ['foreign DIRECTORY'], 'the foreign empty directory is still there');
    assert.equal(disposed.directoryRemoved, false);
  });

  it('removes its own empty directories deepest first, then its own directory, each only if empty', async () => {
    const sp = new URL(`webhdfs://${new URL(hdfs!.namenodeUrl).host}/flowstate/owned-dirs`);
    const fs = fileSystems.resolve(sp) as WebHdfsFileSystem;
    await fs.client.mkdirs(`${fs.basePath}/a/b`);
    await fs.client.mkdirs(`${fs.basePath}/foreign`);
    assert.equal(await deleteLocationIfEmpty(sp, fs, fileSystems, ['a', 'a/b'], []), false, 'foreign/ is left in it');
    assert.deepEqual((await fs.client.listStatus(fs.basePath)).map((st) => st.pathSuffix), ['foreign']);
    await fs.client.delete(`${fs.basePath}/foreign`);
    assert.equal(await deleteLocationIfEmpty(sp, fs, fileSystems, [], []), true);
    await assert.rejects(fs.client.getFileStatus(fs.basePath), StorageNotFoundError);
  });
});

/** The HTTP requests this process sends to `port` while `fn` runs, as 'METHOD path range' (Node's http client diagnostics channel). */
async function requestsTo<T>(port: number, fn: () => Promise<T>): Promise<{ result: T; requests: string[] }> {
  const requests: string[] = [];
  const onStart = (message: unknown) => {
    const request = (message as { request: ClientRequest }).request;
    if (Number(request.getHeader('host')?.toString().split(':')[1]) === port) requests.push(`${request.method} ${request.path} ${request.getHeader('range')?.toString() ?? ''}`);
  };
  subscribe('http.client.request.start', onStart);
  try {
    return { result: await fn(), requests };
  } finally {
    unsubscribe('http.client.request.start', onStart);
  }
}

describe('reads of key groups on remote storage are coalesced (issue 16)', () => {
  // 2,000 keys over maxParallelism 128: every key group holds state, so reading one request per key
  // group would send 128 data reads; coalesced, each handle is one header read and one read of its
  // key groups (both far below the 8 MiB a coalesced read may span).
  const HANDLES = 2;
  const total = new ValueStateDescriptor<number>('total', Serializers.int32);
  const write = (dir: string) =>
    SavepointWriter.newSavepoint({ maxParallelism: 128, ...HEAP, fileSystems })
      .withKeyedOperator('k', {
        data: Array.from({ length: 2000 }, (_, i) => i),
        keySelector: (n: number) => n,
        keySerializer: Serializers.int32,
        parallelism: HANDLES,
        bootstrap: { processElement: (n, ctx) => ctx.getState(total).update(n) },
      })
      .write(dir);
  const readAll = async (dir: string) => {
    const reader = await SavepointReader.load(dir, { fileSystems });
    let n = 0;
    for await (const _ of reader.readKeyedState('k', 'total')) n++;
    return n;
  };

  it('S3: reading every key group of a savepoint sends one GET per handle for its key groups', async () => {
    const dir = 's3://lib/coalesced';
    await write(dir);
    const { result, requests } = await requestsTo(s3!.port, () => readAll(dir));
    assert.equal(result, 2000);
    // Distinct reads: a retried request (the same object and range) is one read.
    const gets = [...new Set(requests.filter((r) => r.startsWith('GET ') && !r.includes('list-type')))];
    // _metadata, then per handle its header and its key groups.
    assert.ok(gets.length <= 1 + 2 * HANDLES, `${gets.length} GETs, the first: ${gets.slice(0, 4).join(', ')}`);
    assert.ok(gets.length >= 1 + HANDLES, 'the counter sees the reads');
  });

  it('HDFS: reading every key group of a savepoint opens each handle once for its key groups', async () => {
    const dir = `webhdfs://${new URL(hdfs!.namenodeUrl).host}/flowstate/coalesced`;
    await write(dir);
    const before = hdfs!.stats.datanodeRequests;
    assert.equal(await readAll(dir), 2000);
    const reads = hdfs!.stats.datanodeRequests - before;
    assert.ok(reads <= 1 + 2 * HANDLES, `${reads} datanode reads`);
    assert.ok(reads >= 1 + HANDLES, 'the counter sees the reads');
  });
});
