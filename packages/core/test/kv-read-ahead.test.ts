import { strict as assert } from 'node:assert';
import { it } from 'node:test';
import { MinimalKvStore, readRangesAhead, type KvEntry, type KvReadableKeySpace, type KvScanRange } from '../src/index.js';

const b = (...bytes: number[]) => new Uint8Array(bytes);

/** A key space whose scanAsync records every read it starts, settled only when `release` is called. */
function recordingSpace(inner: KvReadableKeySpace, fail?: (lower: Uint8Array) => boolean) {
  const started: string[] = [];
  const gates: Array<() => void> = [];
  const space: KvReadableKeySpace = {
    get: (k) => inner.get(k),
    scan: (l, u, n) => inner.scan(l, u, n),
    scanAsync: (l, u, n) => {
      started.push(Buffer.from(l).toString('hex'));
      return new Promise<KvEntry[]>((resolve, reject) => gates.push(() => (fail?.(l) === true ? reject(new Error('read failed')) : resolve(inner.scan(l, u, n)))));
    },
  };
  const releaseAll = () => gates.splice(0).forEach((g) => g());
  return { space, started, releaseAll };
}

it('readRangesAhead yields every range in order, in batches, with one read started ahead of the caller', async () => {
  const store = new MinimalKvStore();
  const s = store.keySpace('a');
  // Range 1: 2500 rows (three batches of at most 1024), range 2: none, range 3: 3 rows.
  for (let i = 0; i < 2500; i++) s.put(b(1, i >> 8, i & 0xff), b(i & 0xff));
  for (let i = 0; i < 3; i++) s.put(b(3, i), b(i));
  const { space, started, releaseAll } = recordingSpace(s);
  const ranges: KvScanRange<number>[] = [1, 2, 3].map((g) => ({ space, lower: b(g), upper: b(g + 1), tag: g }));
  const seen: Array<[number, number]> = [];
  const reads = readRangesAhead(ranges);
  const pump = setInterval(releaseAll, 1);
  try {
    for await (const { range, batch } of reads) {
      // The next read started before this batch was handed out (except after the last).
      seen.push([range.tag, batch.length]);
      if (seen.length < 5) assert.equal(started.length, seen.length + 1, `read ${seen.length + 1} started ahead`);
    }
  } finally {
    clearInterval(pump);
  }
  assert.deepEqual(seen, [[1, 1024], [1, 1024], [1, 452], [2, 0], [3, 3]]);
});

it('readRangesAhead: a caller that stops early leaves a failing read unreported; a failure it awaits is thrown', async () => {
  const store = new MinimalKvStore();
  const s = store.keySpace('a');
  for (let g = 0; g < 4; g++) s.put(b(g, 1), b(g));
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  try {
    const failing = recordingSpace(s, (lower) => lower[0] === 1);
    const ranges = [0, 1, 2].map((g) => ({ space: failing.space, lower: b(g), upper: b(g + 1), tag: g }));
    const early = readRangesAhead(ranges);
    const first = early.next();
    failing.releaseAll();
    assert.equal((await first).value?.range.tag, 0);
    await early.return(undefined); // stops while the read of range 1 (which fails) is in flight
    failing.releaseAll();
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(unhandled, []);

    const again = recordingSpace(s, (lower) => lower[0] === 1);
    const all = readRangesAhead([0, 1, 2].map((g) => ({ space: again.space, lower: b(g), upper: b(g + 1), tag: g })));
    const pump = setInterval(again.releaseAll, 1);
    try {
      await assert.rejects(async () => {
        for await (const _ of all) void _;
      }, /read failed/);
    } finally {
      clearInterval(pump);
    }
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});
