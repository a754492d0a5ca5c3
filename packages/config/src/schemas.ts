/**
 * Value schemas (valibot): each takes what a source can hold (YAML scalars and lists, environment
 * strings, code values) and yields the typed value, or fails. Messages are not taken from here:
 * the option that uses a schema says what is allowed, in Flink's words.
 */
import { storageUri } from '@flowstate/core';
import * as v from 'valibot';
import { parseDurationMs, parseMemoryBytes } from './units.js';

export type ValueSchema<T> = v.GenericSchema<unknown, T>;

export const booleanValue: ValueSchema<boolean> = v.union([
  v.boolean(),
  v.pipe(v.string(), v.trim(), v.toLowerCase(), v.picklist(['true', 'false']), v.transform((s) => s === 'true')),
]);

export function integerValue(min: number, max: number): ValueSchema<number> {
  return v.pipe(
    v.union([v.number(), v.pipe(v.string(), v.trim(), v.regex(/^[+-]?\d{1,16}$/), v.transform(Number))]),
    v.integer(),
    v.minValue(min),
    v.maxValue(max),
  );
}

function withUnits(parse: (s: string) => number | undefined, min: number, max: number): ValueSchema<number> {
  return v.pipe(
    v.union([v.pipe(v.number(), v.integer()), v.pipe(v.string(), v.maxLength(64), v.transform((s) => parse(s) ?? Number.NaN))]),
    v.check((n) => Number.isSafeInteger(n)),
    v.minValue(min),
    v.maxValue(max),
  );
}

/** Milliseconds from '10 s', '1 min', '500' (ms) or a number of milliseconds. */
export function durationValue(minMs: number, maxMs = Number.MAX_SAFE_INTEGER): ValueSchema<number> {
  return withUnits(parseDurationMs, minMs, maxMs);
}

/** Bytes from '64 mb', '8 kb', '1024' (bytes) or a number of bytes. */
export function memoryValue(minBytes: number, maxBytes: number): ValueSchema<number> {
  return withUnits(parseMemoryBytes, minBytes, maxBytes);
}

/** One of `values`, case-insensitive as in Flink; yields the spelling in `values`. */
export function enumValue<const T extends string>(values: readonly T[]): ValueSchema<T> {
  const byUpper = new Map(values.map((x) => [x.toUpperCase(), x] as const));
  return v.pipe(
    v.string(),
    v.trim(),
    v.check((s) => byUpper.has(s.toUpperCase())),
    v.transform((s) => byUpper.get(s.toUpperCase())!),
  );
}

/** A storage location: a local path or a URI that core's storageUri accepts (no credentials, query or fragment). */
export const locationValue: ValueSchema<string> = v.pipe(
  v.string(),
  v.trim(),
  v.nonEmpty(),
  v.maxLength(4096),
  v.check((s) => {
    try {
      storageUri(s);
      return true;
    } catch {
      return false;
    }
  }),
);

/**
 * One local directory path. Flink splits this value at ',' and ':' (File.pathSeparator) into a
 * list of directories; flowstate takes one, so a list is refused rather than read as one path.
 */
export const localPathValue: ValueSchema<string> = v.pipe(
  v.string(),
  v.trim(),
  v.nonEmpty(),
  v.maxLength(4096),
  v.check((s) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(s) || s.startsWith('file://')),
  v.check((s) => !/[,:]/.test(s.startsWith('file://') ? s.slice('file://'.length) : s)),
);

/** An http(s) endpoint URL. */
export const endpointValue: ValueSchema<string> = v.pipe(
  v.string(),
  v.trim(),
  v.maxLength(2048),
  v.check((s) => {
    if (!URL.canParse(s)) return false;
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.username === '' && u.password === '';
  }),
);

/**
 * A list in Flink's syntax: a YAML list, or one string with ';' (Flink's list separator) or ','
 * between the items; each item must pass `item`.
 */
export function listValue<T>(item: ValueSchema<T>): ValueSchema<T[]> {
  return v.pipe(
    v.union([v.pipe(v.string(), v.transform((s) => s.split(/[;,]/).map((x) => x.trim()))), v.array(v.union([v.string(), v.number(), v.boolean()]))]),
    v.minLength(1),
    v.maxLength(64),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const out: T[] = [];
      for (const x of dataset.value) {
        const r = v.safeParse(item, x);
        if (!r.success) {
          addIssue({ message: `list item ${String(x)} is not allowed` });
          return NEVER;
        }
        out.push(r.output);
      }
      return out;
    }),
  );
}
