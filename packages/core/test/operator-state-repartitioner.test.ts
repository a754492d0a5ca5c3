import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { repartitionOperatorState, type OperatorStateDistributionMode, type OperatorStateHandle } from '@flowstate/core';

/** One old subtask's handle; offsets are made unique per subtask so assignments can be traced. */
function handle(subtask: number, states: Record<string, [OperatorStateDistributionMode, number]>): OperatorStateHandle {
  const entries = Object.entries(states).map(([name, [mode, n]], si) => [name, { mode, offsets: Array.from({ length: n }, (_, i) => subtask * 1000 + si * 100 + i) }]);
  return { type: 'operator', stream: { type: 'file', path: `op-${subtask}`, size: 1, checksum: 0 }, stateSize: 1, states: Object.fromEntries(entries) };
}

/** new subtask -> state name -> [old stream path, offset] pairs. */
function view(assigned: OperatorStateHandle[][]): Array<Record<string, string[]>> {
  return assigned.map((hs) => {
    const out: Record<string, string[]> = {};
    for (const h of hs) {
      for (const [name, e] of Object.entries(h.states)) (out[name] ??= []).push(...e.offsets.map((o) => `${h.stream.type === 'file' ? h.stream.path : ''}@${o}`));
    }
    return out;
  });
}

describe('repartitionOperatorState (Flink RoundRobinOperatorStateRepartitioner semantics)', () => {
  it('2 -> 3 with fewer split elements than subtasks: the subtask without an element gets no entry for the state', () => {
    const old = [[handle(0, { a: ['SPLIT_DISTRIBUTE', 1], b: ['SPLIT_DISTRIBUTE', 1] })], [handle(1, { a: ['SPLIT_DISTRIBUTE', 1] })]];
    const assigned = repartitionOperatorState(old, 3);
    for (const [i, hs] of assigned.entries()) {
      for (const h of hs) for (const [name, e] of Object.entries(h.states)) assert.ok(e.offsets.length > 0, `subtask ${i}: no empty entry for '${name}'`);
    }
    const names = view(assigned).map((v) => Object.keys(v).sort());
    assert.equal(names.flat().filter((n) => n === 'a').length, 2, "'a' goes to two subtasks, one element each");
    assert.equal(names.flat().filter((n) => n === 'b').length, 1, "'b' goes to one subtask");
  });

  it('unchanged parallelism with union and broadcast state: list state stays where it was', () => {
    const old = [0, 1, 2].map((s) => [handle(s, { split: ['SPLIT_DISTRIBUTE', [5, 0, 2][s]!], union: ['UNION', s + 1], rules: ['BROADCAST', 3] })]);
    const assigned = view(repartitionOperatorState(old, 3));
    const before = view(old);
    const allUnion = before.flatMap((v) => v['union'] ?? []).sort();
    for (let s = 0; s < 3; s++) {
      assert.deepStrictEqual(assigned[s]!['split'] ?? [], before[s]!['split'] ?? [], `subtask ${s} keeps its own split elements`);
      assert.deepStrictEqual([...(assigned[s]!['union'] ?? [])].sort(), allUnion, `subtask ${s} gets every union element`);
      assert.deepStrictEqual(assigned[s]!['rules'], before[s]!['rules'], `subtask ${s} keeps its own broadcast copy`);
    }
  });

  it('unchanged parallelism with split state only: the handles are returned as they were', () => {
    const old = [0, 1].map((s) => [handle(s, { split: ['SPLIT_DISTRIBUTE', s + 2] })]);
    assert.deepStrictEqual(repartitionOperatorState(old, 2), old);
  });

  it('unchanged parallelism, broadcast state one subtask did not report: it gets a copy from one that did', () => {
    const old = [[handle(0, { rules: ['BROADCAST', 2], split: ['SPLIT_DISTRIBUTE', 1] })], [handle(1, { split: ['SPLIT_DISTRIBUTE', 1] })]];
    const assigned = view(repartitionOperatorState(old, 2));
    assert.deepStrictEqual(assigned[1]!['rules'], view(old)[0]!['rules']);
    assert.deepStrictEqual(assigned[1]!['split'], view(old)[1]!['split'], 'split state stays in place');
  });

  it('the subtask that gets the larger chunk rotates from state to state', () => {
    // Two states of 4 elements at parallelism 3: Flink gives [2,1,1] then [1,2,1], not [2,1,1] twice.
    const old = [[handle(0, { a: ['SPLIT_DISTRIBUTE', 4], b: ['SPLIT_DISTRIBUTE', 4] })]];
    const totals = view(repartitionOperatorState(old, 3)).map((v) => (v['a']?.length ?? 0) + (v['b']?.length ?? 0));
    assert.deepStrictEqual(totals, [3, 3, 2]);
  });

  it('random layouts: every split element once, union everywhere, one broadcast copy each, even chunks', () => {
    let seed = 0x5eed;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    for (let round = 0; round < 300; round++) {
      const oldP = 1 + rnd(6);
      const newP = 1 + rnd(8);
      const old = Array.from({ length: oldP }, (_, s) => [handle(s, { x: ['SPLIT_DISTRIBUTE', rnd(7)], y: ['SPLIT_DISTRIBUTE', rnd(3)], u: ['UNION', rnd(3)], bc: ['BROADCAST', 2] })]);
      const before = view(old);
      const after = view(repartitionOperatorState(old, newP));
      assert.equal(after.length, newP);
      for (const name of ['x', 'y']) {
        assert.deepStrictEqual(after.flatMap((v) => v[name] ?? []).sort(), before.flatMap((v) => v[name] ?? []).sort(), `round ${round}: '${name}' elements kept once`);
        const sizes = after.map((v) => v[name]?.length ?? 0);
        if (oldP !== newP) assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `round ${round}: '${name}' sizes ${sizes}`);
      }
      const allUnion = before.flatMap((v) => v['u'] ?? []).sort();
      for (const v of after) {
        assert.deepStrictEqual([...(v['u'] ?? [])].sort(), allUnion, `round ${round}: union everywhere`);
        assert.equal(v['bc']?.length, 2, `round ${round}: one broadcast copy`);
      }
    }
  });
});
