import { FlowstateError } from '@flowstate/core';
import { describe } from '@flowstate/coordinator';

/** A task of a running job failed; `cause` is what the user function or the runtime threw. */
export class TaskFailureError extends FlowstateError {
  readonly code = 'TASK_FAILURE';
  constructor(
    readonly taskName: string,
    options?: { cause?: unknown },
  ) {
    super(`task '${taskName}' failed: ${describe(options?.cause)}`, options);
  }
}

/** The job gave up: the restart strategy has no attempts left (or the failure is not recoverable). */
export class JobFailedError extends FlowstateError {
  readonly code = 'JOB_FAILED';
  constructor(
    readonly jobName: string,
    readonly attempts: number,
    options?: { cause?: unknown },
  ) {
    super(`job '${jobName}' failed after ${attempts} attempt(s): ${describe(options?.cause)}`, options);
  }
}

// The coordinator's errors are shared with the embeddable coordinator.
export { CheckpointFailedError, describe, TooManyFailedCheckpointsError } from '@flowstate/coordinator';

/** A task was cancelled because another task failed or the job was stopped; never a root cause. */
export class TaskCancelledError extends FlowstateError {
  readonly code = 'TASK_CANCELLED';
  constructor(readonly taskName: string) {
    super(`task '${taskName}' was cancelled`);
  }
}

/** The job graph is malformed (missing uid, duplicate uid, bad parallelism, unknown restore state...). */
export class InvalidJobGraphError extends FlowstateError {
  readonly code = 'INVALID_JOB_GRAPH';
  constructor(detail: string) {
    super(`invalid job graph: ${detail}`);
  }
}

/** A restore point does not fit the job (an operator's state has no operator with that uid...). */
export class RestoreMismatchError extends FlowstateError {
  readonly code = 'RESTORE_MISMATCH';
  constructor(readonly pointer: string, detail: string) {
    super(`cannot restore '${pointer}': ${detail}`);
  }
}

/** A request the job cannot serve in its current status (savepoint of a finished job...). */
export class IllegalJobStateError extends FlowstateError {
  readonly code = 'ILLEGAL_JOB_STATE';
  constructor(detail: string) {
    super(detail);
  }
}


/** A sink transaction cannot be committed (its pre-committed data vanished). Data would be lost. */
export class TransactionCommitError extends FlowstateError {
  readonly code = 'TRANSACTION_COMMIT';
  constructor(
    readonly transaction: string,
    readonly checkpointId: number,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot commit transaction '${transaction}' of checkpoint ${checkpointId}: ${detail}`, options);
  }
}

/**
 * A stop-with-savepoint whose savepoint completed, but the job failed before it stopped (a task
 * failed while committing, for example). As in Flink, the stop fails and the job fails over: it
 * restarts from that savepoint (its side effects may be partly committed) and keeps running.
 */
export class StopWithSavepointFailedError extends FlowstateError {
  readonly code = 'STOP_WITH_SAVEPOINT_FAILED';
  constructor(
    readonly savepointPointer: string,
    options?: { cause?: unknown },
  ) {
    super(`the savepoint '${savepointPointer}' completed, but the job failed before it stopped; it restarted from the savepoint: ${describe(options?.cause)}`, options);
  }
}
