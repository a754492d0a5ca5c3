import { FsCheckpointStorage, MemoryFileSystem } from '@flowstate/core';
import { backendById } from '@flowstate/test-registry';
import { JobClient, TwoPhaseCommitFileSink, type CompletedCheckpoint, type JobGraph, type JobOptions, type JobResult } from '../src/index.js';
import type { SourceGate } from '../src/testing.js';

/** Where the source is when the job is stopped: a record count, not a sleep, so the stop is mid-way on any machine. */
export interface StopPoint {
  readonly source: string;
  /** Records the source subtask has processed. */
  readonly records: number;
  /** The source subtask that counts; any subtask when left out. */
  readonly subtask?: number;
}

export interface StoppedRun {
  readonly result: JobResult;
  readonly savepoint: CompletedCheckpoint;
  /** Where the savepoint is: restore with `{ storage: savepoints, pointer: savepoint.pointer }`. */
  readonly savepoints: FsCheckpointStorage;
}

/** Runs `graph` with `options` and stops it with a savepoint (in memory) once the source reaches `at`. */
export async function runUntilSavepoint(graph: JobGraph, options: JobOptions, at: StopPoint): Promise<StoppedRun> {
  const savepoints = new FsCheckpointStorage(new MemoryFileSystem(), { layout: 'savepoint' });
  let job: JobClient | undefined;
  let stopping: Promise<CompletedCheckpoint> | undefined;
  job = await JobClient.execute(graph, {
    ...options,
    hooks: {
      ...options.hooks,
      onRecord(t, n) {
        options.hooks?.onRecord?.(t, n);
        if (t.uid === at.source && (at.subtask === undefined || t.subtaskIndex === at.subtask) && n === at.records && job !== undefined) stopping = job.stopWithSavepoint(savepoints);
      },
    },
  });
  const result = await job.result;
  if (stopping === undefined) throw new Error(`the job ended before ${at.source} reached ${at.records} records`);
  return { result, savepoint: await stopping, savepoints };
}

/** What the two-phase-commit sink committed under 'out' (the test jobs' sink directory), sorted. */
export async function committed(fs: MemoryFileSystem): Promise<string[]> {
  return (await TwoPhaseCommitFileSink.readCommitted(fs, 'out')).sort();
}

/** When the crash of `runWithCrash` comes: in the first attempt, after checkpoints completed, so the restore has state to restore. */
export interface CrashPoint {
  readonly operator: string;
  /** The crashing subtask; any subtask when left out. */
  readonly subtask?: number;
  /** Checkpoints the first attempt completes (while its input is held), exactly, before the crash. */
  readonly afterCheckpoints: number;
  /** Records the crashing subtask has processed (more than this). */
  readonly afterRecords: number;
}

/**
 * Runs `graph` on RocksDB with EXACTLY_ONCE checkpoints, one at a time, crashes it once at
 * `crash`, and lets it fail over (two attempts at most). In the first attempt, the sources hold
 * at `gate` (the graph's sources must read through it): once subtask 0 of `source` reached
 * the hold, `crash.afterCheckpoints` checkpoints run back to back, then the gate opens and
 * the crash comes with the rest of the input. So the crash follows exactly those checkpoints
 * however fast the job runs. Later attempts checkpoint every `checkpointEvery` records of
 * subtask 0 of `source`.
 */
export async function runWithCrash(graph: JobGraph, gate: SourceGate, source: string, checkpointEvery: number, crash: CrashPoint): Promise<JobResult> {
  let client: JobClient | undefined;
  let triggering = false;
  let completed = 0;
  let failed: unknown;
  const checkpointUntilCrash = (job: JobClient): void => {
    void job.triggerCheckpoint().then(
      () => (++completed < crash.afterCheckpoints ? checkpointUntilCrash(job) : gate.open()),
      (e: unknown) => ((failed = e), gate.open()),
    );
  };
  client = await JobClient.execute(graph, {
    stateBackend: backendById('rocksdb').create(),
    checkpointStorage: new FsCheckpointStorage(new MemoryFileSystem()),
    checkpointing: { mode: 'EXACTLY_ONCE' },
    restartStrategy: { kind: 'fixed-delay', maxAttempts: 2, delayMs: 0 },
    hooks: {
      onRecord(t, n) {
        const checkpointing = t.uid === source && t.subtaskIndex === 0 && client !== undefined;
        if (checkpointing && t.attempt === 0 && n === gate.holdAfter) checkpointUntilCrash(client!);
        if (checkpointing && t.attempt > 0 && n % checkpointEvery === 0 && !triggering) {
          triggering = true;
          void client!.triggerCheckpoint().then(
            () => (triggering = false),
            () => (triggering = false),
          );
        }
        const crashing = t.uid === crash.operator && (crash.subtask === undefined || t.subtaskIndex === crash.subtask) && t.attempt === 0;
        if (crashing && completed === crash.afterCheckpoints && n > crash.afterRecords) throw new Error('injected crash');
      },
    },
  });
  const result = await client.result;
  if (failed !== undefined) throw new Error(`checkpoint ${completed + 1} before the crash failed`, { cause: failed });
  return result;
}
