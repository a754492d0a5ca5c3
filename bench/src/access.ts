/**
 * State access benchmarks, modelled on apache/flink-benchmarks (ValueStateBenchmark,
 * ListStateBenchmark, MapStateBenchmark): a keyed backend owning all key groups is populated with
 * `setupKeys` keys; each operation sets a random current key and touches one state. Every backend
 * operation is paired with a raw JS Map doing the same keyed work, measured in the same tinybench
 * run (interleaved), so ratios are computed pair by pair.
 *
 * One tinybench iteration runs `batch` operations; per-operation throughput is batch / latency.
 * Resets that keep state bounded (e.g. after listAddAll) run in afterEach hooks, outside timing.
 */
import { Bench } from 'tinybench';
import {
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
import { backendById, createKeyed } from './backends.js';
import type { Preset } from './config.js';
import { prng, summarize, type Summary } from './stats.js';

export type StateKind = 'value' | 'list' | 'map';
export const STATE_KINDS: readonly StateKind[] = ['value', 'list', 'map'];

export interface AccessResult {
  readonly backend: string;
  readonly kind: StateKind;
  readonly op: string;
  /** Operations per second over samples (median, p25–p75, MAD). */
  readonly backendOps: Summary;
  readonly baselineOps: Summary;
  /** median(backend) / median(baseline), both from the same run. */
  readonly ratio: number;
}

interface OpPair {
  readonly op: string;
  readonly backend: () => void;
  readonly baseline: () => void;
  readonly resetBackend?: () => void;
  readonly resetBaseline?: () => void;
}

/** Sink against dead-code elimination. */
export let sink = 0;

/** Cycles through a precomputed random key sequence; `last` is the start of the last batch. */
class KeyCursor {
  private pos = 0;
  last = 0;
  constructor(readonly keys: Int32Array, readonly batch: number) {}
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

function valueOps(p: Preset, be: KeyedStateBackend<number>): OpPair[] {
  const st: ValueState<number> = be.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ValueStateDescriptor<number>('value', Serializers.float64));
  const base = new Map<number, number>();
  for (let k = 0; k < p.setupKeys; k++) {
    be.setCurrentKey(k);
    st.update(k + 0.5);
    base.set(k, k + 0.5);
  }
  const B = p.batch;
  const keys = randomKeys(B * 64, p.setupKeys, 1);
  const vals = Float64Array.from({ length: B }, (_, i) => i * 1.25 + 0.5);
  const cur = new KeyCursor(keys, B);
  const newKey = (i: number) => p.setupKeys + i;
  return [
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
  ];
}

function listOps(p: Preset, be: KeyedStateBackend<number>): OpPair[] {
  const st: ListState<number> = be.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ListStateDescriptor<number>('list', Serializers.float64));
  const base = new Map<number, number[]>();
  const dummy = Array.from({ length: p.listValues }, (_, i) => i + 0.5);
  for (let k = 0; k < p.listSetupKeys; k++) {
    be.setCurrentKey(k);
    st.update(dummy);
    base.set(k, dummy.slice());
  }
  const B = p.batch;
  const keys = randomKeys(B * 64, p.listSetupKeys, 2);
  const cur = new KeyCursor(keys, B);
  // Restores the lists touched by the last batch to `listValues` elements (untimed).
  const resetBackend = () => { for (let i = 0; i < B; i++) { be.setCurrentKey(keys[cur.last + i]!); st.update(dummy); } };
  const resetBaseline = () => { for (let i = 0; i < B; i++) base.set(keys[cur.last + i]!, dummy.slice()); };
  return [
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
  ];
}

function mapOps(p: Preset, be: KeyedStateBackend<number>): OpPair[] {
  const st: MapState<number, number> = be.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new MapStateDescriptor<number, number>('map', Serializers.int32, Serializers.float64));
  const base = new Map<number, Map<number, number>>();
  const M = p.mapKeysPerKey;
  for (let k = 0; k < p.setupKeys; k++) {
    be.setCurrentKey(k);
    const inner = new Map<number, number>();
    for (let u = 0; u < M; u++) { st.put(u, u + 0.5); inner.set(u, u + 0.5); }
    base.set(k, inner);
  }
  const B = p.batch;
  const keys = randomKeys(B * 64, p.setupKeys, 3);
  const userKeys = randomKeys(B * 64, M, 4);
  const cur = new KeyCursor(keys, B);
  const putAllEntries: Array<[number, number]> = Array.from({ length: M }, (_, u) => [u, u + 0.75]);
  const baseInner = (k: number) => { let m = base.get(k); if (!m) { m = new Map(); base.set(k, m); } return m; };
  return [
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
  ];
}

/** Runs one state kind for one backend (and its baseline); called inside a child process. */
export async function runAccessSuite(p: Preset, backendId: string, kind: StateKind, log: (s: string) => void): Promise<AccessResult[]> {
  const b = backendById(backendId);
  const be = await createKeyed(b, Serializers.int32);
  const t0 = performance.now();
  const ops = kind === 'value' ? valueOps(p, be) : kind === 'list' ? listOps(p, be) : mapOps(p, be);
  log(`  [${b.id}/${kind}] setup ${(performance.now() - t0).toFixed(0)} ms`);
  const bench = new Bench({
    time: p.timeMs,
    iterations: p.iterations,
    warmup: true,
    warmupTime: p.warmupMs,
    warmupIterations: p.warmupIterations,
    retainSamples: true,
    throws: true,
  });
  for (const o of ops) {
    // Interleaved pairs: backend then baseline for each operation.
    bench.add(`${o.op}|backend`, o.backend, o.resetBackend ? { afterEach: o.resetBackend } : {});
    bench.add(`${o.op}|baseline`, o.baseline, o.resetBaseline ? { afterEach: o.resetBaseline } : {});
  }
  bench.runSync();
  const perOp = (name: string): Summary => {
    const t = bench.getTask(name);
    const r = t?.result;
    if (!r || (r.state !== 'completed' && r.state !== 'aborted-with-statistics')) throw new Error(`task ${name} did not complete: ${JSON.stringify(r)}`);
    const samples = r.latency.samples ?? [];
    // latency samples are ms per batch -> operations per second
    return summarize([...samples].map((ms) => (p.batch * 1000) / Math.max(ms, 1e-6)));
  };
  const out: AccessResult[] = ops.map((o) => {
    const backendOps = perOp(`${o.op}|backend`);
    const baselineOps = perOp(`${o.op}|baseline`);
    return { backend: b.id, kind, op: o.op, backendOps, baselineOps, ratio: backendOps.median / baselineOps.median };
  });
  be.dispose();
  return out;
}
