import type { TtlSnapshotFilter } from '../state/ttl-filters.js';
import { IllegalStateUsageError } from '../errors.js';
import type { StateDescriptor } from '../state/descriptors.js';
import type { State } from '../state/state.js';
import type { StateTtlConfig, TtlTimeProvider } from '../state/ttl.js';
import { WALL_CLOCK_TTL_TIME } from '../state/ttl-config.js';
import { ttlInnerDescriptor } from '../state/ttl-descriptors.js';
import type { TtlStateContext } from '../state/ttl-states.js';
import type { TtlCleanupStatistics } from './spi.js';

/**
 * One state's incremental TTL cleanup (Flink's TtlIncrementalCleanup): a cursor over the state's
 * entries that survives writes, examining a bounded number of entries per call.
 */
export interface TtlIncrementalCleaner {
  /** Examines up to `maxEntries` entries from the cursor, removing what expired; returns how many it examined. */
  cleanup(maxEntries: number, now: number): number;
}

/** Mutable counters behind TtlCleanupStatistics; cleaners add to them. */
export class TtlCleanupCounters implements TtlCleanupStatistics {
  incrementalEntriesExamined = 0;
  sweepEntriesExamined = 0;
  expiredRemoved = 0;

  snapshot(): TtlCleanupStatistics {
    return { incrementalEntriesExamined: this.incrementalEntriesExamined, sweepEntriesExamined: this.sweepEntriesExamined, expiredRemoved: this.expiredRemoved };
  }
}

interface TtlRegistration {
  readonly config: StateTtlConfig;
  readonly inner: StateDescriptor<State, unknown>;
  readonly context: TtlStateContext;
}

/**
 * The TTL bookkeeping of a keyed backend, kept out of AbstractKeyedStateBackend's non-TTL path:
 * the clocks, the inner descriptor of every TTL'd descriptor (created once per descriptor and
 * config, so a state object is reused as for plain descriptors), and the incremental cleaners.
 */
export class KeyedTtlSupport {
  readonly counters = new TtlCleanupCounters();
  private readonly processingTime: TtlTimeProvider;
  private readonly watermark: TtlTimeProvider | undefined;
  private readonly registrations = new WeakMap<StateDescriptor<State, unknown>, TtlRegistration>();
  /**
   * Per state name: the cleaner and its per-access bound, in a slot the state's onAccess holds (no
   * Map lookup per access); the entry is replaced when the state is created again.
   */
  private readonly cleaners = new Map<string, CleanerSlot>();

  constructor(processingTime: TtlTimeProvider | undefined, watermark: TtlTimeProvider | undefined) {
    this.processingTime = processingTime ?? WALL_CLOCK_TTL_TIME;
    this.watermark = watermark;
  }

  /** The processing-time clock (what core hands to KvStore.setTtlTime). */
  get processingTimeProvider(): TtlTimeProvider {
    return this.processingTime;
  }

  /** Whether the backend was given a processing-time clock of its own (a test's, a replay's) instead of the wall clock. */
  get ownProcessingClock(): boolean {
    return this.processingTime !== WALL_CLOCK_TTL_TIME;
  }

  /** What a full snapshot drops of a state (config.cleanup.fullSnapshot), read now; undefined: nothing. */
  snapshotFilter(config: StateTtlConfig | undefined, stateName: string): TtlSnapshotFilter | undefined {
    if (config === undefined || config.cleanup.fullSnapshot !== true) return undefined;
    return { ttlMs: config.ttlMs, now: this.timeOf(config, stateName).currentTimestamp() };
  }

  /** The clock a config reads. */
  timeOf(config: StateTtlConfig, stateName: string): TtlTimeProvider {
    if (config.timeCharacteristic === 'ProcessingTime') return this.processingTime;
    if (this.watermark === undefined) {
      throw new IllegalStateUsageError(stateName, 'event-time TTL needs the current watermark: pass KeyedStateBackendParameters.ttlWatermarkProvider');
    }
    return this.watermark;
  }

  /** The inner descriptor and decorator context for a TTL'd descriptor (created on first use of this descriptor and config). */
  registration(d: StateDescriptor<State, unknown>, config: StateTtlConfig): TtlRegistration {
    const known = this.registrations.get(d);
    if (known !== undefined && known.config === config) return known;
    const time = this.timeOf(config, d.name);
    const name = d.name;
    const slot = this.slotOf(name);
    const onAccess = config.cleanup.incremental === undefined ? undefined : () => this.runIn(slot);
    const context: TtlStateContext = { config, time, onAccess };
    const reg: TtlRegistration = { config, inner: ttlInnerDescriptor(d, context), context };
    this.registrations.set(d, reg);
    return reg;
  }

  /** Installs (or replaces) the incremental cleaner of a registered state, when its config asks for one. */
  attachCleaner(name: string, config: StateTtlConfig, create: () => TtlIncrementalCleaner | undefined): void {
    const inc = config.cleanup.incremental;
    const cleaner = inc === undefined ? undefined : create();
    const slot = this.slotOf(name);
    slot.entry = inc === undefined || cleaner === undefined ? undefined : { cleaner, size: inc.cleanupSize, time: this.timeOf(config, name), perRecord: inc.runCleanupForEveryRecord };
  }

  private slotOf(name: string): CleanerSlot {
    let slot = this.cleaners.get(name);
    if (slot === undefined) this.cleaners.set(name, (slot = { entry: undefined }));
    return slot;
  }

  private runIn(slot: CleanerSlot): void {
    if (slot.entry !== undefined) this.run(slot.entry);
  }

  private run(entry: { cleaner: TtlIncrementalCleaner; size: number; time: TtlTimeProvider }): void {
    this.counters.incrementalEntriesExamined += entry.cleaner.cleanup(entry.size, entry.time.currentTimestamp());
  }

  /** Per record (runIncrementalTtlCleanup): the cleaners of states with runCleanupForEveryRecord. */
  runPerRecord(): void {
    for (const { entry } of this.cleaners.values()) if (entry !== undefined && entry.perRecord) this.run(entry);
  }

  /** A state was dropped or the backend disposed. */
  clear(): void {
    // Emptied, not only forgotten: states created before still hold their slots.
    for (const slot of this.cleaners.values()) slot.entry = undefined;
    this.cleaners.clear();
  }
}

interface CleanerEntry {
  readonly cleaner: TtlIncrementalCleaner;
  readonly size: number;
  readonly time: TtlTimeProvider;
  readonly perRecord: boolean;
}

/** A state's incremental cleaner, if it has one now. */
interface CleanerSlot {
  entry: CleanerEntry | undefined;
}
