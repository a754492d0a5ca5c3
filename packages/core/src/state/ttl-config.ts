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
  private readonly settings: { -readonly [K in keyof Omit<StateTtlConfig, 'cleanup'>]: StateTtlConfig[K] };
  private cleanup: { -readonly [K in keyof TtlCleanupStrategies]: TtlCleanupStrategies[K] } = {};

  constructor(ttlMs: number) {
    this.settings = { ttlMs, updateType: 'OnCreateAndWrite', stateVisibility: 'NeverReturnExpired', timeCharacteristic: 'ProcessingTime' };
  }

  static newBuilder(ttlMs: number): StateTtlConfigBuilder {
    return new StateTtlConfigBuilder(ttlMs);
  }

  /** Every setter of the fluent API: one setting, then `this`. */
  private set<K extends keyof StateTtlConfigBuilder['settings']>(key: K, value: StateTtlConfigBuilder['settings'][K]): this {
    this.settings[key] = value;
    return this;
  }

  /** Every cleanup strategy method: one strategy, then `this`. */
  private withCleanup<K extends keyof TtlCleanupStrategies>(key: K, strategy: TtlCleanupStrategies[K]): this {
    this.cleanup[key] = strategy;
    return this;
  }

  setTtl(ttlMs: number): this {
    return this.set('ttlMs', ttlMs);
  }

  setUpdateType(updateType: TtlUpdateType): this {
    return this.set('updateType', updateType);
  }

  updateTtlOnCreateAndWrite(): this {
    return this.setUpdateType('OnCreateAndWrite');
  }

  updateTtlOnReadAndWrite(): this {
    return this.setUpdateType('OnReadAndWrite');
  }

  setStateVisibility(visibility: TtlStateVisibility): this {
    return this.set('stateVisibility', visibility);
  }

  neverReturnExpired(): this {
    return this.setStateVisibility('NeverReturnExpired');
  }

  returnExpiredIfNotCleanedUp(): this {
    return this.setStateVisibility('ReturnExpiredIfNotCleanedUp');
  }

  setTimeCharacteristic(characteristic: TtlTimeCharacteristic): this {
    return this.set('timeCharacteristic', characteristic);
  }

  /** Expiry against the current watermark (FLINK-12005; Flink itself only has processing time). */
  useEventTime(): this {
    return this.setTimeCharacteristic('EventTime');
  }

  cleanupFullSnapshot(): this {
    return this.withCleanup('fullSnapshot', true);
  }

  cleanupIncrementally(cleanupSize: number = DEFAULT_INCREMENTAL_CLEANUP.cleanupSize, runCleanupForEveryRecord: boolean = DEFAULT_INCREMENTAL_CLEANUP.runCleanupForEveryRecord): this {
    return this.withCleanup('incremental', { cleanupSize, runCleanupForEveryRecord });
  }

  cleanupInRocksdbCompactFilter(queryTimeAfterNumEntries: number = DEFAULT_COMPACTION_FILTER.queryTimeAfterNumEntries): this {
    return this.withCleanup('compactionFilter', { queryTimeAfterNumEntries });
  }

  cleanupByPeriodicSweep(entriesPerSweep: number, intervalMs: number): this {
    return this.withCleanup('periodicSweep', { entriesPerSweep, intervalMs });
  }

  /** Keeps cleanup on read and in full snapshots, drops the background strategies (as Flink's). */
  disableCleanupInBackground(): this {
    this.cleanup = this.cleanup.fullSnapshot === true ? { fullSnapshot: true } : {};
    return this;
  }

  /** The validated, frozen config; TtlConfigError when it cannot work. */
  build(): StateTtlConfig {
    return validateTtlConfig({ ...this.settings, cleanup: { ...this.cleanup } });
  }
}

/** An entry last accessed at `timestamp` has expired at `now` (KvTtlLayout's rule: timestamp + ttl <= now). */
export function isExpiredAt(timestamp: number, ttlMs: number, now: number): boolean {
  return timestamp + ttlMs <= now;
}
