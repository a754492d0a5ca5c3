import type { StateKind } from './descriptors.js';
import { isExpiredAt } from './ttl-config.js';
import type { TtlValue } from './ttl-value.js';

/**
 * What expired means for a stored heap value of `kind` (Flink's TtlStateSnapshotTransformer):
 * value-like states expire as a whole, lists element by element. Returns the value unchanged
 * (same object) when nothing expired, a filtered copy, or undefined when nothing is left. Map
 * values are backend-specific structures; their backends filter per entry with isExpiredAt.
 */
export function withoutExpired(kind: Exclude<StateKind, 'MAP'>, value: unknown, ttlMs: number, now: number): unknown {
  if (kind !== 'LIST') return isExpiredAt((value as TtlValue<unknown>).lastAccessTimestamp, ttlMs, now) ? undefined : value;
  const list = value as ReadonlyArray<TtlValue<unknown>>;
  let firstExpired = -1;
  for (let i = 0; i < list.length; i++) {
    if (isExpiredAt(list[i]!.lastAccessTimestamp, ttlMs, now)) {
      firstExpired = i;
      break;
    }
  }
  if (firstExpired < 0) return value;
  const live = list.filter((e) => !isExpiredAt(e.lastAccessTimestamp, ttlMs, now));
  return live.length === 0 ? undefined : live;
}

/** The time a full snapshot filters expired entries against, when its state asks for it; undefined otherwise. */
export interface TtlSnapshotFilter {
  readonly ttlMs: number;
  readonly now: number;
}
