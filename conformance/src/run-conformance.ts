import { describe as nodeDescribe, it as nodeIt } from 'node:test';
import { FsCheckpointStorage, MemoryFileSystem, type CheckpointStorage, type StateBackend } from '@flowstate/core';
import { CONFORMANCE_CAPABILITIES, type ConformanceCapability } from './capabilities.js';
import { CONFORMANCE_GROUPS } from './cases/index.js';
import { Fixture } from './harness/fixture.js';
import { hookSkipReason, validateHooks, type ConformanceHookName, type ConformanceHooks } from './hooks.js';
import { skipReason, validateNotApplicable } from './not-applicable.js';
import type { ConformanceGroup } from './registry.js';

export interface ConformanceTestOptions {
  /**
   * The suite always passes the reason string; node:test shows it. `boolean` is accepted so that
   * frameworks whose `skip` is a boolean (vitest) fit the type; they skip without the reason.
   */
  readonly skip?: string | boolean;
  readonly timeout?: number;
}

/** The slice of a test framework the suite needs; node:test's and vitest's describe/it fit it. */
export interface ConformanceTestApi {
  describe(name: string, fn: () => void): unknown;
  it(name: string, options: ConformanceTestOptions, fn: () => Promise<void>): unknown;
}

export interface ConformanceOptions {
  /** Names the top-level describe block, e.g. 'MemoryStateBackend'. */
  readonly name: string;
  /** Called once per case: every case gets a fresh backend. */
  readonly createBackend: () => StateBackend | Promise<StateBackend>;
  /** Called once per case. Default: FsCheckpointStorage over a fresh MemoryFileSystem. */
  readonly createStorage?: () => Promise<CheckpointStorage>;
  /** Capability -> why it does not apply. Those cases are registered as skipped with the reason. */
  readonly notApplicable?: Partial<Record<ConformanceCapability, string>>;
  /** Backend-specific hooks; cases that need a hook not given here are skipped as not applicable. */
  readonly hooks?: ConformanceHooks;
  /** Defaults to node:test's describe and it. */
  readonly test?: ConformanceTestApi;
}

/**
 * A guard against hangs, not a performance check: the slowest case (rescaling 77 -> 15 -> 77)
 * takes about two seconds on a quiet laptop but took 135 s on a 2-core machine at load 25, so the
 * default is far above that. FLOWSTATE_CONFORMANCE_TIMEOUT_MS overrides it.
 */
const CASE_TIMEOUT_MS = Number(process.env['FLOWSTATE_CONFORMANCE_TIMEOUT_MS'] ?? 600_000);

const defaultStorage = async (): Promise<CheckpointStorage> => new FsCheckpointStorage(new MemoryFileSystem());

/** Registers the whole suite for one backend. Call it at the top level of a test file. */
export function runConformance(options: ConformanceOptions): void {
  const notApplicable = validateNotApplicable(options.notApplicable ?? {}, CONFORMANCE_CAPABILITIES, 'runConformance');
  const api: ConformanceTestApi = options.test ?? { describe: nodeDescribe, it: nodeIt };
  const hooks = validateHooks(options.hooks ?? {});
  const fixtureOptions = { createBackend: options.createBackend, createStorage: options.createStorage ?? defaultStorage, notApplicable, hooks };

  api.describe(options.name, () => {
    for (const group of CONFORMANCE_GROUPS) {
      api.describe(group.name, () => {
        for (const c of group.cases) {
          const skip = skipReason(c.requires, notApplicable) ?? hookSkipReason(c.requiresHooks, hooks);
          const testOptions: ConformanceTestOptions = skip === undefined ? { timeout: CASE_TIMEOUT_MS } : { skip, timeout: CASE_TIMEOUT_MS };
          api.it(c.name, testOptions, async () => {
            const fx = await Fixture.create(fixtureOptions);
            let failed = true;
            try {
              await c.run(fx);
              failed = false;
            } finally {
              await fx.dispose(failed);
            }
          });
        }
      });
    }
  });
}

/** Every case, grouped as registered; for tooling and for counting. */
export function listConformanceCases(): ReadonlyArray<{ group: string; name: string; requires: readonly ConformanceCapability[]; requiresHooks: readonly ConformanceHookName[] }> {
  return CONFORMANCE_GROUPS.flatMap((g: ConformanceGroup) =>
    g.cases.map((c) => ({ group: g.name, name: c.name, requires: c.requires ?? [], requiresHooks: c.requiresHooks ?? [] })),
  );
}
