import assert from 'node:assert/strict';

/** Any error class, abstract ones (FlowstateError) included. */
export type ErrorClass<E extends Error> = abstract new (...args: never[]) => E;

function describeThrown(e: unknown): string {
  return e instanceof Error ? `${e.constructor.name}: ${e.message}` : `non-error ${String(e)}`;
}

/**
 * Expects `fn` to throw an instance of `type` and returns it for further checks. Unlike
 * assert.throws, the failure names what was attempted and what was thrown instead.
 */
export function expectThrows<E extends Error>(what: string, type: ErrorClass<E>, fn: () => unknown): E {
  try {
    fn();
  } catch (e) {
    if (e instanceof type) return e;
    assert.fail(`${what}: expected ${type.name}, got ${describeThrown(e)}`);
  }
  assert.fail(`${what}: expected ${type.name}, nothing was thrown`);
}

export async function expectRejects<E extends Error>(what: string, type: ErrorClass<E>, promise: Promise<unknown> | (() => Promise<unknown>)): Promise<E> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (e) {
    if (e instanceof type) return e;
    assert.fail(`${what}: expected ${type.name}, got ${describeThrown(e)}`);
  }
  assert.fail(`${what}: expected ${type.name}, but it succeeded`);
}

/** A stable text form for comparing values whose order is unspecified (bigints included). */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint') return `${v}n`;
    if (v instanceof Map) return { map: [...v.entries()].map((e) => canonical(e)).sort() };
    if (v instanceof Set) return { set: [...v].map((e) => canonical(e)).sort() };
    if (v === undefined) return '<undefined>';
    return v;
  });
}

/** Multiset equality: same elements, same multiplicities, any order. */
export function assertSameMembers<T>(actual: Iterable<T>, expected: Iterable<T>, what: string): void {
  const a = [...actual].map(canonical).sort();
  const e = [...expected].map(canonical).sort();
  assert.deepStrictEqual(a, e, `${what}: elements differ (order ignored)`);
}

/** `get()` of list state returns a read-only array; compare it ignoring order. */
export function sortedNumbers(values: Iterable<number>): number[] {
  return [...values].sort((x, y) => x - y);
}
