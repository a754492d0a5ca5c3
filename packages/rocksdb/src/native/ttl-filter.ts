// The TTL compaction filter's options and its decision on one value (native/ttl_filter.cc).
import type { KvTtlLayout } from '@flowstate/core';
import { loadBinding } from './binding.js';
import type { NativeTtlFilterConfig } from './native-types.js';
import type { TtlFilterVerdict } from './types.js';

/** Flink's default for StateTtlConfig's RocksDB compaction-filter cleanup (queryTimeAfterNumEntries). */
export const DEFAULT_TTL_QUERY_TIME_AFTER_NUM_ENTRIES = 1000;

/**
 * How the TTL compaction filter of one column family reads its values: the layout core writes
 * (KvTtlLayout: VALUE, MAP or LIST), the time to live, and how many entries the filter processes
 * before it reads the current time again.
 */
export interface TtlCompactionFilterOptions extends KvTtlLayout {
  /** >= 1; default {@link DEFAULT_TTL_QUERY_TIME_AFTER_NUM_ENTRIES}. */
  readonly queryTimeAfterNumEntries?: number;
}

/** @internal */
export function nativeTtlConfig(o: TtlCompactionFilterOptions): NativeTtlFilterConfig {
  return {
    layout: o.layout,
    ttlMs: o.ttlMs,
    timeCharacteristic: o.timeCharacteristic,
    queryTimeAfterNumEntries: o.queryTimeAfterNumEntries ?? DEFAULT_TTL_QUERY_TIME_AFTER_NUM_ENTRIES,
  };
}

/**
 * The filter's decision on `value` at time `now`, computed by the same native code compactions
 * run, without a database (for tests of the byte layout: truncated frames, overflow, ...).
 */
export function ttlFilterDecisionForTest(options: TtlCompactionFilterOptions, now: number, value: Uint8Array, mergeOperand = false): TtlFilterVerdict {
  return loadBinding().ttlFilterForTest(nativeTtlConfig(options), now, value, mergeOperand);
}

/**
 * One filter instance, created by the factory as a compaction creates it, over `entries` in order;
 * the database's TTL time is set to each entry's `time` just before the filter sees it. The filter
 * reads that time only every `queryTimeAfterNumEntries` entries, which is what this shows.
 */
export function ttlFilterSequenceForTest(options: TtlCompactionFilterOptions, entries: ReadonlyArray<{ value: Uint8Array; time: number }>): Array<TtlFilterVerdict['verdict']> {
  return loadBinding().ttlFilterSequenceForTest(nativeTtlConfig(options), entries);
}
