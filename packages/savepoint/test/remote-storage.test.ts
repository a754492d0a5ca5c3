import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FileSystemRegistry, type FileSystemProvider } from '@flowstate/core';
import { localFileSystemProvider } from '@flowstate/storage-local';
import { s3FileSystemProvider } from '@flowstate/storage-s3';
import { s3rverClientConfig, startS3rver, type S3rverInstance } from '@flowstate/storage-s3/testing';
import { webHdfsFileSystemProvider } from '@flowstate/storage-hdfs';
import { WebHdfsTestServer } from '@flowstate/storage-hdfs/testing';
import { diffSavepoints, rescaleSavepoint, SavepointReader, SavepointWriter, validateSavepoint } from '../src/index.js';
import { KEYED_UID, writeFixture } from './fixture-data.js';
import { cleanup, FIXTURE_V1, tempDir } from './helpers.js';

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
    });
  }
});
