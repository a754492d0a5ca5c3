/**
 * State access benchmarks, modelled on apache/flink-benchmarks (ValueStateBenchmark,
 * ListStateBenchmark, MapStateBenchmark): a keyed backend owning all key groups is populated with
 * `setupKeys` keys; each operation sets a random current key and touches one state. Every backend
 * operation is paired with a baseline doing the same keyed work, timed in interleaved rounds in the
 * same process (interleave.ts: the sides alternate round by round, on the same keys; ratio = median
 * of the per-round ratios). Heap backends are judged against the
 * same-semantics minimal heap backend (minimal-heap.ts: serialize key, murmur3, key group,
 * per-key-group map, namespace); the raw JS Map runs in the same run too, for information only.
 * RocksDB is judged against the raw binding on identical bytes; LMDB is reported against the JS Map.
 *
 * One batch runs `batch` operations; a round runs the same number of batches on every side.
 * Resets that keep state bounded (e.g. after listAddAll) run after each batch, outside timing.
 */
import {
  DataInputDeserializer,
  frameKvListElement,
  ListStateDescriptor,
  MapStateDescriptor,
  Serializers,
  ValueStateDescriptor,
  VoidNamespace,
  type KeyedStateBackend,
  type ListState,
  type MapState,
  type ValueState,
} from '@flowstate/core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeListElements } from '@flowstate/rocksdb/native';
import { backendById, createKeyed, MAX_PARALLELISM } from './backends.js';
import { GOALS, type Preset } from './config.js';
import { pinProcess, type Pinned } from './cpu-pin.js';
import { compactionsDone, intProperty } from './rocks-checkpoint-baseline.js';
import { PlainCppServer } from './rocks-cpp.js';
import { backendColumnFamily, concatBytes, fillRows, float64Bytes, int32Bytes, openRawRocks, prefixEnd, verifyIdenticalRows, type RawRocks } from './rocks-raw.js';
import { MinimalHeapBackend, MinimalListState, MinimalMapState, MinimalValueState } from './minimal-heap.js';
import { prng, summarize, type Summary } from './stats.js';
import { roundRatios, runInterleaved, type InterleaveOptions, type Rewindable, type Side } from './interleave.js';
import { combineHalves, inBuildOrder, type BuildOrder, type HalfRounds } from './build-order.js';

export type StateKind = 'value' | 'list' | 'map';
export type AccessBaseline = 'minimal-heap' | 'js-map' | 'rocksdb-raw' | 'rocksdb-cpp';
export const STATE_KINDS: readonly StateKind[] = ['value', 'list', 'map'];

export interface AccessResult {
  readonly backend: string;
  readonly kind: StateKind;
  readonly op: string;
  /** Operations per second over rounds (median, p25–p75, MAD). */
  readonly backendOps: Summary;
  readonly baselineOps: Summary;
  /** Median of the per-round ratios backend / baseline (interleaved rounds of the same run). */
  readonly ratio: number;
  /** The per-round ratios (median = ratio, p25–p75 their spread, samples = rounds); absent where no rounds were paired (a skipped baseline). */
  readonly ratioRounds?: Summary;
  /** Rounds left out because a side's net time was ≤ 0 (interleave.ts); absent when none were. */
  readonly skippedRounds?: number;
  /**
   * What the baseline is: the minimal heap backend, a raw JS Map, the raw RocksDB binding on
   * identical bytes, or (for the binding's own get/put, then `backendOps` is the raw binding) plain C++ RocksDB.
   */
  readonly baseline: AccessBaseline;
  /** Heap backends: the raw JS Map doing the same keyed work (no key groups), same run; information only, no goal. */
  readonly info?: { readonly baseline: 'js-map'; readonly ops: Summary; readonly ratio: number };
  /**
   * Heap rows: each build order's own median per-round ratio (build-order.ts; information, the
   * row's ratio is the median over both halves' rounds).
   */
  readonly byBuildOrder?: Readonly<Record<BuildOrder, number>>;
  /** One half of a heap row (one build order, one child process), before combineAccessHalves; absent from combined rows. */
  readonly half?: { readonly buildOrder: BuildOrder; readonly rounds: HalfRounds };
  /** Minimum ratio the brief asks for, or null where the brief sets no goal (reported only). */
  readonly goal: number | null;
  /** Why the baseline was not measured (e.g. no C++ compiler); ratio is then NaN. */
  readonly skipped?: string;
}

/** List / map ops that iterate a key's entries: goal ≥ GOALS.rocksIterationRatioMin of the raw binding. */
const ROCKS_ITERATION_OPS: ReadonlySet<string> = new Set(['listGetAndIterate', 'mapKeys', 'mapValues', 'mapEntries', 'mapIterator']);

function rocksGoal(kind: StateKind, op: string): number | null {
  if (kind === 'value') return GOALS.rocksValueRatioMin;
  return ROCKS_ITERATION_OPS.has(op) ? GOALS.rocksIterationRatioMin : null;
}

/** The setup rows, op keys and put values of valueOps' raw baseline (same seeds), for binding vs plain C++. */
function valueCppInput(p: Preset, raw: RawRocks) {
  const rows = Array.from({ length: p.setupKeys }, (_, k) => [raw.prefix(k), float64Bytes(k + 0.5)] as const);
  const keyIdx = randomKeys(p.batch * 64, p.setupKeys, 1);
  const keys = Array.from(keyIdx, (k) => raw.prefix(k));
  const values = Array.from({ length: p.batch }, (_, i) => float64Bytes(i * 1.25 + 0.5));
  return { rows, keyIdx, keys, values };
}

/** A server that cannot start (no compiler, a library without a codec, a bad greeting) skips the pair, with the reason, instead of failing the suite. */
function startOrSkip(start: () => PlainCppServer | { skipped: string }): PlainCppServer | { skipped: string } {
  try {
    return start();
  } catch (e) {
    return { skipped: `plain C++ RocksDB server failed: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/**
 * The raw binding's get / put vs plain C++ RocksDB, interleaved: each side has its own database
 * (same options, the same setup rows written in the same order, then the same puts), round by
 * round the binding runs its batches here and the C++ server the same batches over the same op
 * keys, both timed on process CPU time (RocksDB's background threads included on both sides; the
 * binding's side also pays for the collections of its own garbage), on one CPU (cpu-pin.ts).
 * Put runs first, as in the value rows, so both databases go through the same writes before the gets.
 */
function bindingVsCpp(p: Preset, work: string, opts: InterleaveKnobs, tag: string, log: (s: string) => void): AccessResult[] {
  // RocksDB's default syncs, like the C++ server's database.
  const raw = openRawRocks(join(work, 'binding-vs-cpp'), false);
  try {
    const input = valueCppInput(p, raw);
    for (const [k, v] of input.rows) raw.db.put(raw.cf, k, v);
    // Both processes, every thread, on one CPU (cpu-pin.ts): each side's CPU time comes from the same CPU.
    const pin = pinProcess();
    const pinned = 'skipped' in pin ? undefined : pin;
    try {
      log(`  [${tag}] binding vs plain C++: ${'skipped' in pin ? pin.skipped : `both processes pinned to CPU ${pin.cpu}`}`);
      return compareWithServer(p, raw, input, startOrSkip(() => PlainCppServer.start(p, work, input.rows, input.keys, input.values, pinned)), opts);
    } finally {
      restoreCpus(pinned, tag, log);
    }
  } finally {
    raw.close();
  }
}

/** Gives the process its CPUs back; a failure is logged, not thrown over the comparison's own result or error. */
function restoreCpus(pinned: Pinned | undefined, tag: string, log: (s: string) => void): void {
  try {
    pinned?.restore();
  } catch (e) {
    log(`  [${tag}] could not give the process its CPUs back: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  }
}

/** The interleaved get / put rounds of the binding (here) and the C++ server; closes the server. */
function compareWithServer(p: Preset, raw: RawRocks, input: ReturnType<typeof valueCppInput>, server: PlainCppServer | { skipped: string }, opts: InterleaveKnobs): AccessResult[] {
  const base = { backend: 'rocksdb-binding', kind: 'value' as const, baseline: 'rocksdb-cpp' as const, goal: GOALS.rocksBindingCppRatioMin };
  if ('skipped' in server) return (['get', 'put'] as const).map((w) => ({ ...base, op: `binding ${w}`, backendOps: summarize([]), baselineOps: summarize([]), ratio: NaN, skipped: server.skipped }));
  try {
    const { db, cf } = raw;
    const B = p.batch;
    // The C++ side reads its op keys and values from contiguous std::strings in op order; the
    // binding's side gets the same layout (views of one buffer, created in op order) instead of
    // row-prefix objects scattered over the heap, which cost it a cache miss or two per op.
    const rows = contiguous(input.keys);
    const vals = contiguous(input.values);
    const cur = new KeyCursor(input.keyIdx, B);
    const cpp = (op: 'get' | 'put') => (batches: number) => {
      const r = server.run(op, cur.save(), batches);
      cur.restore(r.pos);
      return r.ms;
    };
    const ops = {
      put: () => { const o = cur.next(); for (let i = 0; i < B; i++) db.put(cf, rows[o + i]!, vals[i]!); },
      get: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) s += db.get(cf, rows[o + i]!)?.length ?? 0; sink += s; },
    };
    return (['put', 'get'] as const).map((w) => {
      // No per-side young-generation collections (`collect`): they split one young generation
      // between two JS sides, and here there is one. The binding's side pays for the collections
      // its own garbage triggers, as any program would; the fixed cost of two forced collections
      // per round, subtracted only as a median estimate, moved put (which allocates nothing)
      // from 0.86x to 0.65x under load.
      const { collect: _none, ...knobs } = opts;
      const res = runInterleaved([{ run: ops[w] }, { run: () => {}, runTimed: cpp(w) }], { ...knobs, clock: processCpuMs, keys: cur });
      const ratioRounds = roundRatios(res, 0, 1);
      const skipped = skippedFields(res.skippedRounds, ratioRounds, `every one of ${res.rounds} rounds`);
      return { ...base, op: `binding ${w}`, backendOps: summarize(res.opsPerSec[0]!), baselineOps: summarize(res.opsPerSec[1]!), ratio: ratioRounds.median, ratioRounds, ...skipped };
    });
  } finally {
    server.close();
  }
}

/** Copies of `parts` as views of one buffer, laid out (and created) in order. */
function contiguous(parts: readonly Uint8Array[]): Uint8Array[] {
  const all = new Uint8Array(parts.reduce((n, x) => n + x.length, 0));
  let off = 0;
  return parts.map((x) => {
    all.set(x, off);
    off += x.length;
    return all.subarray(off - x.length, off);
  });
}

/** The interleaving settings every comparison of a run shares (all but the clock and the key cursor). */
type InterleaveKnobs = Omit<InterleaveOptions, 'clock' | 'keys'>;

export interface OpPair {
  readonly op: string;
  readonly backend: () => void;
  readonly baseline: () => void;
  readonly resetBackend?: () => void;
  readonly resetBaseline?: () => void;
  /** A third, information-only task (the JS Map, when the minimal heap backend is the baseline). */
  readonly info?: () => void;
  readonly resetInfo?: () => void;
  /** The key sequence the tasks walk: rewound so that every side of a round touches the same keys. */
  readonly keys?: Rewindable;
}

/** Sink against dead-code elimination. */
export let sink = 0;

/** Cycles through a precomputed random key sequence; `last` is the start of the last batch. */
class KeyCursor implements Rewindable {
  private pos = 0;
  last = 0;
  constructor(readonly keys: Int32Array, readonly batch: number) {}
  save(): number {
    return this.pos;
  }
  restore(position: number): void {
    this.pos = position;
  }
  next(): number {
    this.last = this.pos;
    const p = this.pos;
    this.pos += this.batch;
    if (this.pos + this.batch > this.keys.length) this.pos = 0;
    return p;
  }
}

function randomKeys(n: number, range: number, seed: number): Int32Array {
  const r = prng(seed);
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.floor(r() * range);
  return a;
}

/** The value state and the JS Map filled with the same entries, and the key sequence the tasks walk (setup, untimed). */
function valueSetup(p: Preset, be: KeyedStateBackend<number>, order: BuildOrder, min?: MinimalHeapBackend) {
  const st: ValueState<number> = be.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ValueStateDescriptor<number>('value', Serializers.float64));
  const base = new Map<number, number>();
  const ms = min ? new MinimalValueState(min, 'value') : undefined;
  // One loop per structure (here and in the other kinds): interleaving their allocations would
  // scatter each one's entries across memory, and access times depend on that more than on code.
  // Which structure is built first also matters (build-order.ts), hence `order`.
  inBuildOrder(
    order,
    () => { for (let k = 0; k < p.setupKeys; k++) { be.setCurrentKey(k); st.update(k + 0.5); } },
    () => { for (let k = 0; k < p.setupKeys; k++) base.set(k, k + 0.5); },
    ms && min ? () => { for (let k = 0; k < p.setupKeys; k++) { min.setCurrentKey(k); ms.update(k + 0.5); } } : undefined,
  );
  const B = p.batch;
  const keys = randomKeys(B * 64, p.setupKeys, 1);
  const vals = Float64Array.from({ length: B }, (_, i) => i * 1.25 + 0.5);
  const cur = new KeyCursor(keys, B);
  const newKey = (i: number) => p.setupKeys + i;
  return { st, base, ms, B, keys, vals, cur, newKey };
}

type ValueSetup = ReturnType<typeof valueSetup>;

/** The value ops: the backend vs the JS Map doing the same keyed work. */
function valuePairs(be: KeyedStateBackend<number>, c: ValueSetup): OpPair[] {
  const { st, base, B, keys, vals, cur, newKey } = c;
  return withKeys(cur, [
    {
      op: 'valueUpdate',
      backend: () => { const o = cur.next(); for (let i = 0; i < B; i++) { be.setCurrentKey(keys[o + i]!); st.update(vals[i]!); } },
      baseline: () => { const o = cur.next(); for (let i = 0; i < B; i++) base.set(keys[o + i]!, vals[i]!); },
    },
    {
      op: 'valueAdd',
      backend: () => { for (let i = 0; i < B; i++) { be.setCurrentKey(newKey(i)); st.update(vals[i]!); } },
      baseline: () => { for (let i = 0; i < B; i++) base.set(newKey(i), vals[i]!); },
      resetBackend: () => { for (let i = 0; i < B; i++) { be.setCurrentKey(newKey(i)); st.clear(); } },
      resetBaseline: () => { for (let i = 0; i < B; i++) base.delete(newKey(i)); },
    },
    {
      op: 'valueGet',
      backend: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) { be.setCurrentKey(keys[o + i]!); s += st.value() ?? 0; } sink += s; },
      baseline: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) s += base.get(keys[o + i]!) ?? 0; sink += s; },
    },
  ]);
}

/** The minimal heap backend as the baseline of every value op (the JS Map becomes information only). */
function valueMinimal(be: KeyedStateBackend<number>, c: ValueSetup, pairs: OpPair[], min: MinimalHeapBackend): OpPair[] {
  const { B, keys, vals, cur, newKey } = c;
  const ms = c.ms!;
  const withMin = withMinimal(pairs, {
    valueUpdate: { baseline: () => { const o = cur.next(); for (let i = 0; i < B; i++) { min.setCurrentKey(keys[o + i]!); ms.update(vals[i]!); } } },
    valueAdd: {
      baseline: () => { for (let i = 0; i < B; i++) { min.setCurrentKey(newKey(i)); ms.update(vals[i]!); } },
      resetBaseline: () => { for (let i = 0; i < B; i++) { min.setCurrentKey(newKey(i)); ms.clear(); } },
    },
    valueGet: { baseline: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) { min.setCurrentKey(keys[o + i]!); s += ms.value() ?? 0; } sink += s; } },
  });
  // setCurrentKey alone against the minimal key -> key-group step (serialize, murmur3, mod: issue
  // 16 defines the yardstick so; the backend hashes primitive keys without bytes); the JS Map has no
  // such step, so there is no information-only task here.
  withMin.push({
    op: 'setCurrentKey',
    keys: cur,
    backend: () => { const o = cur.next(); for (let i = 0; i < B; i++) be.setCurrentKey(keys[o + i]!); },
    baseline: () => { const o = cur.next(); for (let i = 0; i < B; i++) min.setCurrentKey(keys[o + i]!); sink += min.currentKeyGroup; },
  });
  return withMin;
}

/** The raw RocksDB binding on identical bytes as the baseline of every value op. */
function valueRaw(p: Preset, be: KeyedStateBackend<number>, c: ValueSetup, pairs: OpPair[], raw: RawRocks): OpPair[] {
  const { B, keys, vals, cur, newKey } = c;
  // Raw RocksDB: the same rows, keys and value bytes precomputed.
  const { db, cf } = raw;
  const valBytes = Array.from(vals, (v) => float64Bytes(v));
  fillRows(raw, (function* () { for (let k = 0; k < p.setupKeys; k++) yield [raw.prefix(k), float64Bytes(k + 0.5)] as const; })());
  const rows = Array.from(keys, (k) => raw.prefix(k));
  const newRows = Array.from({ length: B }, (_, i) => raw.prefix(newKey(i)));
  verifyIdenticalRows(be, 'value', raw, [raw.prefix(0), raw.prefix(p.setupKeys - 1), rows[0]!]);
  return withRaw(pairs, {
    valueUpdate: { baseline: () => { const o = cur.next(); for (let i = 0; i < B; i++) db.put(cf, rows[o + i]!, valBytes[i]!); } },
    valueAdd: {
      baseline: () => { for (let i = 0; i < B; i++) db.put(cf, newRows[i]!, valBytes[i]!); },
      resetBaseline: () => { for (let i = 0; i < B; i++) db.delete(cf, newRows[i]!); },
    },
    valueGet: { baseline: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) s += db.get(cf, rows[o + i]!)?.length ?? 0; sink += s; } },
  });
}

function valueOps(p: Preset, be: KeyedStateBackend<number>, order: BuildOrder, raw?: RawRocks, min?: MinimalHeapBackend): OpPair[] {
  const c = valueSetup(p, be, order, min);
  const pairs = valuePairs(be, c);
  if (min) return valueMinimal(be, c, pairs, min);
  return raw ? valueRaw(p, be, c, pairs, raw) : pairs;
}

/** Every pair walks `cur` (see OpPair.keys). */
function withKeys(cur: KeyCursor, pairs: OpPair[]): OpPair[] {
  return pairs.map((pr) => ({ ...pr, keys: cur }));
}

type RawOverride = Pick<OpPair, 'baseline'> & Partial<Pick<OpPair, 'resetBaseline'>>;

/** Makes the minimal heap backend the baseline of every op; the JS Map becomes the information-only task. */
function withMinimal(pairs: OpPair[], min: Record<string, RawOverride>): OpPair[] {
  return pairs.map((pr) => {
    const m = min[pr.op];
    if (!m) throw new Error(`no minimal heap baseline for ${pr.op}`);
    const { baseline, resetBaseline, ...rest } = pr;
    return { ...rest, ...m, info: baseline, ...(resetBaseline ? { resetInfo: resetBaseline } : {}) };
  });
}

/** Replaces the JS Map baselines by raw RocksDB ones (every op must have one). */
function withRaw(pairs: OpPair[], raw: Record<string, RawOverride>): OpPair[] {
  return pairs.map((pr) => {
    const r = raw[pr.op];
    if (!r) throw new Error(`no raw RocksDB baseline for ${pr.op}`);
    const { resetBaseline: _drop, ...rest } = pr;
    return { ...rest, ...r };
  });
}

/** The list state and the JS Map filled with the same entries, and the key sequence the tasks walk (setup, untimed). */
function listSetup(p: Preset, be: KeyedStateBackend<number>, order: BuildOrder, min?: MinimalHeapBackend) {
  const st: ListState<number> = be.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ListStateDescriptor<number>('list', Serializers.float64));
  const base = new Map<number, number[]>();
  const ms = min ? new MinimalListState(min, 'list') : undefined;
  const dummy = Array.from({ length: p.listValues }, (_, i) => i + 0.5);
  inBuildOrder(
    order,
    () => { for (let k = 0; k < p.listSetupKeys; k++) { be.setCurrentKey(k); st.update(dummy); } },
    () => { for (let k = 0; k < p.listSetupKeys; k++) base.set(k, dummy.slice()); },
    ms && min ? () => { for (let k = 0; k < p.listSetupKeys; k++) { min.setCurrentKey(k); ms.update(dummy); } } : undefined,
  );
  const B = p.batch;
  const keys = randomKeys(B * 64, p.listSetupKeys, 2);
  const cur = new KeyCursor(keys, B);
  // Restores the lists touched by the last batch to `listValues` elements (untimed).
  const resetBackend = () => { for (let i = 0; i < B; i++) { be.setCurrentKey(keys[cur.last + i]!); st.update(dummy); } };
  const resetBaseline = () => { for (let i = 0; i < B; i++) base.set(keys[cur.last + i]!, dummy.slice()); };
  return { st, base, ms, dummy, B, keys, cur, resetBackend, resetBaseline };
}

type ListSetup = ReturnType<typeof listSetup>;

/** The list ops: the backend vs the JS Map doing the same keyed work. */
function listPairs(be: KeyedStateBackend<number>, c: ListSetup): OpPair[] {
  const { st, base, dummy, B, keys, cur, resetBackend, resetBaseline } = c;
  return withKeys(cur, [
    {
      op: 'listUpdate',
      backend: () => { const o = cur.next(); for (let i = 0; i < B; i++) { be.setCurrentKey(keys[o + i]!); st.update(dummy); } },
      // update() must not alias the caller's array, so the baseline copies too.
      baseline: () => { const o = cur.next(); for (let i = 0; i < B; i++) base.set(keys[o + i]!, dummy.slice()); },
    },
    {
      op: 'listAdd',
      backend: () => { const o = cur.next(); for (let i = 0; i < B; i++) { be.setCurrentKey(keys[o + i]!); st.add(i + 0.25); } },
      baseline: () => { const o = cur.next(); for (let i = 0; i < B; i++) { const k = keys[o + i]!; const l = base.get(k); if (l) l.push(i + 0.25); else base.set(k, [i + 0.25]); } },
      resetBackend,
      resetBaseline,
    },
    {
      op: 'listAddAll',
      backend: () => { const o = cur.next(); for (let i = 0; i < B; i++) { be.setCurrentKey(keys[o + i]!); st.addAll(dummy); } },
      baseline: () => { const o = cur.next(); for (let i = 0; i < B; i++) { const k = keys[o + i]!; const l = base.get(k); if (l) { for (const v of dummy) l.push(v); } else base.set(k, dummy.slice()); } },
      resetBackend,
      resetBaseline,
    },
    {
      op: 'listGet',
      backend: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) { be.setCurrentKey(keys[o + i]!); s += st.get().length; } sink += s; },
      baseline: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) s += base.get(keys[o + i]!)?.length ?? 0; sink += s; },
    },
    {
      op: 'listGetAndIterate',
      backend: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) { be.setCurrentKey(keys[o + i]!); for (const v of st.get()) s += v; } sink += s; },
      baseline: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) { for (const v of base.get(keys[o + i]!) ?? []) s += v; } sink += s; },
    },
  ]);
}

/** The minimal heap backend as the baseline of every list op (the JS Map becomes information only). */
function listMinimal(c: ListSetup, pairs: OpPair[], min: MinimalHeapBackend): OpPair[] {
  const { dummy, B, keys, cur } = c;
  const ms = c.ms!;
  const minReset = () => { for (let i = 0; i < B; i++) { min.setCurrentKey(keys[cur.last + i]!); ms.update(dummy); } };
  return withMinimal(pairs, {
    listUpdate: { baseline: () => { const o = cur.next(); for (let i = 0; i < B; i++) { min.setCurrentKey(keys[o + i]!); ms.update(dummy); } } },
    listAdd: { baseline: () => { const o = cur.next(); for (let i = 0; i < B; i++) { min.setCurrentKey(keys[o + i]!); ms.add(i + 0.25); } }, resetBaseline: minReset },
    listAddAll: { baseline: () => { const o = cur.next(); for (let i = 0; i < B; i++) { min.setCurrentKey(keys[o + i]!); ms.addAll(dummy); } }, resetBaseline: minReset },
    listGet: { baseline: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) { min.setCurrentKey(keys[o + i]!); s += ms.get().length; } sink += s; } },
    listGetAndIterate: { baseline: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) { min.setCurrentKey(keys[o + i]!); for (const v of ms.get()) s += v; } sink += s; } },
  });
}

/** The sum of the elements countListInPlace read last. */
let listSum = 0;

/**
 * The raw side of the list reads: every element of a stored list deserialized in place, as the
 * backend's ListState.get does it (core kv/kv-values.ts deserializeKvList): one reused
 * deserializer narrowed to each element by its [u32 length] header (core's frameKvListElement, the
 * same framing checks), the
 * state's element serializer (float64). Until now the baseline took decodeListElements, a subarray
 * per element plus an array of them, which the backend does not allocate: the raw side did more
 * work than the measured one. The array the backend builds is left out here: it is what the state
 * API returns (get() is a list), not work on the bytes. Returns the count; the sum goes to listSum.
 */
function countListInPlace(bytes: Uint8Array, input: DataInputDeserializer): number {
  input.reset(bytes);
  const total = bytes.length;
  let n = 0;
  let sum = 0;
  while (input.position < total) {
    frameKvListElement(input, total);
    sum += Serializers.float64.deserialize(input);
    if (input.remaining !== 0) input.fail(`list element has ${input.remaining} trailing bytes`);
    n++;
  }
  listSum = sum;
  return n;
}

/** The raw RocksDB binding on identical bytes as the baseline of every list op. */
function listRaw(p: Preset, be: KeyedStateBackend<number>, c: ListSetup, pairs: OpPair[], raw: RawRocks): OpPair[] {
  const { dummy, B, keys, cur, resetBackend, resetBaseline } = c;
  // Raw RocksDB: put / merge of the backend's list encoding ([u32 len][bytes]...), get + decode.
  const { db, cf } = raw;
  // Reused for every list read, like the backend state's own deserializer.
  const input = new DataInputDeserializer(new Uint8Array(0));
  const dummyBytes = encodeListElements(dummy.map((v) => float64Bytes(v)));
  const oneBytes = Array.from({ length: B }, (_, i) => encodeListElements([float64Bytes(i + 0.25)]));
  fillRows(raw, (function* () { for (let k = 0; k < p.listSetupKeys; k++) yield [raw.prefix(k), dummyBytes] as const; })());
  const rows = Array.from(keys, (k) => raw.prefix(k));
  verifyIdenticalRows(be, 'list', raw, [raw.prefix(0), rows[0]!]);
  const rawReset = () => { for (let i = 0; i < B; i++) db.put(cf, rows[cur.last + i]!, dummyBytes); };
  // The backend's own resets (untimed) write the identical encoded list straight into its column
  // family: ListState.update is slow enough (see the report) that resetting through it dominated
  // the wall time of the quick preset.
  const own = backendColumnFamily(be, 'list');
  const backendReset = () => { for (let i = 0; i < B; i++) own.db.put(own.cf, rows[cur.last + i]!, dummyBytes); };
  return withRaw(pairs.map((pr) => (pr.resetBackend ? { ...pr, resetBackend: backendReset } : pr)), {
    listUpdate: { baseline: () => { const o = cur.next(); for (let i = 0; i < B; i++) db.put(cf, rows[o + i]!, dummyBytes); } },
    listAdd: { baseline: () => { const o = cur.next(); for (let i = 0; i < B; i++) db.merge(cf, rows[o + i]!, oneBytes[i]!); }, resetBaseline: rawReset },
    listAddAll: { baseline: () => { const o = cur.next(); for (let i = 0; i < B; i++) db.merge(cf, rows[o + i]!, dummyBytes); }, resetBaseline: rawReset },
    // Raw get returns the encoded list; the baseline deserializes its elements in place, as the
    // backend's get() does (countListInPlace: like for like, minus the array get() returns).
    listGet: { baseline: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) { const v = db.get(cf, rows[o + i]!); if (v) s += countListInPlace(v, input); } sink += s; } },
    listGetAndIterate: { baseline: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) { const v = db.get(cf, rows[o + i]!); if (v) { countListInPlace(v, input); s += listSum; } } sink += s; } },
  });
}

function listOps(p: Preset, be: KeyedStateBackend<number>, order: BuildOrder, raw?: RawRocks, min?: MinimalHeapBackend): OpPair[] {
  const c = listSetup(p, be, order, min);
  const pairs = listPairs(be, c);
  if (min) return listMinimal(c, pairs, min);
  return raw ? listRaw(p, be, c, pairs, raw) : pairs;
}

/** The map state and the JS Map filled with the same entries, and the key sequence the tasks walk (setup, untimed). */
function mapSetup(p: Preset, be: KeyedStateBackend<number>, order: BuildOrder, min?: MinimalHeapBackend) {
  const st: MapState<number, number> = be.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new MapStateDescriptor<number, number>('map', Serializers.int32, Serializers.float64));
  const base = new Map<number, Map<number, number>>();
  const M = p.mapKeysPerKey;
  const ms = min ? new MinimalMapState(min, 'map') : undefined;
  // Backends not judged against the minimal heap backend (RocksDB, LMDB) get each key's map in one
  // putAll: one write batch / transaction instead of M (1 M single puts took 10 s on RocksDB and 17 s
  // on LMDB, most of the quick preset's setup time); the rows are the same. Heap backends keep single
  // puts, the same steps as their minimal baseline's setup.
  const setupEntries: Array<[number, number]> = Array.from({ length: M }, (_, u) => [u, u + 0.5]);
  const fillOneKey = ms ? () => { for (let u = 0; u < M; u++) st.put(u, u + 0.5); } : () => st.putAll(setupEntries);
  inBuildOrder(
    order,
    () => { for (let k = 0; k < p.setupKeys; k++) { be.setCurrentKey(k); fillOneKey(); } },
    () => {
      for (let k = 0; k < p.setupKeys; k++) {
        const inner = new Map<number, number>();
        for (let u = 0; u < M; u++) inner.set(u, u + 0.5);
        base.set(k, inner);
      }
    },
    ms && min ? () => { for (let k = 0; k < p.setupKeys; k++) { min.setCurrentKey(k); for (let u = 0; u < M; u++) ms.put(u, u + 0.5); } } : undefined,
  );
  const B = p.batch;
  const keys = randomKeys(B * 64, p.setupKeys, 3);
  const userKeys = randomKeys(B * 64, M, 4);
  const cur = new KeyCursor(keys, B);
  const putAllEntries: Array<[number, number]> = Array.from({ length: M }, (_, u) => [u, u + 0.75]);
  const baseInner = (k: number) => { let m = base.get(k); if (!m) { m = new Map(); base.set(k, m); } return m; };
  return { st, base, ms, M, B, keys, userKeys, cur, putAllEntries, baseInner };
}

type MapSetup = ReturnType<typeof mapSetup>;

/** The map ops: the backend vs the JS Map doing the same keyed work. */
function mapPairs(be: KeyedStateBackend<number>, c: MapSetup): OpPair[] {
  const { st, base, B, keys, userKeys, cur, putAllEntries, baseInner } = c;
  return withKeys(cur, [
    {
      op: 'mapPut',
      backend: () => { const o = cur.next(); for (let i = 0; i < B; i++) { be.setCurrentKey(keys[o + i]!); st.put(userKeys[o + i]!, i + 0.5); } },
      baseline: () => { const o = cur.next(); for (let i = 0; i < B; i++) baseInner(keys[o + i]!).set(userKeys[o + i]!, i + 0.5); },
    },
    {
      op: 'mapGet',
      backend: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) { be.setCurrentKey(keys[o + i]!); s += st.get(userKeys[o + i]!) ?? 0; } sink += s; },
      baseline: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) s += base.get(keys[o + i]!)?.get(userKeys[o + i]!) ?? 0; sink += s; },
    },
    {
      op: 'mapContains',
      backend: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) { be.setCurrentKey(keys[o + i]!); if (st.contains(userKeys[o + i]!)) s++; } sink += s; },
      baseline: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) if (base.get(keys[o + i]!)?.has(userKeys[o + i]!)) s++; sink += s; },
    },
    {
      op: 'mapIsEmpty',
      backend: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) { be.setCurrentKey(keys[o + i]!); if (st.isEmpty()) s++; } sink += s; },
      baseline: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) { const m = base.get(keys[o + i]!); if (m === undefined || m.size === 0) s++; } sink += s; },
    },
    {
      op: 'mapKeys',
      backend: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) { be.setCurrentKey(keys[o + i]!); for (const k of st.keys()) s += k; } sink += s; },
      baseline: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) { const m = base.get(keys[o + i]!); if (m) for (const k of m.keys()) s += k; } sink += s; },
    },
    {
      op: 'mapValues',
      backend: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) { be.setCurrentKey(keys[o + i]!); for (const v of st.values()) s += v ?? 0; } sink += s; },
      baseline: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) { const m = base.get(keys[o + i]!); if (m) for (const v of m.values()) s += v; } sink += s; },
    },
    {
      op: 'mapEntries',
      backend: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) { be.setCurrentKey(keys[o + i]!); for (const [k, v] of st.entries()) s += k + (v ?? 0); } sink += s; },
      baseline: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) { const m = base.get(keys[o + i]!); if (m) for (const [k, v] of m) s += k + v; } sink += s; },
    },
    {
      // Explicit iterator protocol (Flink's mapIterator: hasNext()/next()).
      op: 'mapIterator',
      backend: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) { be.setCurrentKey(keys[o + i]!); const it = st.entries(); for (let r = it.next(); !r.done; r = it.next()) s += r.value[0]; } sink += s; },
      baseline: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) { const m = base.get(keys[o + i]!); if (!m) continue; const it = m.entries(); for (let r = it.next(); !r.done; r = it.next()) s += r.value[0]; } sink += s; },
    },
    {
      op: 'mapRemove',
      backend: () => { const o = cur.next(); for (let i = 0; i < B; i++) { be.setCurrentKey(keys[o + i]!); st.remove(userKeys[o + i]!); } },
      baseline: () => { const o = cur.next(); for (let i = 0; i < B; i++) base.get(keys[o + i]!)?.delete(userKeys[o + i]!); },
      resetBackend: () => { const o = cur.last; for (let i = 0; i < B; i++) { be.setCurrentKey(keys[o + i]!); st.put(userKeys[o + i]!, 1.5); } },
      resetBaseline: () => { const o = cur.last; for (let i = 0; i < B; i++) baseInner(keys[o + i]!).set(userKeys[o + i]!, 1.5); },
    },
    {
      op: 'mapPutAll',
      backend: () => { const o = cur.next(); for (let i = 0; i < B; i++) { be.setCurrentKey(keys[o + i]!); st.putAll(putAllEntries); } },
      baseline: () => { const o = cur.next(); for (let i = 0; i < B; i++) { const m = baseInner(keys[o + i]!); for (const [k, v] of putAllEntries) m.set(k, v); } },
    },
  ]);
}

/** The minimal heap backend as the baseline of every map op (the JS Map becomes information only). */
function mapMinimal(c: MapSetup, pairs: OpPair[], min: MinimalHeapBackend): OpPair[] {
  const { B, keys, userKeys, cur, putAllEntries } = c;
  const ms = c.ms!;
  // Written out like the backend tasks (no shared helper taking a callback: a polymorphic call
  // per operation would slow the baseline down and flatter the backend).
  return withMinimal(pairs, {
    mapPut: { baseline: () => { const o = cur.next(); for (let i = 0; i < B; i++) { min.setCurrentKey(keys[o + i]!); ms.put(userKeys[o + i]!, i + 0.5); } } },
    mapGet: { baseline: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) { min.setCurrentKey(keys[o + i]!); s += ms.get(userKeys[o + i]!) ?? 0; } sink += s; } },
    mapContains: { baseline: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) { min.setCurrentKey(keys[o + i]!); if (ms.contains(userKeys[o + i]!)) s++; } sink += s; } },
    mapIsEmpty: { baseline: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) { min.setCurrentKey(keys[o + i]!); if (ms.isEmpty()) s++; } sink += s; } },
    mapKeys: { baseline: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) { min.setCurrentKey(keys[o + i]!); for (const k of ms.keys()) s += k; } sink += s; } },
    mapValues: { baseline: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) { min.setCurrentKey(keys[o + i]!); for (const v of ms.values()) s += v; } sink += s; } },
    mapEntries: { baseline: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) { min.setCurrentKey(keys[o + i]!); for (const [k, v] of ms.entries()) s += k + v; } sink += s; } },
    mapIterator: { baseline: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) { min.setCurrentKey(keys[o + i]!); const it = ms.entries(); for (let r = it.next(); !r.done; r = it.next()) s += r.value[0]; } sink += s; } },
    mapRemove: {
      baseline: () => { const o = cur.next(); for (let i = 0; i < B; i++) { min.setCurrentKey(keys[o + i]!); ms.remove(userKeys[o + i]!); } },
      resetBaseline: () => { const o = cur.last; for (let i = 0; i < B; i++) { min.setCurrentKey(keys[o + i]!); ms.put(userKeys[o + i]!, 1.5); } },
    },
    mapPutAll: { baseline: () => { const o = cur.next(); for (let i = 0; i < B; i++) { min.setCurrentKey(keys[o + i]!); ms.putAll(putAllEntries); } } },
  });
}

/** The raw RocksDB binding on identical bytes as the baseline of every map op. */
function mapRaw(p: Preset, be: KeyedStateBackend<number>, c: MapSetup, pairs: OpPair[], raw: RawRocks): OpPair[] {
  const { M, B, keys, userKeys, cur, putAllEntries } = c;
  // Raw RocksDB: one row per user key, value = [presence byte 1][float64], as the backend stores it.
  const { db, cf } = raw;
  const ukBytes = Array.from({ length: M }, (_, u) => int32Bytes(u));
  const mapValue = (v: number) => concatBytes(Uint8Array.of(1), float64Bytes(v));
  fillRows(raw, (function* () { for (let k = 0; k < p.setupKeys; k++) for (let u = 0; u < M; u++) yield [concatBytes(raw.prefix(k), ukBytes[u]!), mapValue(u + 0.5)] as const; })());
  const rows = Array.from(keys, (k, i) => concatBytes(raw.prefix(k), ukBytes[userKeys[i]!]!));
  const prefixes = Array.from(keys, (k) => raw.prefix(k));
  const uppers = prefixes.map((x) => prefixEnd(x));
  const putVals = Array.from({ length: B }, (_, i) => mapValue(i + 0.5));
  const removedVal = mapValue(1.5);
  const putAllVals = putAllEntries.map(([, v]) => mapValue(v));
  const putAllRows = Array.from(keys, (k) => ukBytes.map((ub) => concatBytes(raw.prefix(k), ub)));
  verifyIdenticalRows(be, 'map', raw, [concatBytes(raw.prefix(0), ukBytes[0]!), rows[0]!]);
  // Iteration (keys / values / entries / iterator): the backend's MapState reads a key's rows with
  // one db.scan per 128 rows (core kv/kv-map-state.ts iterate, MAP_SCAN_BATCH: one call here, M
  // rows), views of the returned batch, and decodes every row's user key (int32) and value
  // ([presence byte][float64]) with reused deserializers. Until now the baseline opened an
  // iterator (seekToFirst, valid, nextBatch, close: four native calls) and nextBatch copied every
  // key and value: the raw side did more work than the measured one. It now reads the same rows the
  // cheapest way the binding offers, forEachTransient (one native call into a reused buffer, views
  // handed out, no array of entries: 10-row ranges read ~15% faster than with scan), and decodes what
  // the op needs with the same serializers and checks, in place: keys for mapKeys, values for
  // mapValues, both for entries and the explicit iterator. (The backend decodes both for every op:
  // iterate() decodes the value for keys() too, and the key for values(); that is its own cost.)
  const keyAt = prefixes[0]!.length;
  if (prefixes.some((x) => x.length !== keyAt)) throw new Error('rocksdb-raw map baseline: row prefixes of different lengths');
  const input = new DataInputDeserializer(new Uint8Array(0));
  const userKey = (row: Uint8Array): number => {
    input.resetRange(row, keyAt, row.length);
    const k = Serializers.int32.deserialize(input);
    if (input.remaining !== 0) input.fail(`map key has ${input.remaining} trailing bytes`);
    return k;
  };
  const userValue = (v: Uint8Array): number => {
    input.reset(v);
    const x = input.readBoolean() ? Serializers.float64.deserialize(input) : 0;
    if (input.remaining !== 0) input.fail('map value has trailing bytes');
    return x;
  };
  // The visitors add to `acc` (forEachTransient takes a callback; the backend loops add to a local).
  let acc = 0;
  const noOptions = {};
  const scan = (o: number, visit: (row: Uint8Array, v: Uint8Array) => void) => {
    acc = 0;
    for (let i = 0; i < B; i++) db.forEachTransient(cf, prefixes[o + i]!, uppers[o + i]!, visit, noOptions);
    sink += acc;
  };
  const visitKeys = (row: Uint8Array) => { acc += userKey(row); };
  const visitValues = (_row: Uint8Array, v: Uint8Array) => { acc += userValue(v); };
  const visitEntries = (row: Uint8Array, v: Uint8Array) => { acc += userKey(row) + userValue(v); };
  // mapIterator: entries() through next(), the loop adds the key; the value is decoded all the same.
  let lastValue = 0;
  const visitIterator = (row: Uint8Array, v: Uint8Array) => { acc += userKey(row); lastValue = userValue(v); };
  return withRaw(pairs, {
    mapPut: { baseline: () => { const o = cur.next(); for (let i = 0; i < B; i++) db.put(cf, rows[o + i]!, putVals[i]!); } },
    mapGet: { baseline: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) s += db.get(cf, rows[o + i]!)?.length ?? 0; sink += s; } },
    mapContains: { baseline: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) if (db.get(cf, rows[o + i]!) !== undefined) s++; sink += s; } },
    // isEmpty: one scan of at most one row, as the backend's (an iterator took four native calls).
    mapIsEmpty: { baseline: () => { const o = cur.next(); let s = 0; for (let i = 0; i < B; i++) if (db.scan(cf, prefixes[o + i]!, uppers[o + i]!, 1).length === 0) s++; sink += s; } },
    mapKeys: { baseline: () => scan(cur.next(), visitKeys) },
    mapValues: { baseline: () => scan(cur.next(), visitValues) },
    mapEntries: { baseline: () => scan(cur.next(), visitEntries) },
    mapIterator: { baseline: () => { scan(cur.next(), visitIterator); sink += lastValue; } },
    mapRemove: {
      baseline: () => { const o = cur.next(); for (let i = 0; i < B; i++) db.delete(cf, rows[o + i]!); },
      resetBaseline: () => { const o = cur.last; for (let i = 0; i < B; i++) db.put(cf, rows[o + i]!, removedVal); },
    },
    mapPutAll: { baseline: () => { const o = cur.next(); for (let i = 0; i < B; i++) { const rs = putAllRows[o + i]!; for (let u = 0; u < M; u++) db.put(cf, rs[u]!, putAllVals[u]!); } } },
  });
}

function mapOps(p: Preset, be: KeyedStateBackend<number>, order: BuildOrder, raw?: RawRocks, min?: MinimalHeapBackend): OpPair[] {
  const c = mapSetup(p, be, order, min);
  const pairs = mapPairs(be, c);
  if (min) return mapMinimal(c, pairs, min);
  return raw ? mapRaw(p, be, c, pairs, raw) : pairs;
}

/** The operation pairs of one state kind (exported for profiling scripts). */
export function accessOps(p: Preset, kind: StateKind, be: KeyedStateBackend<number>, raw?: RawRocks, min?: MinimalHeapBackend, order: BuildOrder = 'subject-first'): OpPair[] {
  return kind === 'value' ? valueOps(p, be, order, raw, min) : kind === 'list' ? listOps(p, be, order, raw, min) : mapOps(p, be, order, raw, min);
}

/**
 * The skipped-round fields of a row: none when no round was skipped; the count; and where every
 * round was (`which` says which rounds), no ratio was measured (NaN), said so rather than reported as a number.
 */
function skippedFields(skippedRounds: number, ratioRounds: Summary, which: string): Pick<AccessResult, 'skippedRounds' | 'skipped'> {
  if (skippedRounds === 0) return {};
  return { skippedRounds, ...(ratioRounds.samples === 0 ? { skipped: `${which} had a net time ≤ 0 (batches too small to time)` } : {}) };
}

/** CPU time of this process (all threads: V8's GC helpers work for the task too), in ms. */
export function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Heap backends are judged against the minimal heap backend, in two halves of opposite build orders (build-order.ts). */
export function judgedAgainstMinimalHeap(b: { readonly heapResident: boolean; readonly accessBaseline: AccessBaseline }): boolean {
  return b.heapResident && b.accessBaseline === 'js-map';
}

/** One row from its two halves (same backend, kind, op; opposite build orders): ratio over the union of their rounds. */
export function combineAccessHalves(first: readonly AccessResult[], second: readonly AccessResult[]): AccessResult[] {
  return first.map((a) => {
    const b = second.find((x) => x.op === a.op);
    if (!a.half || !b?.half || a.half.buildOrder === b.half.buildOrder) throw new Error(`access ${a.backend}/${a.op}: no pair of halves with opposite build orders`);
    const c = combineHalves({ [a.half.buildOrder]: a.half.rounds, [b.half.buildOrder]: b.half.rounds } as Record<BuildOrder, HalfRounds>);
    const { half: _h, skipped: _s, skippedRounds: _k, info: _i, ...rest } = a;
    const info = a.info && c.infoOps && c.infoRatio !== undefined ? { info: { baseline: 'js-map' as const, ops: c.infoOps, ratio: c.infoRatio } } : {};
    const skipped = skippedFields(c.skippedRounds, c.ratioRounds, 'every round of both halves');
    return { ...rest, backendOps: c.backendOps, baselineOps: c.baselineOps, ratio: c.ratioRounds.median, ratioRounds: c.ratioRounds, byBuildOrder: c.byBuildOrder, ...info, ...skipped };
  });
}

/** Waiting for RocksDB's background work after the manual compactions (it has none left then, normally). */
const SETTLE_TIMEOUT_MS = 120_000;

/**
 * Brings the backend's database and the raw baseline's to the same shape before anything is timed
 * (setup, untimed): each flushed and compacted (every row in one sorted run), then both idle. The
 * backend's database is filled first (lists: ~120 MB, with flushes and L0 compactions), the raw
 * one after it, so when timing started (after a JS gc() only) either side could still be flushing
 * or compacting in the background, and the two sides read LSM trees of different shapes (L0 files
 * each read has to check). compactRange waits for the compactions already running in that database
 * (an exclusive manual compaction), and then for its own. Returns the log text: each side's L0
 * files before → after.
 */
async function settleLsm(be: KeyedStateBackend<number>, kind: StateKind, raw: RawRocks): Promise<string> {
  const sides = [{ name: 'backend', ...backendColumnFamily(be, kind) }, { name: 'raw', db: raw.db, cf: raw.cf }];
  const l0 = (x: (typeof sides)[number]) => intProperty(x.db, x.cf, 'rocksdb.num-files-at-level0');
  const before = sides.map(l0);
  const t0 = performance.now();
  for (const x of sides) {
    x.db.flush();
    x.db.compactRange(x.cf);
  }
  for (const x of sides) await compactionsDone(x.db, x.cf, SETTLE_TIMEOUT_MS);
  return `flushed + compacted in ${(performance.now() - t0).toFixed(0)} ms, L0 files ${sides.map((x, i) => `${x.name} ${before[i]} → ${l0(x)}`).join(', ')}`;
}

/**
 * Runs one state kind for one backend (and its baseline); called inside a child process. Heap
 * backends run one half of each row per call (`order`, half the time budget; combineAccessHalves).
 */
export async function runAccessSuite(p: Preset, backendId: string, kind: StateKind, log: (s: string) => void, order?: BuildOrder): Promise<AccessResult[]> {
  const b = backendById(backendId);
  const work = b.needsLocalDirectory ? mkdtempSync(join(tmpdir(), `flowstate-bench-access-${b.id}-`)) : undefined;
  try {
    const be = await createKeyed(b, Serializers.int32, work ? { localDirectory: join(work, 'backend') } : {});
    const raw = b.accessBaseline === 'rocksdb-raw' ? openRawRocks(join(work ?? tmpdir(), 'raw'), true) : undefined;
    // Heap backends: judged against the same-semantics minimal heap backend; the JS Map is information.
    const min = judgedAgainstMinimalHeap(b) ? new MinimalHeapBackend(MAX_PARALLELISM) : undefined;
    if (min && !order) throw new Error(`access ${b.id}: a heap row runs in two halves; give the build order`);
    const t0 = performance.now();
    const ops = accessOps(p, kind, be, raw, min, order);
    const tag = `${b.id}/${kind}${min ? ` ${order}` : ''}`;
    const setupMs = performance.now() - t0;
    const settled = raw ? `; ${await settleLsm(be, kind, raw)}` : '';
    log(`  [${tag}] setup ${setupMs.toFixed(0)} ms${settled}`);
    // A full GC before timing (children run with --expose-gc): every structure set up above is
    // promoted and compacted the same way, so where the young generation happened to leave the
    // backend's entries and the baselines' does not decide their random-access times.
    (globalThis as { gc?: () => void }).gc?.();
    // Heap backends and their minimal baseline run on the main thread alone: timed in process CPU
    // time (all threads: V8's GC helpers work for the task too). Wall time elsewhere: RocksDB's
    // background threads would add their CPU time to the task's.
    const clock = min ? processCpuMs : () => performance.now();
    // Each side collects its own young garbage inside its timing (interleave.ts); children run with --expose-gc.
    const gc = (globalThis as { gc?: (o: { type: 'minor' | 'major' }) => void }).gc;
    const minorGc = gc ? () => gc({ type: 'minor' }) : undefined;
    const knobs: InterleaveKnobs = {
      opsPerBatch: p.batch,
      roundMs: p.roundMs,
      timeMs: p.timeMs,
      minRounds: p.iterations,
      warmupMs: p.warmupMs,
      warmupBatches: p.warmupIterations,
      ...(minorGc ? { collect: minorGc } : {}),
    };
    const out: AccessResult[] = ops.map((o) => {
      const sides: Side[] = [
        { run: o.backend, ...(o.resetBackend ? { reset: o.resetBackend } : {}) },
        { run: o.baseline, ...(o.resetBaseline ? { reset: o.resetBaseline } : {}) },
        ...(o.info ? [{ run: o.info, ...(o.resetInfo ? { reset: o.resetInfo } : {}) }] : []),
      ];
      const cpu0 = processCpuMs();
      // Goals: heap backends ≥ 0.9× the minimal heap backend on every op (setCurrentKey alone ≥ 0.8×
      // its minimal key -> key-group step); RocksDB: ValueState ops and list/map iteration vs the
      // raw binding (rocksGoal); none for an off-heap backend measured against a JS Map (LMDB): reported only.
      const goal = min ? (o.op === 'setCurrentKey' ? GOALS.setCurrentKeyRatioMin : GOALS.heapAccessRatioMin) : b.accessBaseline === 'rocksdb-raw' ? rocksGoal(kind, o.op) : null;
      // Rows reported only (no goal: 29 of the quick preset's RocksDB and LMDB rows) get half the
      // timed budget and rounds: information, not worth a third of the access suite's wall time.
      const informational = goal === null ? { timeMs: p.timeMs / 2, minRounds: Math.ceil(p.iterations / 2) } : {};
      // Heap rows are timed in CPU time with a shorter budget (config.ts cpuTimeMs); each heap run is
      // one half of its rows (build-order.ts): half the timed budget and warm-up, so both halves
      // together time what one run did.
      const half = min ? { timeMs: p.cpuTimeMs / 2, minRounds: Math.ceil(p.iterations / 2), warmupMs: p.warmupMs / 2 } : {};
      const res = runInterleaved(sides, { ...knobs, ...informational, ...half, clock, ...(o.keys ? { keys: o.keys } : {}) });
      const backendOps = summarize(res.opsPerSec[0]!);
      const baselineOps = summarize(res.opsPerSec[1]!);
      const ratioRounds = roundRatios(res, 0, 1);
      const baseline: AccessBaseline = min ? 'minimal-heap' : b.accessBaseline;
      const info = o.info ? { info: { baseline: 'js-map' as const, ops: summarize(res.opsPerSec[2]!), ratio: roundRatios(res, 0, 2).median } } : {};
      log(`  [${tag}] ${o.op}: ${ratioRounds.median.toFixed(2)}× (p25–p75 ${ratioRounds.p25.toFixed(2)}–${ratioRounds.p75.toFixed(2)}, ${res.rounds} rounds${res.skippedRounds > 0 ? `, ${res.skippedRounds} skipped` : ''}, ${((processCpuMs() - cpu0) / 1000).toFixed(2)} s CPU)`);
      const skipped = skippedFields(res.skippedRounds, ratioRounds, `every one of ${res.rounds} rounds`);
      const halfRounds = min && order ? { half: { buildOrder: order, rounds: { backend: res.opsPerSec[0]!, baseline: res.opsPerSec[1]!, ...(o.info ? { info: res.opsPerSec[2]! } : {}), skippedRounds: res.skippedRounds } } } : {};
      return { backend: b.id, kind, op: o.op, backendOps, baselineOps, ratio: ratioRounds.median, ratioRounds, baseline, goal, ...info, ...skipped, ...halfRounds };
    });
    // Closed before the binding-vs-C++ pair: process CPU time counts every thread, and flushes or
    // compactions of these two databases would be charged to the binding (the C++ process has only its own).
    be.dispose();
    raw?.close();
    if (raw && kind === 'value') {
      const cpp = bindingVsCpp(p, work!, knobs, `${b.id}/${kind}`, log);
      log(`  [${b.id}/${kind}] binding vs plain C++: ${cpp.map((c) => c.skipped ?? `${c.op} ${c.ratio.toFixed(2)}×`).join(', ')}`);
      out.push(...cpp);
    }
    return out;
  } finally {
    if (work) rmSync(work, { recursive: true, force: true });
  }
}
