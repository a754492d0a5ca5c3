import { randomUUID } from 'node:crypto';
import { after as nodeAfter, describe as nodeDescribe, it as nodeIt } from 'node:test';
import type { FileSystem } from '@flowstate/core';
import { skipReason, validateNotApplicable } from '../not-applicable.js';
import type { ConformanceTestApi, ConformanceTestOptions } from '../run-conformance.js';
import { storageCaseGroups } from './cases/index.js';
import { MiB, STORAGE_CAPABILITIES, type StorageCapability, type StorageCase } from './storage-case.js';

/** The slice of a test framework the storage suite needs: node:test's describe/it/after, or vitest's describe/it/afterAll. */
export interface StorageConformanceTestApi extends ConformanceTestApi {
  /** Runs once after every test of the enclosing describe block (node:test `after`, vitest `afterAll`). */
  after(fn: () => Promise<void>): unknown;
}

export interface StorageConformanceOptions {
  /** Shown in the test names, e.g. 'MemoryFileSystem' or 's3 (s3rver)'. */
  readonly name: string;
  /**
   * Called once per test. Returning a fresh, empty root each time is best; a shared root works too,
   * because every test confines itself to a directory with a random name.
   */
  readonly createFileSystem: () => Promise<FileSystem>;
  /** Called once after all tests of the suite. */
  readonly cleanup?: () => Promise<void>;
  /** Size of the largest round-trip file; must stay above 64 MiB to mean anything. Default 65 MiB + 123. */
  readonly largeFileBytes?: number;
  /**
   * Files in the bulk listing and deleteMany test. Above 1000 it crosses S3's page size for listing
   * and its batch limit for DeleteObjects. Default 1100.
   */
  readonly manyFiles?: number;
  /** Per-test timeout in milliseconds. Default 180 000. */
  readonly timeoutMs?: number;
  /** Capability -> why this storage does not have it. Those cases are registered as skipped with the reason. */
  readonly notApplicable?: Partial<Record<StorageCapability, string>>;
  /** Defaults to node:test's describe, it and after. */
  readonly test?: StorageConformanceTestApi;
}

/**
 * Registers the storage conformance tests for one FileSystem implementation. Every storage
 * package runs it, so the guarantees FsCheckpointStorage relies on (atomic commit, nothing visible
 * before it, abort leaves nothing, confinement, exact bytes) hold for all of them, not only for the
 * one the checkpoint code happened to be written against. Call it at the top level of a test file.
 */
export function runStorageConformance(options: StorageConformanceOptions): void {
  const settings = { largeFileBytes: options.largeFileBytes ?? 65 * MiB + 123, manyFiles: options.manyFiles ?? 1100 };
  const timeout = options.timeoutMs ?? 180_000;
  const notApplicable = validateNotApplicable(options.notApplicable ?? {}, STORAGE_CAPABILITIES, 'runStorageConformance');
  const api: StorageConformanceTestApi = options.test ?? { describe: nodeDescribe, it: nodeIt, after: nodeAfter };

  api.describe(`storage conformance: ${options.name}`, () => {
    if (options.cleanup !== undefined) api.after(options.cleanup);
    for (const group of storageCaseGroups(settings)) {
      api.describe(group.name, () => {
        for (const c of group.cases) {
          const skip = skipReason(c.requires, notApplicable);
          const testOptions: ConformanceTestOptions = skip === undefined ? { timeout } : { skip, timeout };
          api.it(c.name, testOptions, () => runCase(c, options.createFileSystem));
        }
      });
    }
  });
}

/** Every case with the default settings, grouped as registered; for tooling and for counting. */
export function listStorageConformanceCases(): ReadonlyArray<{ group: string; name: string; requires: readonly StorageCapability[] }> {
  return storageCaseGroups({ largeFileBytes: 65 * MiB + 123, manyFiles: 1100 }).flatMap((g) => g.cases.map((c) => ({ group: g.name, name: c.name, requires: c.requires ?? [] })));
}

/** One fresh FileSystem and one private directory per case; the directory is removed afterwards. */
async function runCase(c: StorageCase, createFileSystem: () => Promise<FileSystem>): Promise<void> {
  const fs = await createFileSystem();
  const base = `conf-${randomUUID()}`;
  try {
    await c.run(fs, base);
  } finally {
    await fs.deleteDirectory(base).catch(() => {});
    // What a case left incomplete (an abandoned writer) goes too, as garbage collection would.
    const incomplete = await fs.listIncomplete?.(base).catch(() => []);
    if (incomplete !== undefined && incomplete.length > 0) await fs.deleteMany(incomplete.map((f) => f.path)).catch(() => {});
  }
}
