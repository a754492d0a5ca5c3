import { assert } from '../assert.js';
import type { OperatorStateDistributionMode, OperatorStateHandle, OperatorStateMetaEntry } from '../storage/handles.js';

/** Where one old subtask keeps (part of) a named state. */
interface Location {
  readonly handle: OperatorStateHandle;
  readonly entry: OperatorStateMetaEntry;
}

/** What one new subtask restores: per old handle, the states (and offsets) it reads from it. */
type Assignment = Map<OperatorStateHandle, Record<string, OperatorStateMetaEntry>>;

/**
 * Assigns the operator state of the old subtasks (`previous[i]` is old subtask i) to
 * `newParallelism` new subtasks, with the semantics of Flink's RoundRobinOperatorStateRepartitioner:
 * - unchanged parallelism: every subtask keeps its own handles (list state stays where it was);
 *   UNION state is added to every subtask, and BROADCAST state that some subtasks did not report
 *   is given to those from the ones that did;
 * - changed parallelism: SPLIT_DISTRIBUTE elements of each state are dealt out in contiguous, even
 *   chunks (sizes differ by at most one), the subtask that starts a state rotating from state to
 *   state so that the larger chunks do not all land on the same subtasks; a subtask that gets no
 *   element of a state gets no entry for it; UNION goes to every subtask; BROADCAST: new subtask i
 *   takes the copy of old subtask (i mod old copies).
 * States are visited in name order, so the result is deterministic.
 */
export function repartitionOperatorState(previous: ReadonlyArray<readonly OperatorStateHandle[]>, newParallelism: number): OperatorStateHandle[][] {
  assert(Number.isInteger(newParallelism) && newParallelism >= 1, `new parallelism ${newParallelism} >= 1`);
  if (newParallelism === previous.length) return keepInPlace(previous);
  const out: Assignment[] = Array.from({ length: newParallelism }, () => new Map());
  splitRoundRobin(collect(previous, 'SPLIT_DISTRIBUTE'), out);
  for (const [name, locations] of collect(previous, 'UNION')) for (const a of out) for (const l of locations) add(a, l.handle, name, l.entry);
  for (const [name, locations] of collect(previous, 'BROADCAST')) out.forEach((a, i) => add(a, locations[i % locations.length]!.handle, name, locations[i % locations.length]!.entry));
  return out.map(toHandles);
}

function keepInPlace(previous: ReadonlyArray<readonly OperatorStateHandle[]>): OperatorStateHandle[][] {
  const union = collect(previous, 'UNION');
  const partialBroadcast = [...collect(previous, 'BROADCAST')].filter(([name]) => previous.some((hs) => !hs.some((h) => h.states[name] !== undefined)));
  if (union.size === 0 && partialBroadcast.length === 0) return previous.map((hs) => [...hs]);
  const out: Assignment[] = previous.map((hs) => new Map(hs.map((h) => [h, { ...h.states }])));
  for (const [name, locations] of union) for (const a of out) for (const l of locations) add(a, l.handle, name, l.entry);
  for (const [name, locations] of partialBroadcast) {
    out.forEach((a, i) => {
      if ([...a.values()].some((states) => states[name] !== undefined)) return;
      const l = locations[i % locations.length]!;
      add(a, l.handle, name, l.entry);
    });
  }
  return out.map(toHandles);
}

/** name -> locations, in old subtask order, of every state with the given mode; names sorted. */
function collect(previous: ReadonlyArray<readonly OperatorStateHandle[]>, mode: OperatorStateDistributionMode): Map<string, Location[]> {
  const byName = new Map<string, Location[]>();
  for (const hs of previous) {
    for (const handle of hs) {
      for (const [name, entry] of Object.entries(handle.states)) {
        if (entry.mode !== mode) continue;
        let list = byName.get(name);
        if (list === undefined) byName.set(name, (list = []));
        list.push({ handle, entry });
      }
    }
  }
  return new Map([...byName].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function splitRoundRobin(states: Map<string, Location[]>, out: Assignment[]): void {
  const p = out.length;
  let start = 0;
  for (const [name, locations] of states) {
    const total = locations.reduce((n, l) => n + l.entry.offsets.length, 0);
    const base = Math.floor(total / p);
    let remainder = total % p;
    let nextStart = start;
    let li = 0;
    let oi = 0;
    for (let i = 0; i < p; i++) {
      const sub = (i + start) % p;
      let n = base;
      if (remainder > 0) {
        n++;
        remainder--;
      } else if (remainder === 0) {
        // The odd elements are dealt out: the next state starts with this subtask, for balance.
        nextStart = sub;
        remainder--;
      }
      while (n > 0) {
        const l = locations[li]!;
        const take = Math.min(n, l.entry.offsets.length - oi);
        if (take > 0) add(out[sub]!, l.handle, name, { mode: 'SPLIT_DISTRIBUTE', offsets: l.entry.offsets.slice(oi, oi + take) });
        oi += take;
        n -= take;
        if (oi === l.entry.offsets.length) {
          li++;
          oi = 0;
        }
      }
    }
    start = nextStart;
  }
}

function add(a: Assignment, handle: OperatorStateHandle, name: string, entry: OperatorStateMetaEntry): void {
  let states = a.get(handle);
  if (states === undefined) a.set(handle, (states = {}));
  const prev = states[name];
  // The same old handle can only contribute one slice per state; merging keeps that true anyway.
  states[name] = prev === undefined || prev === entry ? entry : { mode: entry.mode, offsets: [...prev.offsets, ...entry.offsets] };
}

function toHandles(a: Assignment): OperatorStateHandle[] {
  return [...a].map(([h, states]) => ({ ...h, states }));
}
