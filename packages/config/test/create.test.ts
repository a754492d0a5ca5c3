/** From a configuration to backends, storages and restore points. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FsCheckpointStorage, JobManagerCheckpointStorage, type StateBackend } from '@flowstate/core';
import { FsStateBackend, MemoryStateBackend } from '@flowstate/heap';
import { RocksDBStateBackend } from '@flowstate/rocksdb';
import {
  Configuration,
  InvalidConfigurationValueError,
  createCheckpointStorage,
  createFromConfiguration,
  createStateBackend,
  openLocation,
  openRestorePoint,
  storageEnvironment,
} from '../src/index.js';
import { testDirectory } from './test-directory.js';

const dir = testDirectory('flowstate-config-create-');

describe('state backends', () => {
  it('hashmap (the default), memory and rocksdb are built in', () => {
    assert.ok(createStateBackend(Configuration.fromMap({})) instanceof FsStateBackend);
    assert.ok(createStateBackend(Configuration.fromMap({ 'state.backend.type': 'memory' })) instanceof MemoryStateBackend);
    assert.ok(createStateBackend(Configuration.fromMap({ 'state.backend': 'rocksdb' })) instanceof RocksDBStateBackend);
  });

  it("rocksdb gets Flink's defaults, and the configured values", () => {
    const defaults = createStateBackend(Configuration.fromMap({ 'state.backend.type': 'rocksdb' })) as RocksDBStateBackend;
    assert.deepEqual(defaults.options, { incrementalCheckpoints: false, blockCacheSize: 8 << 20, writeBufferSize: 64 << 20, maxWriteBufferNumber: 2, compression: 'snappy', timerServiceFactory: 'ROCKSDB' });
    const set = createStateBackend(
      Configuration.fromMap({
        'state.backend.type': 'rocksdb',
        'state.backend.incremental': true,
        'state.backend.rocksdb.block.cache-size': '128 mb',
        'state.backend.rocksdb.writebuffer.size': '16 mb',
        'state.backend.rocksdb.writebuffer.count': 4,
        'state.backend.rocksdb.compression.per.level': 'ZSTD_COMPRESSION',
        'state.backend.rocksdb.localdir': `file://${dir}/rocks`,
        'state.backend.rocksdb.timer-service.factory': 'heap',
      }),
    ) as RocksDBStateBackend;
    assert.deepEqual(set.options, { incrementalCheckpoints: true, blockCacheSize: 128 << 20, writeBufferSize: 16 << 20, maxWriteBufferNumber: 4, compression: 'zstd', timerServiceFactory: 'HEAP', localDirectory: `${dir}/rocks` });
  });

  it('rocksdb gets several local directories (file:// URIs as paths) as localDirectories, one as localDirectory', () => {
    const several = createStateBackend(
      Configuration.fromMap({ 'state.backend.type': 'rocksdb', 'state.backend.rocksdb.localdir': `file://${dir}/rocks-1:${dir}/rocks%202,file://${dir}/rocks%203` }),
    ) as RocksDBStateBackend;
    assert.deepEqual(several.options.localDirectories, [`${dir}/rocks-1`, `${dir}/rocks%202`, `${dir}/rocks 3`]);
    assert.equal(several.options.localDirectory, undefined);
    const one = createStateBackend(Configuration.fromMap({ 'state.backend.type': 'rocksdb', 'state.backend.rocksdb.localdir': `file:${dir}/rocks` })) as RocksDBStateBackend;
    assert.equal(one.options.localDirectory, `${dir}/rocks`);
    assert.equal(one.options.localDirectories, undefined);
  });

  it('lmdb, or any other name, comes from the caller; without it the error names the key and the choices', () => {
    const lmdb: StateBackend = new MemoryStateBackend();
    assert.equal(createStateBackend(Configuration.fromMap({ 'state.backend.type': 'lmdb' }), { backends: { lmdb: () => lmdb } }), lmdb);
    assert.throws(
      () => createStateBackend(Configuration.fromMap({ 'state.backend.type': 'lmdb' })),
      (e: Error) => e instanceof InvalidConfigurationValueError && e.key === 'state.backend.type' && /hashmap, memory, rocksdb/.test(e.message) && /backends: \{ lmdb/.test(e.message),
    );
  });

  it('a caller may replace a built-in backend', () => {
    const mine = new FsStateBackend();
    assert.equal(createStateBackend(Configuration.fromMap({}), { backends: { hashmap: () => mine } }), mine);
  });
});

describe('checkpoint storage', () => {
  it("is 'jobmanager' (in memory) without a directory, 'filesystem' with one, as Flink chooses", () => {
    assert.ok(createCheckpointStorage(Configuration.fromMap({})) instanceof JobManagerCheckpointStorage);
    const fs = createCheckpointStorage(Configuration.fromMap({ 'state.checkpoints.dir': join(dir, 'ckpt') }));
    assert.ok(fs instanceof FsCheckpointStorage);
    assert.equal(fs.description, `checkpoint storage at ${join(dir, 'ckpt')}`);
    assert.ok(createCheckpointStorage(Configuration.fromMap({ 'state.checkpoints.dir': join(dir, 'ckpt'), 'state.checkpoint-storage': 'jobmanager' })) instanceof JobManagerCheckpointStorage);
  });

  it('opens s3://, webhdfs:// and hdfs:// locations through the registered storages', () => {
    const s3 = openLocation(Configuration.fromMap({}), 's3://bucket/prefix', { env: { AWS_REGION: 'us-east-1' } });
    assert.equal(s3.scheme, 's3');
    assert.equal(openLocation(Configuration.fromMap({}), 'webhdfs://namenode:9870/flowstate').scheme, 'hdfs');
    assert.equal(openLocation(Configuration.fromMap({}), 'hdfs://namenode:9870/flowstate').scheme, 'hdfs');
  });

  it('memory:// is one file system per name: a checkpoint directory and a path under it see the same files', async () => {
    const c = Configuration.fromMap({ 'state.checkpoints.dir': 'memory://create-test/jobs/a' });
    const storage = createCheckpointStorage(c) as FsCheckpointStorage;
    const loc = await storage.initializeLocationForCheckpoint(1);
    await loc.finalizeCheckpoint(new Uint8Array([1]));
    const whole = openLocation(c, 'memory://create-test');
    assert.deepEqual((await whole.list('')).map((f) => f.path), ['jobs/a/chk-1/_metadata']);
    assert.deepEqual((await openLocation(c, 'memory://create-test/jobs/a/chk-1').list('')).map((f) => f.path), ['_metadata']);
    assert.deepEqual(await openLocation(c, 'memory://other').list(''), []);
  });

  it('s3.endpoint and s3.path.style.access reach the S3 provider as its environment, over the process environment', () => {
    const env = { AWS_ENDPOINT_URL_S3: 'http://from-env:1', FLOWSTATE_S3_PATH_STYLE: 'false', HOME: '/h' };
    assert.deepEqual(storageEnvironment(Configuration.fromMap({ 's3.endpoint': 'http://127.0.0.1:9000', 's3.path.style.access': true }), env), {
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9000',
      FLOWSTATE_S3_PATH_STYLE: 'true',
      HOME: '/h',
    });
    assert.deepEqual(storageEnvironment(Configuration.fromMap({}), env), env);
  });
});

describe('restore point (execution.state-recovery.path)', () => {
  it('a savepoint directory, a retained checkpoint, or either _metadata file', () => {
    const c = Configuration.fromMap({});
    const sp = openRestorePoint(c, 'memory://restore/savepoints/savepoint-1', undefined);
    assert.equal(sp.pointer, '');
    assert.equal((sp.storage as FsCheckpointStorage).layout, 'savepoint');
    assert.equal(openRestorePoint(c, 'memory://restore/savepoints/savepoint-1/_metadata', undefined).pointer, '');
    const chk = openRestorePoint(c, 'memory://restore/ckpt/chk-42/_metadata', undefined);
    assert.equal(chk.pointer, 'chk-42');
    assert.equal((chk.storage as FsCheckpointStorage).layout, 'checkpoints');
    assert.equal((chk.storage as FsCheckpointStorage).fs.displayRoot, 'memory://restore/ckpt');
  });

  it("a checkpoint of the job's own directory restores through the job's own storage (so the runtime may fall back)", () => {
    const job = createFromConfiguration(Configuration.fromMap({ 'state.checkpoints.dir': 'memory://own/ckpt', 'execution.savepoint.path': 'memory://own/ckpt/chk-7', 'execution.savepoint.ignore-unclaimed-state': true, 'execution.savepoint-restore-mode': 'CLAIM', 'state.savepoints.dir': 's3://b/sp' }));
    assert.equal(job.restoreFrom?.storage, job.checkpointStorage);
    assert.equal(job.restoreFrom?.pointer, 'chk-7');
    assert.equal(job.allowNonRestoredState, true);
    assert.equal(job.restoreMode, 'CLAIM');
    assert.equal(job.savepointDirectory?.href, 's3://b/sp');
  });

  it('no restore point unless one is configured', () => {
    const job = createFromConfiguration(Configuration.fromMap({}));
    assert.equal(job.restoreFrom, undefined);
    assert.equal(job.allowNonRestoredState, false);
    assert.equal(job.restoreMode, 'NO_CLAIM');
  });
});
