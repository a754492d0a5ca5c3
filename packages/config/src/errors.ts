import { FlowstateError } from '@flowstate/core';

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
export class InvalidConfigurationValueError extends ConfigurationError {
  readonly code = 'CONFIG_INVALID_VALUE';
  constructor(
    readonly key: string,
    readonly value: unknown,
    readonly allowed: string,
    readonly source: ConfigurationSource,
  ) {
    super(`configuration key '${key}' has invalid value ${showValue(value)} (from ${describeSource(source)}): allowed is ${allowed}`);
  }
}

/** A key flowstate does not know, with the closest known key when one is close. */
export class UnknownConfigurationKeyError extends ConfigurationError {
  readonly code = 'CONFIG_UNKNOWN_KEY';
  constructor(
    readonly key: string,
    readonly suggestion: string | undefined,
    readonly source: ConfigurationSource,
    hint?: string,
  ) {
    super(
      `unknown configuration key '${key}' (from ${describeSource(source)})` +
        (suggestion === undefined ? '' : `: did you mean '${suggestion}'?`) +
        (hint === undefined ? '' : `; ${hint}`),
    );
  }
}

/** Keys whose values are each allowed but not together (e.g. unaligned checkpoints with AT_LEAST_ONCE). */
export class ConflictingConfigurationError extends ConfigurationError {
  readonly code = 'CONFIG_CONFLICT';
  constructor(
    readonly keys: readonly string[],
    detail: string,
  ) {
    super(`configuration keys ${keys.map((k) => `'${k}'`).join(' and ')} conflict: ${detail}`);
  }
}

/** The configuration file cannot be read or is not a YAML mapping of keys to values. */
export class ConfigurationFileError extends ConfigurationError {
  readonly code = 'CONFIG_FILE';
  constructor(
    readonly file: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`configuration file '${file}': ${detail}`, options);
  }
}

/** Values in messages: strings quoted, long ones cut, so a huge value never floods a log. */
export function showValue(value: unknown): string {
  const s = typeof value === 'string' ? `'${value}'` : Array.isArray(value) ? `[${value.map(showValue).join(', ')}]` : String(JSON.stringify(value) ?? value);
  return s.length > 200 ? `${s.slice(0, 200)}...` : s;
}

/** A key flowstate refuses to read (a secret), with why and what to do instead. */
export class RefusedConfigurationKeyError extends ConfigurationError {
  readonly code = 'CONFIG_REFUSED_KEY';
  constructor(
    readonly key: string,
    readonly source: ConfigurationSource,
    reason: string,
  ) {
    super(`configuration key '${key}' (from ${describeSource(source)}) is not accepted: ${reason}`);
  }
}
