import assert from 'node:assert/strict';
import type { InternalMergingState, KeyedStateBackend, KeyedStateOf, State } from '@flowstate/core';

/**
 * The SPI promises that list, reducing and aggregating states from getOrCreateKeyedState also
 * implement InternalMergingState; the type cannot say so, so the suite checks it at run time.
 */
export function asMerging<S extends State, N>(state: KeyedStateOf<S, N>, what: string): S & InternalMergingState<N> {
  const candidate = state as KeyedStateOf<S, N> & Partial<InternalMergingState<N>>;
  assert.equal(typeof candidate.mergeNamespaces, 'function', `${what} implements InternalMergingState.mergeNamespaces`);
  return state as S & InternalMergingState<N>;
}

type MergeNamespace = 'ns1' | 'ns2' | 'ns3';

/**
 * The input of Flink's merging state tests: per key, the values added in each namespace, with an
 * empty target, empty sources and an untouched key. ns2 and ns3 are merged into ns1.
 */
export const MERGE_INPUT: Readonly<Record<string, Partial<Record<MergeNamespace, readonly number[]>>>> = {
  abc: { ns1: [33, 55], ns2: [22, 11], ns3: [44] },
  def: { ns2: [1, 4], ns3: [2, 3] },
  ghi: { ns1: [9] },
  jkl: {},
  mno: { ns3: [7] },
};

/** Adds `MERGE_INPUT` to `state` (with `add`), then merges ns2 and ns3 into ns1 for every key. */
export function addAndMergeInput<S extends InternalMergingState<string>>(kb: KeyedStateBackend<string>, state: S, add: (state: S, values: readonly number[]) => void): void {
  for (const [key, byNs] of Object.entries(MERGE_INPUT)) {
    kb.setCurrentKey(key);
    for (const [ns, values] of Object.entries(byNs)) {
      state.setCurrentNamespace(ns);
      add(state, values);
    }
  }
  for (const key of Object.keys(MERGE_INPUT)) {
    kb.setCurrentKey(key);
    state.mergeNamespaces('ns1', ['ns2', 'ns3']);
  }
}
