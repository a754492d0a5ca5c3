export { CheckpointMetrics, CHECKPOINT_METRIC_NAMES, type CheckpointMetricName, type CheckpointOutcome } from './checkpoint-metrics.js';
export { OtelStateAccessRecorder } from './state-latency.js';
export { observeNativeMetrics, type NativeMetricsSource } from './native-metrics.js';
