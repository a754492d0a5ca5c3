/**
 * Timer (priority-queue state) throughput per backend: register N event-time timers, then fire
 * them all by advancing the watermark; against a plain binary heap in JS doing the same in the
 * same process (the ratio is the cost of key groups, set semantics and the store).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IndexedHeap, Serializers, timerElementType, type InternalTimer } from '@flowstate/core';
import { backendById, createKeyed } from './backends.js';
import type { Preset } from './config.js';
import { summarize, type Summary } from './stats.js';

export interface TimersResult {
  readonly backend: string;
  readonly timers: number;
  readonly registerPerSec: Summary;
  readonly firePerSec: Summary;
  readonly heapRegisterPerSec: Summary;
  readonly heapFirePerSec: Summary;
  /** Backend median / plain heap median. */
  readonly registerRatio: number;
  readonly fireRatio: number;
}

type Timer = InternalTimer<string, string>;

/** Watermark steps while firing: each step fires the timers due by then, as a timer service does. */
const WATERMARK_STEPS = 100;

function workload(count: number): Timer[] {
  let s = 0x5eed7133;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 0x1_0000_0000);
  return Array.from({ length: count }, () => ({ timestamp: Math.floor(next() * count), key: `key-${Math.floor(next() * 10_000)}`, namespace: 'w' }));
}

/** Registers then fires `timers` on a queue-like target; returns [registered/s, fired/s]. */
function drive(timers: readonly Timer[], add: (t: Timer) => void, fireUpTo: (watermark: number) => number): [number, number] {
  let t0 = performance.now();
  for (const t of timers) add(t);
  const register = timers.length / ((performance.now() - t0) / 1000);
  t0 = performance.now();
  let fired = 0;
  for (let step = 1; step <= WATERMARK_STEPS; step++) fired += fireUpTo(Math.ceil((timers.length * step) / WATERMARK_STEPS));
  return [register, fired / ((performance.now() - t0) / 1000)];
}

function plainHeap(timers: readonly Timer[]): [number, number] {
  const heap = new IndexedHeap<Timer>((a, b) => a.timestamp - b.timestamp, () => {});
  return drive(
    timers,
    (t) => heap.push(t),
    (w) => {
      let n = 0;
      while (heap.size > 0 && heap.peek()!.timestamp <= w) {
        heap.poll();
        n++;
      }
      return n;
    },
  );
}

export async function runTimersSuite(p: Preset, backendId: string, log: (s: string) => void): Promise<TimersResult> {
  const b = backendById(backendId);
  const timers = workload(p.timerCount);
  const type = timerElementType(Serializers.string, Serializers.string);
  const reg: number[] = [];
  const fire: number[] = [];
  const heapReg: number[] = [];
  const heapFire: number[] = [];
  for (let i = 0; i < p.timerSamples; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'flowstate-bench-timers-'));
    const kb = await createKeyed(b, Serializers.string, { localDirectory: dir });
    try {
      const q = kb.createPriorityQueue('_timer_state/event_bench', type);
      const [r, f] = drive(timers, (t) => void q.add(t), (w) => q.bulkPoll((h) => h.timestamp <= w, () => {}));
      reg.push(r);
      fire.push(f);
    } finally {
      kb.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
    const [hr, hf] = plainHeap(timers);
    heapReg.push(hr);
    heapFire.push(hf);
  }
  const result = {
    backend: backendId,
    timers: timers.length,
    registerPerSec: summarize(reg),
    firePerSec: summarize(fire),
    heapRegisterPerSec: summarize(heapReg),
    heapFirePerSec: summarize(heapFire),
    registerRatio: summarize(reg).median / summarize(heapReg).median,
    fireRatio: summarize(fire).median / summarize(heapFire).median,
  };
  log(`timers ${backendId}: register ${result.registerPerSec.median.toFixed(0)}/s (${result.registerRatio.toFixed(3)}x heap), fire ${result.firePerSec.median.toFixed(0)}/s (${result.fireRatio.toFixed(3)}x heap)`);
  return result;
}
