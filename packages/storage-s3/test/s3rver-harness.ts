import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { S3ClientConfig } from '@aws-sdk/client-s3';

/** s3rver accepts exactly this key pair (and signs its checks with it). */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface S3rverInstance {
  /** 'http://127.0.0.1:<port>' */
  readonly endpoint: string;
  readonly port: number;
  /** The temporary data directory; removed by stop(). */
  readonly directory: string;
  stop(): Promise<void>;
}

/**
 * Client settings for s3rver (or a proxy in front of it): path-style addressing, its fixed
 * credentials, and checksums only where S3 requires them, because s3rver does not understand the
 * aws-chunked trailers the SDK would otherwise add to streamed bodies.
 */
export function s3rverClientConfig(endpoint: string, overrides: Partial<S3ClientConfig> = {}): S3ClientConfig {
  return {
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: { ...S3RVER_CREDENTIALS },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...overrides,
  };
}

/**
 * Starts s3rver in a child process on 127.0.0.1 with an ephemeral port and a fresh temporary
 * directory, with the given buckets created.
 *
 * A child process rather than in-process: s3rver encrypts ListObjectsV2 continuation tokens with
 * single DES, which OpenSSL 3 only offers with `--openssl-legacy-provider`, and that flag must be
 * in NODE_OPTIONS when the process starts. Setting it for the child keeps the test process on
 * the default provider. The child exits when its stdin closes, so it cannot outlive the tests.
 * Multipart objects get S3's ETags rather than s3rver's (see s3MultipartETags).
 */
export async function startS3rver(options: { buckets?: readonly string[] } = {}): Promise<S3rverInstance> {
  const buckets = options.buckets ?? ['flowstate-test'];
  const directory = await mkdtemp(join(tmpdir(), 'flowstate-s3rver-'));
  const s3rverMain = createRequire(import.meta.url).resolve('s3rver');
  const script = `
    const S3rver = require(${JSON.stringify(s3rverMain)});
    ${s3MultipartETags(s3rverMain)}
    const server = new S3rver({
      address: '127.0.0.1',
      port: 0,
      silent: true,
      directory: ${JSON.stringify(directory)},
      configureBuckets: ${JSON.stringify(buckets.map((name) => ({ name })))},
    });
    server.run().then(
      (addr) => process.stdout.write(JSON.stringify({ port: addr.port }) + '\\n'),
      (err) => { console.error(err); process.exit(1); },
    );
    process.stdin.on('end', () => server.close().finally(() => process.exit(0)));
    process.stdin.resume();
  `;
  const nodeOptions = [process.env.NODE_OPTIONS ?? '', '--openssl-legacy-provider'].join(' ').trim();
  const child = spawn(process.execPath, ['-e', script], {
    env: { ...process.env, NODE_OPTIONS: nodeOptions },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`s3rver did not start within 20 s: ${stderr}`)), 20_000);
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const line = out.split('\n')[0];
        if (out.includes('\n') && line !== undefined) {
          clearTimeout(timer);
          resolve((JSON.parse(line) as { port: number }).port);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`s3rver exited with ${code} before listening: ${stderr}`));
      });
    });
  } catch (e) {
    await stopChild(child);
    await rm(directory, { recursive: true, force: true });
    throw e;
  }
  let stopped: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    directory,
    stop: () =>
      (stopped ??= (async () => {
        await stopChild(child);
        await rm(directory, { recursive: true, force: true });
      })()),
  };
}

/**
 * Child-process code that gives a multipart object S3's ETag: the MD5 of its parts' binary MD5s,
 * then '-' and the number of parts (MinIO and Ceph do the same). s3rver gives it the MD5 of the
 * whole content, which S3FileWriter cannot check its parts against when it has to find out whether
 * a CompleteMultipartUpload whose response was lost did complete.
 */
function s3MultipartETags(s3rverMain: string): string {
  const store = join(dirname(s3rverMain), 'stores', 'filesystem.js');
  return `(() => {
    const { createHash } = require('node:crypto');
    const { readFile, writeFile } = require('node:fs/promises');
    const { join } = require('node:path');
    const Store = require(${JSON.stringify(store)});
    const complete = Store.prototype.putObjectMultipart;
    Store.prototype.putObjectMultipart = async function (bucket, uploadId, parts) {
      const dir = join(this.getResourcePath(bucket, undefined, 'uploads'), uploadId);
      const key = await readFile(join(dir, 'key'), 'utf8');
      const sorted = [...parts].sort((a, b) => a.number - b.number);
      const md5s = await Promise.all(sorted.map((p) => readFile(join(dir, p.number + '.md5'), 'utf8')));
      const result = await complete.call(this, bucket, uploadId, parts);
      const md5 = createHash('md5').update(Buffer.from(md5s.join(''), 'hex')).digest('hex') + '-' + md5s.length;
      await writeFile(this.getResourcePath(bucket, key, 'object.md5'), md5);
      return { ...result, md5 };
    };
  })();`;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stdin?.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
