/**
 * Flink's value syntax for durations and memory sizes (TimeUtils.parseDuration, MemorySize.parse):
 * an integer, optional whitespace, an optional case-insensitive unit. No unit means milliseconds
 * for durations and bytes for memory sizes. Fractions are not Flink syntax and are refused.
 */

const DURATION_UNITS: ReadonlyArray<readonly [readonly string[], number]> = [
  [['d', 'day', 'days'], 86_400_000],
  [['h', 'hour', 'hours'], 3_600_000],
  [['min', 'm', 'minute', 'minutes'], 60_000],
  [['s', 'sec', 'secs', 'second', 'seconds'], 1_000],
  [['ms', 'milli', 'millis', 'millisecond', 'milliseconds'], 1],
  [['µs', 'micro', 'micros', 'microsecond', 'microseconds'], 1e-3],
  [['ns', 'nano', 'nanos', 'nanosecond', 'nanoseconds'], 1e-6],
];

const MEMORY_UNITS: ReadonlyArray<readonly [readonly string[], number]> = [
  [['b', 'bytes'], 1],
  [['k', 'kb', 'kibibytes'], 1024],
  [['m', 'mb', 'mebibytes'], 1024 ** 2],
  [['g', 'gb', 'gibibytes'], 1024 ** 3],
  [['t', 'tb', 'tebibytes'], 1024 ** 4],
];

const NUMBER_AND_UNIT = /^(\d+)\s*([^\d\s]*)$/u;

function parseWithUnits(text: string, units: ReadonlyArray<readonly [readonly string[], number]>): number | undefined {
  const m = NUMBER_AND_UNIT.exec(text.trim());
  if (m === null) return undefined;
  const n = Number(m[1]);
  const label = m[2]!.toLowerCase();
  if (label === '') return n;
  const unit = units.find(([labels]) => labels.includes(label));
  return unit === undefined ? undefined : n * unit[1];
}

/** Milliseconds, or undefined when `text` is not a Flink duration of whole milliseconds. */
export function parseDurationMs(text: string): number | undefined {
  const ms = parseWithUnits(text, DURATION_UNITS);
  return ms !== undefined && Number.isSafeInteger(ms) ? ms : undefined;
}

/** Bytes, or undefined when `text` is not a Flink memory size. */
export function parseMemoryBytes(text: string): number | undefined {
  const b = parseWithUnits(text, MEMORY_UNITS);
  return b !== undefined && Number.isSafeInteger(b) ? b : undefined;
}

/** A duration the way Flink prints defaults: '10 min', '0 ms'. */
export function formatDuration(ms: number): string {
  for (const [labels, factor] of [[['d'], 86_400_000], [['h'], 3_600_000], [['min'], 60_000], [['s'], 1_000]] as const) {
    if (ms !== 0 && ms % factor === 0) return `${ms / factor} ${labels[0]}`;
  }
  return `${ms} ms`;
}

/** A memory size the way Flink prints defaults: '64 mb', '8 kb'. */
export function formatMemory(bytes: number): string {
  for (const [label, factor] of [['tb', 1024 ** 4], ['gb', 1024 ** 3], ['mb', 1024 ** 2], ['kb', 1024]] as const) {
    if (bytes !== 0 && bytes % factor === 0) return `${bytes / factor} ${label}`;
  }
  return `${bytes} bytes`;
}
