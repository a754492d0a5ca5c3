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

/** Bailouts V8 reported inside the timed run (the probe traces that run only), and how the run went. */
function probe(mode: 'keep' | 'drop'): { bailouts: number; end: string } {
  const r = spawnSync(process.execPath, ['--expose-gc', PROBE, mode], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 180_000 });
  assert.equal(r.status, 0, `probe ${mode} exited with ${r.status}: ${r.stderr}`);
  const end = r.stderr.split('\n').find((l) => l.startsWith(TIMED_RUN_END));
  assert.ok(end !== undefined, `probe ${mode} reported its run: ${r.stderr}`);
  return { bailouts: r.stdout.split('[bailout').length - 1, end };
}

test('the runtime suite keeps its warm-up compiled through a timed run with checkpointing', { timeout: 400_000 }, () => {
  const kept = probe('keep');
  assert.match(kept.end, /: [1-9]\d* periodic checkpoints; 2 warm-up jobs kept$/, 'the timed run took a periodic checkpoint, with the warm-up held');
  assert.equal(kept.bailouts, 0, 'no recompilation inside the timed run');
  const dropped = probe('drop');
  assert.match(dropped.end, /; 0 warm-up jobs kept$/);
  assert.ok(dropped.bailouts > 0, 'with the warm-up collected, the timed run recompiles (the probe can see it)');
});
