import { setTimeout as timerSleep } from 'node:timers/promises';
import { StorageConfigError } from './storage-errors.js';

/**
 * One retry policy for every storage: exponential backoff with "equal jitter", bounded by a number
 * of attempts and optionally by a time budget, and one rule for which failures may be retried.
 *
 * The rule (idempotence classification): a failure is retried when it is transient (throttling,
 * 5xx, timeouts, dropped connections) and either the operation is idempotent (repeating it has the
 * same effect as doing it once: reads, listings, deletes, whole-object PUTs) or the failure proves
 * the request did not take effect (connection refused, 503, the first step of a two-step write).
 * A transient failure of a non-idempotent operation that may have taken effect is neither retried
 * nor reported as permanent: its outcome is unknown, and the caller must look before it retries.
 */

export interface RetryOptions {
  /** Attempts per operation, the first one included; 1 disables retries. */
  readonly maxAttempts?: number;
  /** Backoff before the second attempt; doubles per attempt, with jitter. */
  readonly baseDelayMs?: number;
  /** Upper bound of one backoff (also caps a server's Retry-After). */
  readonly maxDelayMs?: number;
  /**
   * Time one operation may take, attempts and backoff included: no retry starts whose backoff
   * would end after it. Default: no budget (attempts alone bound the operation).
   */
  readonly budgetMs?: number;
}

/** What the policy needs from the outside world; injected by tests to make every run reproducible. */
export interface RetryEnvironment {
  /** Uniform in [0, 1). Default Math.random. */
  readonly random?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Milliseconds, monotonic enough for budgets. Default performance.now. */
  readonly now?: () => number;
}

/** Whether a failed request may have changed the storage. */
export type Applied = 'no' | 'maybe';

export interface FailureClassification {
  /** Repeating the request may succeed. */
  readonly transient: boolean;
  /** 'no' when the failure proves nothing happened (so even a non-idempotent request may be repeated). */
  readonly applied: Applied;
  /** The server's Retry-After, if it sent one. */
  readonly retryAfterMs?: number;
}

/** A failure that is final: not transient. */
export const PERMANENT_FAILURE: FailureClassification = Object.freeze({ transient: false, applied: 'maybe' });

/** Why the policy stopped retrying. */
export type RetryStop = 'permanent' | 'outcome-unknown' | 'exhausted';

export interface RetryAttemptEvent {
  /** The attempt that failed (1-based); also the number of the retry about to happen. */
  readonly attempt: number;
  readonly delayMs: number;
  readonly error: unknown;
}

/** What a storage reports before each retry (logs, metrics). Never carries credentials. */
export interface StorageRetryEvent {
  /** The protocol operation, e.g. 'GetObject' or 'APPEND'. */
  readonly operation: string;
  /** Display URI of the file or directory involved. */
  readonly path: string;
  /** The attempt that failed (1-based), i.e. 1 before the first retry. */
  readonly attempt: number;
  readonly delayMs: number;
  /** Redacted description of the failure being retried. */
  readonly reason: string;
}

/** One operation as the policy runs it. */
export interface RetryableOperation<T> {
  readonly idempotent: boolean;
  /** Overrides the policy's maxAttempts for this call (1: no retries, the caller runs its own loop). */
  readonly maxAttempts?: number;
  attempt(attempt: number): Promise<T>;
  classify(error: unknown): FailureClassification;
  /** Called before each backoff (logs, metrics). A hook that throws does not fail the operation. */
  onRetry?(event: RetryAttemptEvent): void;
  /** The error the caller sees when the policy stops; `error` itself by default. */
  giveUp?(error: unknown, stop: { readonly reason: RetryStop; readonly attempts: number }): unknown;
}

/** The retry rule, on its own: may this failure of this operation be retried at all? */
export function mayRetry(idempotent: boolean, failure: FailureClassification): boolean {
  return failure.transient && (idempotent || failure.applied === 'no');
}

export class RetryPolicy {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly budgetMs: number | undefined;
  private readonly random: () => number;
  private readonly sleepFn: (ms: number) => Promise<void>;
  private readonly now: () => number;

  /** `defaults` are the storage's own defaults, used for options the user leaves out. */
  constructor(options: RetryOptions = {}, defaults: Required<Omit<RetryOptions, 'budgetMs'>>, env: RetryEnvironment = {}) {
    this.maxAttempts = checked('maxAttempts', options.maxAttempts ?? defaults.maxAttempts, 1);
    this.baseDelayMs = checked('baseDelayMs', options.baseDelayMs ?? defaults.baseDelayMs, 0);
    // A cap below the first step would make the "exponential" backoff shrink; the step wins.
    this.maxDelayMs = Math.max(this.baseDelayMs, checked('maxDelayMs', options.maxDelayMs ?? defaults.maxDelayMs, 0));
    this.budgetMs = options.budgetMs === undefined ? undefined : checked('budgetMs', options.budgetMs, 0);
    this.random = env.random ?? Math.random;
    this.sleepFn = env.sleep ?? ((ms) => timerSleep(ms));
    this.now = env.now ?? (() => performance.now());
  }

  /**
   * The backoff before retry number `retry` (1-based). Equal jitter: half the exponential step is
   * fixed and half random, so the retries of many writers spread out but each one still backs off.
   * A server's Retry-After raises it, up to maxDelayMs.
   */
  delay(retry: number, retryAfterMs?: number): number {
    const step = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (retry - 1));
    let d = step / 2 + this.random() * (step / 2);
    if (retryAfterMs !== undefined) d = Math.max(d, Math.min(retryAfterMs, this.maxDelayMs));
    return Math.round(d);
  }

  /** Sleeps through the policy's (injectable) sleep; for callers that run reconciliation loops. */
  sleep(ms: number): Promise<void> {
    return this.sleepFn(ms);
  }

  /** Runs an operation until it succeeds, fails permanently, has an unknown outcome, or runs out of attempts or budget. */
  async run<T>(op: RetryableOperation<T>): Promise<T> {
    const max = op.maxAttempts === undefined ? this.maxAttempts : checked('maxAttempts', op.maxAttempts, 1);
    const deadline = this.budgetMs === undefined ? Infinity : this.now() + this.budgetMs;
    const giveUp = (error: unknown, reason: RetryStop, attempts: number): unknown => (op.giveUp === undefined ? error : op.giveUp(error, { reason, attempts }));
    for (let n = 1; ; n++) {
      try {
        return await op.attempt(n);
      } catch (error) {
        const failure = op.classify(error);
        if (!failure.transient) throw giveUp(error, 'permanent', n);
        if (!mayRetry(op.idempotent, failure)) throw giveUp(error, 'outcome-unknown', n);
        const delayMs = this.delay(n, failure.retryAfterMs);
        if (n >= max || this.now() + delayMs > deadline) throw giveUp(error, 'exhausted', n);
        try {
          op.onRetry?.({ attempt: n, delayMs, error });
        } catch {
          // A metrics hook must not turn a recoverable failure into an unrecoverable one.
        }
        await this.sleepFn(delayMs);
      }
    }
  }
}

function checked(name: string, value: number, min: number): number {
  if (!Number.isFinite(value) || value < min) throw new StorageConfigError(`retry ${name} must be a number of at least ${min}, got ${String(value)}`);
  return Math.floor(value);
}
