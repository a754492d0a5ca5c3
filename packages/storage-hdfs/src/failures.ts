import { clipMessage, StorageNotFoundError, type Applied, type Redactor, type StorageError } from '@flowstate/core';
import {
  WebHdfsAccessDeniedError,
  WebHdfsAlreadyExistsError,
  WebHdfsError,
  WebHdfsProtocolError,
  type WebHdfsErrorDetails,
  type WebHdfsRemoteExceptionInfo,
} from './errors.js';
import { isRecord, str } from './file-status.js';

/**
 * How a failed WebHDFS attempt is classified: the typed error the caller may see, and whether the
 * request may have taken effect (`applied`), which decides if a non-idempotent op may be repeated.
 */

/** One attempt's failure, before the retry policy decides what the caller sees. */
export class AttemptFailure extends Error {
  constructor(
    readonly error: StorageError,
    readonly detail: string,
    readonly applied: Applied,
    readonly retryAfterMs?: number,
  ) {
    super(detail);
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

export function transientFailure(
  op: string,
  display: string,
  detail: string,
  applied: Applied,
  extra: { httpStatus?: number; remote?: WebHdfsRemoteExceptionInfo; retryAfterMs?: number } = {},
): AttemptFailure {
  const full = `${op} failed: ${detail}`;
  const details: WebHdfsErrorDetails = { operation: op, ...(extra.httpStatus === undefined ? {} : { httpStatus: extra.httpStatus }), ...(extra.remote === undefined ? {} : { remote: extra.remote }) };
  return new AttemptFailure(new WebHdfsError(display, full, details, { transient: true }), full, applied, extra.retryAfterMs);
}

/** A fetch that threw: refused before sending (nothing happened), or lost mid-request (maybe it did). */
export function networkFailure(op: string, display: string, e: unknown, timedOutAfterMs: number | undefined): AttemptFailure {
  if (timedOutAfterMs !== undefined) return transientFailure(op, display, `no response progress for ${timedOutAfterMs} ms`, 'maybe');
  const code = errorCode(e);
  if (code !== undefined && NOT_SENT_CODES.has(code)) return transientFailure(op, display, `cannot connect (${code})`, 'no');
  if (code !== undefined || (e instanceof TypeError && e.message === 'fetch failed') || (e instanceof Error && e.name === 'AbortError')) {
    return transientFailure(op, display, `connection failed (${code ?? (e instanceof Error ? e.name : 'unknown')})`, 'maybe');
  }
  // Not a network error we recognise; report it without its message, which could quote the URL.
  const error = new WebHdfsError(display, `${op} failed: ${e instanceof Error ? e.name : 'unknown error'}`, { operation: op });
  return new AttemptFailure(error, `${op} failed`, 'maybe');
}

/** A non-2xx response, its body already read (at most a bounded prefix), mapped to a typed error. */
export function responseFailure(op: string, display: string, status: number, body: string, retryAfter: string | null, redactor: Redactor): AttemptFailure {
  const remoteRaw = parseRemoteException(body);
  const remote = remoteRaw === undefined ? undefined : { ...remoteRaw, message: clipMessage(redactor.redact(remoteRaw.message)) };
  const what = remote !== undefined ? `${remote.exception}: ${remote.message}` : clipMessage(redactor.redact(body.replace(/<[^>]*>/g, ' ')));
  const detail = `${op} failed: HTTP ${status}${what === '' ? '' : ` ${what}`}`;
  const details: WebHdfsErrorDetails = { operation: op, httpStatus: status, ...(remote === undefined ? {} : { remote }) };
  const retryAfterMs = parseRetryAfter(retryAfter);

  // Not done, and the server says so: safe to repeat even a non-idempotent request.
  if ((remote !== undefined && RETRIABLE_REMOTE.has(remote.exception)) || status === 503 || status === 429 || status === 408) {
    return new AttemptFailure(new WebHdfsError(display, detail, details, { transient: true }), detail, 'no', retryAfterMs);
  }
  // A server error after the request arrived: it may have been applied.
  if (status === 500 || status === 502 || status === 504) {
    return new AttemptFailure(new WebHdfsError(display, detail, details, { transient: true }), detail, 'maybe', retryAfterMs);
  }
  let error: StorageError;
  if (remote?.exception === 'FileNotFoundException') {
    error = new StorageNotFoundError(display);
  } else if (remote === undefined && status === 404) {
    // WebHDFS reports a missing path as a FileNotFoundException. A bare 404 comes from something
    // else (a wrong endpoint path or gateway prefix, a proxy's page): taken as "not found" it
    // would make a populated store look empty, and a restore start without its state.
    error = protocolError(op, display, `HTTP 404 without a RemoteException, so not a WebHDFS answer (wrong endpoint path or gateway prefix?)${what === '' ? '' : `: ${what}`}`, status);
  } else if ((remote !== undefined && ACCESS_DENIED_REMOTE.has(remote.exception)) || (remote === undefined && (status === 401 || status === 403))) {
    error = new WebHdfsAccessDeniedError(display, detail, details);
  } else if (remote?.exception === 'FileAlreadyExistsException') {
    error = new WebHdfsAlreadyExistsError(display, detail, details);
  } else {
    error = new WebHdfsError(display, detail, details);
  }
  return new AttemptFailure(error, detail, 'no');
}

export function protocolError(op: string, display: string, detail: string, httpStatus?: number): WebHdfsProtocolError {
  return new WebHdfsProtocolError(display, `${op}: unexpected response: ${detail}`, { operation: op, ...(httpStatus === undefined ? {} : { httpStatus }) });
}

/** A protocol violation as an attempt failure; nothing was applied, and repeating will not help. */
export function protocolFailure(op: string, display: string, detail: string, short: string, httpStatus?: number): AttemptFailure {
  return new AttemptFailure(protocolError(op, display, detail, httpStatus), `${op}: ${short}`, 'no');
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
