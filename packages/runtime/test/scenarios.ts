import { FsCheckpointStorage, MemoryFileSystem } from '@flowstate/core';
import { backendById } from '@flowstate/test-registry';
import { JobClient, TwoPhaseCommitFileSink, type CompletedCheckpoint, type JobGraph, type JobOptions, type JobResult } from '../src/index.js';

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
  readonly afterCheckpoints: number;
  /** Records the crashing subtask has processed (more than this). */
  readonly afterRecords: number;
}

/**
 * Runs `graph` on RocksDB with EXACTLY_ONCE checkpoints, one at a time, triggered every
 * `checkpointEvery` records of subtask 0 of `source`, crashes it once at `crash`, and lets it
 * fail over (two attempts at most).
 */
export async function runWithCrash(graph: JobGraph, source: string, checkpointEvery: number, crash: CrashPoint): Promise<JobResult> {
  let client: JobClient | undefined;
  let triggering = false;
  let completed = 0;
  client = await JobClient.execute(graph, {
    stateBackend: backendById('rocksdb').create(),
    checkpointStorage: new FsCheckpointStorage(new MemoryFileSystem()),
    checkpointing: { mode: 'EXACTLY_ONCE' },
    restartStrategy: { kind: 'fixed-delay', maxAttempts: 2, delayMs: 0 },
    hooks: {
      onRecord(t, n) {
        if (t.uid === source && t.subtaskIndex === 0 && n % checkpointEvery === 0 && client && !triggering) {
          triggering = true;
          void client.triggerCheckpoint().then(
            () => ((triggering = false), completed++),
            () => (triggering = false),
          );
        }
        const crashing = t.uid === crash.operator && (crash.subtask === undefined || t.subtaskIndex === crash.subtask) && t.attempt === 0;
        if (crashing && completed >= crash.afterCheckpoints && n > crash.afterRecords) throw new Error('injected crash');
      },
    },
  });
  return client.result;
}
