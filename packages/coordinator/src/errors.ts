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
