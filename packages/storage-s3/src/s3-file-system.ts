import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type GetObjectCommandOutput,
  type ListObjectsV2CommandOutput,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import {
  confinePath,
  FlowstateError,
  forEachLimit,
  PathEscapeError,
  PERMANENT_FAILURE,
  Redactor,
  RetryPolicy,
  StorageError,
  StorageNotFoundError,
  StorageOperationError,
  StorageProtocolError,
  type FailureClassification,
  type FileStatus,
  type FileSystem,
  type FileWriter,
  type ReadRange,
  type RetryOptions,
  type StorageRetryEvent,
} from '@flowstate/core';
import { describeFailure, errorCodeOf, httpStatusOf, isNotFound, isTransient, S3RequestFailure } from './errors.js';
import { S3FileWriter } from './s3-file-writer.js';

const MiB = 1024 * 1024;
/** S3's lower bound for every part but the last. */
const MIN_PART_SIZE = 5 * MiB;
/** DeleteObjects accepts at most this many keys per request. */
const DELETE_BATCH = 1000;
const DEFAULT_CONNECTION_TIMEOUT_MS = 10_000;
const DEFAULT_SOCKET_TIMEOUT_MS = 120_000;

/** `operation` is the S3 operation, e.g. 'GetObject', 'UploadPart'. */
export type S3RetryEvent = StorageRetryEvent;

/** Without options: 6 attempts (5 retries), 100 ms doubling to at most 10 s. */
const S3_RETRY_DEFAULTS = { maxAttempts: 6, baseDelayMs: 100, maxDelayMs: 10_000 } as const;

export interface S3FileSystemOptions {
  readonly bucket: string;
  /** Key prefix every path lives under ('' or absent: the bucket root). Confined like any path. */
  readonly prefix?: string;
  /**
   * A client to use as is (its own retry settings then stack with ours). Without one, a client is
   * built from `clientConfig` with the standard credential chain and SDK-level retries turned off,
   * so that `retry` alone decides how often a request is repeated.
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
  /**
   * Retries of transient failures (throttling, 5xx, timeouts, dropped connections): core's
   * RetryPolicy. Default 6 attempts, 100 ms doubling to at most 10 s, no time budget.
   */
  readonly retry?: RetryOptions;
  /** @deprecated Use `retry.maxAttempts` (= maxRetries + 1). */
  readonly maxRetries?: number;
  /** @deprecated Use `retry.baseDelayMs`. */
  readonly retryBaseDelayMs?: number;
  /** @deprecated Use `retry.maxDelayMs`. */
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
  readonly retry: RetryPolicy;
  private readonly listPageSize: number;
  private readonly onRetry: ((event: S3RetryEvent) => void) | undefined;
  /** Removes the configured credentials (and anything credential-like) from messages. */
  private readonly redactor: Redactor;

  constructor(options: S3FileSystemOptions) {
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(options.bucket)) {
      throw new StorageError(`s3://${options.bucket}`, 'not a valid S3 bucket name');
    }
    this.bucket = options.bucket;
    const prefix = refuseCarriageReturn(confinePath(options.prefix ?? ''));
    this.keyPrefix = prefix === '' ? '' : `${prefix}/`;
    this.displayRoot = `s3://${this.bucket}${prefix === '' ? '' : `/${prefix}`}`;
    this.partSize = options.partSize ?? 8 * MiB;
    if (!Number.isSafeInteger(this.partSize) || this.partSize < MIN_PART_SIZE) {
      throw new StorageError(this.displayRoot, `partSize must be an integer of at least ${MIN_PART_SIZE} bytes, got ${this.partSize}`);
    }
    this.queueSize = positiveInt('queueSize', options.queueSize ?? 4, this.displayRoot);
    this.retry = new RetryPolicy(retryOptions(options, this.displayRoot), S3_RETRY_DEFAULTS);
    this.listPageSize = positiveInt('listPageSize', Math.min(options.listPageSize ?? 1000, 1000), this.displayRoot);
    this.onRetry = options.onRetry;
    this.client =
      options.client ??
      new S3Client({
        maxAttempts: 1,
        requestHandler: { connectionTimeout: DEFAULT_CONNECTION_TIMEOUT_MS, socketTimeout: DEFAULT_SOCKET_TIMEOUT_MS },
        ...options.clientConfig,
      });
    this.redactor = new Redactor(collectSecrets(options.clientConfig));
  }

  async create(path: string): Promise<FileWriter> {
    const p = confinePath(path);
    if (p === '') throw new StorageError(this.displayRoot, 'cannot create a file at the root');
    refuseCarriageReturn(p);
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
          return { size: head.ContentLength ?? 0, eTag: head.ETag, metadata: head.Metadata ?? {} };
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
    const tokens = new Set<string>();
    let token: string | undefined;
    do {
      const page = await this.call('ListObjectsV2', d, () =>
        this.client.send(
          // Keys come url-encoded where the store supports it: XML cannot carry every character.
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, MaxKeys: this.listPageSize, ContinuationToken: token, EncodingType: 'url' }),
        ),
      );
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined) continue;
        const key = this.listedKey(d, o.Key, page.EncodingType);
        // Prefix only asks: a store that ignores it must not make deleteDirectory('chk-1') reach chk-10/.
        if (!key.startsWith(prefix)) continue;
        const rel = key.slice(this.keyPrefix.length);
        // Zero-byte "folder" markers that consoles create, and keys no path could produce.
        if (rel.endsWith('/') || !isConfined(rel)) continue;
        out.push({ path: rel, size: o.Size ?? 0 });
      }
      token = this.nextPageToken(d, page, tokens);
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
    await forEachLimit(batches, this.queueSize, (batch) => this.deleteBatch(batch));
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

  /** A key as a listing returned it: url-encoded when the store says so (not every store does). */
  private listedKey(d: string, key: string, encoding: string | undefined): string {
    if (encoding !== 'url') return key;
    try {
      // Form encoding, as S3 uses it: '+' is a space ('+' itself comes as %2B).
      return decodeURIComponent(key.replace(/\+/g, ' '));
    } catch {
      throw this.listingError(d, `a url-encoded key is malformed: ${JSON.stringify(key)}`);
    }
  }

  /**
   * The continuation token of the page after `page`, or undefined after the last page. A truncated
   * page without a token, or with one seen before, would end the listing early or never: either
   * way deleteDirectory would leave files behind, so the listing fails instead.
   */
  private nextPageToken(d: string, page: ListObjectsV2CommandOutput, seen: Set<string>): string | undefined {
    if (page.IsTruncated !== true) return undefined;
    const token = page.NextContinuationToken;
    if (token === undefined || token === '') throw this.listingError(d, 'a page is truncated but carries no NextContinuationToken');
    if (seen.has(token)) throw this.listingError(d, 'a page repeats a continuation token of an earlier page');
    seen.add(token);
    return token;
  }

  private listingError(d: string, detail: string): StorageProtocolError {
    return new StorageProtocolError(this.display(d), `ListObjectsV2: ${detail}`, { operation: 'ListObjectsV2' });
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
      if (range === undefined) return fullBody(res);
      const sent = parseContentRange(res.ContentRange);
      // Without Content-Range the server ignored the Range header and sends the whole object.
      if (sent === undefined) return this.windowOfWholeObject(p, res, range);
      if (sent.total !== undefined && range.offset + range.length > sent.total) {
        // Decided from the headers alone: some servers declare a body they never send for such ranges.
        if (res.Body instanceof Readable) res.Body.destroy();
        throw this.rangeError(p, range.offset, range.length, sent.total);
      }
      const data = await fullBody(res);
      if (data.length === range.length && sent.start === range.offset) return data;
      // HTTP lets a server send more than the range asked for (a wider 206, as s3rver does for
      // 'bytes=0-0'): cut the requested window out of what arrived.
      if (range.offset >= sent.start && range.offset + range.length <= sent.start + data.length) {
        return Buffer.from(data.subarray(range.offset - sent.start, range.offset - sent.start + range.length));
      }
      throw new StorageError(this.display(p), `asked for bytes ${range.offset}-${range.offset + range.length - 1}, the server sent bytes ${sent.start}-${sent.end}/${sent.total ?? '*'}`);
    });
  }

  /**
   * The range of a response that carries the whole object: only the range is kept, and the body is
   * dropped once it has gone by, so that a 16-byte read of a 1 GiB object neither downloads nor
   * buffers the GiB.
   */
  private async windowOfWholeObject(p: string, res: GetObjectCommandOutput, range: ReadRange): Promise<Uint8Array> {
    const { data, seen } = await readWindow(res.Body, range.offset, range.length);
    if (data.length === range.length) return data;
    if (res.ContentLength !== undefined && seen < res.ContentLength) {
      throw new TruncatedBodyError(`response body ended after ${seen} of ${res.ContentLength} bytes`);
    }
    throw this.rangeError(p, range.offset, range.length, seen);
  }

  /**
   * One DeleteObjects request, retried as a whole by `call`. A 200 response can still report
   * per-key failures; those keys are sent again, under the same policy, until none fail.
   */
  private async deleteBatch(paths: string[]): Promise<void> {
    const what = paths.length === 1 ? paths[0]! : `${paths[0]!} and ${paths.length - 1} more`;
    let keys = paths.map((p) => this.key(p));
    await this.retry.run({
      idempotent: true,
      attempt: async () => {
        const res = await this.call('DeleteObjects', what, () =>
          this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } })),
        );
        const failed = (res.Errors ?? []).filter((err) => err.Code !== 'NoSuchKey');
        if (failed.length === 0) return;
        const first = failed[0]!;
        const reason = this.redactor.redact(`${first.Code ?? 'Error'}: ${first.Message ?? ''} (${failed.length} of ${keys.length} keys failed)`);
        const firstPath = first.Key?.startsWith(this.keyPrefix) === true ? first.Key.slice(this.keyPrefix.length) : what;
        keys = failed.map((err) => err.Key).filter((k): k is string => k !== undefined);
        throw new PartialDeleteFailure(firstPath, reason, failed.every((err) => isTransient({ Code: err.Code })));
      },
      // Anything but a per-key failure is `call`'s final verdict already.
      classify: (e) => (e instanceof PartialDeleteFailure ? { transient: e.transient, applied: 'maybe' } : PERMANENT_FAILURE),
      onRetry: ({ attempt, delayMs, error }) => {
        if (error instanceof PartialDeleteFailure) this.onRetry?.({ operation: 'DeleteObjects', path: this.display(error.path), attempt, delayMs, reason: error.message });
      },
      giveUp: (e, { attempts }) =>
        e instanceof PartialDeleteFailure
          ? new StorageOperationError(this.display(e.path), `DeleteObjects failed after ${attempts} attempt(s): ${e.message}`, { operation: 'DeleteObjects', attempts }, { transient: e.transient })
          : e,
    });
  }

  /**
   * Runs one S3 request under the retry policy: transient failures (throttling, 5xx, timeouts,
   * dropped connections) are repeated with jittered backoff. Every S3 request we send counts as
   * idempotent: GETs, HEADs, LISTs and deletes are; PutObject and UploadPart replace a whole object
   * or part with the same bytes; the one exception, CompleteMultipartUpload, is checked by the
   * writer against the upload token in the object's metadata (or, without one, its ETag) when a
   * failed attempt may have completed the upload. The final
   * failure becomes a StorageError whose message and cause are free of credentials.
   */
  private call<T>(operation: string, p: string, fn: () => Promise<T>): Promise<T> {
    return this.retry.run({
      idempotent: true,
      attempt: fn,
      classify: classifyS3Failure,
      onRetry: ({ attempt, delayMs, error }) =>
        this.onRetry?.({ operation, path: this.display(p), attempt, delayMs, reason: describeFailure(operation, error, this.redactor).message }),
      giveUp: (e, { attempts }) => this.requestError(operation, p, e, attempts),
    });
  }

  /** The error a caller sees for a failed request: our own typed errors as they are, S3's redacted. */
  private requestError(operation: string, p: string, e: unknown, attempts: number): unknown {
    if (e instanceof FlowstateError) return e;
    if (isNotFound(e)) return new StorageNotFoundError(this.display(p));
    const failure = describeFailure(operation, e, this.redactor);
    const tries = attempts === 1 ? '' : ` after ${attempts} attempts`;
    return new StorageOperationError(
      this.display(p),
      `${operation} failed${tries}: ${failure.message}`,
      { operation, attempts, ...(failure.httpStatusCode === undefined ? {} : { httpStatus: failure.httpStatusCode }) },
      { transient: classifyS3Failure(e).transient, cause: failure },
    );
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
    const failure = describeFailure('Upload', e, this.redactor);
    return new StorageError(this.display(p), `upload failed: ${failure.message}`, { transient: isTransient(e), cause: failure });
  }
}

/** Our own typed errors (range checks) and "not found" are final; TruncatedBodyError is transient. */
function classifyS3Failure(e: unknown): FailureClassification {
  if (e instanceof FlowstateError || isNotFound(e)) return PERMANENT_FAILURE;
  return { transient: e instanceof TruncatedBodyError || isTransient(e), applied: 'maybe' };
}

/** Some keys of a DeleteObjects request failed although the request itself succeeded. */
class PartialDeleteFailure extends Error {
  constructor(
    /** The first failed key's path, for the message. */
    readonly path: string,
    reason: string,
    readonly transient: boolean,
  ) {
    super(reason);
  }
}

/** The retry options, with the deprecated flat names (maxRetries...) mapped onto them. */
function retryOptions(options: S3FileSystemOptions, root: string): RetryOptions {
  const maxRetries = options.maxRetries === undefined ? undefined : nonNegativeInt('maxRetries', options.maxRetries, root);
  const base = options.retryBaseDelayMs === undefined ? undefined : nonNegativeInt('retryBaseDelayMs', options.retryBaseDelayMs, root);
  const max = options.retryMaxDelayMs === undefined ? undefined : nonNegativeInt('retryMaxDelayMs', options.retryMaxDelayMs, root);
  return {
    ...options.retry,
    maxAttempts: options.retry?.maxAttempts ?? (maxRetries === undefined ? undefined : maxRetries + 1),
    baseDelayMs: options.retry?.baseDelayMs ?? base,
    maxDelayMs: options.retry?.maxDelayMs ?? max,
  };
}

/** A response body that ended before Content-Length bytes: the connection dropped; retry. */
class TruncatedBodyError extends Error {
  override readonly name = 'TruncatedBodyError';
}

/** The whole body of a response, which must be as long as its Content-Length says. */
async function fullBody(res: GetObjectCommandOutput): Promise<Buffer> {
  const expected = res.ContentLength;
  const data = await readBody(res.Body, expected);
  if (expected !== undefined && data.length !== expected) {
    throw new TruncatedBodyError(`response body ended after ${data.length} of ${expected} bytes`);
  }
  return data;
}

/**
 * Bytes [offset, offset + length) of a body, reading no further: the body is destroyed once they
 * have arrived. `seen` counts the bytes read, which is the whole body when the range was not in it.
 */
async function readWindow(body: unknown, offset: number, length: number): Promise<{ data: Buffer; seen: number }> {
  if (!(body instanceof Readable)) {
    const all = await readBody(body, undefined);
    return { data: Buffer.from(all.subarray(offset, offset + length)), seen: all.length };
  }
  const out = Buffer.allocUnsafe(length);
  let filled = 0;
  let seen = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    const from = offset + filled - seen;
    seen += chunk.length;
    if (from < chunk.length) filled += chunk.copy(out, filled, from, Math.min(chunk.length, from + length - filled));
    // Leaving the loop destroys the body, and with it the connection: the rest is never read.
    if (filled === length) break;
  }
  return { data: filled === length ? out : out.subarray(0, filled), seen };
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

/**
 * XML turns a CR into a LF, and stores that ignore encoding-type=url (s3rver) list a key with one
 * under a name no request finds: stat, read and deleteDirectory would miss the file. So no key we
 * create has one; keys others made are still listed, read and deleted.
 */
function refuseCarriageReturn(path: string): string {
  if (path.includes('\r')) throw new PathEscapeError(path, 'contains a carriage return, which S3 listings do not return intact from every store');
  return path;
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
