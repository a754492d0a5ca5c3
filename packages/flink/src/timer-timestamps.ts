/**
 * Flink timestamps are Java longs; flowstate's (timers, TTL stamps) are safe integers. A Flink job
 * registers event timers at Long.MIN_VALUE + n before its first watermark, so converting to
 * flowstate clamps them. To give Flink its exact timers back, the conversion records the original
 * timestamps of clamped timers in the savepoint's properties, by the flowstate timer's bytes; the
 * way back replaces a clamped timer that is still there, unchanged, by the recorded ones.
 */

/** Property prefix: `flink.timerTimestamps.<uid>.<state>` = JSON `{ <timer bytes hex>: ["<long>", ...] }`. */
export const FLINK_TIMER_TIMESTAMPS_PROPERTY = 'flink.timerTimestamps.';

/** At most this many clamped timers per state are recorded (the properties live in `_metadata`). */
export const MAX_RECORDED_CLAMPED_TIMERS = 10_000;

/** At most this many original timestamps are recorded per clamped timer (many longs can clamp onto one timer). */
export const MAX_RECORDED_TIMESTAMPS_PER_TIMER = 64;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A Java long as a safe integer: beyond ±(2^53 - 1) clamped (order is kept). */
export function safeTimestamp(t: bigint): number {
  return Number(t > MAX_SAFE ? MAX_SAFE : t < -MAX_SAFE ? -MAX_SAFE : t);
}

export function isClamped(t: bigint): boolean {
  return t > MAX_SAFE || t < -MAX_SAFE;
}

/** Original timestamps of clamped timers, per state, collected while converting Flink -> flowstate. */
export class ClampedTimerLog {
  private readonly byState = new Map<string, Map<string, Set<string>>>();
  private readonly dropped = new Map<string, number>();
  private readonly droppedTimestamps = new Map<string, number>();

  record(state: string, timerBytes: Uint8Array, original: bigint): void {
    const timers = this.byState.get(state) ?? this.byState.set(state, new Map()).get(state)!;
    const hex = Buffer.from(timerBytes).toString('hex');
    const long = original.toString();
    const set = timers.get(hex);
    if (set === undefined && timers.size >= MAX_RECORDED_CLAMPED_TIMERS) {
      this.dropped.set(state, (this.dropped.get(state) ?? 0) + 1);
    } else if (set === undefined) {
      timers.set(hex, new Set([long]));
    } else if (!set.has(long) && set.size >= MAX_RECORDED_TIMESTAMPS_PER_TIMER) {
      this.droppedTimestamps.set(state, (this.droppedTimestamps.get(state) ?? 0) + 1);
    } else {
      set.add(long);
    }
  }

  /** Properties of operator `uid`, and what could not be recorded (for the skipped list). */
  drain(uid: string): { properties: Record<string, string>; notes: string[] } {
    const properties: Record<string, string> = {};
    for (const [state, timers] of this.byState) properties[`${FLINK_TIMER_TIMESTAMPS_PROPERTY}${uid}.${state}`] = JSON.stringify(Object.fromEntries([...timers].map(([hex, longs]) => [hex, [...longs]])));
    const notes = [...this.dropped].map(([state, n]) => `${uid}/${state}: ${n} timers outside ±(2^53 - 1) beyond the first ${MAX_RECORDED_CLAMPED_TIMERS} go back to Flink with their clamped timestamp`);
    for (const [state, n] of this.droppedTimestamps) {
      notes.push(`${uid}/${state}: ${n} original timestamps beyond the first ${MAX_RECORDED_TIMESTAMPS_PER_TIMER} of one clamped timer go back to Flink as that timer`);
    }
    this.byState.clear();
    this.dropped.clear();
    this.droppedTimestamps.clear();
    return { properties, notes };
  }
}

/** The recorded original timestamps of a state's clamped timers (timer bytes hex -> longs); empty if none or unreadable. */
export function recordedTimerTimestamps(properties: Readonly<Record<string, unknown>>, uid: string, state: string): Map<string, bigint[]> {
  const raw = properties[`${FLINK_TIMER_TIMESTAMPS_PROPERTY}${uid}.${state}`];
  const out = new Map<string, bigint[]>();
  if (typeof raw !== 'string') return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return out;
  }
  if (typeof parsed !== 'object' || parsed === null) return out;
  for (const [hex, list] of Object.entries(parsed)) {
    if (!/^[0-9a-f]*$/.test(hex) || !Array.isArray(list)) continue;
    const longs = list.filter((x): x is string => typeof x === 'string' && /^-?\d{1,19}$/.test(x)).map((x) => BigInt(x)).filter((v) => v === BigInt.asIntN(64, v) && isClamped(v));
    if (longs.length > 0) out.set(hex, longs);
  }
  return out;
}
