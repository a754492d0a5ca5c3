import { errorClass } from '@flowstate/core';

/** A task of a running job failed; `cause` is what the user function or the runtime threw. */
export class TaskFailureError extends errorClass('TASK_FAILURE', ['taskName'], (taskName: string) => `task '${taskName}' failed`, { describeCause: true }) {}

/** The job gave up: the restart strategy has no attempts left (or the failure is not recoverable). */
export class JobFailedError extends errorClass(
  'JOB_FAILED',
  ['jobName', 'attempts'],
  (jobName: string, attempts: number) => `job '${jobName}' failed after ${attempts} attempt(s)`,
  { describeCause: true },
) {}

// The coordinator's errors are shared with the embeddable coordinator.
export { CheckpointFailedError, describe, TooManyFailedCheckpointsError } from '@flowstate/coordinator';

/** A task was cancelled because another task failed or the job was stopped; never a root cause. */
export class TaskCancelledError extends errorClass('TASK_CANCELLED', ['taskName'], (taskName: string) => `task '${taskName}' was cancelled`) {}

/** The job graph is malformed (missing uid, duplicate uid, bad parallelism, unknown restore state...). */
export class InvalidJobGraphError extends errorClass('INVALID_JOB_GRAPH', [], (detail: string) => `invalid job graph: ${detail}`) {}

/** A restore point does not fit the job (an operator's state has no operator with that uid...). */
export class RestoreMismatchError extends errorClass('RESTORE_MISMATCH', ['pointer'], (pointer: string, detail: string) => `cannot restore '${pointer}': ${detail}`) {}

/** A request the job cannot serve in its current status (savepoint of a finished job...). */
export class IllegalJobStateError extends errorClass('ILLEGAL_JOB_STATE', [], (detail: string) => detail) {}

/** A sink transaction cannot be committed (its pre-committed data vanished). Data would be lost. */
export class TransactionCommitError extends errorClass(
  'TRANSACTION_COMMIT',
  ['transaction', 'checkpointId'],
  (transaction: string, checkpointId: number, detail: string) => `cannot commit transaction '${transaction}' of checkpoint ${checkpointId}: ${detail}`,
) {}

/**
 * A stop-with-savepoint whose savepoint completed, but the job failed before it stopped (a task
 * failed while committing, for example). As in Flink, the stop fails and the job fails over: it
 * restarts from that savepoint (its side effects may be partly committed) and keeps running.
 */
export class StopWithSavepointFailedError extends errorClass(
  'STOP_WITH_SAVEPOINT_FAILED',
  ['savepointPointer'],
  (savepointPointer: string) => `the savepoint '${savepointPointer}' completed, but the job failed before it stopped; it restarted from the savepoint`,
  { describeCause: true },
) {}
