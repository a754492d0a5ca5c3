// An OpenTelemetry SDK with an in-memory exporter, as an application would set one up, so that
// tests read exactly what a metrics backend would receive.
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { Meter } from '@opentelemetry/api';

export interface InMemoryOtel {
  readonly meter: Meter;
  /** Collects once and returns every data point by metric name. */
  collect(): Promise<Map<string, Array<{ value: unknown; attributes: Record<string, unknown> }>>>;
  shutdown(): Promise<void>;
}

/**
 * Delta temporality shows what the callbacks observed in each collection only: the SDK's cumulative
 * temporality keeps exporting an asynchronous instrument's attribute sets after their callback is
 * gone (seen with the @opentelemetry/sdk-metrics version we test with).
 */
export function inMemoryOtel(temporality: AggregationTemporality = AggregationTemporality.CUMULATIVE): InMemoryOtel {
  const exporter = new InMemoryMetricExporter(temporality);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  return {
    meter: provider.getMeter('flowstate-test'),
    async collect() {
      await reader.forceFlush();
      const all: ResourceMetrics[] = exporter.getMetrics();
      const out = new Map<string, Array<{ value: unknown; attributes: Record<string, unknown> }>>();
      const last = all.at(-1);
      for (const scope of last?.scopeMetrics ?? []) {
        for (const m of scope.metrics) {
          out.set(m.descriptor.name, m.dataPoints.map((p) => ({ value: p.value, attributes: p.attributes as Record<string, unknown> })));
        }
      }
      return out;
    },
    shutdown: () => provider.shutdown(),
  };
}
