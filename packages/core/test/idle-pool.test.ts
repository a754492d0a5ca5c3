import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { AlternatingReadBuffers, COALESCED_READ_BYTES, dropIdleReadBuffers, giveBackReadBuffers, grownLength, IDLE_READ_BUFFER_PAIRS, takeReadBuffers } from '../src/index.js';
import { IdlePool } from '../src/snapshot/idle-pool.js';

/** Items are boxes of a given size, compared by identity. */
interface Box {
  readonly bytes: number;
}
const box = (bytes = 1): Box => ({ bytes });
const pool = () => new IdlePool<Box>({ maxKept: 3, maxBytes: 100, idleMs: 1000, sizeOf: (b) => b.bytes });

describe('IdlePool (idle buffers of finished work)', () => {
  // Mocked before any give-back: no real timer is ever armed, time moves only by tick().
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 }));
  afterEach(() => mock.timers.reset());

  it('lends the most recently given-back item, each at most once', () => {
    const p = pool();
    const [a, b] = [box(), box()];
    p.giveBack(a);
    p.giveBack(b);
    assert.throws(() => p.giveBack(b), /given back twice/);
    assert.equal(p.take(), b);
    assert.equal(p.take(), a);
    assert.equal(p.take(), undefined);
  });

  it('take(fits) lends the most recent item it accepts and leaves the others idle', () => {
    const p = pool();
    const [a, b, c] = [box(10), box(50), box(20)];
    for (const x of [a, b, c]) p.giveBack(x);
    assert.equal(p.take((x) => x.bytes >= 40), b);
    assert.equal(p.take((x) => x.bytes >= 40), undefined);
    assert.equal(p.size, 2);
    assert.equal(p.take((x) => x.bytes >= 5), c);
    assert.equal(p.take(), a);
  });

  it('keeps at most maxKept items and none larger than maxBytes', () => {
    const p = pool();
    const kept = [box(), box(100), box()];
    for (const b of kept) p.giveBack(b);
    p.giveBack(box());
    p.giveBack(box(101));
    assert.equal(p.size, 3);
    assert.deepEqual([p.take(), p.take(), p.take()], kept.reverse());
    p.giveBack(box(101));
    assert.equal(p.take(), undefined, 'an item larger than maxBytes is dropped');
  });

  it('drops each item idleMs after its own give-back, also under steady traffic', () => {
    const p = pool();
    const [old, recent] = [box(), box()];
    p.giveBack(old);
    mock.timers.tick(600);
    p.giveBack(recent);
    mock.timers.tick(400);
    // `old` was idle 1000 ms, `recent` 400 ms: only `old` is dropped (the timer ran at 1000 ms).
    assert.equal(p.size, 1);
    const lent = p.take();
    assert.equal(lent, recent);
    p.giveBack(recent);
    mock.timers.tick(999);
    assert.equal(p.take(), recent, 'given back again: idle for 999 ms only');
  });

  it('drops idle items by its timer alone when nothing is taken or given back', () => {
    const p = pool();
    p.giveBack(box());
    mock.timers.tick(500);
    p.giveBack(box());
    mock.timers.tick(500);
    assert.equal(p.size, 1);
    mock.timers.tick(500);
    assert.equal(p.size, 0);
  });

  it('clear() drops every item', () => {
    const p = pool();
    p.giveBack(box());
    p.clear();
    assert.equal(p.take(), undefined);
  });
});

describe('idle read buffers', () => {
  beforeEach(() => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    dropIdleReadBuffers();
  });
  afterEach(() => {
    dropIdleReadBuffers();
    mock.timers.reset();
  });

  it('AlternatingReadBuffers.capacity is the larger buffer', () => {
    const b = new AlternatingReadBuffers();
    assert.equal(b.capacity, 0);
    b.take(10);
    b.take(30);
    b.take(20);
    assert.equal(b.capacity, 30);
  });

  it('a pair up to COALESCED_READ_BYTES serves the next read; one grown larger by a single big block is dropped', () => {
    const fits = new AlternatingReadBuffers();
    fits.take(COALESCED_READ_BYTES);
    giveBackReadBuffers(fits);
    // assert.ok, not equal: a failure would print the 8 MiB buffers.
    assert.ok(takeReadBuffers() === fits, 'the pair that fits is kept');
    const grown = new AlternatingReadBuffers();
    grown.take(1024);
    grown.take(COALESCED_READ_BYTES + 1);
    giveBackReadBuffers(grown);
    const next = takeReadBuffers();
    assert.ok(next !== grown, 'a pair larger than a coalesced read is not kept by the process');
    assert.equal(next.capacity, 0);
  });

  it('the idle pair is lent once: a second read at the same time gets its own', () => {
    giveBackReadBuffers(new AlternatingReadBuffers());
    assert.notEqual(takeReadBuffers(), takeReadBuffers());
  });

  it('keeps a pair for each of two reads at once (a conversion restores two subtasks at once)', () => {
    assert.equal(IDLE_READ_BUFFER_PAIRS, 2);
    const [a, b] = [takeReadBuffers(), takeReadBuffers()];
    giveBackReadBuffers(a);
    giveBackReadBuffers(b);
    const again = new Set([takeReadBuffers(), takeReadBuffers()]);
    assert.ok(again.has(a) && again.has(b), 'both pairs serve the next two reads');
    giveBackReadBuffers(a);
    giveBackReadBuffers(b);
    giveBackReadBuffers(new AlternatingReadBuffers());
    const kept = [takeReadBuffers(), takeReadBuffers(), takeReadBuffers()];
    assert.equal(kept.filter((x) => x === a || x === b).length, 2, 'a third pair given back is not kept');
  });

  it('a buffer grows to at least twice its size, up to COALESCED_READ_BYTES, or to the request', () => {
    assert.equal(grownLength(0, 100), 100);
    assert.equal(grownLength(100, 101), 200);
    assert.equal(grownLength(7 << 20, (7 << 20) + 1), COALESCED_READ_BYTES);
    assert.equal(grownLength(COALESCED_READ_BYTES, COALESCED_READ_BYTES + 1), COALESCED_READ_BYTES + 1);
    assert.equal(grownLength(100, 1000), 1000);
    const b = new AlternatingReadBuffers();
    b.take(7 << 20);
    const first = b.take(1);
    assert.equal(b.take((7 << 20) + 4096).length, COALESCED_READ_BYTES, 'one replacement serves every coalesced read after it');
    assert.equal(b.take(1), first);
  });
});
