import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidArgumentError } from 'commander';
import { IllegalStateUsageError, type SerializerSnapshotRegistry } from '@flowstate/core';

// Helpers every group of verbs (savepoint, checkpoint) shares.

/** The `--serializers` module's exports (a usage error when it cannot be loaded). */
export async function importSerializersModule(module: string): Promise<Readonly<Record<string, unknown>>> {
  try {
    return (await import(pathToFileURL(resolve(module)).href)) as Record<string, unknown>;
  } catch (e) {
    throw new IllegalStateUsageError(undefined, `--serializers: cannot load '${module}': ${(e as Error).message}`);
  }
}

/**
 * Custom serializers: an ES module exporting `registry` (or a default export) that is a
 * SerializerSnapshotRegistry, e.g. `defaultSerializerRegistry.extend().register('my-type', ...)`.
 */
export async function loadRegistry(module: string | undefined): Promise<{ registry?: SerializerSnapshotRegistry }> {
  if (module === undefined) return {};
  const mod = await importSerializersModule(module);
  const r = (mod['registry'] ?? mod['default']) as Partial<SerializerSnapshotRegistry> | undefined;
  if (r === undefined || r === null || typeof r.reader !== 'function' || typeof r.has !== 'function') {
    throw new IllegalStateUsageError(undefined, `--serializers: '${module}' exports no serializer snapshot registry (export 'registry' or a default export)`);
  }
  return { registry: r as SerializerSnapshotRegistry };
}

export function json(value: unknown): string {
  return `${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`;
}


/** A commander parser of positive safe integers for option `name`. */
export function positiveInt(name: string): (v: string) => number {
  return (v: string): number => {
    if (!/^\d+$/.test(v) || Number(v) < 1 || !Number.isSafeInteger(Number(v))) throw new InvalidArgumentError(`${name} must be a positive integer, got '${v}'`);
    return Number(v);
  };
}

/** A commander parser of TCP ports (1..65535) for option `name`. */
export function portNumber(name: string): (v: string) => number {
  const positive = positiveInt(name);
  return (v: string): number => {
    const n = positive(v);
    if (n > 65535) throw new InvalidArgumentError(`${name} must be a port from 1 to 65535, got '${v}'`);
    return n;
  };
}
