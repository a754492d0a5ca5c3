import { errorClass, FlowstateError } from '@flowstate/core';

/** Where a configuration value came from, for messages: a file, an environment variable, code. */
export type ConfigurationSource =
  | { readonly kind: 'default' }
  | { readonly kind: 'file'; readonly file: string }
  | { readonly kind: 'env'; readonly variable: string }
  | { readonly kind: 'code' };

export function describeSource(s: ConfigurationSource): string {
  switch (s.kind) {
    case 'default':
      return 'the default';
    case 'file':
      return s.file;
    case 'env':
      return `environment variable ${s.variable}`;
    case 'code':
      return 'code (overrides)';
  }
}

/** Every configuration problem; the CLI maps it to its usage exit code. */
export abstract class ConfigurationError extends FlowstateError {}

/** A value that is not allowed for its key: names the key, the value and what is allowed. */
export class InvalidConfigurationValueError extends errorClass(
  'CONFIG_INVALID_VALUE',
  ['key', 'value', 'allowed', 'source'],
  (key: string, value: unknown, allowed: string, source: ConfigurationSource) =>
    `configuration key '${key}' has invalid value ${showValue(value)} (from ${describeSource(source)}): allowed is ${allowed}`,
  { base: ConfigurationError },
) {}

/** A key flowstate does not know, with the closest known key when one is close. */
export class UnknownConfigurationKeyError extends errorClass(
  'CONFIG_UNKNOWN_KEY',
  ['key', 'suggestion', 'source'],
  (key: string, suggestion: string | undefined, source: ConfigurationSource, hint?: string) =>
    // The key cut as values are: a file may hold a key of a megabyte (the `key` field keeps it whole).
    `unknown configuration key ${showValue(key)} (from ${describeSource(source)})` +
    (suggestion === undefined ? '' : `: did you mean '${suggestion}'?`) +
    (hint === undefined ? '' : `; ${hint}`),
  { base: ConfigurationError },
) {}

/** Keys whose values are each allowed but not together (e.g. unaligned checkpoints with AT_LEAST_ONCE). */
export class ConflictingConfigurationError extends errorClass(
  'CONFIG_CONFLICT',
  ['keys'],
  (keys: readonly string[], detail: string) => `configuration keys ${keys.map((k) => `'${k}'`).join(' and ')} conflict: ${detail}`,
  { base: ConfigurationError },
) {}

/** The configuration file cannot be read or is not a YAML mapping of keys to values. */
export class ConfigurationFileError extends errorClass('CONFIG_FILE', ['file'], (file: string, detail: string) => `configuration file '${file}': ${detail}`, { base: ConfigurationError }) {}

/** Values in messages: strings quoted, long ones cut, so a huge value never floods a log. */
export function showValue(value: unknown): string {
  const s = typeof value === 'string' ? `'${value}'` : Array.isArray(value) ? `[${value.map(showValue).join(', ')}]` : String(JSON.stringify(value) ?? value);
  return s.length > 200 ? `${s.slice(0, 200)}...` : s;
}

/** A key flowstate refuses to read (a secret), with why and what to do instead. */
export class RefusedConfigurationKeyError extends errorClass(
  'CONFIG_REFUSED_KEY',
  ['key', 'source'],
  (key: string, source: ConfigurationSource, reason: string) => `configuration key '${key}' (from ${describeSource(source)}) is not accepted: ${reason}`,
  { base: ConfigurationError },
) {}
