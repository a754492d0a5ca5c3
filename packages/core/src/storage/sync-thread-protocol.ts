/** What the main thread and a sync thread (sync-threads.ts, sync-thread-worker.ts) send each other. */

/** A sync thread's request: fsync (`dataOnly`: fdatasync) descriptor `fd`. */
export interface SyncRequest {
  readonly id: number;
  readonly fd: number;
  readonly dataOnly: boolean;
}

/** A sync thread's answer: no failure, or the `node:fs` error's fields. */
export interface SyncAnswer {
  readonly id: number;
  failure?: { readonly message: string; readonly code?: string | undefined; readonly errno?: number | undefined; readonly syscall?: string | undefined };
}

/** What a sync thread posts once it listens for requests, before any answer. */
export interface SyncThreadReady {
  readonly ready: true;
}
