import { existsSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import * as v from 'valibot';
import {
  ConfigurationFileError,
  ConflictingConfigurationError,
  InvalidConfigurationValueError,
  RefusedConfigurationKeyError,
  UnknownConfigurationKeyError,
  describeSource,
  showValue,
  type ConfigurationSource,
} from './errors.js';
import { ALL_OPTIONS, OWNED_PREFIXES, REFUSED_SECRET_KEYS, knownKeys, optionForKey, type ConfigOption } from './options.js';
import { ENV_CONF_DIR, ENV_PROPERTIES, envVariableFor, readConfigFile, readEnvironment, type Environment, type RawEntry, type RawValue } from './sources.js';
import { closestKey, isNearMiss } from './suggest.js';
import { checkCombinations } from './combinations.js';

interface SetValue {
  readonly value: unknown;
  /** The key as the source spelled it (a deprecated key, or the canonical one). */
  readonly spelledAs: string;
  readonly source: ConfigurationSource;
}

/** A key of another Flink namespace that flowstate does not read (jobmanager.*, taskmanager.*...). */
export interface IgnoredKey {
  readonly key: string;
  readonly source: ConfigurationSource;
}

/**
 * A validated configuration (Flink's ReadableConfig): typed values of the keys that were set,
 * Flink's defaults for the others, and where each value came from.
 */
export class Configuration {
  /** @internal Use loadConfiguration or Configuration.fromMap. */
  constructor(
    private readonly values: ReadonlyMap<string, SetValue>,
    readonly ignoredKeys: readonly IgnoredKey[],
    /** Accepted but worth knowing: deprecated spellings, keys without effect with this backend. */
    readonly warnings: readonly string[],
  ) {}

  /** A configuration from code alone: `Configuration.fromMap({ 'state.backend.type': 'rocksdb' })`. */
  static fromMap(map: Readonly<Record<string, RawValue>>): Configuration {
    return loadConfiguration({ env: false, overrides: map });
  }

  /** The value, or the option's default (undefined for options without one). */
  get<T>(option: ConfigOption<T>): T {
    const set = this.values.get(option.key);
    // Values were parsed by option.schema, so they have the option's type.
    return (set === undefined ? option.defaultValue : set.value) as T;
  }

  /** True when a source set the option (not just its default). */
  isSet(option: ConfigOption<unknown>): boolean {
    return this.values.has(option.key);
  }

  /** Where the option's value came from. */
  sourceOf(option: ConfigOption<unknown>): ConfigurationSource {
    return this.values.get(option.key)?.source ?? { kind: 'default' };
  }

  /** The options that were set, with their typed values and sources, in the order of ALL_OPTIONS. */
  entries(): Array<{ readonly key: string; readonly value: unknown; readonly source: ConfigurationSource }> {
    return ALL_OPTIONS.filter((o) => this.values.has(o.key)).map((o) => ({ key: o.key, value: this.values.get(o.key)!.value, source: this.values.get(o.key)!.source }));
  }
}

export interface LoadConfigurationOptions {
  /**
   * A Flink-style config.yaml. Without it, `$FLOWSTATE_CONF_DIR/config.yaml` when that variable is
   * set (a ConfigurationFileError when the directory or its config.yaml is missing); otherwise no file.
   */
  readonly file?: string;
  /** Environment variables (FLOWSTATE_PROPERTIES, FLOWSTATE_<KEY>); `process.env` by default, `false` for none. */
  readonly env?: Environment | false;
  /** Values from code, by Flink key; they win over the file and the environment. */
  readonly overrides?: Readonly<Record<string, RawValue>>;
}

/**
 * Reads and validates a configuration. Precedence, lowest first: Flink's defaults, the file,
 * FLOWSTATE_PROPERTIES, FLOWSTATE_<KEY> variables, `overrides`. Throws a ConfigurationError
 * subclass naming the key, the value, the source and what is allowed; unknown keys get the
 * closest known key; impossible combinations are refused (see combinations.ts).
 */
export function loadConfiguration(options: LoadConfigurationOptions = {}): Configuration {
  const env = options.env === false ? {} : (options.env ?? process.env);
  const file = options.file ?? defaultConfigFile(env);
  const layers: RawEntry[][] = [];
  if (file !== undefined) layers.push(readConfigFile(file));
  const fromEnv = readEnvironment(env);
  // FLOWSTATE_PROPERTIES is one layer, the per-key variables another (they win).
  const isProperties = (e: RawEntry) => e.source.kind === 'env' && e.source.variable === ENV_PROPERTIES;
  layers.push(fromEnv.filter(isProperties));
  layers.push(fromEnv.filter((e) => !isProperties(e)));
  if (options.overrides !== undefined) layers.push(Object.entries(options.overrides).map(([key, value]) => ({ key, value, source: { kind: 'code' } as const })));

  const values = new Map<string, SetValue>();
  const ignored: IgnoredKey[] = [];
  const warnings: string[] = [];
  for (const layer of layers) {
    const inLayer = new Map<string, SetValue>();
    for (const entry of layer) {
      const option = resolveKey(entry, ignored);
      if (option === undefined) continue;
      const set: SetValue = { value: parseValue(option, entry), spelledAs: entry.key, source: entry.source };
      const twin = inLayer.get(option.key);
      if (twin !== undefined && !sameValue(twin.value, set.value)) {
        throw new ConflictingConfigurationError([twin.spelledAs, entry.key], `both name '${option.key}' and ${describeSource(entry.source)} gives them different values (${showValue(twin.value)} and ${showValue(set.value)})`);
      }
      if (entry.key !== option.key) warnings.push(`'${entry.key}' (from ${describeSource(entry.source)}) is Flink's deprecated spelling of '${option.key}'; it is read as that key`);
      inLayer.set(option.key, set);
    }
    for (const [k, set] of inLayer) values.set(k, set);
  }
  const conf = new Configuration(values, ignored, warnings);
  warnings.push(...checkCombinations(conf));
  return conf;
}

/**
 * `$FLOWSTATE_CONF_DIR/config.yaml`. A variable that is set names a file that must be there (as
 * Flink's FLINK_CONF_DIR): a mistyped directory would otherwise run with the defaults unnoticed.
 */
function defaultConfigFile(env: Environment): string | undefined {
  const dir = env[ENV_CONF_DIR];
  if (dir === undefined || dir === '') return undefined;
  let stats: Stats | undefined;
  try {
    stats = statSync(dir, { throwIfNoEntry: false });
  } catch (e) {
    throw new ConfigurationFileError(dir, `${ENV_CONF_DIR} names a directory that cannot be read: ${(e as Error).message}`, { cause: e });
  }
  if (stats?.isDirectory() !== true) throw new ConfigurationFileError(dir, `${ENV_CONF_DIR} names no existing directory`);
  const file = join(dir, 'config.yaml');
  if (!existsSync(file)) throw new ConfigurationFileError(file, `does not exist (${ENV_CONF_DIR} is '${dir}')`);
  return file;
}

/** The option an entry sets; undefined for a key of another namespace (recorded as ignored). */
function resolveKey(entry: RawEntry, ignored: IgnoredKey[]): ConfigOption<unknown> | undefined {
  const option = optionForKey(entry.key);
  if (option !== undefined) return option;
  const refused = REFUSED_SECRET_KEYS[entry.key];
  if (refused !== undefined) throw new RefusedConfigurationKeyError(entry.key, entry.source, refused);
  const canonical = ALL_OPTIONS.map((o) => o.key);
  const owned = OWNED_PREFIXES.some((p) => entry.key.startsWith(p));
  const suggestion = owned ? closestKey(entry.key, knownKeys(), (k) => optionForKey(k)?.key ?? k) : isNearMiss(entry.key, knownKeys());
  if (!owned && suggestion === undefined) {
    ignored.push({ key: entry.key, source: entry.source });
    return undefined;
  }
  const target = suggestion === undefined ? undefined : (optionForKey(suggestion)?.key ?? suggestion);
  const viaEnv = entry.source.kind === 'env' && entry.source.variable !== ENV_PROPERTIES;
  const hint =
    target !== undefined
      ? viaEnv
        ? `set ${envVariableFor(target)}`
        : undefined
      : `flowstate reads: ${canonical.filter((k) => OWNED_PREFIXES.some((p) => entry.key.startsWith(p) && k.startsWith(p))).join(', ') || canonical.join(', ')}`;
  throw new UnknownConfigurationKeyError(entry.key, target, entry.source, hint);
}

function parseValue(option: ConfigOption<unknown>, entry: RawEntry): unknown {
  const r = v.safeParse(option.schema, entry.value);
  if (!r.success) throw new InvalidConfigurationValueError(entry.key, entry.value, option.allowed, entry.source);
  return r.output;
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
