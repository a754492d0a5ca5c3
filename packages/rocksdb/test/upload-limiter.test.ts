import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { UploadLimiter } from '../src/backend/upload-limiter.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

/** Uploads that finish only when the test says so: concurrency and order are observed, not timed. */
function gatedUploads(limiter: UploadLimiter, count: number) {
  const started: number[] = [];
  const finish = new Map<number, { ok: () => void; fail: (e: Error) => void }>();
  const settled: Array<PromiseSettledResult<number> | undefined> = new Array(count).fill(undefined);
  const all = Array.from({ length: count }, (_, i) =>
    limiter
      .run(
        () =>
          new Promise<number>((resolve, reject) => {
            started.push(i);
            finish.set(i, { ok: () => resolve(i), fail: reject });
          }),
      )
      .then(
        (value) => void (settled[i] = { status: 'fulfilled', value }),
        (reason: unknown) => void (settled[i] = { status: 'rejected', reason }),
      ),
  );
  return { started, finish, settled, all };
}

describe('UploadLimiter (uploads of one native RocksDB snapshot)', () => {
  it('after a failure every queued upload settles without starting, even with more queued than running', async () => {
    // 2 running, 5 queued. Regression: a woken waiter that saw the failure rejected without
    // handing its slot on, so only as many waiters as running uploads ever woke up.
    const limiter = new UploadLimiter(2);
    const u = gatedUploads(limiter, 7);
    await tick();
    assert.deepEqual(u.started, [0, 1]);
    u.finish.get(0)!.fail(new Error('injected upload failure'));
    await tick();
    u.finish.get(1)!.ok();
    for (let i = 0; i < 5; i++) await tick();
    assert.deepEqual(u.started, [0, 1], 'no upload starts after the first failure');
    assert.equal(u.settled.filter((s) => s === undefined).length, 0, 'every upload settled (none waits for a slot forever)');
    assert.match(String((u.settled[0] as PromiseRejectedResult).reason), /injected upload failure/);
    assert.deepEqual(u.settled[1], { status: 'fulfilled', value: 1 });
    for (let i = 2; i < 7; i++) assert.match(String((u.settled[i] as PromiseRejectedResult).reason), /not started/);
    await Promise.all(u.all);
  });

  it('without failures runs at most `max` at a time and every upload in order', async () => {
    const limiter = new UploadLimiter(3);
    const u = gatedUploads(limiter, 8);
    for (let done = 0; done < 8; done++) {
      await tick();
      assert.equal(u.started.length - done, Math.min(3, 8 - done), 'running uploads');
      u.finish.get(done)!.ok();
    }
    await Promise.all(u.all);
    assert.deepEqual(u.started, [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(u.settled.map((s) => (s as PromiseFulfilledResult<number>).value), [0, 1, 2, 3, 4, 5, 6, 7]);
  });
});
