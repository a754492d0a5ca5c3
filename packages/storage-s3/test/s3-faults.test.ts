import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { crc32c, FsCheckpointStorage, serializeCheckpointMetadata, StorageError, StorageOutcomeUnknownError, type FileSystem } from '@flowstate/core';
import { patternBytes, writeBytes, writePattern } from '@flowstate/conformance';
import { S3FileSystem, type S3FileSystemOptions, type S3RetryEvent } from '../src/index.js';
import { ops } from './fault-proxy.js';
import { proxiedS3rver } from './proxied-s3rver.js';
import { s3rverClientConfig } from './s3rver-harness.js';
import { settledWithin, until } from './waiting.js';

const BUCKET = 'flowstate-faults';
const MiB = 1024 * 1024;

let retries: S3RetryEvent[] = [];
const s3 = proxiedS3rver(BUCKET, () => {
  retries = [];
});

/** A file system that talks to s3rver through the fault proxy, with fast retries. */
function faultyFs(prefix: string, options: Partial<S3FileSystemOptions> = {}): S3FileSystem {
  return new S3FileSystem({
    bucket: BUCKET,
    prefix,
    clientConfig: s3rverClientConfig(s3.proxy.endpoint),
    partSize: 8 * MiB,
    maxRetries: 5,
    retryBaseDelayMs: 5,
    retryMaxDelayMs: 50,
    onRetry: (e) => retries.push(e),
    ...options,
  });
}

/** The same prefix, straight to s3rver: what is really stored. */
function directFs(prefix: string): S3FileSystem {
  return new S3FileSystem({ bucket: BUCKET, prefix, clientConfig: s3rverClientConfig(s3.server.endpoint) });
}

const freshPrefix = () => `faults-${randomUUID()}`;

const retriesOf = (operation: string) => retries.filter((r) => r.operation === operation).length;

async function assertCrc(fs: FileSystem, path: string, size: number, crc: number): Promise<void> {
  const data = await fs.read(path);
  assert.equal(data.length, size, `${path}: size`);
  assert.equal(crc32c(data), crc, `${path}: CRC32C`);
}

/** HEAD of a store whose multipart ETags are no MD5 of the parts' MD5s (SSE-KMS, SSE-C, some S3-compatible stores). */
const headETag = (eTag: string) => (headers: IncomingHttpHeaders): IncomingHttpHeaders => ({ ...headers, etag: eTag });

/** HEAD of a store that drops user metadata. */
const withoutUserMetadata = (headers: IncomingHttpHeaders): IncomingHttpHeaders =>
  Object.fromEntries(Object.entries(headers).filter(([name]) => !name.startsWith('x-amz-meta-')));

/** ETags S3's multipart ETag check cannot match: the multipart form with another value, and another form. */
const FOREIGN_ETAGS = ['"0123456789abcdef0123456789abcdef-2"', '"kms-7f3a9c1e5b2d"'] as const;

/** The error of a commit whose CompleteMultipartUpload kept failing with 500: failed, not unknown. */
const assertCompletionFailed = (e: unknown, display: string): true => {
  assert.ok(e instanceof StorageError && e.code === 'STORAGE_ERROR' && e.transient, String(e));
  assert.ok(e.message.includes(`${display}': CompleteMultipartUpload failed after 3 attempts: InternalError`), e.message);
  return true;
};

describe('S3FileSystem retries transient faults', () => {
  it('retries 503 SlowDown on PutObject until it succeeds', async () => {
    const prefix = freshPrefix();
    const fs = faultyFs(prefix);
    s3.proxy.inject({ kind: 'status', status: 503, code: 'SlowDown' }, { times: 3, match: ops.putObject });
    await writeBytes(fs, 'small/file', Buffer.from('hello through throttling'));
    assert.equal(s3.proxy.counts.status503, 3);
    assert.equal(retriesOf('PutObject'), 3);
    assert.equal(Buffer.from(await directFs(prefix).read('small/file')).toString(), 'hello through throttling');
  });

  it('retries 500 InternalError on HeadObject, GetObject, ListObjectsV2, DeleteObject and DeleteObjects', async () => {
    const prefix = freshPrefix();
    const fs = faultyFs(prefix);
    for (const p of ['d/a', 'd/b', 'd/c']) await writeBytes(fs, p, Buffer.from(p));
    for (const match of [ops.headObject, ops.getObject, ops.listObjects, ops.deleteObject, ops.deleteObjects]) {
      s3.proxy.inject({ kind: 'status', status: 500 }, { times: 2, match });
    }
    assert.deepEqual(await fs.stat('d/a'), { path: 'd/a', size: 3 });
    assert.equal(Buffer.from(await fs.read('d/b')).toString(), 'd/b');
    assert.equal((await fs.list('d')).length, 3);
    await fs.delete('d/a');
    await fs.deleteMany(['d/b', 'd/c']);
    assert.deepEqual(await directFs(prefix).list('d'), []);
    assert.equal(s3.proxy.counts.status500, 10);
    // s3rver itself sometimes answers DeleteObjects with a real 500: it deletes the keys of one
    // request concurrently and races on removing their now-empty directory. Retried like any other.
    const injected = retries.filter((r) => /injected|^Unknown \(HTTP 500\)$/.test(r.reason));
    assert.equal(injected.length, 10, JSON.stringify(retries, null, 1));
    assert.equal(s3.proxy.pendingRules, 0);
  });

  it('retries a connection reset in the middle of a response body, and returns intact bytes', async () => {
    const prefix = freshPrefix();
    const size = 3 * MiB + 5;
    const written = await writePattern(directFs(prefix), 'big', size, 77);
    const fs = faultyFs(prefix);
    s3.proxy.inject({ kind: 'reset-response', afterBytes: MiB }, { times: 2, match: ops.getObject });
    await assertCrc(fs, 'big', size, written.crc);
    s3.proxy.inject({ kind: 'reset-response', afterBytes: 100 }, { times: 1, match: ops.getObject });
    assert.ok(Buffer.from(await fs.read('big', { offset: 2 * MiB, length: 4096 })).equals(patternBytes(77, 2 * MiB, 4096)));
    assert.equal(s3.proxy.counts.resetResponse, 3);
    assert.equal(retriesOf('GetObject'), 3);
  });

  it('retries throttling, resets mid-request-body and 5xx during a multipart upload; the object is intact', async () => {
    const prefix = freshPrefix();
    const fs = faultyFs(prefix);
    s3.proxy.inject({ kind: 'status', status: 503 }, { times: 1, match: ops.createMultipartUpload });
    s3.proxy.inject({ kind: 'reset-request', afterBytes: MiB }, { times: 2, match: ops.uploadPart });
    s3.proxy.inject({ kind: 'status', status: 503, code: 'SlowDown' }, { times: 1, match: ops.uploadPart });
    s3.proxy.inject({ kind: 'status', status: 500 }, { times: 1, match: ops.completeMultipartUpload });
    const size = 20 * MiB + 3;
    const written = await writePattern(fs, 'multi/part', size, 5);
    assert.deepEqual(
      { status503: s3.proxy.counts.status503, status500: s3.proxy.counts.status500, resetRequest: s3.proxy.counts.resetRequest },
      { status503: 2, status500: 1, resetRequest: 2 },
      s3.proxy.log.join('\n'),
    );
    assert.equal(retries.length, 5);
    assert.equal(s3.proxy.pendingRules, 0);
    await assertCrc(directFs(prefix), 'multi/part', size, written.crc);
  });

  it('a CompleteMultipartUpload whose response is lost still commits (S3 completed it; the retry cannot)', async () => {
    const prefix = freshPrefix();
    const fs = faultyFs(prefix);
    s3.proxy.inject({ kind: 'reset-response', afterBytes: 10 }, { times: 1, match: ops.completeMultipartUpload });
    const size = 11 * MiB + 7;
    const written = await writePattern(fs, 'lost/complete', size, 9);
    assert.equal(s3.proxy.counts.resetResponse, 1, s3.proxy.log.join('\n'));
    assert.equal(s3.proxy.pendingRules, 0);
    assert.equal(s3.proxy.countOf(ops.headObject), 1, 'the object was checked against the parts ETag');
    await assertCrc(directFs(prefix), 'lost/complete', size, written.crc);
  });

  it("a CompleteMultipartUpload whose response is lost still commits on a store whose ETags are not the parts' MD5s: the object carries our token", async () => {
    const prefix = freshPrefix();
    const fs = faultyFs(prefix);
    const size = 11 * MiB + 7;
    for (const [i, eTag] of FOREIGN_ETAGS.entries()) {
      s3.proxy.clear();
      s3.proxy.resetCounts();
      s3.proxy.inject({ kind: 'reset-response', afterBytes: 10 }, { times: 1, match: ops.completeMultipartUpload });
      s3.proxy.failPermanently({ kind: 'rewrite-headers', rewrite: headETag(eTag) }, ops.headObject);
      const written = await writePattern(fs, `lost/${i}`, size, 30 + i);
      assert.equal(s3.proxy.counts.resetResponse, 1, s3.proxy.log.join('\n'));
      assert.equal(s3.proxy.counts.rewriteHeaders, 1, `the object was looked at, and showed the ETag ${eTag}`);
      await assertCrc(directFs(prefix), `lost/${i}`, size, written.crc);
    }
  });

  it('a CompleteMultipartUpload that keeps failing with 5xx fails the commit, though an object of the same size is there', async () => {
    const prefix = freshPrefix();
    const fs = faultyFs(prefix, { maxRetries: 2 });
    const size = 9 * MiB + 1;
    const old = await writePattern(fs, 'same-size', size, 21);
    s3.proxy.failPermanently({ kind: 'status', status: 500 }, ops.completeMultipartUpload);
    await assert.rejects(writePattern(fs, 'same-size', size, 22), (e) => {
      assert.ok(e instanceof StorageError && e.code === 'STORAGE_ERROR' && e.transient, String(e));
      assert.ok(e.message.includes(`s3://${BUCKET}/${prefix}/same-size': CompleteMultipartUpload failed after 3 attempts: InternalError`), e.message);
      return true;
    });
    // The completion may have taken effect, so the object was looked at: its token is not ours.
    assert.equal(s3.proxy.countOf(ops.headObject), 1);
    await assertCrc(directFs(prefix), 'same-size', size, old.crc);
  });

  it("a CompleteMultipartUpload that keeps failing fails the commit when an older file at the key carries another upload's token, whatever its ETag", async () => {
    const prefix = freshPrefix();
    const fs = faultyFs(prefix, { maxRetries: 2 });
    const size = 9 * MiB + 1;
    const cases = [
      // The same bytes in the same parts: the older file's ETag is exactly our parts' multipart ETag.
      { path: 'same-bytes', oldSeed: 40, newSeed: 40, eTag: undefined },
      // A store whose ETags are not MD5s: the ETag could not tell either way.
      ...FOREIGN_ETAGS.map((eTag, i) => ({ path: `other-etag-${i}`, oldSeed: 41 + i, newSeed: 43 + i, eTag })),
    ];
    for (const { path, oldSeed, newSeed, eTag } of cases) {
      s3.proxy.clear();
      const old = await writePattern(fs, path, size, oldSeed);
      s3.proxy.resetCounts();
      s3.proxy.failPermanently({ kind: 'status', status: 500 }, ops.completeMultipartUpload);
      if (eTag !== undefined) s3.proxy.failPermanently({ kind: 'rewrite-headers', rewrite: headETag(eTag) }, ops.headObject);
      await assert.rejects(writePattern(fs, path, size, newSeed), (e) => assertCompletionFailed(e, `s3://${BUCKET}/${prefix}/${path}`));
      assert.equal(s3.proxy.countOf(ops.headObject), 1, `${path}: the object was looked at`);
      await assertCrc(directFs(prefix), path, size, old.crc);
    }
  });

  it('retries a response slower than the request timeout (TimeoutError); a merely slow one just succeeds', async () => {
    const prefix = freshPrefix();
    await writeBytes(directFs(prefix), 'slow', Buffer.from('patience'));
    const fs = faultyFs(prefix, {
      // Socket inactivity, which also covers a response body that stops flowing.
      clientConfig: s3rverClientConfig(s3.proxy.endpoint, { requestHandler: { socketTimeout: 400 } }),
    });
    s3.proxy.inject({ kind: 'slow', delayMs: 1500 }, { times: 2, match: ops.headObject });
    assert.deepEqual(await fs.stat('slow'), { path: 'slow', size: 8 });
    assert.equal(retriesOf('HeadObject'), 2);
    assert.ok(retries.every((r) => /timeout/i.test(r.reason)), retries.map((r) => r.reason).join('\n'));
    s3.proxy.inject({ kind: 'slow', delayMs: 150 }, { times: 1, match: ops.getObject });
    assert.equal(Buffer.from(await fs.read('slow')).toString(), 'patience');
    assert.equal(retriesOf('GetObject'), 0);
    assert.equal(s3.proxy.counts.slow, 3);
  });

  it('retries a failing page of a paginated listing without losing or repeating files', async () => {
    const prefix = freshPrefix();
    const direct = directFs(prefix);
    const paths = Array.from({ length: 10 }, (_, i) => `l/${i}`);
    for (const p of paths) await writeBytes(direct, p, Buffer.from(p));
    const fs = faultyFs(prefix, { listPageSize: 3 });
    s3.proxy.inject({ kind: 'status', status: 503 }, { times: 2, match: ops.listObjectsNextPage });
    s3.proxy.inject({ kind: 'reset-response', afterBytes: 50 }, { times: 1, match: ops.listObjectsNextPage });
    const listed = (await fs.list('l')).map((f) => f.path).sort();
    assert.deepEqual(listed, [...paths].sort());
    assert.equal(s3.proxy.counts.status503, 2);
    assert.equal(s3.proxy.counts.resetResponse, 1, JSON.stringify(retries, null, 1) + s3.proxy.log.join('\n'));
    assert.equal(retriesOf('ListObjectsV2'), 3, JSON.stringify(retries, null, 1) + s3.proxy.log.join('\n'));
  });

  it('completes and restores a checkpoint through a flaky connection', async () => {
    const prefix = freshPrefix();
    const fs = faultyFs(prefix);
    const storage = new FsCheckpointStorage(fs);
    s3.proxy.inject({ kind: 'status', status: 503 }, { times: 2, match: ops.uploadPart });
    s3.proxy.inject({ kind: 'reset-request', afterBytes: 64 * 1024 }, { times: 1, match: ops.uploadPartNumber(2) });
    s3.proxy.inject({ kind: 'status', status: 500 }, { times: 1, match: ops.putObject });
    s3.proxy.inject({ kind: 'reset-response', afterBytes: 4096 }, { times: 1, match: ops.getObject });
    s3.proxy.inject({ kind: 'status', status: 503 }, { times: 1, match: ops.listObjects });

    const loc = await storage.initializeLocationForCheckpoint(1);
    const big = loc.streamFactory.createCheckpointStateOutputStream('EXCLUSIVE');
    for (let pos = 0; pos < 12 * MiB; pos += MiB) await big.write(patternBytes(1, pos, MiB));
    const bigHandle = await big.closeAndGetHandle();
    const small = loc.streamFactory.createCheckpointStateOutputStream('SHARED');
    await small.write(patternBytes(2, 0, 100_000));
    const smallHandle = await small.closeAndGetHandle();
    const subtasks = [{ subtaskIndex: 0, keyed: [], operator: [], channelState: [bigHandle, smallHandle] }];
    await loc.finalizeCheckpoint(serializeCheckpointMetadata({ checkpointId: 1, kind: 'CHECKPOINT', timestamp: 0, operators: [{ uid: 'op', parallelism: 1, maxParallelism: 1, subtasks }] }));

    assert.deepEqual(await storage.listCompletedCheckpoints(), ['chk-1']);
    const restored = await storage.resolveCheckpoint('chk-1');
    assert.equal((await restored.reader.readFully(bigHandle, 1)).length, 12 * MiB);
    assert.equal((await restored.reader.readFully(smallHandle, 1)).length, 100_000);
    assert.equal(s3.proxy.pendingRules, 0, 'every injected fault was hit');
    assert.deepEqual(
      { s503: s3.proxy.counts.status503, s500: s3.proxy.counts.status500, rq: s3.proxy.counts.resetRequest, rs: s3.proxy.counts.resetResponse },
      { s503: 3, s500: 1, rq: 1, rs: 1 },
    );
    assert.equal(retries.length, 6);
  });
});

describe('S3FileSystem surfaces permanent faults', () => {
  const assertPermanent = (e: unknown, path: string): true => {
    assert.ok(e instanceof StorageError, `expected StorageError, got ${String(e)}`);
    assert.equal(e.transient, false, e.message);
    assert.equal(e.code, 'STORAGE_ERROR');
    assert.ok(e.message.includes(path), `message names ${path}: ${e.message}`);
    assert.ok(e.message.includes('AccessDenied'), e.message);
    return true;
  };

  it('a permanent failure in the middle of a multipart upload is not retried and leaves no object', async () => {
    const prefix = freshPrefix();
    const fs = faultyFs(prefix);
    s3.proxy.failPermanently({ kind: 'status', status: 403, code: 'AccessDenied' }, ops.uploadPartsFrom(2));
    await assert.rejects(writePattern(fs, 'doomed/file', 20 * MiB + 1, 3), (e) => assertPermanent(e, `s3://${BUCKET}/${prefix}/doomed/file`));
    assert.ok(s3.proxy.counts.permanent >= 1);
    assert.equal(retriesOf('UploadPart'), 0, 'a 403 is not retried');
    const direct = directFs(prefix);
    assert.equal(await direct.stat('doomed/file'), null);
    assert.deepEqual(await direct.list(''), []);
  });

  it("a write while a refused part waits for the parts still in flight fails with the refusal instead of hanging", async () => {
    const prefix = freshPrefix();
    const fs = faultyFs(prefix, { partSize: 5 * MiB, queueSize: 2, maxRetries: 0 });
    // Part 1 stays in flight while part 2 is refused: lib-storage stops reading the body at once,
    // but the upload fails only once part 1 has settled.
    s3.proxy.inject({ kind: 'slow', delayMs: 2000 }, { times: 1, match: ops.uploadPartNumber(1) });
    s3.proxy.failPermanently({ kind: 'status', status: 403, code: 'AccessDenied' }, ops.uploadPartNumber(2));
    const w = await fs.create('stalled');
    for (let pos = 0; pos < 11 * MiB; pos += MiB) await w.write(patternBytes(6, pos, MiB));
    await until(() => s3.proxy.counts.statusOther === 1, 10_000, 'part 2 to be refused');
    // Let the refusal reach the writer, well before part 1's response does.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assertPermanent(await settledWithin(w.write(patternBytes(6, 11 * MiB, MiB)), 10_000), `s3://${BUCKET}/${prefix}/stalled`);
    await w.abort();
    assert.equal(await directFs(prefix).stat('stalled'), null);
  });

  it('a CompleteMultipartUpload refused outright fails the commit, though an object of the same size is there', async () => {
    const prefix = freshPrefix();
    const fs = faultyFs(prefix);
    const size = 9 * MiB + 1;
    const old = await writePattern(fs, 'same-size', size, 23);
    const message = 'One or more of the specified parts could not be found';
    s3.proxy.failPermanently({ kind: 'status', status: 400, code: 'InvalidPart', message }, ops.completeMultipartUpload);
    await assert.rejects(writePattern(fs, 'same-size', size, 24), (e) => {
      assert.ok(e instanceof StorageError && e.code === 'STORAGE_ERROR' && !e.transient, String(e));
      assert.ok(e.message.includes(`s3://${BUCKET}/${prefix}/same-size': CompleteMultipartUpload failed: InvalidPart`), e.message);
      return true;
    });
    assert.equal(s3.proxy.countOf(ops.headObject), 0, 'a completion refused at the first attempt never took effect: nothing to look at');
    await assertCrc(directFs(prefix), 'same-size', size, old.crc);
  });

  it('a commit whose lost CompleteMultipartUpload response cannot be checked against the object has an unknown outcome', async () => {
    const prefix = freshPrefix();
    const fs = faultyFs(prefix);
    s3.proxy.inject({ kind: 'reset-response', afterBytes: 10 }, { times: 1, match: ops.completeMultipartUpload });
    s3.proxy.failPermanently({ kind: 'status', status: 403, code: 'AccessDenied' }, ops.headObject);
    await assert.rejects(writePattern(fs, 'unknown', 9 * MiB, 25), (e) => {
      assert.ok(e instanceof StorageOutcomeUnknownError, String(e));
      assert.equal(e.code, 'STORAGE_OUTCOME_UNKNOWN');
      assert.equal(e.operation, 'CompleteMultipartUpload');
      assert.equal(e.path, `s3://${BUCKET}/${prefix}/unknown`);
      assert.match(e.message, /unknown': CompleteMultipartUpload failed .*, and looking at the object failed too \(HeadObject failed: Unknown \(HTTP 403\)\)/);
      return true;
    });
    assert.equal(s3.proxy.counts.resetResponse, 1, s3.proxy.log.join('\n'));
  });

  it('a permanent failure of a single PutObject leaves no object', async () => {
    const prefix = freshPrefix();
    s3.proxy.failPermanently({ kind: 'status', status: 403, code: 'AccessDenied' }, ops.putObject);
    await assert.rejects(writeBytes(faultyFs(prefix), 'small', Buffer.from('x')), (e) => assertPermanent(e, 'small'));
    assert.equal(s3.proxy.counts.permanent, 1);
    assert.equal(await directFs(prefix).stat('small'), null);
  });

  it('a permanently failing read is a non-transient StorageError, not retried', async () => {
    const prefix = freshPrefix();
    await writeBytes(directFs(prefix), 'r', Buffer.from('unreadable'));
    s3.proxy.failPermanently({ kind: 'status', status: 403, code: 'AccessDenied' }, ops.getObject);
    await assert.rejects(faultyFs(prefix).read('r'), (e) => assertPermanent(e, 'r'));
    assert.equal(s3.proxy.counts.permanent, 1);
    assert.equal(retries.length, 0);
  });

  it('transient faults that outlast maxRetries fail as transient after maxRetries + 1 attempts, leaving nothing', async () => {
    const prefix = freshPrefix();
    const fs = faultyFs(prefix, { maxRetries: 3 });
    s3.proxy.failPermanently({ kind: 'status', status: 503, code: 'SlowDown' }, ops.putObject);
    await assert.rejects(writeBytes(fs, 'throttled', Buffer.from('x')), (e) => {
      assert.ok(e instanceof StorageError && e.transient, String(e));
      assert.match(e.message, /PutObject failed after 4 attempts: SlowDown/);
      return true;
    });
    assert.equal(s3.proxy.counts.status503, 4);
    assert.equal(retriesOf('PutObject'), 3);

    s3.proxy.clear();
    s3.proxy.resetCounts();
    s3.proxy.failPermanently({ kind: 'reset-request', afterBytes: 256 * 1024 }, ops.uploadPartNumber(2));
    await assert.rejects(writePattern(fs, 'reset-forever', 17 * MiB, 4), (e) => e instanceof StorageError && e.transient);
    assert.equal(s3.proxy.counts.resetRequest, 4, s3.proxy.log.join('\n'));
    const direct = directFs(prefix);
    assert.equal(await direct.stat('throttled'), null);
    assert.equal(await direct.stat('reset-forever'), null);
  });
});

describe('S3FileSystem on a store that drops user metadata checks a doubtful completion by ETag', () => {
  it("a CompleteMultipartUpload whose response is lost commits when the ETag is the parts' multipart ETag", async () => {
    const prefix = freshPrefix();
    const fs = faultyFs(prefix);
    s3.proxy.inject({ kind: 'reset-response', afterBytes: 10 }, { times: 1, match: ops.completeMultipartUpload });
    s3.proxy.failPermanently({ kind: 'rewrite-headers', rewrite: withoutUserMetadata }, ops.headObject);
    const size = 11 * MiB + 7;
    const written = await writePattern(fs, 'lost', size, 50);
    assert.equal(s3.proxy.counts.resetResponse, 1, s3.proxy.log.join('\n'));
    assert.equal(s3.proxy.counts.rewriteHeaders, 1, 'the object was looked at, without its metadata');
    await assertCrc(directFs(prefix), 'lost', size, written.crc);
  });

  it('a CompleteMultipartUpload that keeps failing fails the commit when an older file has another ETag', async () => {
    const prefix = freshPrefix();
    const fs = faultyFs(prefix, { maxRetries: 2 });
    const size = 9 * MiB + 1;
    const old = await writePattern(fs, 'older', size, 51);
    s3.proxy.failPermanently({ kind: 'status', status: 500 }, ops.completeMultipartUpload);
    s3.proxy.failPermanently({ kind: 'rewrite-headers', rewrite: withoutUserMetadata }, ops.headObject);
    await assert.rejects(writePattern(fs, 'older', size, 52), (e) => assertCompletionFailed(e, `s3://${BUCKET}/${prefix}/older`));
    assert.equal(s3.proxy.counts.rewriteHeaders, 1);
    await assertCrc(directFs(prefix), 'older', size, old.crc);
  });

  it('a CompleteMultipartUpload whose response is lost has an unknown outcome when the ETag cannot be checked', async () => {
    const prefix = freshPrefix();
    const fs = faultyFs(prefix);
    const eTag = FOREIGN_ETAGS[1];
    s3.proxy.inject({ kind: 'reset-response', afterBytes: 10 }, { times: 1, match: ops.completeMultipartUpload });
    s3.proxy.failPermanently({ kind: 'rewrite-headers', rewrite: (h) => headETag(eTag)(withoutUserMetadata(h)) }, ops.headObject);
    await assert.rejects(writePattern(fs, 'unchecked', 9 * MiB, 53), (e) => {
      assert.ok(e instanceof StorageOutcomeUnknownError, String(e));
      assert.equal(e.code, 'STORAGE_OUTCOME_UNKNOWN');
      assert.equal(e.operation, 'CompleteMultipartUpload');
      assert.equal(e.path, `s3://${BUCKET}/${prefix}/unchecked`);
      assert.ok(e.message.includes(`the object's ETag ${eTag} cannot be checked against the uploaded parts: the file may or may not exist`), e.message);
      return true;
    });
    assert.equal(s3.proxy.counts.rewriteHeaders, 1);
  });
});

describe('S3FileSystem keeps credentials out of errors', () => {
  const accessKeyId = 'AKIAFLOWSTATE0TEST01';
  const secretAccessKey = 'flowstate/Secret+Key/do-not-leak-0123456789';
  const sessionToken = 'FwoGZXIvYXdzEFlowstateSessionTokenDoNotLeak';
  const credentials = { accessKeyId, secretAccessKey, sessionToken };

  const assertNoSecrets = (e: unknown, what: string): true => {
    assert.ok(e instanceof StorageError, `${what}: expected StorageError, got ${String(e)}`);
    const everything = [
      e.message,
      e.stack ?? '',
      String(e),
      inspect(e, { depth: null, showHidden: true }),
      JSON.stringify(e),
      inspect(e.cause, { depth: null, showHidden: true }),
    ].join('\n');
    for (const secret of [accessKeyId, secretAccessKey, sessionToken, 'Signature=', 'Credential=AKIA']) {
      assert.ok(!everything.includes(secret), `${what}: error text contains ${JSON.stringify(secret)}:\n${everything}`);
    }
    return true;
  };

  it('an unknown access key rejected by the server', async () => {
    const fs = new S3FileSystem({
      bucket: BUCKET,
      prefix: 'p',
      clientConfig: s3rverClientConfig(s3.server.endpoint, { credentials }),
    });
    assert.equal(fs.displayRoot, `s3://${BUCKET}/p`);
    await assert.rejects(fs.read('x'), (e) => {
      assertNoSecrets(e, 'read');
      assert.match((e as Error).message, /InvalidAccessKeyId/);
      return true;
    });
    await assert.rejects(writeBytes(fs, 'x', Buffer.from('x')), (e) => assertNoSecrets(e, 'write'));
    await assert.rejects(fs.list(''), (e) => assertNoSecrets(e, 'list'));
  });

  it('a server that echoes the Authorization header and key id back in its error', async () => {
    const fs = faultyFs('p', { clientConfig: s3rverClientConfig(s3.proxy.endpoint, { credentials }) });
    s3.proxy.failPermanently({ kind: 'status', status: 403, code: 'SignatureDoesNotMatch', echoAuthorization: true });
    await assert.rejects(fs.read('x'), (e) => assertNoSecrets(e, 'read'));
    await assert.rejects(fs.stat('x'), (e) => assertNoSecrets(e, 'stat'));
    await assert.rejects(fs.list('d'), (e) => assertNoSecrets(e, 'list'));
    await assert.rejects(fs.deleteMany(['a', 'b']), (e) => assertNoSecrets(e, 'deleteMany'));
    await assert.rejects(writeBytes(fs, 'x', Buffer.from('x')), (e) => assertNoSecrets(e, 'put'));
    await assert.rejects(writePattern(fs, 'y', 9 * MiB, 1), (e) => assertNoSecrets(e, 'multipart'));
    assert.ok(s3.proxy.counts.permanent >= 6);
  });

  it('retries exhausted on 5xx, and the retry events', async () => {
    const fs = faultyFs('p', { clientConfig: s3rverClientConfig(s3.proxy.endpoint, { credentials }), maxRetries: 2 });
    s3.proxy.failPermanently({ kind: 'status', status: 500, echoAuthorization: true });
    await assert.rejects(fs.read('x'), (e) => assertNoSecrets(e, 'read'));
    assert.equal(retries.length, 2);
    for (const r of retries) {
      for (const secret of [accessKeyId, secretAccessKey, sessionToken]) assert.ok(!JSON.stringify(r).includes(secret), JSON.stringify(r));
    }
  });
});
