// Sampled state access latencies (core's StateAccessRecorder) as OpenTelemetry histograms, one
// per Flink metric name (valueStateGetLatency, mapStatePutLatency, ...), labelled with the state.
import { metrics, type Attributes, type Histogram, type Meter } from '@opentelemetry/api';
import type { StateAccessRecorder } from '@flowstate/core';

export class OtelStateAccessRecorder implements StateAccessRecorder {
  private readonly histograms = new Map<string, Histogram>();

  constructor(
    private readonly meter: Meter = metrics.getMeter('flowstate'),
    private readonly attributes: Attributes = {},
  ) {}

  recordLatency(stateName: string, metric: string, nanoseconds: number): void {
    let h = this.histograms.get(metric);
    if (h === undefined) {
      h = this.meter.createHistogram(metric, { description: `sampled latency of ${metric.replace(/Latency$/, '')}`, unit: 'ns' });
      this.histograms.set(metric, h);
    }
    h.record(nanoseconds, { ...this.attributes, state: stateName });
  }
}
