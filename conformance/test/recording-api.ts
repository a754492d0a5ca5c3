import type { ConformanceTestApi, ConformanceTestOptions } from '../src/index.js';

/** A registered case: its skip reason and its body, to run by hand. */
export interface RecordedCase {
  readonly skip: ConformanceTestOptions['skip'];
  readonly run: () => Promise<void>;
}

/** A test API that records what a suite registers instead of running it; cases by name. */
export function recordingApi(): { readonly api: ConformanceTestApi; readonly cases: Map<string, RecordedCase> } {
  const cases = new Map<string, RecordedCase>();
  const api: ConformanceTestApi = {
    describe: (_name, fn) => fn(),
    it: (name, options, fn) => cases.set(name, { skip: options.skip, run: fn }),
  };
  return { api, cases };
}

/** The one recorded case whose name starts with `prefix`. */
export function recordedCase(cases: Map<string, RecordedCase>, prefix: string): RecordedCase {
  const found = [...cases].filter(([name]) => name.startsWith(prefix));
  if (found.length !== 1) throw new Error(`expected one case named '${prefix}…', found ${found.length}`);
  return found[0]![1];
}
