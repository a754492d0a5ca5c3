// A backend's native metrics (RocksDB: estimate-num-keys, block cache usage, memtable sizes,
// pending compaction bytes, live SST size) as OpenTelemetry observable gauges, read when the
// application's metric reader collects, as Flink's RocksDB native metrics are.
import { metrics, type Attributes, type Meter } from '@opentelemetry/api';

/** Anything that reports named native gauges, e.g. a RocksDB keyed state backend. */
export interface NativeMetricsSource {
  /** Names (e.g. 'rocksdb.estimate-num-keys') to current values; may be called at any time until disposal. */
  nativeMetrics(): Readonly<Record<string, number>>;
}

/**
 * Registers one gauge per metric name of `source`; returns a function that stops observing it
 * (call it before disposing the backend).
 */
export function observeNativeMetrics(source: NativeMetricsSource, names: readonly string[], meter: Meter = metrics.getMeter('flowstate'), attributes: Attributes = {}): () => void {
  let active = true;
  let cached: Readonly<Record<string, number>> | undefined;
  const gauges = names.map((name) => {
    const g = meter.createObservableGauge(name, { description: `native metric ${name}` });
    const cb = (r: { observe(v: number, a?: Attributes): void }) => {
      if (!active) return;
      // One native read per collection, shared by every gauge of the source.
      cached ??= source.nativeMetrics();
      const v = cached[name];
      if (v !== undefined) r.observe(v, attributes);
      queueMicrotask(() => (cached = undefined));
    };
    g.addCallback(cb);
    return () => g.removeCallback(cb);
  });
  return () => {
    active = false;
    for (const stop of gauges) stop();
  };
}
