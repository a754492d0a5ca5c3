import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { AdoptableReadBuffers, COALESCED_READ_BYTES, dropIdleAdoptableBuffers, idleAdoptableBuffers, lentBufferBytes } from '../src/index.js';

describe('AdoptableReadBuffers (read buffers whose bytes a bulk load keeps)', () => {
  beforeEach(() => dropIdleAdoptableBuffers());
  afterEach(() => dropIdleAdoptableBuffers());

  it('the reader uses a buffer until the take() after next; then it is free unless held', () => {
    const b = new AdoptableReadBuffers();
    const first = b.take(100);
    const second = b.take(100);
    assert.notEqual(first.buffer, second.buffer);
    assert.equal(b.inUse, 2);
    // Request 3 is read while the blocks of request 2 are consumed: request 1's buffer is free again.
    const third = b.take(100);
    assert.equal(third.buffer, first.buffer);
    assert.equal(b.inUse, 2);
    assert.equal(idleAdoptableBuffers(), 0);
    b.release();
    assert.equal(b.inUse, 0);
    assert.equal(idleAdoptableBuffers(), 2);
  });

  it('a held buffer is not lent again until its hold is given back', () => {
    const b = new AdoptableReadBuffers();
    const first = b.take(100);
    const view = first.subarray(10, 20);
    const hold = b.hold(view);
    assert.ok(hold !== undefined);
    assert.equal(b.hold(new Uint8Array(10)), undefined, 'bytes of no lent buffer get no hold');
    b.take(100);
    b.take(100);
    b.release();
    assert.equal(b.inUse, 1, 'the held buffer stays lent after the reader moved past it');
    const lentAgain = [b.take(100), b.take(100)];
    assert.ok(lentAgain.every((x) => x.buffer !== first.buffer), 'never read into while held');
    b.release();
    b.unhold(hold);
    assert.equal(b.inUse, 0);
    assert.throws(() => b.unhold(hold), /given back once/);
  });

  it('a hold outlives the reader in either order: the buffer is free after the later of the two', () => {
    const b = new AdoptableReadBuffers();
    const first = b.take(100);
    const hold = b.hold(first.subarray(0, 1))!;
    b.unhold(hold);
    assert.equal(b.inUse, 1, 'the reader still reads the blocks of its request');
    b.release();
    assert.equal(b.inUse, 0);
  });

  it('a new buffer is the request rounded up to a power of two from 64 KiB up to COALESCED_READ_BYTES, or the request', () => {
    assert.deepEqual([1, 65536, 65537, 3 << 20, COALESCED_READ_BYTES - 1, COALESCED_READ_BYTES + 1].map(lentBufferBytes), [65536, 65536, 131072, 4 << 20, COALESCED_READ_BYTES, COALESCED_READ_BYTES + 1]);
  });

  it('buffers are reused across instances when large enough; one larger than a coalesced read is not kept', () => {
    const a = new AdoptableReadBuffers();
    const small = a.take(10);
    assert.equal(small.length, 64 << 10);
    const large = a.take(COALESCED_READ_BYTES + 1);
    assert.equal(large.length, COALESCED_READ_BYTES + 1);
    a.release();
    assert.equal(idleAdoptableBuffers(), 1, 'a buffer larger than a coalesced read is not kept');
    const next = new AdoptableReadBuffers();
    assert.equal(next.take(5).buffer, small.buffer);
    next.release();
  });
});
