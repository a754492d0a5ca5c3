// Apache Flink's checkpoint metrics, under Flink's names, as OpenTelemetry observable gauges.
// The coordinator (or any engine) reports events; the gauges are read when the application's
// metric reader collects. Without an OpenTelemetry SDK set up by the application, the API's
// global meter is a no-op and this costs a few field writes per checkpoint.
import { metrics, type Attributes, type Meter, type ObservableCallback } from '@opentelemetry/api';

/** What a completed or failed checkpoint reports (a subset of core's CheckpointHistoryEntry). */
export interface CheckpointOutcome {
  readonly checkpointId: number;
  readonly durationMs: number;
  /** Bytes this checkpoint wrote (Flink's checkpointed size). */
  readonly checkpointedSize: number;
  /** Bytes of all state the checkpoint references (Flink's full size). */
  readonly fullSize: number;
}

/** Flink's metric names; `flink_jobmanager_job_<name>` in Flink's Prometheus reporter. */
export const CHECKPOINT_METRIC_NAMES = [
  'lastCheckpointDuration',
  'lastCheckpointSize',
  'lastCheckpointFullSize',
  'lastCompletedCheckpointId',
  'lastCheckpointRestoreTimestamp',
  'numberOfCompletedCheckpoints',
  'numberOfFailedCheckpoints',
  'numberOfInProgressCheckpoints',
  'totalNumberOfCheckpoints',
] as const;

export type CheckpointMetricName = (typeof CHECKPOINT_METRIC_NAMES)[number];

export class CheckpointMetrics {
  private readonly values: Record<CheckpointMetricName, number> = {
    lastCheckpointDuration: -1,
    lastCheckpointSize: -1,
    lastCheckpointFullSize: -1,
    lastCompletedCheckpointId: -1,
    lastCheckpointRestoreTimestamp: -1,
    numberOfCompletedCheckpoints: 0,
    numberOfFailedCheckpoints: 0,
    numberOfInProgressCheckpoints: 0,
    totalNumberOfCheckpoints: 0,
  };

  /** Undoes the callback registrations; empty once closed. */
  private unregister: Array<() => void> = [];
  private closed = false;

  /** `attributes` label every value (e.g. `{ job: 'word-count' }`). */
  constructor(meter: Meter = metrics.getMeter('flowstate'), attributes: Attributes = {}) {
    for (const name of CHECKPOINT_METRIC_NAMES) {
      const gauge = meter.createObservableGauge(name, { description: `Flink checkpoint metric ${name}`, unit: unitOf(name) });
      const callback: ObservableCallback = (r) => r.observe(this.values[name], attributes);
      gauge.addCallback(callback);
      this.unregister.push(() => gauge.removeCallback(callback));
    }
  }

  /**
   * Stops reporting: the meter (which outlives this instance) no longer calls back into it, so a
   * process that creates one per job run exports only the live one's values and lets the closed
   * one be collected. Later events are ignored. Idempotent.
   */
  close(): void {
    this.closed = true;
    for (const remove of this.unregister) remove();
    this.unregister = [];
  }

  /** The ids of the checkpoints in progress (triggered with an id, not yet completed or failed). */
  private readonly inProgress = new Set<number>();

  checkpointTriggered(checkpointId?: number): void {
    if (this.closed) return;
    if (checkpointId !== undefined) this.inProgress.add(checkpointId);
    this.values.numberOfInProgressCheckpoints++;
    this.values.totalNumberOfCheckpoints++;
  }

  /**
   * A checkpoint is no longer in progress. One that was never reported triggered (the coordinator
   * reports a checkpoint whose location could not be created as failed only) ends no other
   * checkpoint in progress and is counted in the total here, as Flink's
   * reportFailedCheckpointsWithoutInProgress does.
   */
  private ended(checkpointId: number | undefined): void {
    if (checkpointId !== undefined && this.inProgress.delete(checkpointId)) this.values.numberOfInProgressCheckpoints--;
    else if (this.values.numberOfInProgressCheckpoints > this.inProgress.size) this.values.numberOfInProgressCheckpoints--;
    else this.values.totalNumberOfCheckpoints++;
  }

  checkpointCompleted(c: CheckpointOutcome): void {
    if (this.closed) return;
    this.ended(c.checkpointId);
    this.values.numberOfCompletedCheckpoints++;
    this.values.lastCheckpointDuration = c.durationMs;
    this.values.lastCheckpointSize = c.checkpointedSize;
    this.values.lastCheckpointFullSize = c.fullSize;
    this.values.lastCompletedCheckpointId = c.checkpointId;
  }

  checkpointFailed(entry?: CheckpointOutcome): void {
    if (this.closed) return;
    this.ended(entry?.checkpointId);
    this.values.numberOfFailedCheckpoints++;
  }

  restored(timestampMs: number): void {
    if (this.closed) return;
    this.values.lastCheckpointRestoreTimestamp = timestampMs;
  }

  /** The current values, as the gauges report them. */
  snapshot(): Readonly<Record<CheckpointMetricName, number>> {
    return { ...this.values };
  }
}

function unitOf(name: CheckpointMetricName): string {
  if (name === 'lastCheckpointDuration') return 'ms';
  if (name === 'lastCheckpointSize' || name === 'lastCheckpointFullSize') return 'By';
  if (name === 'lastCheckpointRestoreTimestamp') return 'ms';
  return '1';
}
