import { FlowstateError } from '@flowstate/core';

/**
 * The savepoint tool cannot do what was asked for this savepoint, and never will in this form
 * (e.g. recomputing key groups of a native snapshot whose keys live inside backend files).
 */
export class UnsupportedSavepointOperationError extends FlowstateError {
  readonly code = 'UNSUPPORTED_OPERATION';
  constructor(
    readonly operation: string,
    readonly reason: string,
  ) {
    super(`${operation} is not supported: ${reason}`);
  }
}

/** The output location of a savepoint write is not usable (exists and is not empty, is the input...). */
export class SavepointOutputError extends FlowstateError {
  readonly code = 'SAVEPOINT_OUTPUT';
  constructor(
    readonly directory: string,
    detail: string,
  ) {
    super(`cannot write a savepoint to '${directory}': ${detail}`);
  }
}

/** Disposing was refused: the location is not a savepoint (a retained checkpoint, say) and is left alone. */
export class NotASavepointError extends FlowstateError {
  readonly code = 'NOT_A_SAVEPOINT';
  constructor(
    readonly directory: string,
    detail: string,
  ) {
    super(`refusing to dispose '${directory}': ${detail}`);
  }
}
