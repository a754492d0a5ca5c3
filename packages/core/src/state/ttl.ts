/**
 * State time-to-live (Flink's StateTtlConfig), set on a state descriptor. Expired values are
 * invisible (NeverReturnExpired) or visible until cleaned up, and are removed by the cleanup
 * strategies the config enables.
 */

export type TtlUpdateType = 'OnCreateAndWrite' | 'OnReadAndWrite';
export type TtlStateVisibility = 'NeverReturnExpired' | 'ReturnExpiredIfNotCleanedUp';
/** Processing time (Flink's only choice) or event time: expiry against the current watermark. */
export type TtlTimeCharacteristic = 'ProcessingTime' | 'EventTime';

export interface TtlCleanupStrategies {
  /** Expired entries are not written into full snapshots (Flink's cleanupFullSnapshot). */
  readonly fullSnapshot?: boolean;
  /** Heap backends: check `cleanupSize` entries per state access, and per record when asked (Flink's cleanupIncrementally). */
  readonly incremental?: { readonly cleanupSize: number; readonly runCleanupForEveryRecord: boolean };
  /**
   * RocksDB: a compaction filter in the native binding drops expired entries (and expired list
   * elements) while compacting (Flink's cleanupInRocksdbCompactFilter). The filter asks for the
   * current time again after `queryTimeAfterNumEntries` entries.
   */
  readonly compactionFilter?: { readonly queryTimeAfterNumEntries: number };
  /** LMDB: a bounded sweep of at most `entriesPerSweep` entries every `intervalMs`. */
  readonly periodicSweep?: { readonly entriesPerSweep: number; readonly intervalMs: number };
}

export interface StateTtlConfig {
  /** Time to live in milliseconds (> 0). */
  readonly ttlMs: number;
  readonly updateType: TtlUpdateType;
  readonly stateVisibility: TtlStateVisibility;
  readonly timeCharacteristic: TtlTimeCharacteristic;
  /** Cleanup on read (of an expired value) always happens; these add to it. */
  readonly cleanup: TtlCleanupStrategies;
}

/** The clock TTL reads: wall-clock milliseconds, or the watermark for event-time TTL. Controllable in tests. */
export interface TtlTimeProvider {
  currentTimestamp(): number;
}

/**
 * A TTL clock moved by hand (Flink's ManualClock): tests and simulations set `now` instead of
 * depending on the wall clock. Also serves as a watermark provider for event-time TTL.
 */
export class ManualTtlClock implements TtlTimeProvider {
  constructor(public now = 0) {}
  currentTimestamp(): number {
    return this.now;
  }
}

/**
 * How a TTL'd key space of a KvStore stores its last-access timestamps, so that a store can drop
 * expired entries itself (the RocksDB compaction filter). Timestamps are i64 big-endian
 * milliseconds; an entry expires when timestamp + ttlMs <= current time.
 * - VALUE (value, reducing, aggregating state): value = [i64 ts][serialized value]
 * - MAP: value = [u8 presence = 1][i64 ts][u8 user-value presence][serialized user value]
 * - LIST: value = ([u32 length][i64 ts][serialized element])*; the length counts ts + element
 */
export interface KvTtlLayout {
  readonly layout: 'VALUE' | 'LIST' | 'MAP';
  readonly ttlMs: number;
  readonly timeCharacteristic: TtlTimeCharacteristic;
}
