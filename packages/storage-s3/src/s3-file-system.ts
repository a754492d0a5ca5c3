import { PassThrough, Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type GetObjectCommandOutput,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  confinePath,
  FlowstateError,
  StorageError,
  StorageNotFoundError,
  type FileStatus,
  type FileSystem,
  type FileWriter,
  type ReadRange,
} from '@flowstate/core';
import { backoffDelay, describeFailure, errorCodeOf, httpStatusOf, isNotFound, isTransient, redact, S3RequestFailure } from './errors.js';

const MiB = 1024 * 1024;
/** S3's lower bound for every part but the last. */
const MIN_PART_SIZE = 5 * MiB;
/** DeleteObjects accepts at most this many keys per request. */
const DELETE_BATCH = 1000;
const DEFAULT_CONNECTION_TIMEOUT_MS = 10_000;
const DEFAULT_SOCKET_TIMEOUT_MS = 120_000;

export interface S3RetryEvent {
  /** The S3 operation, e.g. 'GetObject', 'UploadPart'. */
  readonly operation: string;
  /** Display path of the file or directory (never contains credentials). */
  readonly path: string;
  /** 1 for the first retry. */
  readonly attempt: number;
  readonly delayMs: number;
  /** Redacted description of the failure that is being retried. */
  readonly reason: string;
}

export interface S3FileSystemOptions {
  readonly bucket: string;
  /** Key prefix every path lives under ('' or absent: the bucket root). Confined like any path. */
  readonly prefix?: string;
  /**
   * A client to use as is (its own retry settings then stack with ours). Without one, a client is
   * built from `clientConfig` with the standard credential chain and SDK-level retries turned off,
   * so that `maxRetries` alone decides how often a request is repeated.
   */
  readonly client?: S3Client;
  /**
   * For the client built when `client` is absent. Unless it sets `requestHandler`, connections
   * time out after 10 s and stalled sockets after 120 s of inactivity: the SDK has no such default,
   * and a black-holed connection would otherwise hang a checkpoint (and its abort) forever.
   */
  readonly clientConfig?: S3ClientConfig;
  /** Multipart part size in bytes; at least 5 MiB. Default 8 MiB. */
  readonly partSize?: number;
  /** Parts uploaded in parallel per file, and DeleteObjects batches in flight. Default 4. */
  readonly queueSize?: number;
  /** Retries per request after the first attempt, for transient failures only. Default 5. */
  readonly maxRetries?: number;
  /** First backoff delay; doubles per retry, with jitter. Default 100 ms. */
  readonly retryBaseDelayMs?: number;
  /** Cap on one backoff delay. Default 10 s. */
  readonly retryMaxDelayMs?: number;
  /** MaxKeys per ListObjectsV2 page. Default 1000 (the S3 maximum). */
  readonly listPageSize?: number;
  /** Called before every retry (metrics, logs). */
  readonly onRetry?: (event: S3RetryEvent) => void;
}

/**
 * A FileSystem over an S3 bucket (or any S3-compatible store). Paths map to keys under `prefix`.
 *
 * Atomicity comes from S3 itself: an object appears only when its PutObject or
 * CompleteMultipartUpload succeeds, so commit is "finish the upload" and abort is "never finish it".
 * No correctness property relies on conditional writes (If-None-Match), because S3-compatible
 * stores differ in whether they honour them; FsCheckpointStorage never reuses a file name anyway.
 */
export class S3FileSystem implements FileSystem {
  readonly scheme = 's3';
  readonly displayRoot: string;
  readonly bucket: string;
  /** '' or 'some/prefix/' (with the trailing slash). */
  private readonly keyPrefix: string;
  readonly client: S3Client;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly maxRetries: number;
  private readonly retryBaseDelayMs: number;
  private readonly retryMaxDelayMs: number;
  private readonly listPageSize: number;
  private readonly onRetry: ((event: S3RetryEvent) => void) | undefined;
  /** Values that must never appear in an error message. */
  private readonly secrets: string[];

  constructor(options: S3FileSystemOptions) {
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(options.bucket)) {
      throw new StorageError(`s3://${options.bucket}`, 'not a valid S3 bucket name');
    }
    this.bucket = options.bucket;
    const prefix = confinePath(options.prefix ?? '');
    this.keyPrefix = prefix === '' ? '' : `${prefix}/`;
    this.displayRoot = `s3://${this.bucket}${prefix === '' ? '' : `/${prefix}`}`;
    this.partSize = options.partSize ?? 8 * MiB;
    if (!Number.isSafeInteger(this.partSize) || this.partSize < MIN_PART_SIZE) {
      throw new StorageError(this.displayRoot, `partSize must be an integer of at least ${MIN_PART_SIZE} bytes, got ${this.partSize}`);
    }
    this.queueSize = positiveInt('queueSize', options.queueSize ?? 4, this.displayRoot);
    this.maxRetries = nonNegativeInt('maxRetries', options.maxRetries ?? 5, this.displayRoot);
    this.retryBaseDelayMs = nonNegativeInt('retryBaseDelayMs', options.retryBaseDelayMs ?? 100, this.displayRoot);
    this.retryMaxDelayMs = nonNegativeInt('retryMaxDelayMs', options.retryMaxDelayMs ?? 10_000, this.displayRoot);
    this.listPageSize = positiveInt('listPageSize', Math.min(options.listPageSize ?? 1000, 1000), this.displayRoot);
    this.onRetry = options.onRetry;
    this.client =
      options.client ??
      new S3Client({
        maxAttempts: 1,
        requestHandler: { connectionTimeout: DEFAULT_CONNECTION_TIMEOUT_MS, socketTimeout: DEFAULT_SOCKET_TIMEOUT_MS },
        ...options.clientConfig,
      });
    this.secrets = collectSecrets(options.clientConfig);
  }

  async create(path: string): Promise<FileWriter> {
    const p = confinePath(path);
    if (p === '') throw new StorageError(this.displayRoot, 'cannot create a file at the root');
    return new S3FileWriter({
      display: this.display(p),
      client: this.retryingClientFor(p),
      bucket: this.bucket,
      key: this.key(p),
      partSize: this.partSize,
      queueSize: this.queueSize,
      abortMultipartUpload: (uploadId) => this.abortMultipartUpload(p, uploadId),
      toStorageError: (e) => this.uploadError(p, e),
      headObject: async () => {
        try {
          const head = await this.call('HeadObject', p, () => this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(p) })));
          return { size: head.ContentLength ?? 0, lastModified: head.LastModified };
        } catch (e) {
          if (e instanceof StorageNotFoundError) return undefined;
          throw e;
        }
      },
    });
  }

  async read(path: string, range?: ReadRange): Promise<Uint8Array> {
    const p = confinePath(path);
    if (range === undefined) return this.get(p, undefined);
    const { offset, length } = range;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new StorageError(this.display(p), `invalid range [${offset}, +${length})`);
    }
    if (length === 0) {
      // 'bytes=a-(a-1)' is not a valid HTTP range, so an empty range is checked against the size.
      const st = await this.stat(p);
      if (st === null) throw new StorageNotFoundError(this.display(p));
      if (offset > st.size) throw this.rangeError(p, offset, length, st.size);
      return new Uint8Array(0);
    }
    return this.get(p, { offset, length });
  }

  async stat(path: string): Promise<FileStatus | null> {
    const p = confinePath(path);
    if (p === '') return null;
    try {
      const head = await this.call('HeadObject', p, () => this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(p) })));
      return { path: p, size: head.ContentLength ?? 0 };
    } catch (e) {
      if (e instanceof StorageNotFoundError) return null;
      throw e;
    }
  }

  async list(dir: string): Promise<FileStatus[]> {
    const d = confinePath(dir);
    const prefix = this.keyPrefix + (d === '' ? '' : `${d}/`);
    const out: FileStatus[] = [];
    let token: string | undefined;
    do {
      const page = await this.call('ListObjectsV2', d, () =>
        this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, MaxKeys: this.listPageSize, ContinuationToken: token }),
        ),
      );
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined || !o.Key.startsWith(this.keyPrefix)) continue;
        const rel = o.Key.slice(this.keyPrefix.length);
        // Zero-byte "folder" markers that consoles create, and keys no path could produce.
        if (rel.endsWith('/') || !isConfined(rel)) continue;
        out.push({ path: rel, size: o.Size ?? 0 });
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return out;
  }

  async delete(path: string): Promise<void> {
    const p = confinePath(path);
    if (p === '') throw new StorageError(this.displayRoot, 'cannot delete the root as a file');
    // DeleteObject succeeds for missing keys, which makes it idempotent for free.
    await this.call('DeleteObject', p, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(p) })));
  }

  async deleteMany(paths: readonly string[]): Promise<void> {
    // Every path is checked before anything is deleted: one bad path must not leave half a batch done.
    const unique = [...new Set(paths.map((path) => confinePath(path)))];
    for (const p of unique) if (p === '') throw new StorageError(this.displayRoot, 'cannot delete the root as a file');
    const batches: string[][] = [];
    for (let i = 0; i < unique.length; i += DELETE_BATCH) batches.push(unique.slice(i, i + DELETE_BATCH));
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < batches.length) await this.deleteBatch(batches[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(this.queueSize, batches.length) }, worker));
  }

  async deleteDirectory(dir: string): Promise<void> {
    const files = await this.list(dir);
    await this.deleteMany(files.map((f) => f.path));
  }

  // ---------------------------------------------------------------------------------------------

  /** `s3://bucket/prefix/path`, for messages. */
  private display(p: string): string {
    return p === '' ? this.displayRoot : `${this.displayRoot}/${p}`;
  }

  private key(p: string): string {
    return this.keyPrefix + p;
  }

  private rangeError(p: string, offset: number, length: number, size: number | undefined): StorageError {
    return new StorageError(
      this.display(p),
      `range [${offset}, +${length}) is outside the file` + (size === undefined ? '' : ` of ${size} bytes`),
    );
  }

  /** GetObject, with the body read inside the retried operation: a reset mid-body is retried too. */
  private async get(p: string, range: ReadRange | undefined): Promise<Uint8Array> {
    return this.call('GetObject', p, async () => {
      let res: GetObjectCommandOutput;
      try {
        res = await this.client.send(
          new GetObjectCommand({
            Bucket: this.bucket,
            Key: this.key(p),
            Range: range === undefined ? undefined : `bytes=${range.offset}-${range.offset + range.length - 1}`,
          }),
        );
      } catch (e) {
        if (range !== undefined && (errorCodeOf(e) === 'InvalidRange' || httpStatusOf(e) === 416)) {
          throw this.rangeError(p, range.offset, range.length, undefined);
        }
        throw e;
      }
      const sent = parseContentRange(res.ContentRange);
      if (range !== undefined && sent?.total !== undefined && range.offset + range.length > sent.total) {
        // Decided from the headers alone: some servers declare a body they never send for such ranges.
        if (res.Body instanceof Readable) res.Body.destroy();
        throw this.rangeError(p, range.offset, range.length, sent.total);
      }
      const expected = res.ContentLength;
      const data = await readBody(res.Body, expected);
      if (expected !== undefined && data.length !== expected) {
        throw new TruncatedBodyError(`response body ended after ${data.length} of ${expected} bytes`);
      }
      // Without Content-Range the server ignored the Range header and sent the whole object.
      if (range === undefined || (data.length === range.length && (sent === undefined ? range.offset === 0 : sent.start === range.offset))) {
        return data;
      }
      // HTTP lets a server send more than the range asked for (the whole object with 200, or a wider
      // 206, as s3rver does for 'bytes=0-0'): cut the requested window out of what arrived.
      const first = sent?.start ?? 0;
      if (range.offset >= first && range.offset + range.length <= first + data.length) {
        return Buffer.from(data.subarray(range.offset - first, range.offset - first + range.length));
      }
      if (sent === undefined && range.offset + range.length > data.length) {
        throw this.rangeError(p, range.offset, range.length, data.length);
      }
      throw new StorageError(
        this.display(p),
        `asked for bytes ${range.offset}-${range.offset + range.length - 1}, the server sent ${res.ContentRange ?? `${data.length} bytes`}`,
      );
    });
  }

  private async deleteBatch(paths: string[]): Promise<void> {
    const what = paths.length === 1 ? paths[0]! : `${paths[0]!} and ${paths.length - 1} more`;
    let keys = paths.map((p) => this.key(p));
    for (let attempt = 0; ; attempt++) {
      const res = await this.call('DeleteObjects', what, () =>
        this.client.send(
          new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }),
        ),
      );
      // A 200 response can still report per-key failures; those are retried like whole requests.
      const failed = (res.Errors ?? []).filter((err) => err.Code !== 'NoSuchKey');
      if (failed.length === 0) return;
      const first = failed[0]!;
      const reason = redact(`${first.Code ?? 'Error'}: ${first.Message ?? ''} (${failed.length} of ${keys.length} keys failed)`, this.secrets);
      const transient = failed.every((err) => isTransient({ Code: err.Code }));
      const firstPath = first.Key?.startsWith(this.keyPrefix) === true ? first.Key.slice(this.keyPrefix.length) : what;
      if (!transient || attempt >= this.maxRetries) {
        throw new StorageError(this.display(firstPath), `DeleteObjects failed after ${attempt + 1} attempt(s): ${reason}`, { transient });
      }
      keys = failed.map((err) => err.Key).filter((k): k is string => k !== undefined);
      await this.backoff('DeleteObjects', firstPath, attempt, reason);
    }
  }

  /**
   * Runs one S3 request with retries: transient failures (throttling, 5xx, timeouts, dropped
   * connections) are repeated with jittered exponential backoff, up to `maxRetries` times. The final
   * failure becomes a StorageError whose message and cause are free of credentials.
   */
  private async call<T>(operation: string, p: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        // Our own typed errors (range checks) are final; TruncatedBodyError is a transient one.
        if (e instanceof FlowstateError) throw e;
        if (isNotFound(e)) throw new StorageNotFoundError(this.display(p));
        const transient = e instanceof TruncatedBodyError || isTransient(e);
        const failure = describeFailure(operation, e, this.secrets);
        if (!transient || attempt >= this.maxRetries) {
          const tries = attempt === 0 ? '' : ` after ${attempt + 1} attempts`;
          throw new StorageError(this.display(p), `${operation} failed${tries}: ${failure.message}`, { transient, cause: failure });
        }
        await this.backoff(operation, p, attempt, failure.message);
      }
    }
  }

  private async backoff(operation: string, p: string, attempt: number, reason: string): Promise<void> {
    const delayMs = backoffDelay(attempt, this.retryBaseDelayMs, this.retryMaxDelayMs);
    try {
      this.onRetry?.({ operation, path: this.display(p), attempt: attempt + 1, delayMs, reason });
    } catch {
      // A metrics hook must not turn a recoverable failure into an unrecoverable one.
    }
    await sleep(delayMs);
  }

  /**
   * The client as lib-storage's Upload sees it: same configuration, but every command it sends
   * (CreateMultipartUpload, UploadPart, CompleteMultipartUpload, PutObject) goes through `call`,
   * so parts are retried with our policy. Part bodies are Buffers, so repeating one is safe.
   */
  private retryingClientFor(p: string): S3Client {
    const client = this.client;
    const send = client.send.bind(client) as (command: unknown, options?: unknown) => Promise<unknown>;
    const view = Object.create(client) as S3Client;
    Object.defineProperty(view, 'send', {
      value: (command: unknown, options?: unknown) => this.call(commandName(command), p, () => send(command, options)),
    });
    return view;
  }

  /** Best effort: an unfinished multipart upload is invisible; a bucket lifecycle rule reclaims it. */
  private async abortMultipartUpload(p: string, uploadId: string): Promise<void> {
    await this.call('AbortMultipartUpload', p, () =>
      this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.key(p), UploadId: uploadId })),
    ).catch(() => {});
  }

  /** Maps a failure of an Upload to a StorageError for `p`. */
  private uploadError(p: string, e: unknown): StorageError {
    if (e instanceof StorageError) return e;
    const failure = describeFailure('Upload', e, this.secrets);
    return new StorageError(this.display(p), `upload failed: ${failure.message}`, { transient: isTransient(e), cause: failure });
  }
}

/**
 * Streams a file into a lib-storage Upload through a PassThrough: Upload cuts the stream into
 * parts of `partSize` and keeps at most `queueSize` of them in flight, so memory stays around
 * (queueSize + 1) × partSize however large the file. A file smaller than one part becomes a single
 * PutObject when the stream ends, which is also why nothing is sent before commit for small files.
 */
/** What a writer needs from its file system; built by S3FileSystem.create from private members. */
interface WriterContext {
  /** `s3://bucket/prefix/path` */
  readonly display: string;
  /** Sends every command through the file system's retry policy. */
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  readonly partSize: number;
  readonly queueSize: number;
  abortMultipartUpload(uploadId: string): Promise<void>;
  toStorageError(e: unknown): StorageError;
  /** The object as S3 has it now, if it exists. */
  headObject(): Promise<{ size: number; lastModified: Date | undefined } | undefined>;
}

class S3FileWriter implements FileWriter {
  private state: 'open' | 'committing' | 'committed' | 'aborted' | 'failed' = 'open';
  private readonly body = new PassThrough();
  private readonly upload: Upload;
  /** Settles when the upload has finished or failed and no request of it is in flight any more. */
  private readonly outcome: Promise<{ ok: true } | { ok: false; error: unknown }>;
  private failure: { error: unknown } | undefined;
  private discarded = false;
  private bytesWritten = 0;
  private readonly startedAt = Date.now();

  constructor(private readonly ctx: WriterContext) {
    // Stream errors surface through `outcome`; without a listener they would crash the process.
    this.body.on('error', () => {});
    this.upload = new Upload({
      client: ctx.client,
      params: { Bucket: ctx.bucket, Key: ctx.key, Body: this.body },
      partSize: ctx.partSize,
      queueSize: ctx.queueSize,
      // We abort the multipart upload ourselves, after the last in-flight part has settled; lib-storage
      // would do it while parts are still being sent, and let an abort failure hide the real error.
      leavePartsOnError: true,
    });
    this.outcome = this.upload.done().then(
      () => ({ ok: true as const }),
      (error: unknown) => {
        this.failure = { error };
        this.body.destroy();
        return { ok: false as const, error };
      },
    );
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.state !== 'open') throw new StorageError(this.ctx.display, `write after ${this.state}`);
    if (this.failure !== undefined) throw await this.fail(this.failure.error);
    if (chunk.length === 0) return;
    this.bytesWritten += chunk.length;
    // A copy, because the caller may reuse its buffer once we return, while the bytes wait in the stream.
    if (!this.body.write(Buffer.from(chunk))) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.body.off('drain', done);
          this.body.off('close', done);
          resolve();
        };
        this.body.on('drain', done);
        this.body.on('close', done);
      });
    }
    if (this.body.destroyed) {
      const r = await this.outcome;
      throw await this.fail(r.ok ? new Error('upload stream closed') : r.error);
    }
  }

  async commit(): Promise<void> {
    if (this.state !== 'open') throw new StorageError(this.ctx.display, `commit after ${this.state}`);
    this.state = 'committing';
    this.body.end();
    const r = await this.outcome;
    if (!r.ok && !(await this.completedDespite())) throw await this.fail(r.error);
    this.state = 'committed';
  }

  /**
   * CompleteMultipartUpload is not idempotent: when S3 completed the upload but the response was
   * lost, the retry finds no upload any more and fails. The object then exists, with exactly our
   * size and a modification time after this writer started: the commit did happen.
   */
  private async completedDespite(): Promise<boolean> {
    if (this.upload.uploadId === undefined) return false; // single PutObject: retries are idempotent
    const head = await this.ctx.headObject().catch(() => undefined);
    if (head === undefined || head.size !== this.bytesWritten) return false;
    // Allow for clock skew between this host and S3.
    return head.lastModified === undefined || head.lastModified.getTime() >= this.startedAt - 5_000;
  }

  async abort(): Promise<void> {
    if (this.state === 'committed' || this.state === 'aborted') return;
    if (this.state === 'committing') {
      // Racing a commit: the upload finishes or fails on its own; an object that made it stays.
      await this.outcome;
      return;
    }
    this.state = 'aborted';
    // Failing the stream makes every Upload worker stop; `outcome` settles once in-flight parts have.
    this.body.destroy(new Error('aborted by the writer'));
    await this.outcome;
    await this.discard();
  }

  private async fail(error: unknown): Promise<StorageError> {
    if (this.state === 'open' || this.state === 'committing') this.state = 'failed';
    await this.discard();
    return this.ctx.toStorageError(error);
  }

  private async discard(): Promise<void> {
    if (this.discarded) return;
    this.discarded = true;
    if (this.upload.uploadId !== undefined) await this.ctx.abortMultipartUpload(this.upload.uploadId);
  }
}

/** A response body that ended before Content-Length bytes: the connection dropped; retry. */
class TruncatedBodyError extends Error {
  override readonly name = 'TruncatedBodyError';
}

async function readBody(body: unknown, expected: number | undefined): Promise<Buffer> {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (body instanceof Readable) {
    // One allocation of the declared size: a 64 MiB read does not also hold its chunks.
    if (expected !== undefined) {
      const out = Buffer.allocUnsafe(expected);
      let n = 0;
      for await (const chunk of body as AsyncIterable<Buffer>) {
        if (n + chunk.length > expected) throw new TruncatedBodyError(`response body exceeds its Content-Length of ${expected}`);
        chunk.copy(out, n);
        n += chunk.length;
      }
      return n === expected ? out : out.subarray(0, n);
    }
    const chunks: Buffer[] = [];
    for await (const chunk of body as AsyncIterable<Buffer>) chunks.push(chunk);
    return Buffer.concat(chunks);
  }
  if (typeof body === 'object' && 'transformToByteArray' in body && typeof body.transformToByteArray === 'function') {
    const bytes: unknown = await (body.transformToByteArray as () => Promise<unknown>)();
    if (bytes instanceof Uint8Array) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  throw new S3RequestFailure('GetObject', 'unsupported response body type', undefined, undefined, undefined);
}

/** 'bytes 0-99/1234' → { start: 0, end: 99, total: 1234 }; 'bytes 0-99/*' leaves total undefined. */
function parseContentRange(header: string | undefined): { start: number; end: number; total: number | undefined } | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header?.trim() ?? '');
  if (m === null) return undefined;
  return { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? undefined : Number(m[3]) };
}

function commandName(command: unknown): string {
  const name = typeof command === 'object' && command !== null ? command.constructor.name : '';
  return name.endsWith('Command') ? name.slice(0, -'Command'.length) : name || 'S3Request';
}

function isConfined(rel: string): boolean {
  try {
    return confinePath(rel) === rel;
  } catch {
    return false;
  }
}

function positiveInt(name: string, v: number, root: string): number {
  if (!Number.isSafeInteger(v) || v < 1) throw new StorageError(root, `${name} must be a positive integer, got ${v}`);
  return v;
}

function nonNegativeInt(name: string, v: number, root: string): number {
  if (!Number.isSafeInteger(v) || v < 0) throw new StorageError(root, `${name} must be a non-negative integer, got ${v}`);
  return v;
}

/** Static credentials from the config and the environment, to redact should a message echo them. */
function collectSecrets(config: S3ClientConfig | undefined): string[] {
  const out: string[] = [];
  const creds: unknown = config?.credentials;
  if (typeof creds === 'object' && creds !== null) {
    const c = creds as { accessKeyId?: unknown; secretAccessKey?: unknown; sessionToken?: unknown };
    for (const v of [c.accessKeyId, c.secretAccessKey, c.sessionToken]) if (typeof v === 'string') out.push(v);
  }
  for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
    const v = process.env[name];
    if (v !== undefined && v !== '') out.push(v);
  }
  return out;
}
