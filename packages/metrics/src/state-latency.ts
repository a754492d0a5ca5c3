// Sampled state access latencies (core's StateAccessRecorder) as OpenTelemetry histograms, one
// per Flink metric name (valueStateGetLatency, mapStatePutLatency, ...), labelled with the state.
import { metrics, type Attributes, type Histogram, type Meter } from '@opentelemetry/api';
import type { StateAccessRecorder } from '@flowstate/core';

/**
 * Bucket boundaries in nanoseconds, 100 ns to 1 s: OpenTelemetry's default boundaries (0 to 10000)
 * are meant for milliseconds and would put every access slower than 10 µs in the overflow bucket.
 */
const STATE_LATENCY_BUCKETS_NS: readonly number[] = [100, 250, 500, 1e3, 2.5e3, 5e3, 1e4, 2.5e4, 5e4, 1e5, 2.5e5, 5e5, 1e6, 2.5e6, 5e6, 1e7, 2.5e7, 5e7, 1e8, 2.5e8, 5e8, 1e9];

export class OtelStateAccessRecorder implements StateAccessRecorder {
  private readonly histograms = new Map<string, Histogram>();

  constructor(
    private readonly meter: Meter = metrics.getMeter('flowstate'),
    private readonly attributes: Attributes = {},
  ) {}

  recordLatency(stateName: string, metric: string, nanoseconds: number): void {
    let h = this.histograms.get(metric);
    if (h === undefined) {
      h = this.meter.createHistogram(metric, { description: `sampled latency of ${metric.replace(/Latency$/, '')}`, unit: 'ns', advice: { explicitBucketBoundaries: [...STATE_LATENCY_BUCKETS_NS] } });
      this.histograms.set(metric, h);
    }
    h.record(nanoseconds, { ...this.attributes, state: stateName });
  }
}
