import { assert } from '../assert.js';
import type { OperatorStateHandle, OperatorStateMetaEntry } from '../storage/handles.js';

/**
 * Assigns the operator state of the old subtasks to `newParallelism` new subtasks, as Flink's
 * RoundRobinOperatorStateRepartitioner does:
 * - SPLIT_DISTRIBUTE: all elements of a state, over all old subtasks, are split into contiguous,
 *   even chunks (sizes differ by at most one);
 * - UNION: every new subtask gets every element;
 * - BROADCAST: every new subtask gets one full copy (the old subtasks' copies are identical).
 * Returns, per new subtask, the handles (with filtered offsets) it restores from.
 */
export function repartitionOperatorState(previous: ReadonlyArray<readonly OperatorStateHandle[]>, newParallelism: number): OperatorStateHandle[][] {
  assert(Number.isInteger(newParallelism) && newParallelism >= 1, `new parallelism ${newParallelism} >= 1`);
  const handles = previous.flat();
  const result: Array<Map<OperatorStateHandle, Record<string, OperatorStateMetaEntry>>> = Array.from({ length: newParallelism }, () => new Map());
  const add = (sub: number, h: OperatorStateHandle, name: string, mode: OperatorStateMetaEntry['mode'], offsets: number[]) => {
    const m = result[sub]!;
    let rec = m.get(h);
    if (rec === undefined) m.set(h, (rec = {}));
    const prev = rec[name];
    rec[name] = { mode, offsets: prev === undefined ? offsets : [...prev.offsets, ...offsets] };
  };
  const names = new Set<string>();
  for (const h of handles) for (const n of Object.keys(h.states)) names.add(n);
  for (const name of [...names].sort()) {
    const parts = handles.filter((h) => h.states[name] !== undefined);
    const mode = parts[0]!.states[name]!.mode;
    if (mode === 'UNION') {
      for (let s = 0; s < newParallelism; s++) for (const h of parts) add(s, h, name, mode, [...h.states[name]!.offsets]);
    } else if (mode === 'BROADCAST') {
      // Identical copies: subtask s takes old copy s mod oldCopies.
      for (let s = 0; s < newParallelism; s++) {
        const h = parts[s % parts.length]!;
        add(s, h, name, mode, [...h.states[name]!.offsets]);
      }
    } else {
      const all: Array<[OperatorStateHandle, number]> = [];
      for (const h of parts) for (const o of h.states[name]!.offsets) all.push([h, o]);
      const base = Math.floor(all.length / newParallelism);
      const extra = all.length % newParallelism;
      let i = 0;
      for (let s = 0; s < newParallelism; s++) {
        const n = base + (s < extra ? 1 : 0);
        const byHandle = new Map<OperatorStateHandle, number[]>();
        for (const [h, o] of all.slice(i, i + n)) {
          const arr = byHandle.get(h) ?? [];
          arr.push(o);
          byHandle.set(h, arr);
        }
        i += n;
        // A subtask that gets no elements still learns the state exists (and its serializer).
        if (byHandle.size === 0) add(s, parts[0]!, name, mode, []);
        for (const [h, offs] of byHandle) add(s, h, name, mode, offs);
      }
    }
  }
  return result.map((m) => [...m].map(([h, states]) => ({ ...h, states })));
}
