/**
 * Value schemas (valibot): each takes what a source can hold (YAML scalars and lists, environment
 * strings, code values) and yields the typed value, or fails. Messages are not taken from here:
 * the option that uses a schema says what is allowed, in Flink's words.
 */
import { posix } from 'node:path';
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
 * One local directory path or file:// URI: an entry of a localdir list (localPathListValue), so
 * never one with a ',' or a ':' of its own, which Flink would have read as two entries.
 */
export const localPathValue: ValueSchema<string> = v.pipe(
  v.string(),
  v.trim(),
  v.nonEmpty(),
  v.maxLength(4096),
  v.check((s) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(s) || s.startsWith('file://')),
  v.check((s) => !/[,:]/.test(s.startsWith('file://') ? s.slice('file://'.length) : s.startsWith('file:/') ? s.slice('file:'.length) : s)),
  v.check((s) => !s.startsWith('file:') || decodesAsFileUri(s)),
);

/** A file: URI whose path decodes ('file:///data/%zz' does not, and would fail only when the backend starts). */
function decodesAsFileUri(s: string): boolean {
  try {
    localPathOf(s);
    return true;
  } catch {
    return false;
  }
}

/** At most this many directories in one localdir list: more is a typo or a generated value gone wrong, not disks. */
export const MAX_LOCAL_PATHS = 64;

/**
 * Local directory paths as Flink reads a localdir value: one string split at ',' and at ':'
 * (File.pathSeparator on Linux), or a YAML list; each entry trimmed, non-empty, a local path
 * (localPathValue), and named once (two subtasks' directories spread over one disk twice would
 * defeat the point).
 */
export const localPathListValue: ValueSchema<string[]> = v.pipe(
  v.union([v.pipe(v.string(), v.maxLength(MAX_LOCAL_PATHS * 4097), v.transform(splitLocalPaths)), v.array(v.string())]),
  v.minLength(1),
  v.maxLength(MAX_LOCAL_PATHS),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const out: string[] = [];
    for (const x of dataset.value) {
      const r = v.safeParse(localPathValue, x);
      if (!r.success || out.some((seen) => sameLocalDirectory(seen, r.output))) {
        addIssue({ message: `list item ${x} is not allowed` });
        return NEVER;
      }
      out.push(r.output);
    }
    return out;
  }),
);

/**
 * Splits at ',' and ':' as Flink does, except the ':' of a URI scheme: `file:` followed by '/'
 * (file:///x, file:/x), and any other `scheme://`, kept whole so that localPathValue refuses it
 * (s3://bucket must not become the two relative paths 's3' and '//bucket').
 */
export function splitLocalPaths(value: string): string[] {
  const entries: string[] = [];
  let current = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === ',' || (c === ':' && !isSchemeColon(current, value.slice(i + 1)))) {
      entries.push(current.trim());
      current = '';
    } else current += c;
  }
  entries.push(current.trim());
  return entries;
}

/** The local path a localPathValue names: a file: URI's decoded path, or the path itself. */
export function localPathOf(entry: string): string {
  return entry.startsWith('file:') ? decodeURIComponent(new URL(entry).pathname) : entry;
}

/** '/data/a', '/data/a/' and 'file:///data/a' are one directory, so naming it twice is refused. */
function sameLocalDirectory(a: string, b: string): boolean {
  return normalizeDirectory(localPathOf(a)) === normalizeDirectory(localPathOf(b));
}

function normalizeDirectory(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

function isSchemeColon(before: string, after: string): boolean {
  const scheme = before.trim();
  // Case-sensitive, as localPathValue's file:// check: 'FILE://x' is kept whole and refused there.
  if (scheme === 'file') return after.startsWith('/');
  return /^[a-z][a-z0-9+.-]*$/i.test(scheme) && after.startsWith('//');
}

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
