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
