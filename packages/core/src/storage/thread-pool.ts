/**
 * libuv's thread pool, as local file I/O budgets it: every asynchronous `node:fs` call (reads,
 * writes, fsyncs) runs on one of its threads, UV_THREADPOOL_SIZE of them for the whole process.
 */

/** libuv's own default when UV_THREADPOOL_SIZE is unset. */
const DEFAULT_THREAD_POOL_SIZE = 4;
/**
 * Upper bound of the derived limit: libuv accepts up to 1024 threads, but each read in flight holds
 * a descriptor, and a common descriptor limit is 1024 for the whole process.
 */
const MAX_THREAD_POOL_READS = 128;

/**
 * File reads worth running at once: libuv's thread-pool size (UV_THREADPOOL_SIZE, default 4), since
 * more reads than threads only queue inside libuv while holding their files open. A value that is
 * not a positive integer gives the default; larger values are capped at MAX_THREAD_POOL_READS.
 */
export function threadPoolReads(env: Readonly<Record<string, string | undefined>> = process.env): number {
  return envCount(env, 'UV_THREADPOOL_SIZE', { min: 1, fallback: DEFAULT_THREAD_POOL_SIZE, max: MAX_THREAD_POOL_READS });
}

/**
 * A count set by environment variable `name`: an integer of at least `min`, capped at `max`;
 * unset, empty or anything else gives `fallback` (a process setting, read as libuv reads its own).
 */
export function envCount(env: Readonly<Record<string, string | undefined>>, name: string, limits: { readonly min: number; readonly fallback: number; readonly max: number }): number {
  const raw = env[name]?.trim();
  const n = raw === undefined || raw === '' ? NaN : Number(raw);
  if (!Number.isSafeInteger(n) || n < limits.min) return limits.fallback;
  return Math.min(n, limits.max);
}

/**
 * Syncs that may hold the pool's threads at once, over the process: half the pool, at least one.
 * A sync holds its thread for the whole device write (tens of milliseconds on a busy disk), and
 * every read, write and native job of the process queues behind it (see sync-threads.ts).
 */
export function poolSyncLimit(env: Readonly<Record<string, string | undefined>> = process.env): number {
  return Math.max(1, Math.floor(threadPoolReads(env) / 2));
}
