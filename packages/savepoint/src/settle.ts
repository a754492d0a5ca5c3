/**
 * Like Promise.all, but waits for every task before rejecting, and rejects with the first failed
 * task's reason in task order: a caller that deletes its output directory on failure knows no
 * task is still writing into it, and errors do not depend on timing.
 */
export async function settleAll<T>(tasks: readonly Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(tasks);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}
