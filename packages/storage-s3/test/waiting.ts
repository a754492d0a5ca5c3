/** What `settledWithin` returns for a promise still pending when its time is up. */
export const STILL_PENDING = 'still pending';

/**
 * 'resolved', the rejection's reason, or STILL_PENDING after `ms`: for tests of operations that
 * used to hang, so that a regression fails the test instead of stalling the run.
 */
export async function settledWithin(promise: Promise<unknown>, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(STILL_PENDING), ms)));
  try {
    return await Promise.race([promise.then(() => 'resolved', (e: unknown) => e), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves once `condition()` holds; rejects after `ms`. */
export async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
