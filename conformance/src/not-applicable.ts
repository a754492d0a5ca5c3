/**
 * "Not applicable" declarations, shared by the backend and the storage suites: a capability a
 * backend or storage does not have is declared with a reason, and the cases that need it are
 * registered as skipped with that reason, never as passed.
 */

/** The reason a case is skipped, or undefined when it runs. */
export function skipReason<C extends string>(requires: readonly C[] | undefined, notApplicable: Partial<Record<C, string>>): string | undefined {
  for (const cap of requires ?? []) {
    const reason = notApplicable[cap];
    if (reason !== undefined) return `${cap} not applicable: ${reason}`;
  }
  return undefined;
}

/** A typo in a capability name would silently run cases that were meant to be skipped; refuse it, and a missing reason. */
export function validateNotApplicable<C extends string>(
  input: Partial<Record<string, string>>,
  known: Readonly<Record<C, string>>,
  caller: string,
): Partial<Record<C, string>> {
  const out: Partial<Record<C, string>> = {};
  for (const [cap, reason] of Object.entries(input)) {
    if (reason === undefined) continue;
    if (!Object.prototype.hasOwnProperty.call(known, cap)) throw new TypeError(`${caller}: unknown capability '${cap}'`);
    if (typeof reason !== 'string' || reason.trim() === '') {
      throw new TypeError(`${caller}: capability '${cap}' is declared not applicable without a reason`);
    }
    out[cap as C] = reason;
  }
  return out;
}
