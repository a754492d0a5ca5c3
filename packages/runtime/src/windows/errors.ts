import { FlowstateError } from '@flowstate/core';

/** A window assigner, trigger or windowed stream was configured with values that cannot work. */
export class InvalidWindowConfigError extends FlowstateError {
  readonly code = 'INVALID_WINDOW_CONFIG';
  constructor(detail: string) {
    super(`invalid window configuration: ${detail}`);
  }
}

/**
 * An event-time window assigner got a record without a timestamp (Flink: "Record has
 * Long.MIN_VALUE timestamp"): the source assigns none, or a watermark strategy is missing.
 */
export class MissingTimestampError extends FlowstateError {
  readonly code = 'MISSING_TIMESTAMP';
  constructor(
    /** The operator (or assigner) that got the record. */
    readonly where: string,
  ) {
    super(`${where}: an event-time window assigner got a record without a timestamp; assign timestamps and watermarks at the source`);
  }
}

/**
 * Merging moved an event-time window's end before the watermark (only a custom merging assigner
 * can do this): its contents would never fire (Flink throws UnsupportedOperationException).
 */
export class IllegalWindowMergeError extends FlowstateError {
  readonly code = 'ILLEGAL_WINDOW_MERGE';
  constructor(
    readonly operatorUid: string,
    detail: string,
  ) {
    super(`operator '${operatorUid}': ${detail}`);
  }
}
