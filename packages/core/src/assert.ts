/**
 * Invariant assertions (TIGER_STYLE): a failed assertion is a bug in flowstate, never bad input.
 * Bad input gets a typed FlowstateError instead.
 */
export class AssertionError extends Error {
  readonly code = 'ASSERTION_FAILED';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(`invariant violated: ${message}`);
}
