/**
 * The runtime suite's warm-up must still be compiled in when the timed runs run (runtime.ts,
 * warmUpThroughputJobs): V8's bailouts (`--trace-deopt`) in one timed run with checkpointing,
 * with the warm-up jobs kept reachable as the suite keeps them, and without (the probe sees
 * recompilation, so its zero is not blind). Counts bailouts, never times.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { TIMED_RUN_END } from './runtime-deopt-probe.js';

const PROBE = fileURLToPath(new URL('./runtime-deopt-probe.js', import.meta.url));

/**
 * The functions of the task loop (packages/runtime/src/task.ts): without the warm-up they
 * recompiled in every timed run. Other bailouts are not counted: under load Node 24 deoptimized
 * `walk` (the walk over checkpoint metadata in core's referenced-files.ts) 8 times in a run
 * either way.
 */
const TASK_LOOP_BAILOUT = /\[bailout[^\n]*?<JSFunction (runSource|runOperator|processBatch|pollInput) /g;

/** Bailouts of the task loop V8 reported inside the timed run (the probe traces that run only), and how the run went. */
function probe(mode: 'keep' | 'drop'): { bailouts: number; end: string } {
  const r = spawnSync(process.execPath, ['--expose-gc', PROBE, mode], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 180_000 });
  assert.equal(r.status, 0, `probe ${mode} exited with ${r.status}: ${r.stderr}`);
  const end = r.stderr.split('\n').find((l) => l.startsWith(TIMED_RUN_END));
  assert.ok(end !== undefined, `probe ${mode} reported its run: ${r.stderr}`);
  return { bailouts: r.stdout.match(TASK_LOOP_BAILOUT)?.length ?? 0, end };
}

test('the runtime suite keeps its warm-up compiled through a timed run with checkpointing', { timeout: 400_000 }, (t) => {
  const kept = probe('keep');
  assert.match(kept.end, /: [1-9]\d* periodic checkpoints; 2 warm-up jobs kept$/, 'the timed run took a periodic checkpoint, with the warm-up held');
  const dropped = probe('drop');
  assert.match(dropped.end, /: [1-9]\d* periodic checkpoints; 0 warm-up jobs kept$/);
  // A V8 that keeps the feedback of collected hidden classes recompiles nothing either way: nothing to pin then.
  if (dropped.bailouts === 0) return t.skip(`the task loop did not recompile in the timed run even with the warm-up collected (kept: ${kept.bailouts}): this V8 (${process.versions.v8}) keeps its feedback`);
  // Session 37: with the warm-up kept, 0 on Node 20, 22 and 24; without, 4-5 (runSource twice,
  // runOperator, processBatch, pollInput).
  assert.equal(kept.bailouts, 0, `task-loop bailouts in the timed run: ${kept.bailouts} with the warm-up kept, ${dropped.bailouts} without`);
});
