import { StorageError } from '@flowstate/core';

/**
 * What a WebHDFS server reported. `message` has been redacted (no delegation token) and shortened;
 * it is the server's text, so it may name the HDFS user (e.g. an AccessControlException's
 * "user=alice"), which an operator needs in order to fix permissions.
 */
export interface WebHdfsRemoteExceptionInfo {
  /** Simple exception name as sent, e.g. 'FileNotFoundException'. */
  readonly exception: string;
  readonly javaClassName: string;
  readonly message: string;
}

export interface WebHdfsErrorDetails {
  /** The WebHDFS op, e.g. 'CREATE'. */
  readonly op: string;
  /** HTTP status, when a response arrived. */
  readonly httpStatus?: number;
  readonly remote?: WebHdfsRemoteExceptionInfo;
  /** Attempts made before giving up (1 when the error was not retried). */
  readonly attempts?: number;
}

/**
 * A WebHDFS operation failed. `path` is the `webhdfs://host:port/...` URI of the file, never a
 * request URL: request URLs carry `user.name` or `delegation`, so they are kept out of errors.
 */
export class WebHdfsError extends StorageError {
  readonly op: string;
  readonly httpStatus: number | undefined;
  readonly remote: WebHdfsRemoteExceptionInfo | undefined;
  readonly attempts: number;

  constructor(path: string, detail: string, details: WebHdfsErrorDetails, options?: { cause?: unknown; transient?: boolean }) {
    super(path, detail, options);
    this.op = details.op;
    this.httpStatus = details.httpStatus;
    this.remote = details.remote;
    this.attempts = details.attempts ?? 1;
  }
}

/** The server refused the caller (AccessControlException, SecurityException, InvalidToken, 401/403 without details). */
export class WebHdfsAccessDeniedError extends WebHdfsError {
  override readonly code = 'STORAGE_ACCESS_DENIED';
}

/** The path already exists and the operation does not replace it (FileAlreadyExistsException). */
export class WebHdfsAlreadyExistsError extends WebHdfsError {
  override readonly code = 'STORAGE_ALREADY_EXISTS';
}

/** The server's answer does not follow the WebHDFS protocol (missing Location, malformed JSON...). */
export class WebHdfsProtocolError extends WebHdfsError {
  override readonly code = 'STORAGE_PROTOCOL_ERROR';
}

/**
 * A non-idempotent request (CREATE without overwrite, APPEND, RENAME) failed in a way that leaves
 * open whether it took effect: the connection dropped or timed out after the request was sent, or
 * the server answered 500/502/504. It is not retried blindly, since a second APPEND could
 * duplicate bytes; the caller must look at the namespace first (WebHdfsFileSystem does).
 */
export class WebHdfsOutcomeUnknownError extends WebHdfsError {
  override readonly code = 'STORAGE_OUTCOME_UNKNOWN';
}

/**
 * Every attempt failed with a transient error. Not itself transient: the client already retried
 * with backoff, so an immediate retry by the caller is unlikely to fare better. `cause` is the
 * last attempt's error. (A call limited to one attempt gets that attempt's transient error.)
 */
export class WebHdfsRetriesExhaustedError extends WebHdfsError {
  override readonly code = 'STORAGE_RETRIES_EXHAUSTED';
}
