import { FlowstateError, StorageError, StorageNotFoundError } from '@flowstate/core';
import {
  WebHdfsAccessDeniedError,
  WebHdfsAlreadyExistsError,
  WebHdfsError,
  WebHdfsOutcomeUnknownError,
  WebHdfsProtocolError,
  WebHdfsRetriesExhaustedError,
  type WebHdfsErrorDetails,
  type WebHdfsRemoteExceptionInfo,
} from './errors.js';

/**
 * A small WebHDFS REST client on Node's global `fetch`, with no dependencies.
 *
 * Protocol notes that shape the code:
 * - CREATE, APPEND and OPEN are two-step: the namenode answers 307 with a datanode `Location`
 *   (or, with `noredirect=true`, 200 `{"Location": ...}`) and only the datanode gets the body.
 *   Redirects are never left to `fetch`: the first request must go out without a body, and the
 *   Location carries the caller's credentials, so it is followed here, checked, and kept out of
 *   every error message.
 * - Failures are classified by whether the request may have taken effect. Idempotent requests
 *   (reads, listings, MKDIRS, DELETE, CREATE with overwrite) are retried on any transient failure.
 *   Non-idempotent ones (CREATE without overwrite, APPEND, RENAME) are retried only when the
 *   failure proves nothing happened (the namenode step of a two-step op, which only picks a
 *   datanode; connection refused; 503/429; Standby/Retriable/SafeMode exceptions); otherwise the
 *   caller gets a WebHdfsOutcomeUnknownError and must look before retrying.
 */

export interface WebHdfsRetryOptions {
  /** Total attempts per operation, first one included. Default 5. */
  readonly maxAttempts?: number;
  /** Backoff before the second attempt; doubles per attempt, with jitter. Default 100 ms. */
  readonly baseDelayMs?: number;
  /** Upper bound of one backoff (also caps a server's Retry-After). Default 5000 ms. */
  readonly maxDelayMs?: number;
}

export interface WebHdfsRetryEvent {
  readonly op: string;
  /** `webhdfs://` URI of the path involved. */
  readonly path: string;
  /** The attempt that failed (1-based). */
  readonly attempt: number;
  readonly delayMs: number;
  readonly error: StorageError;
}

export interface WebHdfsClientOptions {
  /**
   * Namenode HTTP(S) address, e.g. 'http://namenode:9870'. '/webhdfs/v1' is appended unless the
   * URL's path already ends with it (gateways such as Knox mount it deeper). Must not contain
   * credentials or a query string.
   */
  readonly endpoint: string | URL;
  /** Sent as `user.name` (pseudo/simple authentication) when there is no delegation token. */
  readonly user?: string;
  /** Sent as `delegation=<token>`; takes precedence over `user`. Never appears in errors. */
  readonly delegationToken?: string;
  /** Proxy user, sent as `doas`. */
  readonly doAs?: string;
  /** 'redirect' (default): namenode answers 307. 'noredirect': namenode answers 200 with the Location in JSON. */
  readonly redirectMode?: 'redirect' | 'noredirect';
  readonly retry?: WebHdfsRetryOptions;
  /**
   * An attempt fails when no progress (response headers or body bytes) is seen for this long.
   * Idle rather than total, so that large reads are not cut off. Default 60 000 ms.
   */
  readonly requestTimeoutMs?: number;
  /** Replaces the global fetch (instrumentation, custom dispatchers). */
  readonly fetch?: typeof globalThis.fetch;
  /** Called before each retry's backoff; for logging and metrics. */
  readonly onRetry?: (event: WebHdfsRetryEvent) => void;
}

/** Per-call overrides. */
export interface WebHdfsCallOptions {
  /** Attempts for this call only (1 disables retries). */
  readonly maxAttempts?: number;
}

export interface WebHdfsCreateOptions extends WebHdfsCallOptions {
  /** Replace an existing file. Default false (FileAlreadyExistsException → WebHdfsAlreadyExistsError). */
  readonly overwrite?: boolean;
  readonly blockSize?: number;
  readonly replication?: number;
  /** Octal, e.g. '640'. */
  readonly permission?: string;
}

export interface WebHdfsReadRange {
  readonly offset?: number;
  /** Bytes to read; to the end of the file when absent. Reads past the end are truncated by the server. */
  readonly length?: number;
}

export type HdfsFileType = 'FILE' | 'DIRECTORY' | 'SYMLINK';

/** The WebHDFS FileStatus JSON object. Fields some servers omit (HttpFS) read as 0 or ''. */
export interface HdfsFileStatus {
  readonly accessTime: number;
  readonly blockSize: number;
  readonly childrenNum: number;
  readonly fileId: number;
  readonly group: string;
  readonly length: number;
  readonly modificationTime: number;
  readonly owner: string;
  /** Name relative to the listed directory; '' for GETFILESTATUS or when a file itself was listed. */
  readonly pathSuffix: string;
  /** Octal string, e.g. '644'. */
  readonly permission: string;
  readonly replication: number;
  readonly storagePolicy: number;
  readonly type: HdfsFileType;
  readonly symlink?: string;
}

export interface HdfsListingPage {
  readonly entries: HdfsFileStatus[];
  /** Entries after this page; 0 on the last page. */
  readonly remainingEntries: number;
}

/** Invalid client configuration. */
export class WebHdfsConfigError extends FlowstateError {
  readonly code = 'WEBHDFS_CONFIG';
}

/** A configuration number: NaN or a non-positive value would mean endless retries or no work at all. */
export function positiveInteger(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 1) throw new WebHdfsConfigError(`${name} must be a positive number, got ${String(value)}`);
  return Math.floor(value);
}


// ------------------------------------------------------------------------------------------------

type Applied = 'no' | 'maybe';

/** One attempt's failure, before the retry loop decides what the caller sees. */
class AttemptFailure extends Error {
  constructor(
    readonly error: StorageError,
    readonly detail: string,
    readonly applied: Applied,
    readonly retryAfterMs?: number,
  ) {
    super(detail);
  }
}

/** Aborts a request when neither headers nor body bytes arrive for `ms`. */
class IdleTimer {
  private readonly controller = new AbortController();
  private handle: ReturnType<typeof setTimeout> | undefined;
  timedOut = false;

  constructor(private readonly ms: number) {
    this.touch();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  touch(): void {
    if (this.handle !== undefined) clearTimeout(this.handle);
    this.handle = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort(new Error(`no progress for ${this.ms} ms`));
    }, this.ms);
    this.handle.unref?.();
  }

  clear(): void {
    if (this.handle !== undefined) clearTimeout(this.handle);
    this.handle = undefined;
  }
}

/** Remote exceptions that say "not done, try again" whatever the status code. */
const RETRIABLE_REMOTE = new Set([
  'RetriableException',
  'StandbyException',
  'ObserverRetryOnActiveException',
  'SafeModeException',
  'RecoveryInProgressException',
  'AlreadyBeingCreatedException',
]);
const ACCESS_DENIED_REMOTE = new Set(['AccessControlException', 'SecurityException', 'InvalidToken', 'AuthorizationException', 'AuthenticationException']);
/** Connection errors that happen before a request is sent. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);
const ERROR_BODY_LIMIT = 64 * 1024;
const MESSAGE_LIMIT = 400;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The `code` of an error or of any error in its cause chain (undici nests socket errors). */
function errorCode(e: unknown): string | undefined {
  for (let cur: unknown = e, depth = 0; cur !== undefined && cur !== null && depth < 5; depth++) {
    if (isRecord(cur) || cur instanceof Error) {
      const code = (cur as { code?: unknown }).code;
      if (typeof code === 'string') return code;
      cur = (cur as { cause?: unknown }).cause;
    } else {
      break;
    }
  }
  return undefined;
}

function parseFileStatus(v: unknown): HdfsFileStatus | undefined {
  if (!isRecord(v)) return undefined;
  const type = v['type'];
  const length = num(v['length']);
  const pathSuffix = str(v['pathSuffix']);
  if ((type !== 'FILE' && type !== 'DIRECTORY' && type !== 'SYMLINK') || length === undefined || pathSuffix === undefined) return undefined;
  const symlink = str(v['symlink']);
  return {
    accessTime: num(v['accessTime']) ?? 0,
    blockSize: num(v['blockSize']) ?? 0,
    childrenNum: num(v['childrenNum']) ?? 0,
    fileId: num(v['fileId']) ?? 0,
    group: str(v['group']) ?? '',
    length,
    modificationTime: num(v['modificationTime']) ?? 0,
    owner: str(v['owner']) ?? '',
    pathSuffix,
    permission: str(v['permission']) ?? '',
    replication: num(v['replication']) ?? 0,
    storagePolicy: num(v['storagePolicy']) ?? 0,
    type,
    ...(symlink === undefined ? {} : { symlink }),
  };
}

function parseRemoteException(text: string): WebHdfsRemoteExceptionInfo | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const re = isRecord(parsed) ? parsed['RemoteException'] : undefined;
  if (!isRecord(re)) return undefined;
  const javaClassName = str(re['javaClassName']) ?? '';
  const exception = str(re['exception']) ?? javaClassName.slice(javaClassName.lastIndexOf('.') + 1).replace(/^.*\$/, '');
  if (exception === '') return undefined;
  return { exception, javaClassName, message: str(re['message']) ?? '' };
}

function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value.trim()) * 1000;
}

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

/**
 * WebHDFS REST client. Paths are absolute HDFS paths ('/user/flink/chk-1/_metadata'); every
 * method that fails throws a StorageError (StorageNotFoundError for FileNotFoundException, the
 * WebHdfs* subclasses otherwise).
 */
export class WebHdfsClient {
  private readonly base: URL;
  private readonly basePathname: string;
  private readonly user: string | undefined;
  private readonly token: string | undefined;
  private readonly doAs: string | undefined;
  private readonly redirectMode: 'redirect' | 'noredirect';
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof globalThis.fetch;
  private readonly onRetry: ((event: WebHdfsRetryEvent) => void) | undefined;
  /** `webhdfs://host:port` (or swebhdfs) for messages. */
  readonly authority: string;

  constructor(options: WebHdfsClientOptions) {
    let url: URL;
    try {
      url = new URL(String(options.endpoint));
    } catch {
      // The endpoint string itself is not repeated: it may hold credentials.
      throw new WebHdfsConfigError('WebHDFS endpoint is not a valid URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new WebHdfsConfigError(`WebHDFS endpoint must be http(s), got '${url.protocol}'`);
    if (url.username !== '' || url.password !== '') {
      throw new WebHdfsConfigError('WebHDFS endpoint must not contain credentials; use the user or delegationToken options');
    }
    if (url.search !== '' || url.hash !== '') {
      throw new WebHdfsConfigError('WebHDFS endpoint must not contain a query or fragment; use the user or delegationToken options');
    }
    const p = url.pathname.replace(/\/+$/, '');
    this.basePathname = p.endsWith('/webhdfs/v1') ? p : `${p}/webhdfs/v1`;
    this.base = url;
    this.user = options.user;
    this.token = options.delegationToken === '' ? undefined : options.delegationToken;
    this.doAs = options.doAs;
    this.redirectMode = options.redirectMode ?? 'redirect';
    this.maxAttempts = positiveInteger('retry.maxAttempts', options.retry?.maxAttempts ?? 5);
    this.baseDelayMs = Math.max(0, options.retry?.baseDelayMs ?? 100);
    this.maxDelayMs = Math.max(this.baseDelayMs, options.retry?.maxDelayMs ?? 5000);
    this.timeoutMs = Math.max(1, options.requestTimeoutMs ?? 60_000);
    this.fetchImpl = options.fetch ?? globalThis.fetch;
    this.onRetry = options.onRetry;
    this.authority = `${url.protocol === 'https:' ? 'swebhdfs' : 'webhdfs'}://${url.host}`;
  }

  /** The retry bounds in effect, for callers that run their own reconciliation loops. */
  get retryPolicy(): Required<WebHdfsRetryOptions> {
    return { maxAttempts: this.maxAttempts, baseDelayMs: this.baseDelayMs, maxDelayMs: this.maxDelayMs };
  }

  /** The backoff before retry number `attempt` (1-based), with the client's jitter and bounds. */
  backoffDelay(attempt: number): number {
    return this.backoff(attempt, undefined);
  }

  /** The `webhdfs://host:port/path` URI of an absolute HDFS path; safe for messages. */
  uri(path: string): string {
    return `${this.authority}${this.normalize(path)}`;
  }

  // ---------------------------------------------------------------- operations

  /** CREATE: writes `data` as a new file (two steps, body only to the datanode). */
  async create(path: string, data: Uint8Array, options: WebHdfsCreateOptions = {}): Promise<void> {
    const overwrite = options.overwrite ?? false;
    const params: Record<string, string | undefined> = {
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
    await this.run('OPEN', display, true, undefined, async () => {
      const timer = new IdleTimer(this.timeoutMs);
      try {
        const remaining = range.length === undefined ? undefined : range.length - received;
        // A retry after everything arrived (only the length check failed) has nothing left to
        // fetch; a first attempt always asks, so a zero-length read of a missing file still fails.
        if (remaining === 0 && received > 0) return;
        const res = await this.openResponse(abs, display, offset + received, remaining, timer);
        const declared = Number(res.headers.get('content-length') ?? NaN);
        let got = 0;
        await this.readBody('OPEN', display, res, timer, (chunk) => {
          parts.push(chunk);
          received += chunk.length;
          got += chunk.length;
        });
        if (Number.isFinite(declared) && got !== declared) {
          throw this.transientFailure('OPEN', display, `response body ended after ${got} of ${declared} bytes`, 'maybe');
        }
      } finally {
        timer.clear();
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
    const { res, timer } = await this.run('OPEN', display, true, undefined, async () => {
      const t = new IdleTimer(this.timeoutMs);
      try {
        return { res: await this.openResponse(abs, display, offset, range.length, t), timer: t };
      } catch (e) {
        t.clear();
        throw e;
      }
    });
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
          throw this.networkFailure('OPEN', display, e, timer).error;
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

  /** GETFILESTATUS. Throws StorageNotFoundError when nothing is there. */
  async getFileStatus(path: string, options: WebHdfsCallOptions = {}): Promise<HdfsFileStatus> {
    const body = await this.jsonOp('GETFILESTATUS', 'GET', path, {}, true, options.maxAttempts);
    const st = isRecord(body) ? parseFileStatus(body['FileStatus']) : undefined;
    if (st === undefined) throw this.protocolError('GETFILESTATUS', this.uri(path), 'response has no valid FileStatus object');
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
    if (remaining === undefined) throw this.protocolError('LISTSTATUS_BATCH', this.uri(path), 'response has no remainingEntries');
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
        throw this.protocolError('LISTSTATUS_BATCH', this.uri(path), `listing did not advance (${page.remainingEntries} entries said to remain)`);
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
   */
  async rename2(src: string, dst: string, options: WebHdfsCallOptions & { readonly overwrite?: boolean } = {}): Promise<void> {
    await this.jsonOp('RENAME', 'PUT', src, { destination: this.normalize(dst), renameoptions: options.overwrite ? 'OVERWRITE' : 'NONE' }, false, options.maxAttempts);
  }

  /** DELETE. False when nothing was there. */
  async delete(path: string, options: { readonly recursive?: boolean } = {}): Promise<boolean> {
    return this.booleanOp('DELETE', 'DELETE', path, { recursive: String(options.recursive ?? false) }, true);
  }

  /** GETHOMEDIRECTORY: the caller's home as the server sees it; a cheap authentication check. */
  async getHomeDirectory(): Promise<string> {
    const body = await this.jsonOp('GETHOMEDIRECTORY', 'GET', '/', {}, true);
    const p = isRecord(body) ? str(body['Path']) : undefined;
    if (p === undefined) throw this.protocolError('GETHOMEDIRECTORY', this.uri('/'), 'response has no Path');
    return p;
  }

  // ---------------------------------------------------------------- retry loop

  /**
   * Runs an attempt until it succeeds, fails permanently, or attempts run out. Only
   * AttemptFailures are handled; anything else is a bug and propagates as is.
   */
  private async run<T>(op: string, display: string, idempotent: boolean, maxAttempts: number | undefined, attempt: () => Promise<T>): Promise<T> {
    const max = Math.max(1, Math.floor(maxAttempts ?? this.maxAttempts));
    for (let n = 1; ; n++) {
      try {
        return await attempt();
      } catch (e) {
        if (!(e instanceof AttemptFailure)) throw e;
        const err = e.error;
        if (!err.transient) throw err;
        const details = this.detailsOf(err, op, n);
        if (!idempotent && e.applied === 'maybe') {
          throw new WebHdfsOutcomeUnknownError(display, `${e.detail}; the request may or may not have taken effect`, details, { cause: err, transient: true });
        }
        if (n >= max) {
          // With retries disabled for this call the caller runs its own loop: hand it the
          // transient error itself, not a verdict that retrying is pointless.
          if (n === 1) throw err;
          throw new WebHdfsRetriesExhaustedError(display, `gave up after ${n} attempts; last: ${e.detail}`, details, { cause: err });
        }
        const delayMs = this.backoff(n, e.retryAfterMs);
        this.onRetry?.({ op, path: display, attempt: n, delayMs, error: err });
        await sleep(delayMs);
      }
    }
  }

  /** Equal jitter: half the exponential step plus a random half, so retries spread but never bunch at 0. */
  private backoff(attempt: number, retryAfterMs: number | undefined): number {
    const step = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
    let d = step / 2 + Math.random() * (step / 2);
    if (retryAfterMs !== undefined) d = Math.max(d, Math.min(retryAfterMs, this.maxDelayMs));
    return Math.round(d);
  }

  private detailsOf(err: StorageError, op: string, attempts: number): WebHdfsErrorDetails {
    if (err instanceof WebHdfsError) return { op, attempts, ...(err.httpStatus === undefined ? {} : { httpStatus: err.httpStatus }), ...(err.remote === undefined ? {} : { remote: err.remote }) };
    return { op, attempts };
  }

  // ---------------------------------------------------------------- requests

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

  private url(path: string, op: string, params: Record<string, string | undefined>): URL {
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

  private checkRange(display: string, offset: number, length: number | undefined): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || (length !== undefined && (!Number.isSafeInteger(length) || length < 0))) {
      throw new WebHdfsError(display, `invalid read range offset=${offset} length=${String(length)}`, { op: 'OPEN' });
    }
  }

  private async send(op: string, display: string, method: string, url: URL, body: Uint8Array | undefined, timer: IdleTimer): Promise<Response> {
    try {
      const res = await this.fetchImpl(url, {
        method,
        redirect: 'manual',
        signal: timer.signal,
        ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/octet-stream' } }),
      });
      timer.touch();
      return res;
    } catch (e) {
      throw this.networkFailure(op, display, e, timer);
    }
  }

  private networkFailure(op: string, display: string, e: unknown, timer: IdleTimer): AttemptFailure {
    if (timer.timedOut) return this.transientFailure(op, display, `no response progress for ${this.timeoutMs} ms`, 'maybe');
    const code = errorCode(e);
    if (code !== undefined && NOT_SENT_CODES.has(code)) return this.transientFailure(op, display, `cannot connect (${code})`, 'no');
    if (code !== undefined || (e instanceof TypeError && e.message === 'fetch failed') || (e instanceof Error && e.name === 'AbortError')) {
      return this.transientFailure(op, display, `connection failed (${code ?? (e instanceof Error ? e.name : 'unknown')})`, 'maybe');
    }
    // Not a network error we recognise; report it without its message, which could quote the URL.
    const error = new WebHdfsError(display, `${op} failed: ${e instanceof Error ? e.name : 'unknown error'}`, { op });
    return new AttemptFailure(error, `${op} failed`, 'maybe');
  }

  private transientFailure(op: string, display: string, detail: string, applied: Applied, extra: { httpStatus?: number; remote?: WebHdfsRemoteExceptionInfo; retryAfterMs?: number } = {}): AttemptFailure {
    const full = `${op} failed: ${detail}`;
    const error = new WebHdfsError(
      display,
      full,
      { op, ...(extra.httpStatus === undefined ? {} : { httpStatus: extra.httpStatus }), ...(extra.remote === undefined ? {} : { remote: extra.remote }) },
      { transient: true },
    );
    return new AttemptFailure(error, full, applied, extra.retryAfterMs);
  }

  private protocolError(op: string, display: string, detail: string, httpStatus?: number): WebHdfsProtocolError {
    return new WebHdfsProtocolError(display, `${op}: unexpected response: ${detail}`, { op, ...(httpStatus === undefined ? {} : { httpStatus }) });
  }

  /** Reads a body chunk by chunk, keeping the idle timer alive; failures are transient. */
  private async readBody(op: string, display: string, res: Response, timer: IdleTimer, onChunk: (chunk: Uint8Array) => void): Promise<void> {
    const reader = res.body?.getReader();
    if (reader === undefined) return;
    try {
      for (;;) {
        const r = await reader.read();
        if (r.done) return;
        timer.touch();
        onChunk(r.value);
      }
    } catch (e) {
      throw this.networkFailure(op, display, e, timer);
    }
  }

  private async readText(op: string, display: string, res: Response, timer: IdleTimer, limit = Infinity): Promise<string> {
    const parts: Uint8Array[] = [];
    let total = 0;
    await this.readBody(op, display, res, timer, (c) => {
      if (total < limit) {
        parts.push(c);
        total += c.length;
      }
    });
    return Buffer.concat(parts).toString('utf8');
  }

  private async discard(res: Response): Promise<void> {
    // Reading the (empty or small) body lets the connection be reused.
    await res.arrayBuffer().catch(() => undefined);
  }

  /** Turns a non-2xx response into a failure, mapping RemoteException to typed errors. */
  private async responseFailure(op: string, display: string, res: Response, timer: IdleTimer): Promise<AttemptFailure> {
    let text = '';
    try {
      text = await this.readText(op, display, res, timer, ERROR_BODY_LIMIT);
    } catch {
      // The status alone decides.
    }
    const status = res.status;
    const remoteRaw = parseRemoteException(text);
    const remote = remoteRaw === undefined ? undefined : { ...remoteRaw, message: this.clip(this.redact(remoteRaw.message)) };
    const what = remote !== undefined ? `${remote.exception}: ${remote.message}` : this.summarize(text);
    const detail = `${op} failed: HTTP ${status}${what === '' ? '' : ` ${what}`}`;
    const details: WebHdfsErrorDetails = { op, httpStatus: status, ...(remote === undefined ? {} : { remote }) };
    const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));

    if (remote !== undefined && RETRIABLE_REMOTE.has(remote.exception)) {
      return new AttemptFailure(new WebHdfsError(display, detail, details, { transient: true }), detail, 'no', retryAfterMs);
    }
    if (status === 503 || status === 429 || status === 408) {
      return new AttemptFailure(new WebHdfsError(display, detail, details, { transient: true }), detail, 'no', retryAfterMs);
    }
    if (status === 500 || status === 502 || status === 504) {
      return new AttemptFailure(new WebHdfsError(display, detail, details, { transient: true }), detail, 'maybe', retryAfterMs);
    }
    let error: StorageError;
    if (remote?.exception === 'FileNotFoundException' || (remote === undefined && status === 404)) {
      error = new StorageNotFoundError(display);
    } else if ((remote !== undefined && ACCESS_DENIED_REMOTE.has(remote.exception)) || (remote === undefined && (status === 401 || status === 403))) {
      error = new WebHdfsAccessDeniedError(display, detail, details);
    } else if (remote?.exception === 'FileAlreadyExistsException') {
      error = new WebHdfsAlreadyExistsError(display, detail, details);
    } else {
      error = new WebHdfsError(display, detail, details);
    }
    return new AttemptFailure(error, detail, 'no');
  }

  /** The datanode URL for a two-step op, from a 307 or a noredirect JSON answer. */
  private async locate(op: string, method: string, abs: string, display: string, params: Record<string, string | undefined>, timer: IdleTimer): Promise<{ location: URL } | { data: Response }> {
    const url = this.url(abs, op, { ...params, noredirect: this.redirectMode === 'noredirect' ? 'true' : undefined });
    const res = await this.send(op, display, method, url, undefined, timer);
    if (res.status >= 300 && res.status < 400 && res.headers.has('location')) {
      const location = res.headers.get('location') ?? '';
      await this.discard(res);
      return { location: this.checkLocation(op, display, url, location) };
    }
    if (res.status === 200) {
      const type = res.headers.get('content-type') ?? '';
      if (op === 'OPEN' && !type.includes('json')) {
        // A gateway (HttpFS) serving the bytes itself instead of redirecting.
        return { data: res };
      }
      const text = await this.readText(op, display, res, timer);
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      const location = isRecord(parsed) ? str(parsed['Location']) : undefined;
      if (location === undefined) throw new AttemptFailure(this.protocolError(op, display, 'namenode answered 200 without a Location', 200), `${op}: no Location`, 'no');
      return { location: this.checkLocation(op, display, url, location) };
    }
    if (res.ok || (res.status >= 300 && res.status < 400)) {
      await this.discard(res);
      throw new AttemptFailure(this.protocolError(op, display, `namenode answered HTTP ${res.status} without a Location`, res.status), `${op}: no Location`, 'no');
    }
    throw await this.responseFailure(op, display, res, timer);
  }

  private checkLocation(op: string, display: string, requestUrl: URL, location: string): URL {
    let loc: URL;
    try {
      loc = new URL(location, requestUrl);
    } catch {
      throw new AttemptFailure(this.protocolError(op, display, 'Location is not a valid URL'), `${op}: bad Location`, 'no');
    }
    if (loc.protocol !== 'http:' && loc.protocol !== 'https:') {
      throw new AttemptFailure(this.protocolError(op, display, `Location has scheme '${loc.protocol}'`), `${op}: bad Location`, 'no');
    }
    if (requestUrl.protocol === 'https:' && loc.protocol === 'http:') {
      // The Location carries the delegation token; never let it travel in clear text.
      throw new AttemptFailure(this.protocolError(op, display, 'refusing to follow a redirect from https to http'), `${op}: insecure Location`, 'no');
    }
    return loc;
  }

  private async twoStepWrite(op: 'CREATE' | 'APPEND', method: 'PUT' | 'POST', path: string, params: Record<string, string | undefined>, data: Uint8Array, idempotent: boolean, maxAttempts: number | undefined): Promise<void> {
    const abs = this.normalize(path);
    const display = this.uri(abs);
    await this.run(op, display, idempotent, maxAttempts, async () => {
      const timer = new IdleTimer(this.timeoutMs);
      try {
        let target: { location: URL } | { data: Response };
        try {
          target = await this.locate(op, method, abs, display, params, timer);
        } catch (e) {
          // The namenode step only picks a datanode; nothing has been written whatever went wrong.
          if (e instanceof AttemptFailure) throw new AttemptFailure(e.error, e.detail, 'no', e.retryAfterMs);
          throw e;
        }
        if (!('location' in target)) throw new AttemptFailure(this.protocolError(op, display, 'namenode did not redirect'), `${op}: no redirect`, 'no');
        const res = await this.send(op, display, method, target.location, data, timer);
        if (!res.ok) throw await this.responseFailure(op, display, res, timer);
        await this.discard(res);
      } finally {
        timer.clear();
      }
    });
  }

  private async openResponse(abs: string, display: string, offset: number, length: number | undefined, timer: IdleTimer): Promise<Response> {
    const target = await this.locate('OPEN', 'GET', abs, display, { offset: offset === 0 ? undefined : String(offset), length: length === undefined ? undefined : String(length) }, timer);
    if ('data' in target) return target.data;
    const res = await this.send('OPEN', display, 'GET', target.location, undefined, timer);
    if (!res.ok) throw await this.responseFailure('OPEN', display, res, timer);
    return res;
  }

  private async jsonOp(op: string, method: string, path: string, params: Record<string, string | undefined>, idempotent: boolean, maxAttempts?: number): Promise<unknown> {
    const abs = this.normalize(path);
    const display = this.uri(abs);
    return this.run(op, display, idempotent, maxAttempts, async () => {
      const timer = new IdleTimer(this.timeoutMs);
      try {
        const res = await this.send(op, display, method, this.url(abs, op, params), undefined, timer);
        if (res.status >= 300 && res.status < 400) {
          await this.discard(res);
          throw new AttemptFailure(this.protocolError(op, display, `unexpected redirect (HTTP ${res.status})`, res.status), `${op}: redirect`, 'no');
        }
        if (!res.ok) throw await this.responseFailure(op, display, res, timer);
        const text = await this.readText(op, display, res, timer);
        if (text.trim() === '') return undefined;
        try {
          return JSON.parse(text) as unknown;
        } catch {
          throw new AttemptFailure(this.protocolError(op, display, 'body is not JSON', res.status), `${op}: bad JSON`, 'no');
        }
      } finally {
        timer.clear();
      }
    });
  }

  private async booleanOp(op: string, method: string, path: string, params: Record<string, string | undefined>, idempotent: boolean, maxAttempts?: number): Promise<boolean> {
    const body = await this.jsonOp(op, method, path, params, idempotent, maxAttempts);
    const b = isRecord(body) ? body['boolean'] : undefined;
    if (typeof b !== 'boolean') throw this.protocolError(op, this.uri(path), 'response has no boolean');
    return b;
  }

  private parseStatusArray(op: string, path: string, arr: unknown): HdfsFileStatus[] {
    if (!Array.isArray(arr)) throw this.protocolError(op, this.uri(path), 'response has no FileStatus array');
    return arr.map((v) => {
      const st = parseFileStatus(v);
      if (st === undefined) throw this.protocolError(op, this.uri(path), 'malformed FileStatus entry');
      return st;
    });
  }

  // ---------------------------------------------------------------- message hygiene

  /** Removes the delegation token (raw or URL-encoded) and any `delegation=` parameter from server text. */
  private redact(text: string): string {
    let t = text;
    if (this.token !== undefined && this.token.length > 0) {
      for (const form of new Set([this.token, encodeURIComponent(this.token), new URLSearchParams({ d: this.token }).toString().slice(2)])) {
        t = t.split(form).join('<redacted>');
      }
    }
    return t.replace(/(delegation=)[^&\s"'<>]+/gi, '$1<redacted>');
  }

  private clip(text: string): string {
    const t = text.replace(/\s+/g, ' ').trim();
    return t.length > MESSAGE_LIMIT ? `${t.slice(0, MESSAGE_LIMIT)}...` : t;
  }

  /** A short, redacted rendering of a non-JSON error body (e.g. a servlet's HTML page). */
  private summarize(text: string): string {
    return this.clip(this.redact(text.replace(/<[^>]*>/g, ' ')));
  }
}
