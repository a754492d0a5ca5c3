import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  BACKENDS,
  JOBS,
  MODES,
  planFaults,
  planStorageFaults,
  referenceRun,
  simulate,
  simulateConcurrentCheckpoints,
  simulateFallback,
  simulateRescale,
  simulateRestartAfterFinish,
  simulateStopAndResume,
  simulateStorageFaults,
  type EndOfJobOutcome,
  type JobKind,
  type SimCase,
} from './simulation.js';
import { expectedDeadlines } from './timer-jobs.js';
import { batchWindows, clicks } from './windows/window-jobs.js';

/**
 * Seeds per (backend, mode, job). CI runs a bounded number; FLOWSTATE_SIM_SEEDS=N runs more,
 * FLOWSTATE_SIM_SEED=s with FLOWSTATE_SIM_CASE=backend/mode/job reproduces one.
 */
const SEEDS = Number(process.env.FLOWSTATE_SIM_SEEDS ?? 5);
const BASE_SEED = Number(process.env.FLOWSTATE_SIM_BASE_SEED ?? 1);
const ONLY_SEED = process.env.FLOWSTATE_SIM_SEED === undefined ? undefined : Number(process.env.FLOWSTATE_SIM_SEED);
const ONLY_CASE = process.env.FLOWSTATE_SIM_CASE;
/**
 * Seeds of the timers job (event-time deadlines) per (backend, mode) in the main, rescale and
 * stop-and-resume families: few in CI (FLOWSTATE_SIM_TIMER_SEEDS=N for more).
 */
const TIMER_SEEDS = Number(process.env.FLOWSTATE_SIM_TIMER_SEEDS ?? 1);
/** Seeds of the windows job (sessions and tumbling windows), likewise (FLOWSTATE_SIM_WINDOW_SEEDS=N). */
const WINDOW_SEEDS = Number(process.env.FLOWSTATE_SIM_WINDOW_SEEDS ?? 1);
/** `n` seeds from BASE_SEED on, or the one FLOWSTATE_SIM_SEED names. */
const seedsFrom = (n: number): number[] => (ONLY_SEED !== undefined ? [ONLY_SEED] : Array.from({ length: n }, (_, i) => BASE_SEED + i));
const seedsOf = (job: JobKind, n: number): number[] => seedsFrom(job === 'timers' ? TIMER_SEEDS : job === 'windows' ? WINDOW_SEEDS : n);

/** The command that runs one case (FLOWSTATE_SIM_CASE, e.g. `rescale:fs/UNALIGNED/count`) with one seed. */
function reproduce(simCase: string, seed: number): string {
  return `FLOWSTATE_SIM_SEED=${seed} FLOWSTATE_SIM_CASE=${simCase} node --test packages/runtime/dist/test/simulation.test.js`;
}

const references = new Map<string, Promise<string[]>>();
function reference(c: SimCase): Promise<string[]> {
  const { input, bufferCapacity } = planFaults(c);
  const k = `${c.job}/${input.partitions}/${input.perPartition}`;
  let r = references.get(k);
  if (r === undefined) {
    r = referenceRun(c.job, input, bufferCapacity);
    // The timers job's failure-free run must itself equal the batch computation of the deadlines.
    if (c.job === 'timers') r = r.then((lines) => (assert.deepEqual(lines, expectedDeadlines(input), 'failure-free timers run equals the batch computation'), lines));
    // Likewise the windows job's: every window of the batch computation, with its value.
    if (c.job === 'windows') r = r.then((lines) => (assert.deepEqual(lines, batchWindows(clicks(input)), 'failure-free windows run equals the batch computation'), lines));
    references.set(k, r);
  }
  return r;
}



for (const backend of BACKENDS) {
  for (const mode of MODES) {
    for (const job of [...JOBS, 'timers' as const, 'windows' as const]) {
      const name = `${backend.name}/${mode}/${job}`;
      if (ONLY_CASE !== undefined && ONLY_CASE !== name) continue;
      const seeds = seedsOf(job, SEEDS);
      test(`simulation ${name}: ${seeds.length} seed(s)`, async () => {
        const t = { seeds: 0, planned: 0, faults: 0, failovers: 0, duplicates: 0, channelStateRestores: 0, checkpoints: 0, orphans: 0, kinds: new Map<string, number>() };
        await forEachSeed(seeds, (seed) => ({ backend, mode, job, seed }), simulate, (o, expected) => {
          checkFinishedClean(o);
          t.seeds++;
          t.faults += o.faultsFired.length;
          t.planned += o.faultsPlanned.length;
          for (const f of o.faultsFired) t.kinds.set(f.kind, (t.kinds.get(f.kind) ?? 0) + 1);
          t.failovers += o.result.failures.length;
          t.channelStateRestores += o.restoresWithChannelState;
          t.checkpoints += o.completedCheckpoints;
          t.orphans += o.orphanFiles;
          assert.ok(o.result.failures.length >= o.faultsFired.length, 'every fired fault caused a failover');
          t.duplicates += checkOutput(mode, o.committed, expected);
        }, (c) => `simulation failed: ${name} seed ${c.seed}, faults ${JSON.stringify(planFaults(c).faults)}\n  reproduce: ${reproduce(name, c.seed)}`);
        console.log(
          `simulation ${name}: ${t.seeds} seeds, ${t.faults}/${t.planned} planned faults fired (${[...t.kinds].map(([k, n]) => `${k} ${n}`).join(', ')}), ` +
            `${t.failovers} failovers, ${t.checkpoints} checkpoints completed, ` +
            `${t.channelStateRestores} restores with channel state, ${t.orphans} orphan checkpoint files` +
            (mode === 'AT_LEAST_ONCE' ? `, ${t.duplicates} duplicates` : ''),
        );
      });
    }
  }
}

/** A few seeds against a local directory: real files, atomic renames, recursive deletes racing uploads. */
const LOCAL_SEEDS = Number(process.env.FLOWSTATE_SIM_LOCAL_SEEDS ?? 2);
if (ONLY_CASE === undefined && ONLY_SEED === undefined) {
  for (const mode of MODES) {
    test(`simulation fs/${mode}/count on local disk: ${LOCAL_SEEDS} seed(s)`, async () => {
      const backend = BACKENDS.find((b) => b.name === 'fs')!;
      let orphans = 0;
      for (let i = 0; i < LOCAL_SEEDS; i++) {
        const seed = BASE_SEED + i;
        const c: SimCase = { backend, mode, job: 'count', seed, localDirectory: mkdtempSync(join(tmpdir(), 'flowstate-sim-')) };
        try {
          const expected = await reference(c);
          const o = await simulate(c);
          assert.equal(o.result.status, 'FINISHED');
          assert.equal(o.orphanFiles, 0, 'no checkpoint file outside the retained checkpoints');
          orphans += o.orphanFiles;
          checkOutput(mode, o.committed, expected);
        } catch (e) {
          console.log(`simulation on local disk failed: fs/${mode}/count seed ${seed} in ${c.localDirectory}`);
          throw e;
        } finally {
          rmSync(c.localDirectory!, { recursive: true, force: true });
        }
      }
      console.log(`simulation fs/${mode}/count on local disk: ${LOCAL_SEEDS} seeds, ${orphans} orphan checkpoint files`);
    });
  }
}

/** Kill half-way, restore the latest checkpoint at other parallelisms, with faults in the second run. */
const RESCALE_SEEDS = Number(process.env.FLOWSTATE_SIM_RESCALE_SEEDS ?? 3);
for (const backend of BACKENDS) {
  // The timers job rescales in the exactly-once modes (AT_LEAST_ONCE runs it in the main family only: CI time).
  for (const [mode, job] of MODES.flatMap((m): Array<[typeof m, JobKind]> => (m === 'AT_LEAST_ONCE' ? [[m, 'count']] : [[m, 'count'], [m, 'timers'], [m, 'windows']]))) {
    const name = `${backend.name}/${mode}/${job}`;
    if (ONLY_CASE !== undefined && ONLY_CASE !== `rescale:${name}`) continue;
    const seeds = seedsOf(job, RESCALE_SEEDS);
    test(`simulation rescale ${name}: ${seeds.length} seed(s)`, async () => {
      let fromCheckpoint = 0;
      let withChannelState = 0;
      const shapes: string[] = [];
      await forEachSeed(seeds, (seed) => ({ backend, mode, job, seed }), simulateRescale, (o, expected) => {
        checkFinishedClean(o);
        if (o.restoredFrom !== undefined) fromCheckpoint++;
        if (o.restoredChannelState) withChannelState++;
        shapes.push(`3x2->${o.parallelism.join('x')}`);
        checkOutput(mode, o.committed, expected);
      }, (c) => `simulation failed: rescale ${name} seed ${c.seed}\n  reproduce: ${reproduce(`rescale:${name}`, c.seed)}`);
      console.log(`simulation rescale ${name}: ${seeds.length} seeds, ${fromCheckpoint} restored from a checkpoint (${withChannelState} with channel state), parallelism (keyed x sink) ${shapes.join(', ')}`);
    });
  }
}

/**
 * Concurrent checkpoints (issue 10, section 1): RocksDB incremental, one retained checkpoint,
 * 1-3 checkpoints in flight, with the seed's faults. Every file a completed checkpoint in storage
 * references exists after the run, and the output is exactly-once.
 */
const CONCURRENT_SEEDS = Number(process.env.FLOWSTATE_SIM_CONCURRENT_SEEDS ?? 3);
for (const maxConcurrent of [1, 2, 3]) {
  for (const job of JOBS) {
    const backend = BACKENDS.find((b) => b.name === 'rocksdb')!;
    const name = `rocksdb/EXACTLY_ONCE/${job}/concurrent-${maxConcurrent}`;
    if (ONLY_CASE !== undefined && ONLY_CASE !== `concurrent:${name}`) continue;
    const seeds = seedsFrom(CONCURRENT_SEEDS);
    test(`simulation ${name} (1 retained): ${seeds.length} seed(s)`, async () => {
      const t = { faults: 0, failovers: 0, checkpoints: 0, failed: 0, maxInFlight: 0, missing: 0, declined: 0 };
      await forEachSeed(seeds, (seed) => ({ backend, mode: 'EXACTLY_ONCE', job, seed }), (c) => simulateConcurrentCheckpoints(c, maxConcurrent), (o, expected) => {
        checkFinishedClean(o);
        assert.deepEqual(o.missingFiles, [], 'every file a completed checkpoint references exists');
        assert.equal(o.declinedSharedState, 0, 'no checkpoint reused a file it could not keep');
        assert.ok(o.retainedAtEnd <= 1, `one checkpoint retained, ${o.retainedAtEnd} in storage`);
        checkOutput('EXACTLY_ONCE', o.committed, expected);
        t.faults += o.faultsFired.length;
        t.failovers += o.result.failures.length;
        t.checkpoints += o.completedCheckpoints;
        t.failed += o.failedCheckpoints;
        t.maxInFlight = Math.max(t.maxInFlight, o.maxInFlight);
        t.missing += o.missingFiles.length;
        t.declined += o.declinedSharedState;
      }, (c) => `simulation failed: ${name} seed ${c.seed}\n  reproduce: ${reproduce(`concurrent:${name}`, c.seed)}`);
      console.log(
        `simulation ${name}: ${seeds.length} seeds, ${t.faults} faults fired, ${t.failovers} failovers, ${t.checkpoints} checkpoints completed, ` +
          `${t.failed} failed (${t.declined} for a discarded shared file), at most ${t.maxInFlight} in flight, ${t.missing} referenced files missing`,
      );
    });
  }
}

/** Declares the tests of a family over the count job on every backend and mode (FLOWSTATE_SIM_CASE=`family:backend/mode/count` picks one). */
function forCountJobCases(
  family: string,
  seedCount: number,
  declare: (backend: (typeof BACKENDS)[number], mode: (typeof MODES)[number], name: string, seeds: number[]) => void,
): void {
  for (const backend of BACKENDS) {
    for (const mode of MODES) {
      const name = `${backend.name}/${mode}/count`;
      if (ONLY_CASE === undefined || ONLY_CASE === `${family}:${name}`) declare(backend, mode, name, seedsFrom(seedCount));
    }
  }
}

/**
 * Runs one case per seed and checks its outcome against the failure-free run's output; a failing
 * seed prints `failure(c)` (what reproduces it) before it fails the test.
 */
async function forEachSeed<O>(
  seeds: readonly number[],
  caseOf: (seed: number) => SimCase,
  run: (c: SimCase) => Promise<O>,
  check: (o: O, expected: string[], c: SimCase) => void,
  failure: (c: SimCase) => string,
): Promise<void> {
  for (const seed of seeds) {
    const c = caseOf(seed);
    try {
      const expected = await reference(c);
      check(await run(c), expected, c);
    } catch (e) {
      console.log(failure(c));
      throw e;
    }
  }
}

/** What every family checks of a run: it finished, leaving no pending transaction and no checkpoint file outside the retained checkpoints. */
function checkFinishedClean(o: { readonly result: { readonly status: string }; readonly pendingLeft: number; readonly orphanFiles: number }): void {
  assert.equal(o.result.status, 'FINISHED', 'the (restored) run finishes');
  assert.equal(o.pendingLeft, 0, 'no pending transaction is left behind');
  assert.equal(o.orphanFiles, 0, 'no checkpoint file outside the retained checkpoints');
}

/** Exactly-once (or, AT_LEAST_ONCE, nothing lost) against the failure-free run; returns duplicates. */
function checkOutput(mode: string, committed: readonly string[], expected: readonly string[]): number {
  const got = [...committed].sort();
  if (mode !== 'AT_LEAST_ONCE') {
    assert.equal(got.length, expected.length, `committed ${got.length - expected.length} records more than the failure-free run`);
    assert.deepEqual(got, expected, 'committed output equals the failure-free run (0 lost, 0 duplicated)');
    return 0;
  }
  const have = new Set(got.map((l) => l.split(' ')[0]!));
  assert.deepEqual(expected.map((l) => l.split(' ')[0]!).filter((id) => !have.has(id)), [], 'at-least-once lost records');
  return got.length - have.size;
}

/**
 * Lost `_metadata` responses and failing deletes (FaultInjectingFileSystem), on top of the seed's
 * task faults: no checkpoint that has `_metadata` may reference a missing file, ever.
 */
const STORAGE_SEEDS = Number(process.env.FLOWSTATE_SIM_STORAGE_SEEDS ?? 2);
forCountJobCases('storage', STORAGE_SEEDS, (backend, mode, name, seeds) => {
  test(`simulation storage faults ${name}: ${seeds.length} seed(s)`, async () => {
    const t = { lost: 0, deleteFaults: 0, metadataLeft: 0, failovers: 0, duplicates: 0 };
    await forEachSeed(seeds, (seed) => ({ backend, mode, job: 'count', seed }), simulateStorageFaults, (o, expected) => {
      assert.equal(o.result.status, 'FINISHED');
      assert.equal(o.pendingLeft, 0, 'no pending transaction is left behind');
      assert.deepEqual(o.missingReferenced, [], 'no checkpoint with _metadata references a missing file');
      assert.equal(o.orphansAfterGc, 0, 'garbage collection reclaims what failing deletes left');
      t.duplicates += checkOutput(mode, o.committed, expected);
      t.lost += o.injected.lostResponses;
      t.deleteFaults += o.injected.deletes;
      t.metadataLeft += o.metadataLeft;
      t.failovers += o.result.failures.length;
    }, (c) => `simulation failed: storage ${name} seed ${c.seed}, plan ${JSON.stringify(planStorageFaults(c))}\n  reproduce: ${reproduce(`storage:${name}`, c.seed)}`);
    console.log(
      `simulation storage faults ${name}: ${seeds.length} seeds, ${t.lost} lost _metadata responses, ${t.deleteFaults} failed deletes, ` +
        `${t.failovers} failovers, ${t.metadataLeft} checkpoints with _metadata at the end, 0 referenced files missing` +
        (mode === 'AT_LEAST_ONCE' ? `, ${t.duplicates} duplicates` : ', 0 lost, 0 duplicated'),
    );
  });
});

/** Damage a file of the newest checkpoint of a killed run; the restart must fall back to the older one. */
const FALLBACK_SEEDS = Number(process.env.FLOWSTATE_SIM_FALLBACK_SEEDS ?? 2);
forCountJobCases('fallback', FALLBACK_SEEDS, (backend, mode, name, seeds) => {
  test(`simulation fallback ${name}: ${seeds.length} seed(s)`, async () => {
    const damages: string[] = [];
    await forEachSeed(seeds, (seed) => ({ backend, mode, job: 'count', seed }), simulateFallback, (o, expected) => {
      checkFinishedClean(o);
      const restoreFailed = o.skipped.filter((s) => s.reason === 'RESTORE_FAILED' || s.reason === 'INCOMPLETE');
      assert.deepEqual(
        restoreFailed.map((s) => [s.checkpointId, s.reason]),
        [[o.newest, o.damage === 'overwrite' ? 'RESTORE_FAILED' : 'INCOMPLETE']],
        'the damaged checkpoint was skipped, and why',
      );
      assert.ok(restoreFailed[0]!.error.message.includes(o.damagedFile), restoreFailed[0]!.error.message);
      assert.deepEqual(o.missingReferenced, [], 'no checkpoint with _metadata references a missing file');
      assert.ok(o.retainedOnStorage <= 2, `retained: 2, on storage: ${o.retainedOnStorage}`);
      checkOutput(mode, o.committed, expected);
      damages.push(`${o.damage} -> ${o.skipped.find((s) => s.checkpointId === o.newest)!.reason}`);
    }, (c) => `simulation failed: fallback ${name} seed ${c.seed}\n  reproduce: ${reproduce(`fallback:${name}`, c.seed)}`);
    console.log(`simulation fallback ${name}: ${seeds.length} seeds, fell back each time (${damages.join(', ')}), 0 referenced files missing, 0 orphans` + (mode === 'AT_LEAST_ONCE' ? '' : ', 0 lost, 0 duplicated'));
  });
});

/**
 * The end of a job (issue 10 §4): restart after a normal finish from the latest retained
 * checkpoint, and stop-with-savepoint part-way then resume from the savepoint; both runs under
 * faults. Both runs together commit the failure-free output exactly once (AT_LEAST_ONCE: no loss).
 */
const END_SEEDS = Number(process.env.FLOWSTATE_SIM_END_SEEDS ?? 2);
const END_FAMILIES = [
  { family: 'restart-after-finish', run: simulateRestartAfterFinish },
  { family: 'stop-and-resume', run: simulateStopAndResume },
] as const;
for (const { family, run } of END_FAMILIES) {
  for (const backend of BACKENDS) {
    // Timers pending across a stop-with-savepoint (no MAX_WATERMARK on stop) fire after the resume.
    // (AT_LEAST_ONCE runs the timers job in the main family only: CI time.)
    // Open windows pending across a stop-with-savepoint likewise.
    const jobs = (m: string): JobKind[] => (family === 'stop-and-resume' && m !== 'AT_LEAST_ONCE' ? ['count', 'timers', 'windows'] : ['count']);
    for (const [mode, job] of MODES.flatMap((m) => jobs(m).map((j): [typeof m, JobKind] => [m, j]))) {
      const name = `${family}:${backend.name}/${mode}/${job}`;
      if (ONLY_CASE !== undefined && ONLY_CASE !== name) continue;
      const seeds = seedsOf(job, END_SEEDS);
      test(`simulation ${name}: ${seeds.length} seed(s)`, async () => {
        const t = { stopped: 0, finished: 0, fired: 0, planned: 0, failedStops: 0, finishedSubtasks: 0, channelStateFiles: 0, duplicates: 0 };
        await forEachSeed(seeds, (seed) => ({ backend, mode, job, seed }), run, (o: EndOfJobOutcome, expected) => {
          checkFinishedClean(o);
          if (o.firstStatus === 'FINISHED') {
            // The final checkpoint is taken after every task drained its input: nothing in flight.
            assert.equal(o.restoredChannelStateFiles, 0, 'the final checkpoint of a finished job holds no channel state');
            t.finished++;
          } else {
            t.stopped++;
          }
          t.fired += o.firstFaultsFired + o.faultsFired.length;
          t.planned += o.firstFaultsPlanned + o.faultsPlanned.length;
          t.failedStops += o.stopRequestsFailed;
          t.finishedSubtasks += o.restoredFinishedSubtasks;
          t.channelStateFiles += o.restoredChannelStateFiles;
          t.duplicates += checkOutput(mode, o.committed, expected);
        }, (c) => `simulation failed: ${name} seed ${c.seed}\n  reproduce: ${reproduce(name, c.seed)}`);
        console.log(
          `simulation ${name}: ${seeds.length} seeds, first run finished ${t.finished} / stopped ${t.stopped} (${t.failedStops} stop requests failed), ` +
            `${t.fired}/${t.planned} planned faults fired over both runs, restored ${t.finishedSubtasks} finished subtasks and ${t.channelStateFiles} channel-state files` +
            (mode === 'AT_LEAST_ONCE' ? `, ${t.duplicates} duplicates` : ''),
        );
      });
    }
  }
}
