import { ConcurrencyLimiter } from '@flowstate/core';

/**
 * At most `max` uploads of one snapshot at a time (on remote storage each file is a round trip,
 * on local disk an fsync). After one upload failed, queued ones are not started (they reject);
 * the snapshot runner deletes what was written.
 *
 * Slots are handed over by core's ConcurrencyLimiter, also to an upload that is not started: an
 * earlier version woke one waiter per finished upload but let a waiter that saw the failure
 * reject without waking the next one, so with more queued uploads than running ones at the first
 * failure the rest waited forever (a simulated rescale hung with its event loop drained).
 */
export class UploadLimiter {
  private readonly slots: ConcurrencyLimiter;
  private failed = false;

  constructor(max: number) {
    this.slots = new ConcurrencyLimiter(max);
  }

  run<T>(upload: () => Promise<T>): Promise<T> {
    return this.slots.run(async () => {
      if (this.failed) throw new Error('not started: another upload of this checkpoint failed');
      try {
        return await upload();
      } catch (e) {
        this.failed = true;
        throw e;
      }
    });
  }
}
