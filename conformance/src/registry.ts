import type { ConformanceCapability } from './capabilities.js';
import type { Fixture } from './harness/fixture.js';
import type { ConformanceHookName } from './hooks.js';

export interface ConformanceCase {
  readonly name: string;
  /** Capabilities the case exercises; declaring any of them not applicable skips the case. */
  readonly requires?: readonly ConformanceCapability[];
  /** Hooks the case needs; a backend that does not provide one of them skips the case as not applicable. */
  readonly requiresHooks?: readonly ConformanceHookName[];
  run(fx: Fixture): Promise<void>;
}

export interface ConformanceGroup {
  readonly name: string;
  readonly cases: readonly ConformanceCase[];
}

/**
 * A group of cases. Case names must be unique within their group: a name is how a case is rerun
 * (`--test-name-pattern`, with its printed seed) and how tooling (`listConformanceCases`) tells
 * cases apart, so a copied case that kept its name would shadow the other one.
 */
export function conformanceGroup(name: string, cases: readonly ConformanceCase[]): ConformanceGroup {
  const seen = new Set<string>();
  for (const c of cases) {
    if (seen.has(c.name)) throw new Error(`conformance group '${name}' has two cases named '${c.name}'`);
    seen.add(c.name);
  }
  return { name, cases };
}
