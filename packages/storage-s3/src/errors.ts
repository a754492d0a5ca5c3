import type { Redactor } from '@flowstate/core';

/**
 * Classifying and describing S3 failures: S3's own error codes, statuses and SDK quirks. The retry
 * loop, the backoff and the redaction rules are core's (RetryPolicy, Redactor), shared by every storage.
 */

/** S3 / AWS error codes that mean "try again later", whatever the HTTP status says. */
const TRANSIENT_S3_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'ProvisionedThroughputExceededException',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'ServiceUnavailable',
  'PriorRequestNotComplete',
  'TimeoutError',
  'NetworkingError',
]);

/** Socket-level failures: the request may or may not have reached S3, and repeating it is safe. */
const TRANSIENT_NODE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENETDOWN',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
]);

interface ErrorFields {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  Code?: unknown;
  cause?: unknown;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: unknown; requestId?: unknown; extendedRequestId?: unknown };
}

function fields(e: unknown): ErrorFields {
  return typeof e === 'object' && e !== null ? (e as ErrorFields) : {};
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export function httpStatusOf(e: unknown): number | undefined {
  const s = fields(e).$metadata?.httpStatusCode;
  return typeof s === 'number' ? s : undefined;
}

/** The S3 error code ('NoSuchKey', 'SlowDown'...) or, for socket errors, the Node code. */
export function errorCodeOf(e: unknown): string | undefined {
  const f = fields(e);
  return str(f.Code) ?? str(f.code) ?? str(f.name);
}

export function isNotFound(e: unknown): boolean {
  const code = errorCodeOf(e);
  if (code === 'NoSuchKey' || code === 'NotFound') return true;
  // HEAD responses have no body, so a 404 there carries no code; NoSuchBucket must stay an error.
  return httpStatusOf(e) === 404 && code !== 'NoSuchBucket' && code !== 'NoSuchUpload';
}

/** True when repeating the request may succeed: throttling, 5xx, timeouts and dropped connections. */
export function isTransient(e: unknown, depth = 0): boolean {
  if (depth > 4) return false;
  const f = fields(e);
  const status = httpStatusOf(e);
  if (status !== undefined && (status === 429 || (status >= 500 && status !== 501))) return true;
  for (const c of [str(f.Code), str(f.code), str(f.name)]) {
    if (c !== undefined && (TRANSIENT_S3_CODES.has(c) || TRANSIENT_NODE_CODES.has(c))) return true;
  }
  const message = str(f.message) ?? '';
  if (/socket hang up|^aborted$|premature close|other side closed/i.test(message)) return true;
  // The SDK marks errors it knows to be retryable (throttling, transient codes) with an object here.
  if (typeof f.$retryable === 'object' && f.$retryable !== null) return true;
  return f.cause !== undefined && isTransient(f.cause, depth + 1);
}

/**
 * The part of a failed S3 request that is safe to keep: it replaces the SDK error as `cause`,
 * because SDK errors carry response fields such as AWSAccessKeyId or StringToSign verbatim.
 */
export class S3RequestFailure extends Error {
  constructor(
    readonly operation: string,
    message: string,
    readonly errorCode: string | undefined,
    readonly httpStatusCode: number | undefined,
    readonly requestId: string | undefined,
  ) {
    super(message);
    this.name = 'S3RequestFailure';
  }
}

/** "SlowDown: Please reduce your request rate. (HTTP 503, request id X)" with secrets removed. */
export function describeFailure(operation: string, e: unknown, redactor: Redactor): S3RequestFailure {
  const f = fields(e);
  const code = errorCodeOf(e);
  const status = httpStatusOf(e);
  const requestId = str(f.$metadata?.requestId);
  const raw = str(f.message);
  // The SDK says 'UnknownError' for bodiless error responses (HEAD, proxies); the status says more.
  const text = raw === undefined || raw === 'UnknownError' ? '' : `: ${raw}`;
  const extra = [status === undefined ? undefined : `HTTP ${status}`, requestId === undefined ? undefined : `request id ${requestId}`].filter(
    (x): x is string => x !== undefined,
  );
  const message = redactor.redact(`${code ?? 'Error'}${text}${extra.length > 0 ? ` (${extra.join(', ')})` : ''}`);
  return new S3RequestFailure(operation, message, code, status, requestId === undefined ? undefined : redactor.redact(requestId));
}
