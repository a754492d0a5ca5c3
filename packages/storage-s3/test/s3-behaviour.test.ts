import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { crc32c, PathEscapeError, StorageConfigError, StorageError } from '@flowstate/core';
import { patternBytes, writeBytes } from '@flowstate/conformance';
import { S3FileSystem, type S3FileSystemOptions } from '../src/index.js';
import { ops } from './fault-proxy.js';
import { proxiedS3rver } from './proxied-s3rver.js';
import { s3rverClientConfig } from './s3rver-harness.js';

const BUCKET = 'flowstate-behaviour';
const MiB = 1024 * 1024;

const s3 = proxiedS3rver(BUCKET);

const viaProxy = (prefix: string, extra: { partSize?: number; queueSize?: number } = {}) =>
  new S3FileSystem({ bucket: BUCKET, prefix, clientConfig: s3rverClientConfig(s3.proxy.endpoint), retryBaseDelayMs: 5, ...extra });

describe('S3FileSystem options', () => {
  it('rejects invalid buckets, part sizes, queue sizes and escaping prefixes', () => {
    const clientConfig = s3rverClientConfig('http://127.0.0.1:1');
    assert.throws(() => new S3FileSystem({ bucket: 'Not_A_Bucket', clientConfig }), StorageError);
    assert.throws(() => new S3FileSystem({ bucket: 'ok-bucket', clientConfig, partSize: MiB }), /partSize/);
    assert.throws(() => new S3FileSystem({ bucket: 'ok-bucket', clientConfig, queueSize: 0 }), /queueSize/);
    assert.throws(() => new S3FileSystem({ bucket: 'ok-bucket', clientConfig, maxRetries: -1 }), /maxRetries/);
    for (const prefix of ['../x', '/abs', 'a/../../b', 'http://x']) {
      assert.throws(() => new S3FileSystem({ bucket: 'ok-bucket', clientConfig, prefix }), PathEscapeError, prefix);
    }
  });

  it('takes core retry options; the deprecated flat names map onto them and the new ones win', () => {
    const clientConfig = s3rverClientConfig('http://127.0.0.1:1');
    const of = (o: Partial<S3FileSystemOptions>) => {
      const { maxAttempts, baseDelayMs, maxDelayMs, budgetMs } = new S3FileSystem({ bucket: 'ok-bucket', clientConfig, ...o }).retry;
      return { maxAttempts, baseDelayMs, maxDelayMs, budgetMs };
    };
    assert.deepEqual(of({}), { maxAttempts: 6, baseDelayMs: 100, maxDelayMs: 10_000, budgetMs: undefined }, 'defaults: 5 retries, as before');
    assert.deepEqual(of({ maxRetries: 2, retryBaseDelayMs: 7, retryMaxDelayMs: 70 }), { maxAttempts: 3, baseDelayMs: 7, maxDelayMs: 70, budgetMs: undefined });
    assert.deepEqual(of({ maxRetries: 2, retry: { maxAttempts: 9, budgetMs: 1000 } }), { maxAttempts: 9, baseDelayMs: 100, maxDelayMs: 10_000, budgetMs: 1000 });
    assert.throws(() => of({ retry: { maxAttempts: 0 } }), StorageConfigError);
  });

  it('names its root s3://bucket/prefix', () => {
    const clientConfig = s3rverClientConfig('http://127.0.0.1:1');
    assert.equal(new S3FileSystem({ bucket: 'b-1', clientConfig }).displayRoot, 's3://b-1');
    assert.equal(new S3FileSystem({ bucket: 'b-1', clientConfig, prefix: 'jobs/j1/' }).displayRoot, 's3://b-1/jobs/j1');
    assert.equal(new S3FileSystem({ bucket: 'b-1', clientConfig }).scheme, 's3');
  });
});

describe('S3FileSystem key layout', () => {
  it('keeps every key under its prefix, and lists paths relative to it', async () => {
    const tenant = `tenant-${randomUUID()}`;
    const fs = new S3FileSystem({ bucket: BUCKET, prefix: `${tenant}/job`, clientConfig: s3rverClientConfig(s3.server.endpoint) });
    await writeBytes(fs, 'chk-1/state', Buffer.from('s'));
    const root = new S3FileSystem({ bucket: BUCKET, clientConfig: s3rverClientConfig(s3.server.endpoint) });
    assert.deepEqual(await root.list(tenant), [{ path: `${tenant}/job/chk-1/state`, size: 1 }]);
    assert.deepEqual(await fs.list(''), [{ path: 'chk-1/state', size: 1 }]);
    // A sibling prefix sharing the first characters is not part of this root.
    const sibling = new S3FileSystem({ bucket: BUCKET, prefix: `${tenant}/job2`, clientConfig: s3rverClientConfig(s3.server.endpoint) });
    await writeBytes(sibling, 'x', Buffer.from('x'));
    assert.deepEqual(await fs.list(''), [{ path: 'chk-1/state', size: 1 }]);
  });

  it('skips folder markers and keys that no path could produce', async () => {
    const prefix = `markers-${randomUUID()}`;
    const raw = new S3Client({ maxAttempts: 1, ...s3rverClientConfig(s3.server.endpoint) });
    // A console's folder marker, and a key no confined path maps to. (s3rver cannot store 'a//b',
    // and the URL layer normalizes './' and '../' away, so those cannot be planted here.)
    for (const Key of [`${prefix}/dir/`, `${prefix}/%2e%2e/z`]) {
      await raw.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: Buffer.alloc(0) }));
    }
    const fs = new S3FileSystem({ bucket: BUCKET, prefix, clientConfig: s3rverClientConfig(s3.server.endpoint) });
    await writeBytes(fs, 'dir/real', Buffer.from('r'));
    assert.deepEqual(await fs.list(''), [{ path: 'dir/real', size: 1 }]);
    raw.destroy();
  });
});

describe('S3FileSystem request shape', () => {
  it('deletes in batches of 1000 keys, and checks every path before deleting any', async () => {
    const fs = viaProxy(`batches-${randomUUID()}`);
    await fs.deleteMany(Array.from({ length: 2500 }, (_, i) => `k/${i}`));
    assert.equal(s3.proxy.countOf(ops.deleteObjects), 3);
    s3.proxy.resetCounts();
    await assert.rejects(fs.deleteMany(['k/1', '../escape']), PathEscapeError);
    assert.equal(s3.proxy.countOf(ops.any), 0, 'nothing was sent');
  });

  it('uploads a large file in parts with at most queueSize in flight', async () => {
    const prefix = `parts-${randomUUID()}`;
    const fs = viaProxy(prefix, { partSize: 5 * MiB, queueSize: 2 });
    // Slow part responses make the workers overlap, so the bound is actually exercised.
    s3.proxy.inject({ kind: 'slow', delayMs: 150 }, { times: 100, match: ops.uploadPart });
    const w = await fs.create('big');
    let crc = 0;
    for (let pos = 0; pos < 32 * MiB; pos += MiB) {
      const chunk = patternBytes(3, pos, MiB);
      crc = crc32c(chunk, crc);
      await w.write(chunk);
    }
    await w.commit();
    assert.equal(s3.proxy.countOf(ops.uploadPart), 7, '32 MiB in 5 MiB parts');
    assert.equal(s3.proxy.countOf(ops.putObject), 0);
    const max = s3.proxy.maxConcurrent(ops.uploadPart);
    assert.ok(max <= 2, `at most 2 parts in flight, saw ${max}`);
    assert.equal(max, 2, 'parts are uploaded in parallel');
    assert.equal(crc32c(await fs.read('big')), crc);
  });

  it('holds back writers instead of buffering a whole file in memory', async () => {
    const prefix = `backpressure-${randomUUID()}`;
    const partSize = 5 * MiB;
    const queueSize = 2;
    const fs = viaProxy(prefix, { partSize, queueSize });
    // Park the first parts at the proxy; the writer must stall once the pipeline is full.
    s3.proxy.inject({ kind: 'slow', delayMs: 1500 }, { times: 2, match: ops.uploadPart });
    const w = await fs.create('held');
    let accepted = 0;
    const writing = (async () => {
      for (let pos = 0; pos < 64 * MiB; pos += MiB) {
        await w.write(patternBytes(4, pos, MiB));
        accepted += MiB;
      }
    })();
    await new Promise((r) => setTimeout(r, 1000));
    // In flight (queueSize parts), one part being cut, and a chunk in the stream: far below 64 MiB.
    const bound = (queueSize + 2) * partSize;
    assert.ok(accepted <= bound, `accepted ${accepted / MiB} MiB while uploads were stalled (bound ${bound / MiB} MiB)`);
    await writing;
    await w.commit();
    assert.equal((await fs.stat('held'))?.size, 64 * MiB);
  });
});
