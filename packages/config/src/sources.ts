/**
 * Reading raw key/value pairs from the three places a configuration comes from: a Flink-style
 * config.yaml (nested and flat keys), environment variables, and code. Nothing is validated here
 * except the shape; values stay as the source holds them.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import { ConfigurationFileError, type ConfigurationSource } from './errors.js';

/** A raw value as a source holds it. */
export type RawValue = string | number | boolean | readonly (string | number | boolean)[];

export interface RawEntry {
  readonly key: string;
  readonly value: RawValue;
  readonly source: ConfigurationSource;
}

/** A configuration file larger than this is refused (Flink's are a few kilobytes). */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;
/** Nesting deeper than this is not a configuration. */
const MAX_DEPTH = 16;
const MAX_KEYS = 10_000;

/** Environment variables that hold one key each: FLOWSTATE_ + the key with '.' as '__' and '-' as '_'. */
export const ENV_PREFIX = 'FLOWSTATE_';
/** One environment variable with many keys, as a YAML document (Flink's docker image reads FLINK_PROPERTIES so). */
export const ENV_PROPERTIES = 'FLOWSTATE_PROPERTIES';
/** A directory holding config.yaml, read when no file is given (Flink's FLINK_CONF_DIR). */
export const ENV_CONF_DIR = 'FLOWSTATE_CONF_DIR';

/** The environment variable that sets `key`: state.backend.type -> FLOWSTATE_STATE__BACKEND__TYPE. */
export function envVariableFor(key: string): string {
  return ENV_PREFIX + key.split('.').map((s) => s.replace(/-/g, '_').toUpperCase()).join('__');
}

/** The key an environment variable sets, or undefined when the variable is not a configuration variable. */
export function keyForEnvVariable(name: string): string | undefined {
  if (!name.startsWith(ENV_PREFIX) || !name.includes('__')) return undefined;
  return name
    .slice(ENV_PREFIX.length)
    .split('__')
    .map((s) => s.toLowerCase().replace(/_/g, '-'))
    .join('.');
}

export function readConfigFile(file: string): RawEntry[] {
  let text: string;
  try {
    text = readUpToLimit(file);
  } catch (e) {
    if (e instanceof ConfigurationFileError) throw e;
    throw new ConfigurationFileError(file, `cannot be read: ${(e as Error).message}`, { cause: e });
  }
  return parseYamlEntries(text, file, { kind: 'file', file });
}

/**
 * The file's text, refused beyond MAX_CONFIG_FILE_BYTES. The limit holds for what is read, not
 * for a size looked up before: a pipe (`--config <(...)`), a FIFO or a device has no size, and a
 * file may grow between a stat and the read.
 */
function readUpToLimit(file: string): string {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size > MAX_CONFIG_FILE_BYTES) throw new ConfigurationFileError(file, `${size} bytes exceeds the limit of ${MAX_CONFIG_FILE_BYTES}`);
    const buffer = Buffer.allocUnsafe(MAX_CONFIG_FILE_BYTES + 1);
    let length = 0;
    for (let n = -1; n !== 0 && length < buffer.length; length += n) n = readSync(fd, buffer, length, buffer.length - length, null);
    if (length > MAX_CONFIG_FILE_BYTES) throw new ConfigurationFileError(file, `more than ${MAX_CONFIG_FILE_BYTES} bytes exceeds the limit of ${MAX_CONFIG_FILE_BYTES}`);
    return buffer.toString('utf8', 0, length);
  } finally {
    closeSync(fd);
  }
}

/**
 * Flattens a YAML document into dotted keys, as Flink 1.19+ reads config.yaml: `state: {backend:
 * {type: rocksdb}}` and `state.backend.type: rocksdb` are the same key; a key given twice, in
 * either form, is an error. Lists stay values (Flink's List options).
 */
export function parseYamlEntries(text: string, where: string, source: ConfigurationSource): RawEntry[] {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const first = doc.errors[0];
  if (first !== undefined) throw new ConfigurationFileError(where, `is not valid YAML: ${first.message}`);
  if (doc.contents === null) return [];
  if (!isMap(doc.contents)) throw new ConfigurationFileError(where, 'must be a YAML mapping of configuration keys to values');
  const out = new Map<string, RawEntry>();
  const visit = (node: Node, prefix: string, depth: number): void => {
    if (depth > MAX_DEPTH) throw new ConfigurationFileError(where, `key '${prefix}' is nested deeper than ${MAX_DEPTH} levels`);
    if (isMap(node)) {
      for (const pair of node.items) {
        const k = isScalar(pair.key) ? String(pair.key.value) : undefined;
        if (k === undefined || k === '') throw new ConfigurationFileError(where, `a key under '${prefix || '(top level)'}' is not a plain string`);
        if (pair.value === null || pair.value === undefined) throw new ConfigurationFileError(where, `key '${prefix}${k}' has no value`);
        visit(pair.value as Node, `${prefix}${k}.`, depth + 1);
      }
      return;
    }
    const key = prefix.slice(0, -1);
    if (out.has(key)) throw new ConfigurationFileError(where, `key '${key}' is given twice (nested and flat spellings name the same key)`);
    if (out.size >= MAX_KEYS) throw new ConfigurationFileError(where, `more than ${MAX_KEYS} keys`);
    out.set(key, { key, value: scalarOrList(node, key, where), source });
  };
  visit(doc.contents, '', 0);
  return [...out.values()];
}

function scalarOrList(node: Node, key: string, where: string): RawValue {
  if (isSeq(node)) {
    return node.items.map((item) => {
      const v = isScalar(item) ? item.value : undefined;
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw new ConfigurationFileError(where, `key '${key}': list items must be plain values`);
      return v;
    });
  }
  const v = isScalar(node) ? node.value : undefined;
  if (v === null) throw new ConfigurationFileError(where, `key '${key}' has no value`);
  if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw new ConfigurationFileError(where, `key '${key}' must have a plain value (string, number, boolean or list)`);
  return v;
}

export type Environment = Readonly<Record<string, string | undefined>>;

/** FLOWSTATE_PROPERTIES first, then the per-key variables (which win over it). */
export function readEnvironment(env: Environment): RawEntry[] {
  const out: RawEntry[] = [];
  const props = env[ENV_PROPERTIES];
  if (props !== undefined && props.trim() !== '') {
    if (props.length > MAX_CONFIG_FILE_BYTES) throw new ConfigurationFileError(ENV_PROPERTIES, `${props.length} characters exceeds the limit of ${MAX_CONFIG_FILE_BYTES}`);
    out.push(...parseYamlEntries(props, `environment variable ${ENV_PROPERTIES}`, { kind: 'env', variable: ENV_PROPERTIES }));
  }
  for (const name of Object.keys(env).sort()) {
    const key = keyForEnvVariable(name);
    const value = env[name];
    if (key === undefined || value === undefined) continue;
    out.push({ key, value, source: { kind: 'env', variable: name } });
  }
  return out;
}
