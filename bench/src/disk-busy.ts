/**
 * How long the disk under a path was busy: the block device's `io_ticks` (milliseconds with at
 * least one request in flight, field 10 of Linux's /sys/dev/block/<major>:<minor>/stat). A
 * savepoint op that fsyncs its output cannot end before the disk has written it, so the busy time
 * of `cp` + `sync` of the same bytes tells roughly how much of a conversion's time no CPU saving
 * removes (issue 16). Other processes' I/O on the same disk counts too: information, never a goal.
 */
import { readFileSync, statSync } from 'node:fs';

/** A reader of the disk's busy milliseconds so far, or undefined where the system does not tell (not Linux, no such device). */
export function diskBusyReader(path: string): (() => number) | undefined {
  const dev = statSync(path).dev;
  // Linux's dev_t encoding (glibc's gnu_dev_major / gnu_dev_minor; dev may pass 2^32).
  const major = ((Math.floor(dev / 256) & 0xfff) | (Math.floor(dev / 2 ** 32) & ~0xfff)) >>> 0;
  const minor = ((dev & 0xff) | (Math.floor(dev / 4096) & ~0xff)) >>> 0;
  const file = `/sys/dev/block/${major}:${minor}/stat`;
  const read = (): number | undefined => {
    try {
      const ticks = Number(readFileSync(file, 'utf8').trim().split(/\s+/)[9]);
      return Number.isFinite(ticks) ? ticks : undefined;
    } catch {
      return undefined;
    }
  };
  return read() === undefined ? undefined : () => read()!;
}

/** How long the disk must stay idle before a timed step starts (see waitForIdleDisk). */
export const IDLE_DISK_QUIET_MS = 15;
const IDLE_DISK_POLL_MS = 5;
/** A disk that never goes quiet (another process writing) delays a step at most this long by default. */
export const IDLE_DISK_MAX_WAIT_MS = 3000;

/**
 * Waits until the disk `busy` reads (diskBusyReader) has been idle for IDLE_DISK_QUIET_MS (its
 * busy time unchanged across polls), at most `maxMs`; returns the milliseconds
 * waited. Before a timed step whose fsyncs could otherwise wait behind the writeback and freed
 * blocks of the bench's own previous step (a removed snapshot): a sample then measures its own
 * disk work, not its predecessor's (issue 16, session 34).
 */
export async function waitForIdleDisk(busy: () => number, maxMs = IDLE_DISK_MAX_WAIT_MS): Promise<number> {
  const t0 = performance.now();
  let last = busy();
  let quietSince = t0;
  while (performance.now() - quietSince < IDLE_DISK_QUIET_MS && performance.now() - t0 < maxMs) {
    await new Promise((resolve) => setTimeout(resolve, IDLE_DISK_POLL_MS));
    const now = busy();
    if (now !== last) quietSince = performance.now();
    last = now;
  }
  return performance.now() - t0;
}
