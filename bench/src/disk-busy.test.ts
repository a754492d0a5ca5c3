/** waitForIdleDisk (disk-busy.ts): it returns only after a quiet spell, and gives up on a disk that never goes quiet. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IDLE_DISK_QUIET_MS, waitForIdleDisk } from './disk-busy.js';

/** A busy-time reader whose value moves on each of its first `busyReads` reads, then stays. */
function fakeDisk(busyReads: number): { busy: () => number; reads: () => number } {
  let reads = 0;
  let ticks = 0;
  return {
    busy: () => {
      reads++;
      if (reads <= busyReads) ticks += 7;
      return ticks;
    },
    reads: () => reads,
  };
}

// A wait that ignored its limit would hang: the timeout turns that into a failure.
const LIMIT = { timeout: 10_000 };

test('waitForIdleDisk waits past the last change for a quiet spell', LIMIT, async () => {
  const disk = fakeDisk(6);
  const waited = await waitForIdleDisk(disk.busy);
  // Six reads saw the disk busy; at least one more saw it unchanged before the wait could end.
  assert.ok(disk.reads() >= 7, `read the disk ${disk.reads()} times`);
  assert.ok(waited >= IDLE_DISK_QUIET_MS, `returned after ${waited} ms, before a quiet spell`);
});

test('waitForIdleDisk gives up on a disk that never goes quiet', LIMIT, async () => {
  const disk = fakeDisk(Number.POSITIVE_INFINITY);
  const waited = await waitForIdleDisk(disk.busy, 40);
  assert.ok(waited >= 40, `gave up after ${waited} ms, before its limit`);
});
