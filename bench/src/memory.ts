/**
 * Heap bytes per entry: a heap backend's state vs a raw JS Map holding the same values, measured
 * with global.gc() (child runs with --expose-gc) and process.memoryUsage().heapUsed deltas.
 */
import { ListStateDescriptor, MapStateDescriptor, Serializers, ValueStateDescriptor, VoidNamespace } from '@flowstate/core';
import { backendById, createKeyed } from './backends.js';
import type { Preset } from './config.js';
import { summarize } from './stats.js';

export interface MemoryResult {
  readonly backend: string;
  readonly kind: 'value' | 'map' | 'list';
  /** Entries: keys for value, (key, userKey) pairs for map, elements for list. */
  readonly entries: number;
  readonly backendBytesPerEntry: number;
  readonly baselineBytesPerEntry: number;
  /** backend / baseline. */
  readonly ratio: number;
  readonly samples: number;
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error('memory suite needs --expose-gc');
  g();
  g();
}

async function measure(build: () => Promise<unknown> | unknown): Promise<number> {
  gc();
  const h0 = process.memoryUsage().heapUsed;
  const keep = await build();
  gc();
  const h1 = process.memoryUsage().heapUsed;
  if (keep === undefined) throw new Error('unreachable');
  return h1 - h0;
}

export async function runMemorySuite(p: Preset, backendId: string, samples = 3): Promise<MemoryResult[]> {
  const b = backendById(backendId);
  const N = p.memoryEntries;
  const M = p.mapKeysPerKey;
  const L = p.listValues;
  const kinds = {
    value: {
      entries: N,
      baseline: () => { const m = new Map<number, number>(); for (let k = 0; k < N; k++) m.set(k, k + 0.5); return m; },
      backend: async () => {
        const be = await createKeyed(b, Serializers.int32);
        const st = be.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ValueStateDescriptor<number>('v', Serializers.float64));
        for (let k = 0; k < N; k++) { be.setCurrentKey(k); st.update(k + 0.5); }
        return be;
      },
    },
    map: {
      entries: Math.floor(N / M) * M,
      baseline: () => { const m = new Map<number, Map<number, number>>(); for (let k = 0; k < N / M; k++) { const i = new Map<number, number>(); for (let u = 0; u < M; u++) i.set(u, k + u + 0.5); m.set(k, i); } return m; },
      backend: async () => {
        const be = await createKeyed(b, Serializers.int32);
        const st = be.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new MapStateDescriptor<number, number>('m', Serializers.int32, Serializers.float64));
        for (let k = 0; k < N / M; k++) { be.setCurrentKey(k); for (let u = 0; u < M; u++) st.put(u, k + u + 0.5); }
        return be;
      },
    },
    list: {
      entries: Math.floor(N / L) * L,
      baseline: () => { const m = new Map<number, number[]>(); for (let k = 0; k < N / L; k++) { const l: number[] = []; for (let i = 0; i < L; i++) l.push(k + i + 0.5); m.set(k, l); } return m; },
      backend: async () => {
        const be = await createKeyed(b, Serializers.int32);
        const st = be.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ListStateDescriptor<number>('l', Serializers.float64));
        for (let k = 0; k < N / L; k++) { be.setCurrentKey(k); for (let i = 0; i < L; i++) st.add(k + i + 0.5); }
        return be;
      },
    },
  } as const;
  const out: MemoryResult[] = [];
  for (const kind of ['value', 'map', 'list'] as const) {
    const k = kinds[kind];
    const be: number[] = [];
    const base: number[] = [];
    for (let s = 0; s < samples; s++) {
      base.push(await measure(k.baseline));
      be.push(await measure(k.backend));
    }
    const backendBytesPerEntry = summarize(be).median / k.entries;
    const baselineBytesPerEntry = summarize(base).median / k.entries;
    out.push({ backend: b.id, kind, entries: k.entries, backendBytesPerEntry, baselineBytesPerEntry, ratio: backendBytesPerEntry / baselineBytesPerEntry, samples });
  }
  return out;
}
