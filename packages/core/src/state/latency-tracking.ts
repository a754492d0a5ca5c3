// State access latency tracking (Flink's `state.latency-track.*`): every Nth call of a state
// method is timed and reported to a recorder, which a metrics library (e.g. @flowstate/metrics on
// OpenTelemetry) turns into histograms. Core knows only this interface, so it has no metrics
// dependency, and a backend without tracking pays nothing: the wrapper exists only when asked for.
import { assert } from '../assert.js';
import type { StateDescriptor } from './descriptors.js';
import type { State } from './state.js';

/** Receives sampled state access latencies, e.g. ('count', 'valueStateGetLatency', 812). */
export interface StateAccessRecorder {
  recordLatency(stateName: string, metric: string, nanoseconds: number): void;
}

export interface StateLatencyTrackingOptions {
  readonly recorder: StateAccessRecorder;
  /** Time one call in this many per method (Flink's default: 100). */
  readonly sampleInterval?: number;
}

export const DEFAULT_LATENCY_SAMPLE_INTERVAL = 100;

/** Methods that are not state access: namespace switching is part of every access, not one. */
const UNTRACKED = new Set(['constructor', 'setCurrentNamespace']);

/**
 * A state object whose methods delegate to `state`, timing every `sampleInterval`-th call per
 * method. The metric name follows Flink: `<kind>State<Method>Latency`, e.g. `mapStatePutLatency`.
 */
export function trackStateLatency<S extends State>(state: S, descriptor: StateDescriptor<State, unknown>, options: StateLatencyTrackingOptions): S {
  const interval = options.sampleInterval ?? DEFAULT_LATENCY_SAMPLE_INTERVAL;
  assert(Number.isInteger(interval) && interval >= 1, 'sampleInterval must be a positive integer');
  const kind = descriptor.kind.toLowerCase();
  const wrapper: Record<string, unknown> = {};
  for (const name of methodNames(state)) {
    const target = (state as unknown as Record<string, (...args: unknown[]) => unknown>)[name]!;
    if (UNTRACKED.has(name)) {
      wrapper[name] = (...args: unknown[]) => target.apply(state, args);
      continue;
    }
    const metric = `${kind}State${name[0]!.toUpperCase()}${name.slice(1)}Latency`;
    let calls = 0;
    wrapper[name] = (...args: unknown[]) => {
      if (++calls % interval !== 0) return target.apply(state, args);
      const t0 = process.hrtime.bigint();
      try {
        return target.apply(state, args);
      } finally {
        options.recorder.recordLatency(descriptor.name, metric, Number(process.hrtime.bigint() - t0));
      }
    };
  }
  return wrapper as unknown as S;
}

function methodNames(obj: object): string[] {
  const names = new Set<string>();
  for (let p: object | null = obj; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    for (const n of Object.getOwnPropertyNames(p)) {
      const d = Object.getOwnPropertyDescriptor(p, n);
      if (d !== undefined && typeof d.value === 'function') names.add(n);
    }
  }
  return [...names];
}
