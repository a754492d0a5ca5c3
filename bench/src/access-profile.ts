/**
 * One state-access operation alone, for profiling and quick comparisons:
 *   node --cpu-prof bench/dist/access-profile.js <backend> <value|list|map> <op> [seconds] [backend|baseline]
 * runs that side's task in a loop for `seconds` (default 5, backend side). With `compare` as the
 * last argument it runs the interleaved comparison of the access suite (interleave.ts) for that op
 * instead and prints the per-round ratio (median, p25–p75).
 */
import { Serializers } from '@flowstate/core';
import { accessOps, processCpuMs, type StateKind } from './access.js';
import { backendById, createKeyed, MAX_PARALLELISM } from './backends.js';
import { PRESETS } from './config.js';
import { roundRatios, runInterleaved } from './interleave.js';
import { MinimalHeapBackend } from './minimal-heap.js';

const [backendId = 'memory', kind = 'value', opName = 'valueGet', secondsArg = '5', side = 'backend'] = process.argv.slice(2);
const p = PRESETS.quick;
const b = backendById(backendId);
if (b.needsLocalDirectory || !b.heapResident) throw new Error('access-profile runs heap backends only');
const be = await createKeyed(b, Serializers.int32);
const ops = accessOps(p, kind as StateKind, be, undefined, new MinimalHeapBackend(MAX_PARALLELISM));
const op = ops.find((o) => o.op === opName);
if (!op) throw new Error(`no op ${opName} (have: ${ops.map((o) => o.op).join(', ')})`);
const gc = (globalThis as { gc?: (o?: { type: 'minor' | 'major' }) => void }).gc;
gc?.();
const cpuMs = processCpuMs;
if (side === 'compare') {
  const res = runInterleaved(
    [
      { run: op.backend, ...(op.resetBackend ? { reset: op.resetBackend } : {}) },
      { run: op.baseline, ...(op.resetBaseline ? { reset: op.resetBaseline } : {}) },
    ],
    { clock: cpuMs, opsPerBatch: p.batch, roundMs: p.roundMs, timeMs: Number(secondsArg) * 500, minRounds: p.iterations, warmupMs: p.warmupMs, warmupBatches: p.warmupIterations, ...(op.keys ? { keys: op.keys } : {}), ...(gc ? { collect: () => gc({ type: 'minor' }) } : {}) },
  );
  const r = roundRatios(res, 0, 1);
  console.log(`${backendId} ${opName}: ${r.median.toFixed(3)}× (p25–p75 ${r.p25.toFixed(3)}–${r.p75.toFixed(3)}, ${res.rounds} rounds)`);
} else {
  const run = side === 'baseline' ? op.baseline : op.backend;
  const reset = side === 'baseline' ? op.resetBaseline : op.resetBackend;
  const end = cpuMs() + Number(secondsArg) * 1000;
  let batches = 0;
  while (cpuMs() < end) {
    for (let i = 0; i < 20; i++) {
      run();
      reset?.();
    }
    batches += 20;
  }
  console.log(`${backendId} ${opName} ${side}: ${batches} batches of ${p.batch}`);
}
