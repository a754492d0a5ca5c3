import type { ConformanceCapability } from './capabilities.js';
import type { Fixture } from './harness/fixture.js';

export interface ConformanceCase {
  readonly name: string;
  /** Capabilities the case exercises; declaring any of them not applicable skips the case. */
  readonly requires?: readonly ConformanceCapability[];
  run(fx: Fixture): Promise<void>;
}

export interface ConformanceGroup {
  readonly name: string;
  readonly cases: readonly ConformanceCase[];
}
