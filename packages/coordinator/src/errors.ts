import { FlowstateError } from '@flowstate/core';

/** A checkpoint did not complete: declined, expired, cancelled, or failed to finalize. */
export class CheckpointFailedError extends FlowstateError {
  readonly code = 'CHECKPOINT_FAILED';
  constructor(
    readonly checkpointId: number,
    readonly reason: 'DECLINED' | 'EXPIRED' | 'FINALIZE_FAILED' | 'SUBSUMED' | 'JOB_FAILOVER' | 'TRIGGER_FAILED' | 'CANCELLED',
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`checkpoint ${checkpointId} failed (${reason}): ${detail}`, options);
  }
}

/** `Name: message` of an error, or its string form: for logs and failure causes. */
export function describe(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

/** More checkpoints failed in a row than `tolerableFailedCheckpoints` allows. */
export class TooManyFailedCheckpointsError extends FlowstateError {
  readonly code = 'TOO_MANY_FAILED_CHECKPOINTS';
  constructor(
    readonly failed: number,
    readonly tolerable: number,
    options?: { cause?: unknown },
  ) {
    super(`${failed} consecutive checkpoint failures exceed the tolerable ${tolerable}: ${describe(options?.cause)}`, options);
  }
}
