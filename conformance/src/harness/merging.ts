import assert from 'node:assert/strict';
import type { InternalMergingState, KeyedStateOf, State } from '@flowstate/core';

/**
 * The SPI promises that list, reducing and aggregating states from getOrCreateKeyedState also
 * implement InternalMergingState; the type cannot say so, so the suite checks it at run time.
 */
export function asMerging<S extends State, N>(state: KeyedStateOf<S, N>, what: string): S & InternalMergingState<N> {
  const candidate = state as KeyedStateOf<S, N> & Partial<InternalMergingState<N>>;
  assert.equal(typeof candidate.mergeNamespaces, 'function', `${what} implements InternalMergingState.mergeNamespaces`);
  return state as S & InternalMergingState<N>;
}
