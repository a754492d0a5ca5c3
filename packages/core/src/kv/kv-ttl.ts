/**
 * TTL'd values in a KvStore, in KvTtlLayout (state/ttl.ts) — the bytes the TtlSerializer writes
 * through the generic KV states, and the bytes a store's own cleanup (the RocksDB compaction
 * filter) parses:
 * - VALUE (value, reducing, aggregating): [i64 ts][value]
 * - MAP: [u8 presence = 1][i64 ts][u8 user-value presence][user value]
 * - LIST: ([u32 length][i64 ts][element])*, the length counting ts + element
 * This file reads timestamps from those bytes for full-snapshot cleanup, incremental cleanup and
 * the periodic sweep, without deserializing user values.
 */
import type { TtlCleanupCounters, TtlIncrementalCleaner } from '../backend/ttl-support.js';
import { CorruptDataError } from '../errors.js';
import { isExpiredAt } from '../state/ttl-config.js';
import type { KvTtlLayout } from '../state/ttl.js';
import { successorOf } from './kv-bytes.js';
import type { KvKeySpace } from './kv-store.js';

/** The i64 big-endian timestamp at `offset`. */
export function readTtlTimestamp(bytes: Uint8Array, offset: number): number {
  if (offset + 8 > bytes.byteLength) throw new CorruptDataError('TTL value shorter than its timestamp', offset);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return view.getInt32(offset, false) * 0x100000000 + view.getUint32(offset + 4, false);
}

/**
 * A stored value without its expired parts: the same array when nothing expired, a rewritten list
 * when some elements did, undefined when the whole value expired.
 */
export function kvWithoutExpired(layout: KvTtlLayout['layout'], bytes: Uint8Array, ttlMs: number, now: number): Uint8Array | undefined {
  if (layout === 'VALUE') return isExpiredAt(readTtlTimestamp(bytes, 0), ttlMs, now) ? undefined : bytes;
  if (layout === 'MAP') return isExpiredAt(readTtlTimestamp(bytes, 1), ttlMs, now) ? undefined : bytes;
  return listWithoutExpired(bytes, ttlMs, now);
}

function listWithoutExpired(bytes: Uint8Array, ttlMs: number, now: number): Uint8Array | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const live: Array<[number, number]> = [];
  let liveBytes = 0;
  let off = 0;
  while (off < bytes.byteLength) {
    if (off + 4 > bytes.byteLength) throw new CorruptDataError('truncated TTL list element header', off);
    const len = view.getUint32(off, false);
    if (len < 8 || off + 4 + len > bytes.byteLength) throw new CorruptDataError('truncated TTL list element', off);
    if (!isExpiredAt(view.getInt32(off + 4, false) * 0x100000000 + view.getUint32(off + 8, false), ttlMs, now)) {
      live.push([off, 4 + len]);
      liveBytes += 4 + len;
    }
    off += 4 + len;
  }
  if (liveBytes === bytes.byteLength) return bytes;
  if (live.length === 0) return undefined;
  const out = new Uint8Array(liveBytes);
  let at = 0;
  for (const [from, n] of live) {
    out.set(bytes.subarray(from, from + n), at);
    at += n;
  }
  return out;
}

/**
 * A bounded cleanup pass over one key space, resuming where the previous one stopped (wrapping
 * around at the end): the incremental cleanup of KV states (N rows per state access) and the
 * periodic sweep (entriesPerSweep rows per interval) share it. Writes go through the live key
 * space, so views of running snapshots are unaffected.
 */
export class KvTtlCursor implements TtlIncrementalCleaner {
  private next: Uint8Array;

  constructor(
    private readonly space: () => KvKeySpace,
    private readonly layout: KvTtlLayout['layout'],
    private readonly ttlMs: number,
    private readonly lower: Uint8Array,
    private readonly upper: Uint8Array,
    private readonly counters: TtlCleanupCounters,
  ) {
    this.next = lower;
  }

  cleanup(maxEntries: number, now: number): number {
    const space = this.space();
    const batch = space.scan(this.next, this.upper, maxEntries);
    for (const [row, value] of batch) {
      const kept = kvWithoutExpired(this.layout, value, this.ttlMs, now);
      if (kept === value) continue;
      if (kept === undefined) space.delete(row);
      else space.put(row, kept);
      this.counters.expiredRemoved++;
    }
    this.next = batch.length < maxEntries ? this.lower : successorOf(batch[batch.length - 1]![0]);
    return batch.length;
  }
}
