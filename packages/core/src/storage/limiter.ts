import { StorageConfigError } from './storage-errors.js';

/**
 * Bounds how many storage requests run at once. One limiter can be shared by every call of a file
 * system; `forEachLimit` is the common case of one bounded batch.
 */
export class ConcurrencyLimiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new StorageConfigError(`concurrency limit must be a positive integer, got ${String(limit)}`);
  }

  /** Tasks running now; for tests and metrics. */
  get running(): number {
    return this.active;
  }

  /** Tasks waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active < this.limit) this.active++;
    // The slot is handed over by the task that ends (see finally), so `active` stays accurate.
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.active--;
    }
  }
}

/**
 * Runs `fn` over `items` with at most `limit` in flight. After the first failure no further item
 * starts; the call settles once the items in flight have, and rejects with that first failure (so
 * no request of the batch is still running when the caller sees the error).
 */
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  const limiter = new ConcurrencyLimiter(limit);
  let failure: { error: unknown } | undefined;
  await Promise.all(
    items.map((item, index) =>
      limiter.run(async () => {
        if (failure !== undefined) return;
        try {
          await fn(item, index);
        } catch (error) {
          failure ??= { error };
        }
      }),
    ),
  );
  if (failure !== undefined) throw failure.error;
}

/**
 * Like Promise.all, but waits for every task before rejecting, and rejects with the first failed
 * task's reason in task order: a caller that deletes its output on failure knows no task is still
 * writing into it, and errors do not depend on timing. Tuples keep their element types.
 */
export async function settleAll<T extends readonly unknown[]>(tasks: { readonly [I in keyof T]: Promise<T[I]> }): Promise<T> {
  const results = await Promise.allSettled(tasks);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
