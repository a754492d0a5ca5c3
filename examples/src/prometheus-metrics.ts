/**
 * Flink's checkpoint metrics, sampled state access latencies and RocksDB's native metrics, scraped
 * by Prometheus. flowstate uses only the OpenTelemetry API; the application picks the exporter,
 * here `@opentelemetry/exporter-prometheus` serving http://127.0.0.1:<port>/metrics.
 * Usage: node prometheus-metrics.js [port] [checkpoints]: checkpoints a keyed counter on RocksDB that
 * many times, prints the scrape URL, then keeps serving until Ctrl-C.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { computeKeyGroupRangeForOperatorIndex, FsCheckpointStorage, Serializers, ValueStateDescriptor, VoidNamespace } from '@flowstate/core';
import { EmbeddedCheckpointCoordinator } from '@flowstate/coordinator';
import { CheckpointMetrics, observeNativeMetrics, OtelStateAccessRecorder } from '@flowstate/metrics';
import { LocalFileSystem } from '@flowstate/storage-local';
import { ROCKSDB_NATIVE_METRICS, RocksDBStateBackend } from '@flowstate/rocksdb';

const [port = '9464', checkpoints = '5'] = process.argv.slice(2);
const exporter = new PrometheusExporter({ host: '127.0.0.1', port: Number(port), preventServerStart: true });
await exporter.startServer();
const meter = new MeterProvider({ readers: [exporter] }).getMeter('flowstate');

const dir = mkdtempSync(join(tmpdir(), 'flowstate-prometheus-'));
const coordinator = await EmbeddedCheckpointCoordinator.open({
  storage: new FsCheckpointStorage(new LocalFileSystem(join(dir, 'checkpoints'))),
  listener: new CheckpointMetrics(meter, { job: 'counter' }),
});
const keyed = await new RocksDBStateBackend({ localDirectory: join(dir, 'work') }).createKeyedStateBackend({
  operatorIdentifier: 'counter#0',
  keySerializer: Serializers.int32,
  maxParallelism: 128,
  keyGroupRange: computeKeyGroupRangeForOperatorIndex(128, 1, 0),
  stateLatencyTracking: { recorder: new OtelStateAccessRecorder(meter, { operator: 'counter' }), sampleInterval: 100 },
});
observeNativeMetrics(keyed as unknown as Parameters<typeof observeNativeMetrics>[0], ROCKSDB_NATIVE_METRICS, meter, { operator: 'counter' });
coordinator.register({ uid: 'counter', subtaskIndex: 0, parallelism: 1, maxParallelism: 128, keyed });

const count = keyed.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ValueStateDescriptor<number>('count', Serializers.int32, 0));
for (let c = 0; c < Number(checkpoints); c++) {
  for (let k = 0; k < 10_000; k++) (keyed.setCurrentKey(k % 1000), count.update((count.value() ?? 0) + 1));
  await coordinator.triggerCheckpoint();
}
console.log(`http://127.0.0.1:${port}/metrics`);
// Keep serving the scrape endpoint (the exporter's server does not hold the process open).
setInterval(() => {}, 60_000);
