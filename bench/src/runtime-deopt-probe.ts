/**
 * The child process of runtime-warmup.test.ts: the runtime suite's warm-up, then as the suite
 * does, a full GC before each of a run without checkpointing and a run with it, V8 tracing its
 * bailouts (`--trace-deopt`) during that second run only:
 * `node --expose-gc bench/dist/runtime-deopt-probe.js keep|drop [records]`. The trace goes to
 * stdout through C's buffered stdio, which does not keep its order with the lines this script
 * writes, so the flag is switched on and off around the run instead of marking it in the output.
 * `keep` holds the warm-up jobs through the timed run as the suite does; `drop` lets the GC take them.
 */
import { setFlagsFromString } from 'node:v8';
import { runThroughput, warmUpThroughputJobs } from './runtime.js';

/** The last line of stderr: how the timed run went. */
export const TIMED_RUN_END = 'timed run ended';

async function main(): Promise<void> {
  const keep = process.argv[2] === 'keep';
  // 6,000,000 as the quick preset: ~2.3 s, two periodic checkpoints at its 1 s interval (3,000,000
  // ran ~1.1 s, and on a fast spell its first periodic checkpoint could miss the end of input).
  const records = Number(process.argv[3] ?? 6_000_000);
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined || !['keep', 'drop'].includes(process.argv[2] ?? '') || !Number.isInteger(records) || records < 1) {
    console.error('usage: node --expose-gc bench/dist/runtime-deopt-probe.js keep|drop [records]');
    process.exit(2);
  }
  let warmedUp: unknown[] | undefined = await warmUpThroughputJobs(records);
  if (!keep) warmedUp = undefined;
  gc();
  await runThroughput(records, false);
  gc();
  setFlagsFromString('--trace-deopt');
  const run = await runThroughput(records, true);
  setFlagsFromString('--no-trace-deopt');
  console.error(`${TIMED_RUN_END}: ${run.periodicCheckpoints ?? 0} periodic checkpoints; ${warmedUp?.length ?? 0} warm-up jobs kept`);
}

// Only as a script: the test imports the markers.
if (process.argv[1]?.endsWith('runtime-deopt-probe.js')) await main();
