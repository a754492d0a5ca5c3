import { describeError, errorClass } from '@flowstate/core';

/** A checkpoint did not complete: declined, expired, cancelled, or failed to finalize. */
export class CheckpointFailedError extends errorClass(
  'CHECKPOINT_FAILED',
  ['checkpointId', 'reason'],
  (checkpointId: number, reason: 'DECLINED' | 'EXPIRED' | 'FINALIZE_FAILED' | 'SUBSUMED' | 'JOB_FAILOVER' | 'TRIGGER_FAILED' | 'CANCELLED', detail: string) =>
    `checkpoint ${checkpointId} failed (${reason}): ${detail}`,
) {}

/** `Name: message` of an error, or its string form: for logs and failure causes. */
export const describe = describeError;

/** More checkpoints failed in a row than `tolerableFailedCheckpoints` allows. */
export class TooManyFailedCheckpointsError extends errorClass(
  'TOO_MANY_FAILED_CHECKPOINTS',
  ['failed', 'tolerable'],
  (failed: number, tolerable: number) => `${failed} consecutive checkpoint failures exceed the tolerable ${tolerable}`,
  { describeCause: true },
) {}
