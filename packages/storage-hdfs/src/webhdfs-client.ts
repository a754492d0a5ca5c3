import { PERMANENT_FAILURE, Redactor, RetryPolicy, type StorageError } from '@flowstate/core';
import { WebHdfsConfigError, WebHdfsError, WebHdfsOutcomeUnknownError, WebHdfsRenameRefusedError, WebHdfsRetriesExhaustedError, type WebHdfsErrorDetails } from './errors.js';
import { isRecord, num, parseFileStatus, str, type HdfsFileStatus, type HdfsListingPage } from './file-status.js';
import { AttemptFailure, protocolError, protocolFailure, transientFailure } from './failures.js';
import {
  positiveInteger,
  WEBHDFS_RETRY_DEFAULTS,
  type WebHdfsCallOptions,
  type WebHdfsClientOptions,
  type WebHdfsCreateOptions,
  type WebHdfsReadRange,
  type WebHdfsRetryEvent,
} from './options.js';
import { WebHdfsTransport, type IdleTimer } from './transport.js';

export { WebHdfsConfigError } from './errors.js';
export { positiveInteger, type WebHdfsCallOptions, type WebHdfsClientOptions, type WebHdfsCreateOptions, type WebHdfsReadRange, type WebHdfsRetryEvent, type WebHdfsRetryOptions } from './options.js';
export type { HdfsFileStatus, HdfsFileType, HdfsListingPage } from './file-status.js';

type Params = Record<string, string | undefined>;

/**
 * A small WebHDFS REST client on Node's global `fetch`, with no dependencies. Paths are absolute
 * HDFS paths ('/user/flink/chk-1/_metadata'); every method that fails throws a StorageError
 * (StorageNotFoundError for FileNotFoundException, the WebHdfs* error classes otherwise).
 *
 * Protocol notes that shape the code:
 * - CREATE, APPEND and OPEN are two-step: the namenode answers 307 with a datanode `Location`
 *   (or, with `noredirect=true`, 200 `{"Location": ...}`) and only the datanode gets the body
 *   (see transport.ts).
 * - Retries follow core's RetryPolicy and its idempotence rule. Idempotent requests (reads,
 *   listings, MKDIRS, DELETE, CREATE with overwrite) are retried on any transient failure.
 *   Non-idempotent ones (CREATE without overwrite, APPEND, RENAME) are retried only when the
 *   failure proves nothing happened (the namenode step of a two-step op, which only picks a
 *   datanode; connection refused; 503/429; Standby/Retriable/SafeMode exceptions); otherwise the
 *   caller gets a WebHdfsOutcomeUnknownError and must look before retrying (see failures.ts).
 */
export class WebHdfsClient {
  /** `webhdfs://host:port` (or swebhdfs) for messages. */
  readonly authority: string;
  /** The retry policy every call runs under; also used by callers that run reconciliation loops. */
  readonly retry: RetryPolicy;
  private readonly base: URL;
  private readonly basePathname: string;
  private readonly user: string | undefined;
  private readonly token: string | undefined;
  private readonly doAs: string | undefined;
  private readonly redirectMode: 'redirect' | 'noredirect';
  private readonly transport: WebHdfsTransport;
  private readonly onRetry: ((event: WebHdfsRetryEvent) => void) | undefined;

  constructor(options: WebHdfsClientOptions) {
    const url = parseEndpoint(options.endpoint);
    const p = url.pathname.replace(/\/+$/, '');
    this.basePathname = p.endsWith('/webhdfs/v1') ? p : `${p}/webhdfs/v1`;
    this.base = url;
    this.user = options.user;
    this.token = options.delegationToken === '' ? undefined : options.delegationToken;
    this.doAs = options.doAs;
    this.redirectMode = options.redirectMode ?? 'redirect';
    // Checked here first so that a bad count stays the WebHdfsConfigError callers already handle;
    // a negative base delay has always meant "no delay".
    positiveInteger('retry.maxAttempts', options.retry?.maxAttempts ?? WEBHDFS_RETRY_DEFAULTS.maxAttempts);
    const baseDelayMs = Math.max(0, options.retry?.baseDelayMs ?? WEBHDFS_RETRY_DEFAULTS.baseDelayMs);
    this.retry = new RetryPolicy({ ...options.retry, baseDelayMs }, WEBHDFS_RETRY_DEFAULTS);
    this.transport = new WebHdfsTransport(options.fetch ?? globalThis.fetch, Math.max(1, options.requestTimeoutMs ?? 60_000), new Redactor([this.token]));
    this.onRetry = options.onRetry;
    this.authority = `${url.protocol === 'https:' ? 'swebhdfs' : 'webhdfs'}://${url.host}`;
  }

  /** The `webhdfs://host:port/path` URI of an absolute HDFS path; safe for messages. */
  uri(path: string): string {
    return `${this.authority}${this.normalize(path)}`;
  }

  // ---------------------------------------------------------------- writes

  /** CREATE: writes `data` as a new file (two steps, body only to the datanode). */
  async create(path: string, data: Uint8Array, options: WebHdfsCreateOptions = {}): Promise<void> {
    const overwrite = options.overwrite ?? false;
    const params: Params = {
      overwrite: String(overwrite),
      blocksize: options.blockSize === undefined ? undefined : String(options.blockSize),
      replication: options.replication === undefined ? undefined : String(options.replication),
      permission: options.permission,
    };
    // Without overwrite a replay after an unacknowledged success fails with "already exists"
    // (or worse, finds a partial file), so only overwriting creates count as idempotent.
    await this.twoStepWrite('CREATE', 'PUT', path, params, data, overwrite, options.maxAttempts);
  }

  /** APPEND: adds `data` to the end of an existing file. Never retried once the data may have landed. */
  async append(path: string, data: Uint8Array, options: WebHdfsCallOptions = {}): Promise<void> {
    await this.twoStepWrite('APPEND', 'POST', path, {}, data, false, options.maxAttempts);
  }

  // ---------------------------------------------------------------- reads

  /**
   * OPEN, buffered. A connection lost mid-body is resumed from the last byte received, so a
   * retry never re-downloads what already arrived.
   */
  async open(path: string, range: WebHdfsReadRange = {}): Promise<Uint8Array> {
    const abs = this.normalize(path);
    const display = this.uri(abs);
    const offset = range.offset ?? 0;
    this.checkRange(display, offset, range.length);
    const parts: Uint8Array[] = [];
    let received = 0;
    await this.run('OPEN', display, true, undefined, async (timer) => {
      const remaining = range.length === undefined ? undefined : range.length - received;
      // A retry after everything arrived (only the length check failed) has nothing left to
      // fetch; a first attempt always asks, so a zero-length read of a missing file still fails.
      if (remaining === 0 && received > 0) return;
      const res = await this.openResponse(abs, display, offset + received, remaining, timer);
      const declared = Number(res.headers.get('content-length') ?? NaN);
      let got = 0;
      await this.transport.readBody('OPEN', display, res, timer, (chunk) => {
        parts.push(chunk);
        received += chunk.length;
        got += chunk.length;
      });
      if (Number.isFinite(declared) && got !== declared) {
        throw transientFailure('OPEN', display, `response body ended after ${got} of ${declared} bytes`, 'maybe');
      }
    });
    return concat(parts, received);
  }

  /**
   * OPEN, streamed. Retries cover everything up to the response headers; a failure while the
   * body streams surfaces as a transient WebHdfsError (the consumer knows how far it got).
   */
  async *openStream(path: string, range: WebHdfsReadRange = {}): AsyncGenerator<Uint8Array, void, undefined> {
    const abs = this.normalize(path);
    const display = this.uri(abs);
    const offset = range.offset ?? 0;
    this.checkRange(display, offset, range.length);
    const { res, timer } = await this.run(
      'OPEN',
      display,
      true,
      undefined,
      async (t) => ({ res: await this.openResponse(abs, display, offset, range.length, t), timer: t }),
      { keepTimer: true },
    );
    const reader = res.body?.getReader();
    if (reader === undefined) {
      timer.clear();
      return;
    }
    let done = false;
    try {
      for (;;) {
        let r: Awaited<ReturnType<typeof reader.read>>;
        try {
          r = await reader.read();
        } catch (e) {
          throw this.transport.networkFailure('OPEN', display, e, timer).error;
        }
        if (r.done) {
          done = true;
          return;
        }
        timer.touch();
        yield r.value;
      }
    } finally {
      timer.clear();
      if (!done) await reader.cancel().catch(() => {});
    }
  }

  // ---------------------------------------------------------------- namespace

  /** GETFILESTATUS. Throws StorageNotFoundError when nothing is there. */
  async getFileStatus(path: string, options: WebHdfsCallOptions = {}): Promise<HdfsFileStatus> {
    const body = await this.jsonOp('GETFILESTATUS', 'GET', path, {}, true, options.maxAttempts);
    const st = isRecord(body) ? parseFileStatus(body['FileStatus']) : undefined;
    if (st === undefined) throw protocolError('GETFILESTATUS', this.uri(path), 'response has no valid FileStatus object');
    return st;
  }

  /** LISTSTATUS: the whole directory in one response (a file lists as itself). */
  async listStatus(path: string): Promise<HdfsFileStatus[]> {
    const body = await this.jsonOp('LISTSTATUS', 'GET', path, {}, true);
    const fss = isRecord(body) ? body['FileStatuses'] : undefined;
    const arr = isRecord(fss) ? fss['FileStatus'] : undefined;
    return this.parseStatusArray('LISTSTATUS', path, arr);
  }

  /** LISTSTATUS_BATCH: one page of a directory, after the child named `startAfter`. */
  async listStatusBatch(path: string, startAfter?: string): Promise<HdfsListingPage> {
    const body = await this.jsonOp('LISTSTATUS_BATCH', 'GET', path, { startAfter: startAfter === '' ? undefined : startAfter }, true);
    const dl = isRecord(body) ? body['DirectoryListing'] : undefined;
    const partial = isRecord(dl) ? dl['partialListing'] : undefined;
    const fss = isRecord(partial) ? partial['FileStatuses'] : undefined;
    const remaining = isRecord(dl) ? num(dl['remainingEntries']) : undefined;
    if (remaining === undefined) throw protocolError('LISTSTATUS_BATCH', this.uri(path), 'response has no remainingEntries');
    return { entries: this.parseStatusArray('LISTSTATUS_BATCH', path, isRecord(fss) ? fss['FileStatus'] : undefined), remainingEntries: remaining };
  }

  /** Every child of a directory, page by page (LISTSTATUS_BATCH with startAfter). */
  async *listStatusIterator(path: string): AsyncGenerator<HdfsFileStatus, void, undefined> {
    let startAfter: string | undefined;
    for (;;) {
      const page = await this.listStatusBatch(path, startAfter);
      for (const e of page.entries) yield e;
      if (page.remainingEntries <= 0) return;
      const last = page.entries[page.entries.length - 1];
      // An empty page that claims more entries, or a cursor that does not move, would loop forever.
      if (last === undefined || last.pathSuffix === '' || last.pathSuffix === startAfter) {
        throw protocolError('LISTSTATUS_BATCH', this.uri(path), `listing did not advance (${page.remainingEntries} entries said to remain)`);
      }
      startAfter = last.pathSuffix;
    }
  }

  /** MKDIRS, with parents. */
  async mkdirs(path: string, options: { readonly permission?: string } = {}): Promise<boolean> {
    return this.booleanOp('MKDIRS', 'PUT', path, { permission: options.permission }, true);
  }

  /** RENAME without options (HDFS's legacy rename): false instead of an error for most failures. */
  async rename(src: string, dst: string, options: WebHdfsCallOptions = {}): Promise<boolean> {
    return this.booleanOp('RENAME', 'PUT', src, { destination: this.normalize(dst) }, false, options.maxAttempts);
  }

  /**
   * RENAME with `renameoptions` (HDFS's rename2): atomic, throws on failure, and with `overwrite`
   * atomically replaces an existing file.
   *
   * rename2 answers with an empty body; `{"boolean": ...}` means the server ignored
   * `renameoptions` and ran the legacy rename (HttpFS defines only `destination` for RENAME).
   * true is still a rename that happened. false is a rename that did not, most often because the
   * destination exists: WebHdfsRenameRefusedError. Overwriting is not emulated by DELETE then
   * RENAME: that is not atomic, and a failure between the two would lose the old file without
   * publishing the new one. Through such a server, replacing an existing file fails instead.
   */
  async rename2(src: string, dst: string, options: WebHdfsCallOptions & { readonly overwrite?: boolean } = {}): Promise<void> {
    const renameoptions = options.overwrite ? 'OVERWRITE' : 'NONE';
    const body = await this.jsonOp('RENAME', 'PUT', src, { destination: this.normalize(dst), renameoptions }, false, options.maxAttempts);
    if (isRecord(body) && body['boolean'] === false) throw this.renameRefused(src, dst, renameoptions);
  }

  private renameRefused(src: string, dst: string, renameoptions: string): WebHdfsRenameRefusedError {
    const detail =
      `RENAME to '${this.uri(dst)}' refused: the server answered {"boolean": false}, so it ignored renameoptions=${renameoptions} ` +
      `and ran HDFS's legacy rename (HttpFS does), which fails when the destination exists, the source is missing or the ` +
      `destination's parent is missing; an existing file cannot be replaced atomically through this server`;
    return new WebHdfsRenameRefusedError(this.uri(src), detail, { operation: 'RENAME', httpStatus: 200 });
  }

  /** DELETE. False when nothing was there. */
  async delete(path: string, options: { readonly recursive?: boolean } = {}): Promise<boolean> {
    return this.booleanOp('DELETE', 'DELETE', path, { recursive: String(options.recursive ?? false) }, true);
  }

  /** GETHOMEDIRECTORY: the caller's home as the server sees it; a cheap authentication check. */
  async getHomeDirectory(): Promise<string> {
    const body = await this.jsonOp('GETHOMEDIRECTORY', 'GET', '/', {}, true);
    const p = isRecord(body) ? str(body['Path']) : undefined;
    if (p === undefined) throw protocolError('GETHOMEDIRECTORY', this.uri('/'), 'response has no Path');
    return p;
  }

  // ---------------------------------------------------------------- one request, retried

  /**
   * Runs `attempt` under the retry policy, each attempt with a fresh idle timer (cleared after
   * it, unless `keepTimer`: a streamed body outlives the attempt). Only AttemptFailures are
   * classified; anything else is a bug and propagates as is.
   */
  private run<T>(op: string, display: string, idempotent: boolean, maxAttempts: number | undefined, attempt: (timer: IdleTimer) => Promise<T>, options: { keepTimer?: boolean } = {}): Promise<T> {
    return this.retry.run({
      idempotent,
      ...(maxAttempts === undefined ? {} : { maxAttempts: Math.max(1, Math.floor(maxAttempts)) }),
      attempt: async () => {
        const timer = this.transport.timer();
        let ok = false;
        try {
          const result = await attempt(timer);
          ok = true;
          return result;
        } finally {
          if (!ok || options.keepTimer !== true) timer.clear();
        }
      },
      classify: (e) => (e instanceof AttemptFailure ? { transient: e.error.transient, applied: e.applied, ...(e.retryAfterMs === undefined ? {} : { retryAfterMs: e.retryAfterMs }) } : PERMANENT_FAILURE),
      onRetry: ({ attempt: n, delayMs, error }) => {
        const err = (error as AttemptFailure).error;
        this.onRetry?.({ operation: op, op, path: display, attempt: n, delayMs, reason: err.message, error: err });
      },
      giveUp: (e, { reason, attempts }) => {
        if (!(e instanceof AttemptFailure)) return e;
        const details = detailsOf(e.error, op, attempts);
        if (reason === 'outcome-unknown') {
          return new WebHdfsOutcomeUnknownError(display, `${e.detail}; the request may or may not have taken effect`, details, { cause: e.error, transient: true });
        }
        // With retries disabled for this call the caller runs its own loop: hand it the
        // transient error itself, not a verdict that retrying is pointless.
        if (reason === 'permanent' || attempts === 1) return e.error;
        return new WebHdfsRetriesExhaustedError(display, `gave up after ${attempts} attempts; last: ${e.detail}`, details, { cause: e.error });
      },
    });
  }

  private async twoStepWrite(op: 'CREATE' | 'APPEND', method: 'PUT' | 'POST', path: string, params: Params, data: Uint8Array, idempotent: boolean, maxAttempts: number | undefined): Promise<void> {
    const abs = this.normalize(path);
    const display = this.uri(abs);
    await this.run(op, display, idempotent, maxAttempts, async (timer) => {
      let target;
      try {
        target = await this.transport.locate(op, method, this.namenodeUrl(abs, op, params), display, timer);
      } catch (e) {
        // The namenode step only picks a datanode; nothing has been written whatever went wrong.
        if (e instanceof AttemptFailure) throw new AttemptFailure(e.error, e.detail, 'no', e.retryAfterMs);
        throw e;
      }
      if (!('location' in target)) throw protocolFailure(op, display, 'namenode did not redirect', 'no redirect');
      const res = await this.transport.send(op, display, method, target.location, data, timer);
      if (!res.ok) throw await this.transport.failure(op, display, res, timer);
      await this.transport.discard(res);
    });
  }

  private async openResponse(abs: string, display: string, offset: number, length: number | undefined, timer: IdleTimer): Promise<Response> {
    const params = { offset: offset === 0 ? undefined : String(offset), length: length === undefined ? undefined : String(length) };
    const target = await this.transport.locate('OPEN', 'GET', this.namenodeUrl(abs, 'OPEN', params), display, timer);
    if ('data' in target) return target.data;
    const res = await this.transport.send('OPEN', display, 'GET', target.location, undefined, timer);
    if (!res.ok) throw await this.transport.failure('OPEN', display, res, timer);
    return this.transport.fileData('OPEN', display, res);
  }

  private async jsonOp(op: string, method: string, path: string, params: Params, idempotent: boolean, maxAttempts?: number): Promise<unknown> {
    const abs = this.normalize(path);
    const display = this.uri(abs);
    return this.run(op, display, idempotent, maxAttempts, async (timer) => {
      const res = await this.transport.send(op, display, method, this.url(abs, op, params), undefined, timer);
      if (res.status >= 300 && res.status < 400) {
        await this.transport.discard(res);
        throw protocolFailure(op, display, `unexpected redirect (HTTP ${res.status})`, 'redirect', res.status);
      }
      if (!res.ok) throw await this.transport.failure(op, display, res, timer);
      const text = await this.transport.readText(op, display, res, timer);
      if (text.trim() === '') return undefined;
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw protocolFailure(op, display, 'body is not JSON', 'bad JSON', res.status);
      }
    });
  }

  private async booleanOp(op: string, method: string, path: string, params: Params, idempotent: boolean, maxAttempts?: number): Promise<boolean> {
    const body = await this.jsonOp(op, method, path, params, idempotent, maxAttempts);
    const b = isRecord(body) ? body['boolean'] : undefined;
    if (typeof b !== 'boolean') throw protocolError(op, this.uri(path), 'response has no boolean');
    return b;
  }

  private parseStatusArray(op: string, path: string, arr: unknown): HdfsFileStatus[] {
    if (!Array.isArray(arr)) throw protocolError(op, this.uri(path), 'response has no FileStatus array');
    return arr.map((v) => {
      const st = parseFileStatus(v);
      if (st === undefined) throw protocolError(op, this.uri(path), 'malformed FileStatus entry');
      return st;
    });
  }

  // ---------------------------------------------------------------- paths and URLs

  private normalize(path: string): string {
    if (typeof path !== 'string' || !path.startsWith('/')) {
      throw new WebHdfsConfigError(`HDFS paths given to the WebHDFS client must be absolute, got '${String(path)}'`);
    }
    const parts = path.split('/').filter((p) => p !== '');
    for (const p of parts) {
      if (p === '.' || p === '..') throw new WebHdfsConfigError(`HDFS path '${path}' contains a '${p}' component`);
    }
    return `/${parts.join('/')}`;
  }

  /** The request URL: carries the credentials, so it never appears in a message. */
  private url(path: string, op: string, params: Params): URL {
    const abs = this.normalize(path);
    const u = new URL(this.base.href);
    u.pathname = this.basePathname + (abs === '/' ? '/' : abs.split('/').map(encodeURIComponent).join('/'));
    const q = new URLSearchParams();
    q.set('op', op);
    if (this.token !== undefined) q.set('delegation', this.token);
    else if (this.user !== undefined) q.set('user.name', this.user);
    if (this.doAs !== undefined) q.set('doas', this.doAs);
    for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, v);
    u.search = q.toString();
    return u;
  }

  /** The first step of a two-step op, asking for the redirect in the configured form. */
  private namenodeUrl(abs: string, op: string, params: Params): URL {
    return this.url(abs, op, { ...params, noredirect: this.redirectMode === 'noredirect' ? 'true' : undefined });
  }

  private checkRange(display: string, offset: number, length: number | undefined): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || (length !== undefined && (!Number.isSafeInteger(length) || length < 0))) {
      throw new WebHdfsError(display, `invalid read range offset=${offset} length=${String(length)}`, { operation: 'OPEN' });
    }
  }
}

/** The endpoint as a URL, refused (without repeating it: it may hold credentials) unless plain http(s). */
function parseEndpoint(endpoint: string | URL): URL {
  let url: URL;
  try {
    url = new URL(String(endpoint));
  } catch {
    throw new WebHdfsConfigError('WebHDFS endpoint is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new WebHdfsConfigError(`WebHDFS endpoint must be http(s), got '${url.protocol}'`);
  if (url.username !== '' || url.password !== '') {
    throw new WebHdfsConfigError('WebHDFS endpoint must not contain credentials; use the user or delegationToken options');
  }
  if (url.search !== '' || url.hash !== '') {
    throw new WebHdfsConfigError('WebHDFS endpoint must not contain a query or fragment; use the user or delegationToken options');
  }
  return url;
}

/** A plain Uint8Array (not a Buffer view of Node's pool), as callers compare and keep it. */
function concat(parts: readonly Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1 && parts[0]!.length === total) return parts[0]!;
  const out = new Uint8Array(total);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

function detailsOf(err: StorageError, op: string, attempts: number): WebHdfsErrorDetails {
  if (err instanceof WebHdfsError) return { operation: op, attempts, ...(err.httpStatus === undefined ? {} : { httpStatus: err.httpStatus }), ...(err.remote === undefined ? {} : { remote: err.remote }) };
  return { operation: op, attempts };
}
