import { AggregatingStateDescriptor, ListStateDescriptor, ReducingStateDescriptor, Serializers, ValueStateDescriptor } from '@flowstate/core';
import type { AggregateFunction, StateTtlConfig, TtlCleanupStrategies, TtlStateVisibility, TtlUpdateType } from '@flowstate/core';

// Cases move the TTL clock by hand (ManualTtlClock): no case depends on the wall clock or on timing.

/** The time-to-live of every TTL case: entries written at t expire at t + TTL_MS. */
export const TTL_MS = 100;

export interface TtlCombo {
  readonly updateType: TtlUpdateType;
  readonly visibility: TtlStateVisibility;
  /** Short label for state names and messages. */
  readonly label: string;
}

/** Every update type × visibility. */
export const TTL_COMBOS: readonly TtlCombo[] = [
  { updateType: 'OnCreateAndWrite', visibility: 'NeverReturnExpired', label: 'create-never' },
  { updateType: 'OnCreateAndWrite', visibility: 'ReturnExpiredIfNotCleanedUp', label: 'create-return' },
  { updateType: 'OnReadAndWrite', visibility: 'NeverReturnExpired', label: 'read-never' },
  { updateType: 'OnReadAndWrite', visibility: 'ReturnExpiredIfNotCleanedUp', label: 'read-return' },
];

export function ttlConfig(combo: Pick<TtlCombo, 'updateType' | 'visibility'>, cleanup: TtlCleanupStrategies = {}, ttlMs = TTL_MS): StateTtlConfig {
  return { ttlMs, updateType: combo.updateType, stateVisibility: combo.visibility, timeCharacteristic: 'ProcessingTime', cleanup };
}

export const NEVER_RETURN: Pick<TtlCombo, 'updateType' | 'visibility'> = { updateType: 'OnCreateAndWrite', visibility: 'NeverReturnExpired' };

/** Sum of numbers, reported as a string so that getResult visibly runs. */
export const SUM_AGGREGATE: AggregateFunction<number, number, string> = {
  createAccumulator: () => 0,
  add: (v, acc) => acc + v,
  getResult: (acc) => `sum=${acc}`,
  merge: (a, b) => a + b,
};

// The TTL cases' states of each kind, with `cfg`: strings for value and list, a float64 sum for
// reducing and aggregating.

export function ttlValue(name: string, cfg: StateTtlConfig): ValueStateDescriptor<string> {
  return new ValueStateDescriptor<string>(name, Serializers.string).enableTimeToLive(cfg);
}

export function ttlList(name: string, cfg: StateTtlConfig): ListStateDescriptor<string> {
  return new ListStateDescriptor<string>(name, Serializers.string).enableTimeToLive(cfg);
}

/** The TTL cases' reducing state: a float64 sum, with `cfg`. */
export function ttlSumReducing(name: string, cfg: StateTtlConfig): ReducingStateDescriptor<number> {
  return new ReducingStateDescriptor<number>(name, (a, b) => a + b, Serializers.float64).enableTimeToLive(cfg);
}

/** The TTL cases' aggregating state: SUM_AGGREGATE over float64, with `cfg`. */
export function ttlSumAggregating(name: string, cfg: StateTtlConfig): AggregatingStateDescriptor<number, number, string> {
  return new AggregatingStateDescriptor(name, SUM_AGGREGATE, Serializers.float64).enableTimeToLive(cfg);
}
