import { isExpiredAt, withoutExpired, type Identity, type StateKind, type TtlCleanupCounters, type TtlIncrementalCleaner, type TtlValue } from '@flowstate/core';
import type { HeapMap } from './heap-map.js';
import type { Registered } from './heap-registered.js';
import type { StateTable } from './state-table.js';

/**
 * A stored heap value without its expired parts (Flink's TtlStateSnapshotTransformer over heap
 * values): the same object when nothing expired, a filtered copy, or undefined when nothing is
 * left. Map entries and list elements expire one by one; other kinds as a whole.
 */
export function heapWithoutExpired(kind: StateKind, value: unknown, ttlMs: number, now: number, mapTupled = false): unknown {
  if (kind !== 'MAP') return withoutExpired(kind, value, ttlMs, now);
  // A HeapMap holds the user values directly, or [key, value] tuples (see HeapMapKeys).
  const m = value as HeapMap;
  const expired = (raw: unknown) => isExpiredAt(((mapTupled ? (raw as [unknown, unknown])[1] : raw) as TtlValue<unknown>).lastAccessTimestamp, ttlMs, now);
  let n = 0;
  for (const raw of m.values()) if (expired(raw)) n++;
  if (n === 0) return value;
  if (n === m.size) return undefined;
  const out: HeapMap = new Map();
  for (const [id, raw] of m) if (!expired(raw)) out.set(id, raw);
  return out;
}


interface PendingEntry {
  readonly keyGroup: number;
  readonly keyId: Identity;
  readonly nsId: Identity;
}

/**
 * Incremental TTL cleanup of one heap state (Flink's TtlIncrementalCleanup over a
 * StateIncrementalVisitor): a cursor over the table's (key, namespace) entries that survives
 * writes (JS Map iterators are live), examining at most `maxEntries` per call and wrapping around
 * at the end. Writes go through the table, so running snapshots keep their preimages.
 */
export class HeapTtlCleaner implements TtlIncrementalCleaner {
  private groupIndex = 0;
  private heads: Iterator<[Identity, unknown]> | undefined;
  private readonly pending: PendingEntry[] = [];
  private readonly table: StateTable;

  constructor(
    /** Read at each entry: the registration's map layout (mapKeys) is the one its values have now. */
    private readonly reg: Registered,
    private readonly ttlMs: number,
    private readonly counters: TtlCleanupCounters,
  ) {
    this.table = reg.table;
  }

  cleanup(maxEntries: number, now: number): number {
    let examined = 0;
    // Each group is visited at most once per call: an empty table ends the call.
    let groupsLeft = this.table.keyGroupRange.numberOfKeyGroups + 1;
    while (examined < maxEntries) {
      const next = this.pending.pop() ?? this.refill(() => groupsLeft-- > 0);
      if (next === undefined) break;
      examined++;
      this.clean(next, now);
    }
    return examined;
  }

  /** Queues the entries (namespaces) of the next key; undefined when no group is left to visit in this call. */
  private refill(mayAdvance: () => boolean): PendingEntry | undefined {
    const range = this.table.keyGroupRange;
    for (;;) {
      const g = range.startKeyGroup + this.groupIndex;
      this.heads ??= this.table.group(g).entries() as Iterator<[Identity, unknown]>;
      const r = this.heads.next();
      if (r.done !== true) {
        const [keyId, head] = r.value;
        for (let e = head as { nsId: Identity; next: unknown } | undefined; e !== undefined; e = e.next as typeof e) this.pending.push({ keyGroup: g, keyId, nsId: e.nsId });
        return this.pending.pop();
      }
      this.heads = undefined;
      this.groupIndex = (this.groupIndex + 1) % range.numberOfKeyGroups;
      if (!mayAdvance()) return undefined;
    }
  }

  private clean(p: PendingEntry, now: number): void {
    const t = this.table;
    const e = t.get(p.keyGroup, p.keyId, p.nsId);
    if (e === undefined) return;
    const kept = heapWithoutExpired(t.meta.kind, e.value, this.ttlMs, now, this.reg.mapKeys?.tupled ?? false);
    if (kept === e.value) return;
    this.counters.expiredRemoved++;
    if (kept === undefined) t.remove(p.keyGroup, p.keyId, p.nsId);
    else t.put(p.keyGroup, p.keyId, t.keyOf(p.keyId, e), p.nsId, t.namespaceOf(e), kept);
  }
}
