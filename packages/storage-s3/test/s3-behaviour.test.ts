import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { crc32c, PathEscapeError, StorageConfigError, StorageError, StorageProtocolError } from '@flowstate/core';
import { patternBytes, writeBytes, writePattern } from '@flowstate/conformance';
import { S3FileSystem, type S3FileSystemOptions } from '../src/index.js';
import { ops, type RequestInfo } from './fault-proxy.js';
import { proxiedS3rver } from './proxied-s3rver.js';
import { s3rverClientConfig } from './s3rver-harness.js';
import { settledWithin } from './waiting.js';

const BUCKET = 'flowstate-behaviour';
const MiB = 1024 * 1024;

const s3 = proxiedS3rver(BUCKET);

const viaProxy = (prefix: string, extra: { partSize?: number; queueSize?: number; listPageSize?: number } = {}) =>
  new S3FileSystem({ bucket: BUCKET, prefix, clientConfig: s3rverClientConfig(s3.proxy.endpoint), retryBaseDelayMs: 5, ...extra });

/** The same prefix, straight to s3rver: what is really stored. */
const directFs = (prefix: string) => new S3FileSystem({ bucket: BUCKET, prefix, clientConfig: s3rverClientConfig(s3.server.endpoint) });

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

describe('S3FileSystem upload tokens', () => {
  // Spelled out rather than imported: objects that one version wrote must be recognised by the next.
  const UPLOAD_TOKEN_METADATA = 'flowstate-upload';

  it('gives every file it writes, in parts or in one PutObject, a token of its own in its user metadata', async () => {
    const prefix = `tokens-${randomUUID()}`;
    const fs = viaProxy(prefix, { partSize: 5 * MiB });
    const raw = new S3Client({ maxAttempts: 1, ...s3rverClientConfig(s3.server.endpoint) });
    const tokenOf = async (path: string): Promise<string> => {
      const head = await raw.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `${prefix}/${path}` }));
      const token = head.Metadata?.[UPLOAD_TOKEN_METADATA] ?? '';
      assert.match(token, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, `${path}: ${JSON.stringify(head.Metadata)}`);
      return token;
    };
    await writeBytes(fs, 'small', Buffer.from('one PutObject'));
    await writePattern(fs, 'large', 6 * MiB, 8);
    assert.deepEqual([s3.proxy.countOf(ops.putObject), s3.proxy.countOf(ops.createMultipartUpload)], [1, 1]);
    const first = [await tokenOf('small'), await tokenOf('large')];
    await writeBytes(fs, 'small', Buffer.from('rewritten'));
    const tokens = new Set([...first, await tokenOf('small')]);
    assert.equal(tokens.size, 3, 'one token per writer, a rewrite included');
    // S3 returns metadata keys in lower case, and allows 2 KB of them and their values together.
    assert.equal(UPLOAD_TOKEN_METADATA, UPLOAD_TOKEN_METADATA.toLowerCase());
    assert.ok(Buffer.byteLength(UPLOAD_TOKEN_METADATA + first[0]!) <= 2048);
    raw.destroy();
  });
});

describe('S3FileSystem with stores that answer differently from s3rver', () => {
  const seed = async (prefix: string, paths: readonly string[]): Promise<void> => {
    for (const p of paths) await writeBytes(directFs(prefix), p, Buffer.from(p));
  };

  const assertListingError = (e: unknown, path: string, detail: RegExp): true => {
    assert.ok(e instanceof StorageProtocolError, `expected StorageProtocolError, got ${String(e)}`);
    assert.equal(e.code, 'STORAGE_PROTOCOL_ERROR');
    assert.equal(e.operation, 'ListObjectsV2');
    assert.equal(e.path, `s3://${BUCKET}/${path}`);
    assert.match(e.message, detail);
    return true;
  };

  it('a truncated listing page without a continuation token fails the listing instead of ending it', async () => {
    const prefix = `no-token-${randomUUID()}`;
    await seed(prefix, ['chk-1/a', 'chk-1/b', 'chk-1/c', 'chk-1/d', 'chk-1/e']);
    const dropToken = (body: string) => body.replace(/<NextContinuationToken>[^<]*<\/NextContinuationToken>/, '');
    s3.proxy.failPermanently({ kind: 'rewrite-body', rewrite: dropToken }, ops.listObjects);
    await assert.rejects(viaProxy(prefix, { listPageSize: 2 }).list('chk-1'), (e) =>
      assertListingError(e, `${prefix}/chk-1`, /truncated but carries no NextContinuationToken/),
    );
    assert.equal(s3.proxy.countOf(ops.listObjects), 1);
  });

  it('a listing page that repeats an earlier continuation token fails the listing instead of looping', async () => {
    const prefix = `stuck-token-${randomUUID()}`;
    await seed(prefix, ['chk-1/a', 'chk-1/b', 'chk-1/c', 'chk-1/d', 'chk-1/e']);
    // A store that ignores continuation-token: every page after the first is the second one again.
    const repeatToken = (body: string, req: RequestInfo) =>
      body.replace(/<NextContinuationToken>[^<]*</, `<NextContinuationToken>${req.query.get('continuation-token') ?? ''}<`);
    s3.proxy.failPermanently({ kind: 'rewrite-body', rewrite: repeatToken }, ops.listObjectsNextPage);
    const outcome = await settledWithin(viaProxy(prefix, { listPageSize: 2 }).list('chk-1'), 10_000);
    assertListingError(outcome, `${prefix}/chk-1`, /repeats a continuation token/);
    assert.equal(s3.proxy.countOf(ops.listObjects), 2);
  });

  it("lists and deletes only a directory's own files when the store ignores Prefix", async () => {
    const prefix = `ignored-prefix-${randomUUID()}`;
    const others = ['chk-10/_metadata', 'chk-10/b', 'shared/s'];
    await seed(prefix, ['chk-1/_metadata', 'chk-1/a', ...others]);
    // s3rver's answer for chk-1/, plus the keys that a store listing the whole root would add.
    const contents = others.map((p) => `<Contents><Key>${prefix}/${p}</Key><Size>${p.length}</Size></Contents>`).join('');
    const ignorePrefix = (body: string) => body.replace('</ListBucketResult>', `${contents}</ListBucketResult>`);
    s3.proxy.failPermanently({ kind: 'rewrite-body', rewrite: ignorePrefix }, ops.listObjects);
    const fs = viaProxy(prefix);
    assert.deepEqual((await fs.list('chk-1')).map((f) => f.path).sort(), ['chk-1/_metadata', 'chk-1/a']);
    await fs.deleteDirectory('chk-1');
    assert.deepEqual((await directFs(prefix).list('')).map((f) => f.path).sort(), others);
  });

  it('refuses to create a file or use a prefix with a carriage return, which listings may not return intact', async () => {
    const fs = viaProxy(`cr-${randomUUID()}`);
    for (const path of ['d/cr\rx', 'd/crlf\r\nx', '\r']) {
      await assert.rejects(fs.create(path), (e) => {
        assert.ok(e instanceof PathEscapeError, String(e));
        assert.equal(e.code, 'PATH_ESCAPE');
        assert.equal(e.path, path);
        assert.match(e.message, /carriage return/);
        return true;
      });
    }
    assert.equal(s3.proxy.countOf(ops.any), 0, 'nothing was sent');
    assert.throws(() => viaProxy('jobs/cr\rx'), (e) => e instanceof PathEscapeError && e.path === 'jobs/cr\rx');
  });

  it('decodes url-encoded listings, in which keys that XML would alter arrive intact', async () => {
    const prefix = `url-encoded-${randomUUID()}`;
    const names = ['cr\rx', 'crlf\r\nx', 'lf\nx', 'a b', 'a+b', 'a%2Bb', '100%', 'x&y<z>"\'', 'ctl\x01x', 'ä/ö'];
    // Planted with a bare client: this file system creates no name with a carriage return.
    const raw = new S3Client({ maxAttempts: 1, ...s3rverClientConfig(s3.server.endpoint) });
    for (const n of names) await raw.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}/d/${n}`, Body: n }));
    raw.destroy();
    s3.proxy.failPermanently({ kind: 'rewrite-body', rewrite: urlEncodedListing }, ops.listObjects);
    const fs = viaProxy(prefix);
    const listed = await fs.list('d');
    assert.deepEqual(listed.map((f) => f.path).sort(), names.map((n) => `d/${n}`).sort());
    for (const f of listed) assert.deepEqual(await fs.stat(f.path), { path: f.path, size: Buffer.byteLength(f.path.slice(2)) });
    await fs.deleteDirectory('d');
    assert.deepEqual(await directFs(prefix).list(''), []);
  });

  it('a range read from a store that ignores Range (200, the whole object) reads no further than the range', async () => {
    const size = 128 * MiB;
    const byteOfMiB = (i: number) => (i * 37 + 1) & 0xff;
    let sent = 0;
    let closed: Promise<unknown> | undefined;
    const wholeObject = (_req: unknown, res: ServerResponse) => {
      closed = new Promise((resolve) => res.on('close', resolve));
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size) });
      const pump = (): void => {
        while (sent < size) {
          const more = res.write(Buffer.alloc(MiB, byteOfMiB(sent / MiB)));
          sent += MiB;
          if (!more) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    };
    s3.proxy.inject({ kind: 'respond', respond: wholeObject }, { match: ops.getObject });
    const data = await viaProxy(`ignored-range-${randomUUID()}`).read('big', { offset: 3 * MiB - 500, length: 1000 });
    assert.ok(Buffer.from(data).equals(Buffer.concat([Buffer.alloc(500, byteOfMiB(2)), Buffer.alloc(500, byteOfMiB(3))])));
    await closed;
    assert.ok(sent <= 32 * MiB, `the server got to send ${sent / MiB} of ${size / MiB} MiB`);

    const small = (_req: unknown, res: ServerResponse) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.end(Buffer.alloc(1000, 7));
    };
    s3.proxy.inject({ kind: 'respond', respond: small }, { match: ops.getObject });
    await assert.rejects(viaProxy('ignored-range').read('small', { offset: 990, length: 20 }), /range \[990, \+20\) is outside the file of 1000 bytes/);
  });
});

/**
 * What S3 answers to encoding-type=url, made from s3rver's listing (s3rver ignores the parameter):
 * keys form-encoded ('+' for a space), and an EncodingType element that says so.
 */
function urlEncodedListing(body: string, req: RequestInfo): string {
  if (req.query.get('encoding-type') !== 'url') return body;
  return body
    .replace(/<Key>([^<]*)<\/Key>/g, (_, key: string) => `<Key>${encodeURIComponent(unescapeXml(key)).replace(/%20/g, '+')}</Key>`)
    .replace(/(<ListBucketResult[^>]*>)/, '$1<EncodingType>url</EncodingType>');
}

const XML_ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (entity, name: string) => {
    if (name.startsWith('#x')) return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (name.startsWith('#')) return String.fromCodePoint(parseInt(name.slice(1), 10));
    return XML_ENTITIES[name] ?? entity;
  });
}
