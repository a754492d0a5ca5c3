import { fdatasync, fsync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { SyncAnswer, SyncRequest, SyncThreadReady } from './sync-thread-protocol.js';
import { envCount, poolSyncLimit } from './thread-pool.js';

/**
 * Where this process's fsyncs run. An asynchronous `node:fs` fsync holds one of libuv's pool
 * threads (4 by default) for the whole device write: on a busy disk 10–30 ms each. A conversion
 * to native RocksDB ran four at once (its SSTs' data syncs and its directory syncs), and the
 * reads and SST builds it was waiting for queued behind them (issue 16, session 31: with
 * UV_THREADPOOL_SIZE=8 it took ~0.9× the time). So at most poolSyncLimit() syncs run on the pool
 * at once; the others run on sync threads, worker threads that do nothing but fsync and hold no
 * pool thread. A sync thread starts the first time one is wanted (a process that never syncs
 * more than the pool's share at once starts none); until it is up, syncs run on the pool, and
 * optional ones (optionalSync) are skipped.
 */

/** Sync threads a process starts unless FLOWSTATE_SYNC_THREADS says otherwise. */
const DEFAULT_SYNC_THREADS = 2;
/** Most sync threads FLOWSTATE_SYNC_THREADS may ask for: each is a V8 isolate (~10 MiB). */
const MAX_SYNC_THREADS = 16;

/**
 * Sync threads a process may start: FLOWSTATE_SYNC_THREADS (0: none, every sync on the pool),
 * default 2. A value that is not a non-negative integer gives the default; larger values are
 * capped at MAX_SYNC_THREADS.
 */
export function syncThreadLimit(env: Readonly<Record<string, string | undefined>> = process.env): number {
  return envCount(env, 'FLOWSTATE_SYNC_THREADS', { min: 0, fallback: DEFAULT_SYNC_THREADS, max: MAX_SYNC_THREADS });
}

/** Syncs running on libuv's pool now (syncDescriptor's and optionalSync's; tests take slots with takePoolSync). */
let poolSyncs = 0;

/** @internal Takes one of the pool's sync slots if fewer than poolSyncLimit() are taken, as a sync running there would (tests). */
export function takePoolSync(): boolean {
  if (poolSyncs >= poolSyncLimit()) return false;
  poolSyncs++;
  return true;
}

/** @internal Gives back a slot takePoolSync gave (tests). */
export function releasePoolSync(): void {
  poolSyncs--;
}

/** One sync thread: its requests waiting for an answer, by id. */
class SyncThread {
  ready = false;
  /** Set by the first of 'error' and 'exit' (an uncaught error emits both). */
  private dead = false;
  /** Resolves true once the thread runs, false if it died first. */
  private readonly up: Promise<boolean>;
  private readonly waiting = new Map<number, { done: () => void; fail: (e: unknown) => void }>();
  private nextId = 0;
  private settleUp: (up: boolean) => void = () => {};

  constructor(private readonly worker: Worker) {
    this.up = new Promise<boolean>((settle) => (this.settleUp = settle));
    // Not the worker's 'online' event: that comes before its script loads (or fails to).
    worker.on('message', (message: SyncAnswer | SyncThreadReady) => {
      if ('ready' in message) this.cameUp();
      else this.answered(message);
    });
    // Neither is expected (the thread catches every sync's failure); if it happens, the syncs it
    // held are failed (a commit waiting on one fails, as if its fsync had failed) and it is dropped.
    worker.on('error', (e) => this.died(e));
    worker.once('exit', (code) => this.died(new Error(`a sync thread exited (code ${code})`)));
    // An idle thread keeps no process alive; one with syncs in flight does (see sync).
    worker.unref();
  }

  get pending(): number {
    return this.waiting.size;
  }

  /** Resolves true once the thread runs (false if it died first), keeping the process alive until then. */
  async started(): Promise<boolean> {
    this.worker.ref();
    try {
      return await this.up;
    } finally {
      if (this.waiting.size === 0) this.worker.unref();
    }
  }

  /** fsyncs `fd` on this thread; the caller keeps `fd` open until this settles. */
  sync(fd: number, dataOnly: boolean): Promise<void> {
    const id = this.nextId++;
    return new Promise<void>((done, fail) => {
      if (this.waiting.size === 0) this.worker.ref();
      this.waiting.set(id, { done, fail });
      this.worker.postMessage({ id, fd, dataOnly } satisfies SyncRequest);
    });
  }

  private cameUp(): void {
    this.ready = true;
    this.settleUp(true);
  }

  private answered(answer: SyncAnswer): void {
    const w = this.waiting.get(answer.id);
    if (w === undefined) return;
    this.waiting.delete(answer.id);
    if (this.waiting.size === 0) this.worker.unref();
    if (answer.failure === undefined) w.done();
    else w.fail(Object.assign(new Error(answer.failure.message), answer.failure));
  }

  private died(cause: unknown): void {
    if (this.dead) return;
    this.dead = true;
    // One that never came up will not come up next time either (e.g. a bundle without the worker file).
    if (!this.ready) unavailable = true;
    this.ready = false;
    this.settleUp(false);
    const i = threads.indexOf(this);
    if (i >= 0) threads.splice(i, 1);
    for (const w of this.waiting.values()) w.fail(cause);
    this.waiting.clear();
  }
}

const threads: SyncThread[] = [];
/** Set when a sync thread cannot be started here (or died before it ran): every sync then runs on the pool. */
let unavailable = false;
const counts = { pool: 0, threads: 0, started: 0 };
/** The script a sync thread runs; tests put others in its place (useSyncThreadScriptForTest). */
let threadScript = new URL('./sync-thread-worker.js', import.meta.url);

function startThread(): void {
  try {
    threads.push(new SyncThread(new Worker(threadScript)));
    counts.started++;
  } catch {
    unavailable = true;
  }
}

/** The ready thread with the fewest syncs in flight, starting another while all are busy (up to the limit); undefined while none is ready. */
function pickThread(): SyncThread | undefined {
  const limit = syncThreadLimit();
  if (limit === 0) return undefined;
  let best: SyncThread | undefined;
  for (const t of threads) if (t.ready && (best === undefined || t.pending < best.pending)) best = t;
  if (!unavailable && (best === undefined || best.pending > 0) && threads.length < limit) startThread();
  return best;
}

function onPool(fd: number, dataOnly: boolean): Promise<void> {
  return new Promise<void>((done, fail) => {
    // Counted once the call is made: node:fs throws for a value that is no descriptor at all (-1,
    // a closed FileHandle's; the executor turns that into the rejection), and a slot taken first
    // would never be given back. A closed or unknown descriptor fails later, with EBADF.
    (dataOnly ? fdatasync : fsync)(fd, (e) => {
      poolSyncs--;
      if (e === null) done();
      else fail(e);
    });
    poolSyncs++;
    counts.pool++;
  });
}

/**
 * fsyncs descriptor `fd` (`dataOnly`: fdatasync) off the event loop: on libuv's pool while fewer
 * than poolSyncLimit() syncs run there, else on a sync thread once one is up. The caller keeps
 * `fd` open until this settles. Rejects with the `node:fs` error (its `code`, `errno`, `syscall`).
 */
export function syncDescriptor(fd: number, dataOnly: boolean): Promise<void> {
  if (poolSyncs < poolSyncLimit()) return onPool(fd, dataOnly);
  const thread = pickThread();
  return thread === undefined ? onPool(fd, dataOnly) : onThread(thread, fd, dataOnly);
}

/**
 * A sync that may be skipped (BackgroundDataSync's: the commit's own fsync covers its bytes
 * anyway): on the pool within its share, else on a sync thread that is up and idle; undefined,
 * and nothing started, otherwise. Never on the pool past its share, and never queued on a thread
 * behind another sync: a commit's own fsync, or a finish() waiting for this one, would wait
 * behind it. The caller keeps `fd` open until a started sync settles.
 */
export function optionalSync(fd: number, dataOnly: boolean): Promise<void> | undefined {
  if (poolSyncs < poolSyncLimit()) return onPool(fd, dataOnly);
  const thread = pickThread();
  return thread === undefined || thread.pending > 0 ? undefined : onThread(thread, fd, dataOnly);
}

function onThread(thread: SyncThread, fd: number, dataOnly: boolean): Promise<void> {
  counts.threads++;
  return thread.sync(fd, dataOnly);
}

/** @internal Syncs run so far on the pool and on sync threads, and sync threads started (tests). */
export function syncCounts(): { readonly pool: number; readonly threads: number; readonly started: number } {
  return { ...counts };
}

/** @internal Sync threads started from now on run the module at `script`, in this process (tests). */
export function useSyncThreadScriptForTest(script: URL): void {
  threadScript = script;
}

/** @internal Starts sync threads up to the limit and resolves once they are up, with how many are (tests). */
export async function startSyncThreads(): Promise<number> {
  while (!unavailable && threads.length < syncThreadLimit()) startThread();
  return (await Promise.all(threads.map((t) => t.started()))).filter((up) => up).length;
}
