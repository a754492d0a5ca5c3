import type { RetryOptions, StorageError, StorageRetryEvent } from '@flowstate/core';
import { WebHdfsConfigError } from './errors.js';

/** Core's retry options; WebHDFS defaults: 5 attempts, 100 ms doubling to at most 5 s, no time budget. */
export type WebHdfsRetryOptions = RetryOptions;

export const WEBHDFS_RETRY_DEFAULTS = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 5000 } as const;

/** Core's retry event (`operation` is the WebHDFS op), with the error being retried. */
export interface WebHdfsRetryEvent extends StorageRetryEvent {
  /** @deprecated Use `operation`. */
  readonly op: string;
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

/** A configuration number: NaN or a non-positive value would mean endless retries or no work at all. */
export function positiveInteger(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 1) throw new WebHdfsConfigError(`${name} must be a positive number, got ${String(value)}`);
  return Math.floor(value);
}
