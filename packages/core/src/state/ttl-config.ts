import { TtlConfigError } from '../errors.js';
import type { StateTtlConfig, TtlCleanupStrategies, TtlStateVisibility, TtlTimeCharacteristic, TtlTimeProvider, TtlUpdateType } from './ttl.js';

const UPDATE_TYPES: readonly TtlUpdateType[] = ['OnCreateAndWrite', 'OnReadAndWrite'];
const VISIBILITIES: readonly TtlStateVisibility[] = ['NeverReturnExpired', 'ReturnExpiredIfNotCleanedUp'];
const CHARACTERISTICS: readonly TtlTimeCharacteristic[] = ['ProcessingTime', 'EventTime'];

/** Flink's defaults for cleanupIncrementally(): 5 entries per access, not per record. */
export const DEFAULT_INCREMENTAL_CLEANUP = Object.freeze({ cleanupSize: 5, runCleanupForEveryRecord: false });
/** Flink's default for cleanupInRocksdbCompactFilter(): ask for the time again every 1000 entries. */
export const DEFAULT_COMPACTION_FILTER = Object.freeze({ queryTimeAfterNumEntries: 1000 });

/** The wall clock, the default TtlTimeProvider for processing-time TTL. */
export const WALL_CLOCK_TTL_TIME: TtlTimeProvider = Object.freeze({ currentTimestamp: () => Date.now() });

function positiveInteger(v: unknown): boolean {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;
}

/**
 * Checks a config given as a plain object (or built by StateTtlConfigBuilder) and returns a frozen
 * copy. Bad input is a TtlConfigError naming the state, never an assertion.
 */
export function validateTtlConfig(config: StateTtlConfig, stateName?: string): StateTtlConfig {
  const fail = (detail: string): never => {
    throw new TtlConfigError(stateName, detail);
  };
  if (config === null || typeof config !== 'object') fail('the config must be an object');
  if (!positiveInteger(config.ttlMs)) fail(`ttlMs must be a positive integer (ms), got ${String(config.ttlMs)}`);
  if (!UPDATE_TYPES.includes(config.updateType)) fail(`updateType must be one of ${UPDATE_TYPES.join(', ')}, got ${String(config.updateType)}`);
  if (!VISIBILITIES.includes(config.stateVisibility)) fail(`stateVisibility must be one of ${VISIBILITIES.join(', ')}, got ${String(config.stateVisibility)}`);
  if (!CHARACTERISTICS.includes(config.timeCharacteristic)) fail(`timeCharacteristic must be one of ${CHARACTERISTICS.join(', ')}, got ${String(config.timeCharacteristic)}`);
  const c: TtlCleanupStrategies = config.cleanup ?? {};
  if (typeof c !== 'object') fail('cleanup must be an object');
  if (c.fullSnapshot !== undefined && typeof c.fullSnapshot !== 'boolean') fail('cleanup.fullSnapshot must be a boolean');
  if (c.incremental !== undefined) {
    if (!positiveInteger(c.incremental.cleanupSize)) fail(`cleanup.incremental.cleanupSize must be a positive integer, got ${String(c.incremental.cleanupSize)}`);
    if (typeof c.incremental.runCleanupForEveryRecord !== 'boolean') fail('cleanup.incremental.runCleanupForEveryRecord must be a boolean');
  }
  if (c.compactionFilter !== undefined && !positiveInteger(c.compactionFilter.queryTimeAfterNumEntries)) {
    fail(`cleanup.compactionFilter.queryTimeAfterNumEntries must be a positive integer, got ${String(c.compactionFilter.queryTimeAfterNumEntries)}`);
  }
  if (c.periodicSweep !== undefined) {
    if (!positiveInteger(c.periodicSweep.entriesPerSweep)) fail(`cleanup.periodicSweep.entriesPerSweep must be a positive integer, got ${String(c.periodicSweep.entriesPerSweep)}`);
    if (!positiveInteger(c.periodicSweep.intervalMs)) fail(`cleanup.periodicSweep.intervalMs must be a positive integer (ms), got ${String(c.periodicSweep.intervalMs)}`);
  }
  return Object.freeze({
    ttlMs: config.ttlMs,
    updateType: config.updateType,
    stateVisibility: config.stateVisibility,
    timeCharacteristic: config.timeCharacteristic,
    cleanup: Object.freeze({
      ...(c.fullSnapshot === undefined ? {} : { fullSnapshot: c.fullSnapshot }),
      ...(c.incremental === undefined ? {} : { incremental: Object.freeze({ ...c.incremental }) }),
      ...(c.compactionFilter === undefined ? {} : { compactionFilter: Object.freeze({ ...c.compactionFilter }) }),
      ...(c.periodicSweep === undefined ? {} : { periodicSweep: Object.freeze({ ...c.periodicSweep }) }),
    }),
  });
}

/**
 * Flink's StateTtlConfig.newBuilder(ttl): OnCreateAndWrite, NeverReturnExpired and processing time
 * by default; cleanup on read only until a strategy is added.
 */
export class StateTtlConfigBuilder {
  private updateType: TtlUpdateType = 'OnCreateAndWrite';
  private visibility: TtlStateVisibility = 'NeverReturnExpired';
  private characteristic: TtlTimeCharacteristic = 'ProcessingTime';
  private cleanup: { -readonly [K in keyof TtlCleanupStrategies]: TtlCleanupStrategies[K] } = {};

  constructor(private ttlMs: number) {}

  static newBuilder(ttlMs: number): StateTtlConfigBuilder {
    return new StateTtlConfigBuilder(ttlMs);
  }

  setTtl(ttlMs: number): this {
    this.ttlMs = ttlMs;
    return this;
  }

  setUpdateType(updateType: TtlUpdateType): this {
    this.updateType = updateType;
    return this;
  }

  updateTtlOnCreateAndWrite(): this {
    return this.setUpdateType('OnCreateAndWrite');
  }

  updateTtlOnReadAndWrite(): this {
    return this.setUpdateType('OnReadAndWrite');
  }

  setStateVisibility(visibility: TtlStateVisibility): this {
    this.visibility = visibility;
    return this;
  }

  neverReturnExpired(): this {
    return this.setStateVisibility('NeverReturnExpired');
  }

  returnExpiredIfNotCleanedUp(): this {
    return this.setStateVisibility('ReturnExpiredIfNotCleanedUp');
  }

  setTimeCharacteristic(characteristic: TtlTimeCharacteristic): this {
    this.characteristic = characteristic;
    return this;
  }

  /** Expiry against the current watermark (FLINK-12005; Flink itself only has processing time). */
  useEventTime(): this {
    return this.setTimeCharacteristic('EventTime');
  }

  cleanupFullSnapshot(): this {
    this.cleanup.fullSnapshot = true;
    return this;
  }

  cleanupIncrementally(cleanupSize: number = DEFAULT_INCREMENTAL_CLEANUP.cleanupSize, runCleanupForEveryRecord: boolean = DEFAULT_INCREMENTAL_CLEANUP.runCleanupForEveryRecord): this {
    this.cleanup.incremental = { cleanupSize, runCleanupForEveryRecord };
    return this;
  }

  cleanupInRocksdbCompactFilter(queryTimeAfterNumEntries: number = DEFAULT_COMPACTION_FILTER.queryTimeAfterNumEntries): this {
    this.cleanup.compactionFilter = { queryTimeAfterNumEntries };
    return this;
  }

  cleanupByPeriodicSweep(entriesPerSweep: number, intervalMs: number): this {
    this.cleanup.periodicSweep = { entriesPerSweep, intervalMs };
    return this;
  }

  /** Keeps cleanup on read and in full snapshots, drops the background strategies (as Flink's). */
  disableCleanupInBackground(): this {
    this.cleanup = this.cleanup.fullSnapshot === true ? { fullSnapshot: true } : {};
    return this;
  }

  /** The validated, frozen config; TtlConfigError when it cannot work. */
  build(): StateTtlConfig {
    return validateTtlConfig({ ttlMs: this.ttlMs, updateType: this.updateType, stateVisibility: this.visibility, timeCharacteristic: this.characteristic, cleanup: { ...this.cleanup } });
  }
}

/** An entry last accessed at `timestamp` has expired at `now` (KvTtlLayout's rule: timestamp + ttl <= now). */
export function isExpiredAt(timestamp: number, ttlMs: number, now: number): boolean {
  return timestamp + ttlMs <= now;
}
