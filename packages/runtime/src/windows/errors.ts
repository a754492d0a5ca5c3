import { errorClass } from '@flowstate/core';

/** A window assigner, trigger or windowed stream was configured with values that cannot work. */
export class InvalidWindowConfigError extends errorClass('INVALID_WINDOW_CONFIG', [], (detail: string) => `invalid window configuration: ${detail}`) {}

/**
 * An event-time window assigner got a record without a timestamp (Flink: "Record has
 * Long.MIN_VALUE timestamp"): the source assigns none, or a watermark strategy is missing.
 * `where` is the operator (or assigner) that got the record.
 */
export class MissingTimestampError extends errorClass(
  'MISSING_TIMESTAMP',
  ['where'],
  (where: string) => `${where}: an event-time window assigner got a record without a timestamp; assign timestamps and watermarks at the source`,
) {}

/**
 * Merging moved an event-time window's end before the watermark (only a custom merging assigner
 * can do this): its contents would never fire (Flink throws UnsupportedOperationException).
 */
export class IllegalWindowMergeError extends errorClass('ILLEGAL_WINDOW_MERGE', ['operatorUid'], (operatorUid: string, detail: string) => `operator '${operatorUid}': ${detail}`) {}
