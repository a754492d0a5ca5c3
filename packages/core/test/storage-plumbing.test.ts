import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  ConcurrencyLimiter,
  forEachLimit,
  ForwardingFileSystem,
  MemoryFileSystem,
  mayRetry,
  mulberry32,
  PERMANENT_FAILURE,
  redactSecrets,
  Redactor,
  RetryPolicy,
  StorageConfigError,
  type FailureClassification,
  type RetryStop,
} from '@flowstate/core';

const DEFAULTS = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1000 } as const;
const TRANSIENT: FailureClassification = { transient: true, applied: 'maybe' };
const NOT_APPLIED: FailureClassification = { transient: true, applied: 'no' };

/** A policy on a fake clock: sleeping advances the clock and records the delay, nothing waits. */
function fakePolicy(options: ConstructorParameters<typeof RetryPolicy>[0] = {}, seed = 42) {
  let clock = 0;
  const sleeps: number[] = [];
  const policy = new RetryPolicy(options, DEFAULTS, {
    random: mulberry32(seed),
    now: () => clock,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock += ms;
    },
  });
  return { policy, sleeps, advance: (ms: number) => (clock += ms) };
}

/** An operation that fails with the given classifications in turn, then succeeds. */
function failing(classes: FailureClassification[], idempotent = true) {
  const calls: number[] = [];
  const stops: Array<{ reason: RetryStop; attempts: number }> = [];
  const retries: number[] = [];
  return {
    calls,
    stops,
    retries,
    op: {
      idempotent,
      attempt: async (n: number) => {
        calls.push(n);
        const c = classes[n - 1];
        if (c !== undefined) throw Object.assign(new Error(`failure ${n}`), { c });
        return `ok after ${n}`;
      },
      classify: (e: unknown) => (e as { c: FailureClassification }).c,
      onRetry: (ev: { attempt: number }) => void retries.push(ev.attempt),
      giveUp: (e: unknown, stop: { reason: RetryStop; attempts: number }) => {
        stops.push(stop);
        return e;
      },
    },
  };
}

describe('RetryPolicy', () => {
  it('backoff is equal jitter: within [step/2, step], doubling, capped; the same seed gives the same delays', () => {
    const a = fakePolicy();
    const b = fakePolicy();
    for (let retry = 1; retry <= 8; retry++) {
      const step = Math.min(1000, 100 * 2 ** (retry - 1));
      const d = a.policy.delay(retry);
      assert.ok(d >= step / 2 && d <= step, `retry ${retry}: ${d} within [${step / 2}, ${step}]`);
      assert.equal(b.policy.delay(retry), d, 'deterministic from the seed');
    }
    const other = fakePolicy({}, 7);
    const seq = (p: RetryPolicy) => Array.from({ length: 6 }, (_, i) => p.delay(i + 1));
    assert.notDeepEqual(seq(fakePolicy().policy), seq(other.policy), 'the jitter does depend on the random source');
  });

  it('Retry-After raises a delay, but never above maxDelayMs', () => {
    const { policy } = fakePolicy();
    assert.ok(policy.delay(1, 700) === 700);
    assert.equal(policy.delay(1, 30_000), 1000);
    assert.ok(policy.delay(4, 1) >= 400, 'a short Retry-After does not shorten the backoff');
  });

  it('retries transient failures and returns the result; onRetry sees every retry; sleeps are the policy delays', async () => {
    const { policy, sleeps } = fakePolicy();
    const f = failing([TRANSIENT, TRANSIENT, NOT_APPLIED]);
    assert.equal(await policy.run(f.op), 'ok after 4');
    assert.deepEqual(f.calls, [1, 2, 3, 4]);
    assert.deepEqual(f.retries, [1, 2, 3]);
    const expected = fakePolicy();
    assert.deepEqual(sleeps, [1, 2, 3].map((n) => expected.policy.delay(n)));
  });

  it('a permanent failure is not retried', async () => {
    const { policy, sleeps } = fakePolicy();
    const f = failing([PERMANENT_FAILURE]);
    await assert.rejects(policy.run(f.op), /failure 1/);
    assert.deepEqual(f.stops, [{ reason: 'permanent', attempts: 1 }]);
    assert.deepEqual(sleeps, []);
  });

  it('stops after maxAttempts, the first attempt included; a per-call maxAttempts overrides it', async () => {
    const { policy } = fakePolicy({ maxAttempts: 3 });
    const f = failing([TRANSIENT, TRANSIENT, TRANSIENT, TRANSIENT]);
    await assert.rejects(policy.run(f.op), /failure 3/);
    assert.deepEqual(f.stops, [{ reason: 'exhausted', attempts: 3 }]);
    const once = failing([TRANSIENT, TRANSIENT]);
    await assert.rejects(policy.run({ ...once.op, maxAttempts: 1 }), /failure 1/);
    assert.deepEqual(once.stops, [{ reason: 'exhausted', attempts: 1 }]);
    assert.deepEqual(once.retries, []);
  });

  it('idempotence: a non-idempotent request is retried only when the failure proves nothing happened', async () => {
    const { policy } = fakePolicy();
    const safe = failing([NOT_APPLIED, NOT_APPLIED], false);
    assert.equal(await policy.run(safe.op), 'ok after 3');
    const unknown = failing([NOT_APPLIED, TRANSIENT], false);
    await assert.rejects(policy.run(unknown.op), /failure 2/);
    assert.deepEqual(unknown.stops, [{ reason: 'outcome-unknown', attempts: 2 }]);
    assert.equal(mayRetry(true, TRANSIENT), true);
    assert.equal(mayRetry(false, TRANSIENT), false);
    assert.equal(mayRetry(false, NOT_APPLIED), true);
    assert.equal(mayRetry(true, PERMANENT_FAILURE), false);
  });

  it('a time budget stops retries whose backoff would end after it; time spent in attempts counts', async () => {
    const { policy, sleeps, advance } = fakePolicy({ maxAttempts: 100, budgetMs: 1000 });
    const f = failing(Array.from({ length: 100 }, () => TRANSIENT));
    const slow = { ...f.op, attempt: async (n: number) => (advance(150), f.op.attempt(n)) };
    await assert.rejects(policy.run(slow));
    const stop = f.stops[0]!;
    assert.equal(stop.reason, 'exhausted');
    // The same seed replays the delays the policy computed, including the one it refused to sleep.
    const replay = fakePolicy().policy;
    const delays = Array.from({ length: stop.attempts }, (_, i) => replay.delay(i + 1));
    assert.deepEqual(sleeps, delays.slice(0, -1));
    const spent = 150 * stop.attempts + sleeps.reduce((x, y) => x + y, 0);
    assert.ok(spent <= 1000, `spent ${spent} ms of a 1000 ms budget`);
    assert.ok(spent + delays.at(-1)! > 1000, 'it stopped because the next backoff would end after the budget, not early');
    assert.ok(stop.attempts < 100);
  });

  it('a throwing onRetry hook does not fail the operation', async () => {
    const { policy } = fakePolicy();
    const f = failing([TRANSIENT]);
    assert.equal(await policy.run({ ...f.op, onRetry: () => { throw new Error('metrics down'); } }), 'ok after 2');
  });

  it('refuses options that would mean endless or no work', () => {
    for (const bad of [{ maxAttempts: 0 }, { maxAttempts: Number.NaN }, { baseDelayMs: -1 }, { maxDelayMs: Infinity }, { budgetMs: -5 }]) {
      assert.throws(() => new RetryPolicy(bad, DEFAULTS), StorageConfigError, JSON.stringify(bad));
    }
    assert.equal(new RetryPolicy({ baseDelayMs: 500, maxDelayMs: 100 }, DEFAULTS).maxDelayMs, 500, 'the cap is at least the first step');
  });
});

describe('ConcurrencyLimiter and forEachLimit', () => {
  /** Tasks that finish only when the test says so, so concurrency is observed, not timed. */
  function gate() {
    const pending: Array<() => void> = [];
    return {
      pending,
      wait: () => new Promise<void>((resolve) => pending.push(resolve)),
      releaseOne: () => pending.shift()?.(),
    };
  }
  const tick = () => new Promise<void>((r) => setImmediate(r));

  it('runs at most `limit` tasks at once and hands slots over in order', async () => {
    const limiter = new ConcurrencyLimiter(2);
    const g = gate();
    const started: number[] = [];
    const all = Promise.all([0, 1, 2, 3, 4].map((i) => limiter.run(async () => (started.push(i), await g.wait(), i))));
    await tick();
    assert.deepEqual(started, [0, 1]);
    assert.equal(limiter.running, 2);
    assert.equal(limiter.queued, 3);
    g.releaseOne();
    await tick();
    assert.deepEqual(started, [0, 1, 2]);
    while (g.pending.length > 0 || started.length < 5) {
      g.releaseOne();
      await tick();
    }
    assert.deepEqual(await all, [0, 1, 2, 3, 4]);
    assert.equal(limiter.running, 0);
  });

  it('a failing task frees its slot', async () => {
    const limiter = new ConcurrencyLimiter(1);
    await assert.rejects(limiter.run(async () => { throw new Error('boom'); }), /boom/);
    assert.equal(await limiter.run(async () => 'next'), 'next');
    assert.equal(limiter.running, 0);
  });

  it('forEachLimit visits every item with bounded concurrency', async () => {
    let inFlight = 0;
    let peak = 0;
    const seen: number[] = [];
    await forEachLimit([...Array(20).keys()], 3, async (item, index) => {
      assert.equal(item, index);
      inFlight++;
      peak = Math.max(peak, inFlight);
      await tick();
      seen.push(item);
      inFlight--;
    });
    assert.equal(peak, 3);
    assert.deepEqual(seen.sort((a, b) => a - b), [...Array(20).keys()]);
    await forEachLimit([], 3, async () => assert.fail('no items, no calls'));
  });

  it('after a failure forEachLimit starts nothing new and rejects once the items in flight settled', async () => {
    const started: number[] = [];
    let settled = 0;
    await assert.rejects(
      forEachLimit([0, 1, 2, 3, 4, 5], 2, async (i) => {
        started.push(i);
        await tick();
        settled++;
        if (i === 0) throw new Error('first item failed');
      }),
      /first item failed/,
    );
    assert.equal(settled, started.length, 'nothing still running when the caller sees the error');
    assert.ok(started.length < 6, `items after the failure did not start (${started.join(',')})`);
  });

  it('refuses a limit below 1', () => {
    assert.throws(() => new ConcurrencyLimiter(0), StorageConfigError);
    assert.throws(() => new ConcurrencyLimiter(Number.NaN), StorageConfigError);
  });
});

describe('Redactor', () => {
  it('removes secrets, access key ids and SigV4 fragments', () => {
    const text =
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, ' +
      'Signature=0123456789abcdef key ASIAY34FZKBOKMUTVV7A secret wJalrXUtnFEMI/K7MDENG X-Amz-Security-Token=abc%2Fdef';
    const out = redactSecrets(text, ['wJalrXUtnFEMI/K7MDENG']);
    for (const leak of ['AKIAIOSFODNN7EXAMPLE', '0123456789abcdef', 'ASIAY34FZKBOKMUTVV7A', 'wJalrXUtnFEMI/K7MDENG', 'abc%2Fdef']) {
      assert.ok(!out.includes(leak), `${leak} in ${out}`);
    }
  });

  it('removes a token in raw and URL-encoded form, credential query parameters and URL passwords', () => {
    const token = 'HAAE/flink+token==';
    const r = new Redactor([token, undefined, 'ab']);
    const text =
      `echo ${token} and ${encodeURIComponent(token)} and ${new URLSearchParams({ d: token }).toString().slice(2)}; ` +
      'GET http://nn:9870/webhdfs/v1/x?op=OPEN&delegation=OTHER123&user.name=flink ' +
      'https://alice:hunter2@host/p?X-Amz-Signature=deadbeef&sig=azure%3D';
    const out = r.redact(text);
    for (const leak of [token, encodeURIComponent(token), 'OTHER123', 'hunter2', 'deadbeef', 'azure%3D']) assert.ok(!out.includes(leak), `${leak} in ${out}`);
    assert.match(out, /delegation=<redacted>&user\.name=flink/, 'what is not a credential stays readable');
    assert.match(out, /https:\/\/<redacted>@host/);
    assert.equal(r.redact('ab cd'), 'ab cd', 'secrets shorter than 4 characters are ignored');
  });

  it('removes an echoed Authorization header to the end of its line, even when it contains a known secret', () => {
    const out = redactSecrets('denied. Authorization: AWS4-HMAC-SHA256 Credential=AKIAFLOWSTATE0TEST01/x, Signature=abc0\nnext line', ['AKIAFLOWSTATE0TEST01']);
    assert.equal(out, 'denied. Authorization: <redacted>\nnext line');
  });

  it('leaves ordinary text alone', () => {
    const text = "storage error on 's3://bucket/chk-1/_metadata': GetObject failed: SlowDown (HTTP 503)";
    assert.equal(redactSecrets(text), text);
  });
});

describe('ForwardingFileSystem', () => {
  /** Records which delete calls reach the wrapped system. */
  class CallRecordingFileSystem extends MemoryFileSystem {
    readonly calls: string[] = [];
    override async delete(path: string): Promise<void> {
      this.calls.push(`delete ${path}`);
      await super.delete(path);
    }
    override async deleteMany(paths: readonly string[]): Promise<void> {
      this.calls.push(`deleteMany ${paths.join(',')}`);
      await super.deleteMany(paths);
    }
  }

  it('forwards deleteMany as one batch delete of the wrapped system, not one delete per path', async () => {
    const inner = new CallRecordingFileSystem();
    for (const p of ['a/1', 'a/2', 'b/3']) {
      const w = await inner.create(p);
      await w.write(new Uint8Array([1]));
      await w.commit();
    }
    await new ForwardingFileSystem(inner).deleteMany(['a/1', 'b/3']);
    assert.deepEqual(inner.calls, ['deleteMany a/1,b/3']);
    assert.deepEqual((await inner.list('')).map((f) => f.path), ['a/2']);
  });

  it('has deleteEmptyDirectory only when the wrapped system has it, and forwards it then', async () => {
    // Callers pick a non-recursive removal by the method's presence: a wrapper of a system
    // without it (memory, S3) must not offer one.
    const plain = new ForwardingFileSystem(new MemoryFileSystem());
    assert.equal('deleteEmptyDirectory' in plain, false);
    assert.equal(plain.deleteEmptyDirectory, undefined);

    class WithDirectories extends MemoryFileSystem {
      readonly removed: string[] = [];
      async deleteEmptyDirectory(dir: string): Promise<boolean> {
        this.removed.push(dir);
        return dir !== 'full';
      }
    }
    const inner = new WithDirectories();
    const wrapped = new ForwardingFileSystem(inner);
    assert.equal(await wrapped.deleteEmptyDirectory?.('empty'), true);
    assert.equal(await wrapped.deleteEmptyDirectory?.('full'), false);
    assert.deepEqual(inner.removed, ['empty', 'full'], 'called on the wrapped system, as itself');
  });
});
