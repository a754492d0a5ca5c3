import { FlowstateError, StorageError } from '../errors.js';

/**
 * Storage error classes every storage shares. `StorageError` and `StorageNotFoundError` (in
 * errors.ts) are the base; these add what a request-based storage (S3, WebHDFS, a future GCS or
 * Azure Blob) reports, so that callers switch on one set of codes whatever the protocol.
 */

/** What the server said about a failure: its exception or error name and its (redacted, shortened) message. */
export interface RemoteErrorInfo {
  /** Simple name as sent, e.g. 'FileNotFoundException' (WebHDFS) or 'SlowDown' (S3). */
  readonly exception: string;
  readonly message: string;
  /** Fully qualified class, for servers that send one (WebHDFS's RemoteException). */
  readonly javaClassName?: string;
}

export interface StorageErrorDetails {
  /** The protocol operation, e.g. 'CREATE' or 'PutObject'. */
  readonly operation: string;
  /** HTTP status, when a response arrived. */
  readonly httpStatus?: number;
  readonly remote?: RemoteErrorInfo;
  /** Attempts made before giving up (1 when the error was not retried). */
  readonly attempts?: number;
}

/**
 * A storage request failed. `path` is the display URI of the file (`s3://…`, `webhdfs://…`), never a
 * request URL: request URLs carry credentials, so they stay out of errors.
 */
export class StorageOperationError extends StorageError {
  readonly operation: string;
  readonly httpStatus: number | undefined;
  readonly remote: RemoteErrorInfo | undefined;
  readonly attempts: number;

  constructor(path: string, detail: string, details: StorageErrorDetails, options?: { cause?: unknown; transient?: boolean }) {
    super(path, detail, options);
    this.operation = details.operation;
    this.httpStatus = details.httpStatus;
    this.remote = details.remote;
    this.attempts = details.attempts ?? 1;
  }

  /** @deprecated The name WebHDFS errors used; use `operation`. */
  get op(): string {
    return this.operation;
  }
}

/** The server refused the caller (bad credentials, missing permission). */
export class StorageAccessDeniedError extends StorageOperationError {
  override readonly code = 'STORAGE_ACCESS_DENIED';
}

/** The path already exists and the operation does not replace it. */
export class StorageAlreadyExistsError extends StorageOperationError {
  override readonly code = 'STORAGE_ALREADY_EXISTS';
}

/** The server's answer does not follow its protocol (missing header, malformed body...). */
export class StorageProtocolError extends StorageOperationError {
  override readonly code = 'STORAGE_PROTOCOL_ERROR';
}

/**
 * A non-idempotent request failed in a way that leaves open whether it took effect (the
 * connection dropped after the request was sent, a 500). It is not retried blindly, since a
 * second append could duplicate bytes: the caller must look at the storage before retrying.
 */
export class StorageOutcomeUnknownError extends StorageOperationError {
  override readonly code = 'STORAGE_OUTCOME_UNKNOWN';
}

/**
 * Every attempt failed with a transient error. Not itself transient: the storage already retried
 * with backoff, so an immediate retry by the caller is unlikely to fare better. `cause` is the
 * last attempt's error.
 */
export class StorageRetriesExhaustedError extends StorageOperationError {
  override readonly code = 'STORAGE_RETRIES_EXHAUSTED';
}

/** A storage was configured with values it cannot work with (a negative retry count, a bad URL). */
export class StorageConfigError extends FlowstateError {
  readonly code: string = 'STORAGE_CONFIG';
}
