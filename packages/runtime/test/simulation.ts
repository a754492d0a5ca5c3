/**
 * Deterministic, seeded fault simulation of the reference runtime. A seed fixes the input, the
 * checkpoint cadence and a fault plan (which attempt fails where); the runtime's loops run on
 * microtasks and setImmediate over in-memory storage, so a failing seed reproduces.
 */
import { FaultInjectingFileSystem } from '@flowstate/conformance';
import {
  collectGarbage,
  collectStreamHandles,
  mulberry32,
  FsCheckpointStorage,
  MemoryFileSystem,
  Serializers,
  ValueStateDescriptor,
  deserializeCheckpointMetadata,
  type FileSystem,
  type FileWriter,
  type StateBackend,
} from '@flowstate/core';
import { LocalFileSystem } from '@flowstate/storage-local';
import { backendById, backendsFor } from '@flowstate/test-registry';
import {
  JobClient,
  sequenceLog,
  StreamExecutionEnvironment,
  summarize,
  TwoPhaseCommitFileSink,
  type CheckpointingMode,
  type JobGraph,
  type JobResult,
  type RuntimeHooks,
  type TaskInfo,
} from '../src/index.js';
import { deadlineJob } from './timer-jobs.js';
import { clickJob } from './windows/window-jobs.js';

/** State backends under test; each runs every mode and job. */
export interface BackendEntry {
  /** The registry id; part of FLOWSTATE_SIM_CASE and of the seed's derivation. */
  readonly name: string;
  create(): StateBackend;
}

/** The test registry's backends for the simulation (@flowstate/test-registry; add backends there). */
export const BACKENDS: readonly BackendEntry[] = backendsFor('simulation').map((b) => ({ name: b.id, create: () => b.create() }));

export const MODES: readonly CheckpointingMode[] = ['EXACTLY_ONCE', 'AT_LEAST_ONCE', 'UNALIGNED'];
export type JobKind = 'count' | 'join' | 'timers' | 'windows';
/**
 * The jobs every family runs; 'timers' (event-time deadlines) and 'windows' (sessions and tumbling
 * windows) run with their own, smaller seed counts.
 */
export const JOBS: readonly JobKind[] = ['count', 'join'];

/**
 * mid-record: the task fails after its state was updated for a record, before (all of) its output
 * left (sinks: before the record is processed); before-snapshot: the barrier arrived, the snapshot
 * has not started; async-upload: a state file write fails while the asynchronous part uploads;
 * before-commit: the checkpoint completed, the sink has not committed; during-restore: a task
 * fails while it restores (after its backends restored, or a checkpoint read fails).
 */
export type FaultKind = 'mid-record' | 'before-snapshot' | 'async-upload' | 'before-commit' | 'during-restore';
export const FAULT_KINDS: readonly FaultKind[] = ['mid-record', 'before-snapshot', 'async-upload', 'before-commit', 'during-restore'];

export interface Fault {
  readonly kind: FaultKind;
  /** The attempt the fault is armed in (faults are armed one per attempt, in order). */
  readonly attempt: number;
  readonly uid: string;
  readonly subtask: number;
  /**
   * mid-record: the n-th record of that subtask; before-snapshot/before-commit: the n-th checkpoint
   * it sees; async-upload: the n-th state file; during-restore: 0 = in the task, n > 0 = the n-th
   * checkpoint storage read fails.
   */
  readonly n: number;
}

export class InjectedFailure extends Error {
  constructor(readonly fault: Fault) {
    super(`injected ${fault.kind} failure at ${fault.uid}#${fault.subtask} (attempt ${fault.attempt}, n=${fault.n})`);
    this.name = 'InjectedFailure';
  }
}

/** mulberry32: small, fast, and the same everywhere. */
export const rng = mulberry32;

/** A file system that fails the write of the n-th checkpoint state file of an attempt (not `_metadata`, not the history). */
class FaultyFileSystem implements FileSystem {
  readonly scheme = 'memory';
  readonly displayRoot = 'memory://checkpoints';
  armedAt: number | undefined;
  readArmedAt: number | undefined;
  onFire: (() => void) | undefined;
  private creates = 0;
  private reads = 0;
  constructor(readonly inner: FileSystem) {}

  arm(n: number | undefined, onFire?: () => void): void {
    this.armedAt = n;
    this.creates = 0;
    this.onFire = onFire;
  }

  /** Fails the n-th read: reads of checkpoint storage happen while a task restores its state. */
  armRead(n: number | undefined, onFire?: () => void): void {
    this.readArmedAt = n;
    this.reads = 0;
    this.onFire = onFire;
  }

  async create(path: string): Promise<FileWriter> {
    const w = await this.inner.create(path);
    // Not a state file: `_metadata`, and the checkpoint history (whose writes never fail a checkpoint).
    if (this.armedAt === undefined || path.endsWith('_metadata') || path.startsWith('_history/')) return w;
    const fail = ++this.creates === this.armedAt;
    if (!fail) return w;
    this.armedAt = undefined;
    this.onFire?.();
    return {
      write: async () => {
        throw new Error(`injected upload failure writing ${path}`);
      },
      commit: () => w.commit(),
      abort: () => w.abort(),
    };
  }
  read = async (p: string, r?: { offset: number; length: number }): Promise<Uint8Array> => {
    if (this.readArmedAt !== undefined && ++this.reads === this.readArmedAt) {
      this.readArmedAt = undefined;
      this.onFire?.();
      throw new Error(`injected read failure on ${p} during restore`);
    }
    return this.inner.read(p, r);
  };
  stat = (p: string) => this.inner.stat(p);
  list = (d: string) => this.inner.list(d);
  delete = (p: string) => this.inner.delete(p);
  deleteMany = (p: readonly string[]) => this.inner.deleteMany(p);
  deleteDirectory = (d: string) => this.inner.deleteDirectory(d);
}

const COUNT = new ValueStateDescriptor<number>('count', Serializers.int32, 0);
const ORDER = new ValueStateDescriptor<number>('order-amount', Serializers.int32);
const PAID = new ValueStateDescriptor<boolean>('paid', Serializers.boolean);

export interface SimInput {
  readonly partitions: number;
  readonly perPartition: number;
}

interface Event {
  readonly id: string;
  readonly key: string;
}

/**
 * Keyed counting: source (4 partitions, each key in one partition so per-key order is
 * deterministic) -> map -> keyBy -> count -> 2PC file sink.
 */
function countJob(input: SimInput, sinkFs: FileSystem, bufferCapacity: number, countParallelism = 3, sinkParallelism = 2): JobGraph {
  const env = new StreamExecutionEnvironment('sim-count', { parallelism: 2, maxParallelism: 32, bufferCapacity });
  env
    .fromLog('events', sequenceLog(input.partitions, input.perPartition, (p, o): Event => ({ id: `${p}:${o}`, key: `k${p}-${(o * 7) % 11}` })))
    .map('parse', (e) => ({ ...e, key: e.key.toUpperCase() }))
    .keyBy((e) => e.key, Serializers.string)
    .process<string>(
      'count',
      () => ({
        processElement(e, ctx, out) {
          const s = ctx.getState(COUNT);
          const c = (s.value() ?? 0) + 1;
          s.update(c);
          out.collect(`${e.id} ${e.key} ${c}`);
        },
      }),
      { parallelism: countParallelism },
    )
    .sinkTo('sink', () => new TwoPhaseCommitFileSink<string>({ fs: sinkFs, directory: 'out', format: (s) => s }), { parallelism: sinkParallelism });
  return env.getJobGraph();
}

/** A two-input join: orders and payments keyed by order id, emitted once both arrived. */
function joinJob(input: SimInput, sinkFs: FileSystem, bufferCapacity: number): JobGraph {
  const env = new StreamExecutionEnvironment('sim-join', { parallelism: 2, maxParallelism: 32, bufferCapacity });
  const n = input.perPartition;
  const orders = env.fromLog('orders', sequenceLog(input.partitions, n, (p, o) => ({ order: `o${p}-${o}`, amount: (p * 31 + o * 17) % 1000 })));
  // Payments arrive in another order (reversed) and from a source of another parallelism.
  const payments = env.fromLog('payments', sequenceLog(input.partitions, n, (p, o) => ({ order: `o${p}-${n - 1 - o}` })), { parallelism: 1 });
  orders
    .keyBy((o) => o.order, Serializers.string)
    .connect(payments.keyBy((p) => p.order, Serializers.string))
    .process<string>(
      'join',
      () => ({
        processElement1(o, ctx, out) {
          if (ctx.getState(PAID).value()) out.collect(`${o.order} ${o.amount} paid`);
          else ctx.getState(ORDER).update(o.amount);
        },
        processElement2(_p, ctx, out) {
          const amount = ctx.getState(ORDER).value();
          if (amount !== null) out.collect(`${String(ctx.currentKey)} ${amount} paid`);
          else ctx.getState(PAID).update(true);
        },
      }),
      { parallelism: 3 },
    )
    .sinkTo('sink', () => new TwoPhaseCommitFileSink<string>({ fs: sinkFs, directory: 'out', format: (s) => s }), { parallelism: 2 });
  return env.getJobGraph();
}

/** Per-key event-time deadlines (timer-jobs.ts): timers restored, rescaled and fired under faults. */
function timersJob(input: SimInput, sinkFs: FileSystem, bufferCapacity: number, deadlineParallelism = 3, sinkParallelism = 2): JobGraph {
  return deadlineJob({ name: 'sim-timers', input, sinkFs, bufferCapacity, deadlineParallelism, sinkParallelism });
}

/** The job graph of a kind; `keyedParallelism` and `sinkParallelism` rescale the count and timers jobs. */
function buildGraph(job: JobKind, input: SimInput, sinkFs: FileSystem, bufferCapacity: number, keyedParallelism?: number, sinkParallelism?: number): JobGraph {
  if (job === 'count') return countJob(input, sinkFs, bufferCapacity, keyedParallelism, sinkParallelism);
  if (job === 'timers') return timersJob(input, sinkFs, bufferCapacity, keyedParallelism, sinkParallelism);
  if (job === 'windows') return clickJob({ name: 'sim-windows', input, sinkFs, bufferCapacity, windowParallelism: keyedParallelism ?? 3, ...(sinkParallelism ? { sinkParallelism } : {}) });
  return joinJob(input, sinkFs, bufferCapacity);
}

export interface SimCase {
  readonly backend: BackendEntry;
  readonly mode: CheckpointingMode;
  readonly job: JobKind;
  readonly seed: number;
  /** Checkpoint storage on a local directory instead of in memory (real renames, fsyncs and rm -r). */
  readonly localDirectory?: string;
}

export interface SimOutcome {
  readonly result: JobResult;
  readonly committed: string[];
  readonly faultsPlanned: readonly Fault[];
  readonly faultsFired: readonly Fault[];
  readonly completedCheckpoints: number;
  readonly failedCheckpoints: number;
  readonly restoresWithChannelState: number;
  readonly pendingLeft: number;
  /** Checkpoint files outside the retained checkpoints (left by aborted or failed checkpoints). */
  readonly orphanFiles: number;
}

function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Everything random about a run comes from here: (seed, case) -> input size, cadence, buffer size, faults. */
export function planFaults(c: SimCase): { faults: Fault[]; input: SimInput; checkpointEvery: number; bufferCapacity: number } {
  // Each case gets its own plans for the same seed numbers.
  const r = rng((c.seed ^ hashName(`${c.backend.name}/${c.mode}/${c.job}`)) >>> 0);
  const input: SimInput = { partitions: 4, perPartition: 150 + Math.floor(r() * 150) };
  const checkpointEvery = 15 + Math.floor(r() * 60);
  const bufferCapacity = 2 + Math.floor(r() * 14);
  const count = 1 + Math.floor(r() * 3);
  const faults: Fault[] = [];
  // Faults hit operators of the job's graph (the sink last: it is the one that commits).
  const ops = buildGraph(c.job, input, new MemoryFileSystem(), bufferCapacity).nodes;
  for (let a = 0; a < count; a++) {
    let kind = FAULT_KINDS[Math.floor(r() * FAULT_KINDS.length)]!;
    // The first attempt restores nothing; a restore fault belongs to a later attempt.
    while (a === 0 && kind === 'during-restore') kind = FAULT_KINDS[Math.floor(r() * FAULT_KINDS.length)]!;
    const op = kind === 'before-commit' ? ops[ops.length - 1]! : ops[Math.floor(r() * ops.length)]!;
    const subtask = Math.floor(r() * op.parallelism);
    const n =
      kind === 'mid-record'
        ? 1 + Math.floor(r() * input.perPartition * 2)
        : kind === 'async-upload'
          ? 1 + Math.floor(r() * 12)
          : kind === 'during-restore'
            ? Math.floor(r() * 4)
            : 1 + Math.floor(r() * 3);
    faults.push({ kind, attempt: a, uid: op.uid, subtask, n });
  }
  return { faults, input, checkpointEvery, bufferCapacity };
}

/** The committed output of a run without faults (computed once per job and input). */
export async function referenceRun(job: JobKind, input: SimInput, bufferCapacity: number): Promise<string[]> {
  const sinkFs = new MemoryFileSystem();
  const graph = buildGraph(job, input, sinkFs, bufferCapacity);
  const client = await JobClient.execute(graph, { stateBackend: backendById('memory').create() });
  await client.result;
  return (await TwoPhaseCommitFileSink.readCommitted(sinkFs, 'out')).sort();
}

export async function simulate(c: SimCase): Promise<SimOutcome> {
  const { faults, input, checkpointEvery, bufferCapacity } = planFaults(c);
  const sinkFs = new MemoryFileSystem();
  const ckptFs = new FaultyFileSystem(c.localDirectory !== undefined ? new LocalFileSystem(c.localDirectory) : new MemoryFileSystem());
  const graph = buildGraph(c.job, input, sinkFs, bufferCapacity);
  return runPhase(c, { graph, faults, checkpointEvery, sinkFs, ckptFs, restoreFrom: undefined, cancelAtSourceRecord: undefined });
}

/**
 * Rescaling under faults (count and timers jobs): a first run is killed half-way (no fault plan); a second
 * run restores the latest retained checkpoint, which may hold unaligned channel state, at other
 * parallelisms of the keyed operator and of the sink, and gets the seed's fault plan. The
 * committed output of both runs together must equal the failure-free run.
 */
export async function simulateRescale(
  c: SimCase,
): Promise<SimOutcome & { readonly restoredFrom: string | undefined; readonly restoredChannelState: boolean; readonly parallelism: readonly [number, number] }> {
  const { faults, input, checkpointEvery, bufferCapacity } = planFaults(c);
  const r = rng(c.seed * 7919 + 1);
  const parallelism = [[1, 1], [2, 3], [4, 1], [5, 3]][Math.floor(r() * 4)] as [number, number];
  const sinkFs = new MemoryFileSystem();
  const ckptFs = new FaultyFileSystem(c.localDirectory !== undefined ? new LocalFileSystem(c.localDirectory) : new MemoryFileSystem());
  const storage = new FsCheckpointStorage(ckptFs);
  const half = Math.floor((input.perPartition * input.partitions) / 4);
  const first = await runPhase(c, { graph: buildGraph(c.job, input, sinkFs, bufferCapacity), faults: [], checkpointEvery, sinkFs, ckptFs, restoreFrom: undefined, cancelAtSourceRecord: half });
  if (first.result.status !== 'CANCELLED') throw new Error(`the first run should have been killed, it ended ${first.result.status}`);
  const retained = await storage.listCompletedCheckpoints();
  const restoredFrom = retained[retained.length - 1];
  let restoredChannelState = false;
  if (restoredFrom !== undefined) {
    const md = deserializeCheckpointMetadata((await storage.resolveCheckpoint(restoredFrom)).metadata, restoredFrom);
    restoredChannelState = md.operators.some((o) => o.subtasks.some((st) => (st.channelState?.length ?? 0) > 0));
  }
  const second = await runPhase(c, {
    graph: buildGraph(c.job, input, sinkFs, bufferCapacity, parallelism[0], parallelism[1]),
    faults,
    checkpointEvery,
    sinkFs,
    ckptFs,
    restoreFrom: restoredFrom === undefined ? undefined : { storage, pointer: restoredFrom },
    cancelAtSourceRecord: undefined,
  });
  return { ...second, restoredFrom, restoredChannelState, parallelism };
}

interface Phase {
  readonly graph: JobGraph;
  readonly faults: readonly Fault[];
  readonly checkpointEvery: number;
  readonly sinkFs: MemoryFileSystem;
  readonly ckptFs: FaultyFileSystem;
  readonly restoreFrom: { storage: FsCheckpointStorage; pointer: string } | undefined;
  /** Kill the job (cancel, no restart) when source subtask 0 reaches this record. */
  readonly cancelAtSourceRecord: number | undefined;
  /** Checkpoints the driver keeps in flight at once (default 1), see simulateConcurrentCheckpoints. */
  readonly concurrent?: ConcurrentPhase;
  /** Called for every record source subtask 0 emits (`n` counts per attempt); the end-of-job family stops the job here. */
  readonly onSourceRecord?: (client: JobClient, n: number) => void;
}

/**
 * The runtime hooks of one phase: they inject the phase's faults (each once, in its attempt) and
 * trigger checkpoints by progress, not by wall-clock time, so that a seed replays the same cadence.
 */
class PhaseDriver {
  /** Set once the job runs; hooks that need it wait for it. */
  client: JobClient | undefined;
  readonly fired: Fault[] = [];
  readonly maxInFlight: number;
  private inFlight = 0;
  private killAtNextCompletion = false;
  private currentAttempt = -1;
  /** Per task and hook: how often it ran in the current attempt. */
  private readonly seen = new Map<string, number>();

  constructor(private readonly phase: Phase) {
    this.maxInFlight = phase.concurrent?.maxConcurrentCheckpoints ?? 1;
  }

  hooks(): RuntimeHooks {
    return {
      onAttemptStart: (attempt) => this.onAttemptStart(attempt),
      onRestore: (t) => {
        const f = this.faultFor(t, 'during-restore');
        if (f && f.n === 0) this.fire(f);
      },
      onEmit: (t, n) => {
        const f = this.faultFor(t, 'mid-record');
        if (f && !t.uid.startsWith('sink') && n === f.n) this.fire(f);
      },
      onRecord: (t, n) => this.onRecord(t, n),
      beforeSnapshot: (t) => this.fireOnNthCall(t, 'before-snapshot', 'snap'),
      beforeNotifyComplete: (t) => {
        if (!this.killAtNextCompletion) return this.fireOnNthCall(t, 'before-commit', 'commit');
        this.killAtNextCompletion = false;
        this.client?.cancel();
      },
    };
  }

  private onAttemptStart(attempt: number): void {
    if (attempt === this.currentAttempt) return;
    this.currentAttempt = attempt;
    this.seen.clear();
    const f = this.phase.faults[attempt];
    const onFire = () => f && this.fired.push(f);
    this.phase.ckptFs.arm(f?.kind === 'async-upload' ? f.n : undefined, onFire);
    this.phase.ckptFs.armRead(f?.kind === 'during-restore' && f.n > 0 ? f.n : undefined, onFire);
  }

  private onRecord(t: TaskInfo, n: number): void {
    const f = this.faultFor(t, 'mid-record');
    if (f && t.uid.startsWith('sink') && n === f.n) this.fire(f);
    const client = this.client;
    if (t.uid !== this.phase.graph.nodes[0]!.uid || t.subtaskIndex !== 0) return;
    if (n === this.phase.cancelAtSourceRecord) {
      // Kill here if a checkpoint already completed; slower backends (RocksDB) may not have one
      // yet: then kill when the next checkpoint completes, so the rescaled run restores state.
      if (client?.checkpointStats.some((x) => x.status === 'COMPLETED')) client.cancel();
      else this.killAtNextCompletion = true;
    }
    if (client === undefined) return;
    this.phase.onSourceRecord?.(client, n);
    if (n % this.phase.checkpointEvery === 0 && this.inFlight < this.maxInFlight) {
      this.inFlight++;
      this.phase.concurrent?.observeInFlight(this.inFlight);
      client.triggerCheckpoint().then(
        () => this.inFlight--,
        () => this.inFlight--,
      );
    }
  }

  /** Fires the task's fault of `kind` on the fault's n-th call of this hook in the attempt. */
  private fireOnNthCall(t: TaskInfo, kind: FaultKind, hook: string): void {
    const f = this.faultFor(t, kind);
    if (!f) return;
    const k = `${hook}:${t.name}`;
    const n = (this.seen.get(k) ?? 0) + 1;
    this.seen.set(k, n);
    if (n === f.n) this.fire(f);
  }

  private faultFor(t: TaskInfo, kind: FaultKind): Fault | undefined {
    const f = this.phase.faults[t.attempt];
    return f !== undefined && f.kind === kind && f.uid === t.uid && f.subtask === t.subtaskIndex && !this.fired.includes(f) ? f : undefined;
  }

  private fire(f: Fault): never {
    this.fired.push(f);
    throw new InjectedFailure(f);
  }
}

async function runPhase(c: SimCase, phase: Phase): Promise<SimOutcome> {
  const driver = new PhaseDriver(phase);
  const restoredFrom: number[] = [];
  const client = await JobClient.execute(phase.graph, {
    stateBackend: c.backend.create(),
    checkpointStorage: new FsCheckpointStorage(phase.ckptFs),
    checkpointing: {
      mode: c.mode,
      timeoutMs: 20_000,
      tolerableFailedCheckpoints: 0,
      retainedCheckpoints: phase.concurrent?.retainedCheckpoints ?? 2,
      maxConcurrentCheckpoints: driver.maxInFlight,
    },
    restartStrategy: { kind: 'fixed-delay', maxAttempts: phase.faults.length + 2, delayMs: 0 },
    ...(phase.restoreFrom ? { restoreFrom: phase.restoreFrom } : {}),
    hooks: driver.hooks(),
    log: (line) => {
      phase.concurrent?.onLog(line);
      const m = /restarting from checkpoint (\d+)/.exec(line);
      if (m) restoredFrom.push(Number(m[1]));
    },
  });
  driver.client = client;
  const result = await client.result;
  return phaseOutcome(phase, client, result, driver.fired, restoredFrom);
}

/** What a phase left: its result, the committed output, and what the checkpoints and faults did. */
async function phaseOutcome(phase: Phase, client: JobClient, result: JobResult, fired: readonly Fault[], restoredFrom: readonly number[]): Promise<SimOutcome> {
  const stats = client.checkpointStats;
  // Restores that had to replay persisted in-flight records before new input.
  const restoresWithChannelState = restoredFrom.filter((id) => {
    const s = stats.find((x) => x.checkpointId === id);
    return s !== undefined && summarize(s).persistedInflightBytes > 0;
  }).length;
  // Files on checkpoint storage that no retained, completed checkpoint references (shared files
  // of incremental checkpoints included), plus temporary files of writers that never committed.
  // Read through the inner file system: faults still armed must not fire during the check.
  const orphans = (await collectGarbage(new FsCheckpointStorage(phase.ckptFs.inner), { dryRun: true })).orphans;
  if (orphans.length > 0 && process.env.FLOWSTATE_SIM_DEBUG) console.log('orphans', orphans, stats.map((s) => `${s.checkpointId}:${s.status}:${s.failureReason ?? ''}`));
  return {
    result,
    committed: await TwoPhaseCommitFileSink.readCommitted(phase.sinkFs, 'out'),
    faultsPlanned: phase.faults,
    faultsFired: fired,
    completedCheckpoints: stats.filter((s) => s.status === 'COMPLETED').length,
    failedCheckpoints: stats.filter((s) => s.status === 'FAILED').length,
    restoresWithChannelState,
    pendingLeft: (await phase.sinkFs.list(TwoPhaseCommitFileSink.pendingDir('out'))).length,
    orphanFiles: orphans.length,
  };
}

// ---------------------------------------------------------------- concurrent checkpoints (issue 10, section 1)

/** How runPhase drives concurrent checkpoints. */
interface ConcurrentPhase {
  readonly maxConcurrentCheckpoints: number;
  readonly retainedCheckpoints: number;
  /** Called with the number of checkpoints the driver has in flight after each trigger. */
  observeInFlight(n: number): void;
  onLog(line: string): void;
}

export interface ConcurrentOutcome extends SimOutcome {
  /** The most checkpoints the driver had in flight at once. */
  readonly maxInFlight: number;
  /** Checkpoints declined because they reused a shared file the registry had discarded. */
  readonly declinedSharedState: number;
  /** Files referenced by a completed checkpoint left in storage that are not there. */
  readonly missingFiles: readonly string[];
  readonly retainedAtEnd: number;
}

/**
 * The seed's fault plan with up to `maxConcurrentCheckpoints` checkpoints in flight and one
 * retained: the setting in which RocksDB incremental checkpoints lost shared files.
 */
export async function simulateConcurrentCheckpoints(c: SimCase, maxConcurrentCheckpoints: number): Promise<ConcurrentOutcome> {
  const { faults, input, checkpointEvery, bufferCapacity } = planFaults(c);
  const sinkFs = new MemoryFileSystem();
  const ckptFs = new FaultyFileSystem(new MemoryFileSystem());
  const graph = buildGraph(c.job, input, sinkFs, bufferCapacity);
  let maxInFlight = 0;
  let declinedSharedState = 0;
  const concurrent: ConcurrentPhase = {
    maxConcurrentCheckpoints,
    retainedCheckpoints: 1,
    observeInFlight: (n) => void (maxInFlight = Math.max(maxInFlight, n)),
    onLog: (line) => void (/SHARED_STATE_DISCARDED|reuses shared file/.test(line) && declinedSharedState++),
  };
  const outcome = await runPhase(c, { graph, faults, checkpointEvery, sinkFs, ckptFs, restoreFrom: undefined, cancelAtSourceRecord: undefined, concurrent });
  const storage = new FsCheckpointStorage(ckptFs.inner);
  const retained = await storage.listCompletedCheckpoints();
  return { ...outcome, maxInFlight, declinedSharedState, missingFiles: await missingReferencedFiles(storage, retained), retainedAtEnd: retained.length };
}

/** Every file the completed checkpoints in storage reference, that storage does not hold. */
export async function missingReferencedFiles(storage: FsCheckpointStorage, pointers: readonly string[]): Promise<string[]> {
  const present = new Set((await storage.fs.list('')).map((f) => f.path));
  const missing: string[] = [];
  for (const pointer of pointers) {
    const metadata = deserializeCheckpointMetadata((await storage.resolveCheckpoint(pointer)).metadata, `${pointer}/_metadata`);
    for (const h of collectStreamHandles(metadata)) if (h.type === 'file' && !present.has(h.path)) missing.push(`${pointer}: ${h.path}`);
  }
  return missing;
}

// ------------------------------------------------------------------ checkpoint lifecycle faults

/**
 * Files that checkpoints with `_metadata` reference but that are missing or have another size,
 * read straight from the file system (every `chk-N/_metadata`, complete-looking or not).
 */
export async function missingFilesOfAnyMetadata(fs: FileSystem): Promise<string[]> {
  const missing: string[] = [];
  for (const f of await fs.list('')) {
    if (!/^chk-\d+\/_metadata$/.test(f.path)) continue;
    const metadata = deserializeCheckpointMetadata(await fs.read(f.path), f.path);
    for (const h of collectStreamHandles(metadata)) {
      if (h.type !== 'file') continue;
      const st = await fs.stat(h.path);
      if (st === null || st.size !== h.size) missing.push(`${f.path} -> ${h.path}`);
    }
  }
  return missing;
}

/**
 * Storage faults around completion, from the seed: the response of some `_metadata` writes is
 * lost (the file is there, the coordinator sees a failure and aborts), and some deletes fail
 * (`_metadata` of aborted or subsumed checkpoints, their directories, shared files).
 */
export interface StorageFaultPlan {
  /** Checkpoint ids whose `_metadata` commit response is lost. */
  readonly lostMetadataResponses: readonly number[];
  /** Checkpoint ids whose `_metadata` / directory deletes fail: the first attempt, or every one. */
  readonly failMetadataDeletes: ReadonlyArray<{ readonly id: number; readonly always: boolean }>;
  /** Every n-th delete of a shared file fails (once); undefined: none. */
  readonly failEveryNthSharedDelete: number | undefined;
}

export function planStorageFaults(c: SimCase): StorageFaultPlan {
  const r = rng((c.seed * 2654435761) ^ hashName(`storage/${c.backend.name}/${c.mode}/${c.job}`));
  const ids = (n: number) => [...new Set(Array.from({ length: n }, () => 1 + Math.floor(r() * 9)))].sort((a, b) => a - b);
  const lost = ids(1 + Math.floor(r() * 2));
  // Deletes fail for some of the lost ones (the §2 defect) and for some subsumed ones.
  const failing = [...new Set([...lost.filter(() => r() < 0.7), ...ids(Math.floor(r() * 3))])].sort((a, b) => a - b);
  return {
    lostMetadataResponses: lost,
    failMetadataDeletes: failing.map((id) => ({ id, always: r() < 0.25 })),
    failEveryNthSharedDelete: r() < 0.5 ? 2 + Math.floor(r() * 4) : undefined,
  };
}

/** The seed's fault plan plus its storage fault plan, over a FaultInjectingFileSystem. */
export async function simulateStorageFaults(c: SimCase): Promise<
  SimOutcome & {
    readonly plan: StorageFaultPlan;
    readonly injected: FaultInjectingFileSystem['injected'];
    readonly missingReferenced: readonly string[];
    readonly orphansAfterGc: number;
    readonly metadataLeft: number;
  }
> {
  const { faults, input, checkpointEvery, bufferCapacity } = planFaults(c);
  const plan = planStorageFaults(c);
  const injecting = new FaultInjectingFileSystem(new MemoryFileSystem('memory://checkpoints'));
  const failedOnce = new Set<string>();
  let sharedDeletes = 0;
  injecting.loseCommitResponse = (p) => plan.lostMetadataResponses.some((id) => p === `chk-${id}/_metadata`);
  injecting.failDeleteOf = (p) => {
    const m = /^chk-(\d+)(\/_metadata)?$/.exec(p);
    const f = m ? plan.failMetadataDeletes.find((x) => x.id === Number(m[1])) : undefined;
    const fail =
      (f !== undefined && (f.always || !failedOnce.has(p))) ||
      (plan.failEveryNthSharedDelete !== undefined && p.startsWith('shared/') && !failedOnce.has(p) && ++sharedDeletes % plan.failEveryNthSharedDelete === 0);
    if (fail) failedOnce.add(p);
    return fail;
  };
  const sinkFs = new MemoryFileSystem();
  const ckptFs = new FaultyFileSystem(injecting);
  const graph = buildGraph(c.job, input, sinkFs, bufferCapacity);
  const outcome = await runPhase(c, { graph, faults, checkpointEvery, sinkFs, ckptFs, restoreFrom: undefined, cancelAtSourceRecord: undefined });
  injecting.loseCommitResponse = undefined;
  injecting.failDeleteOf = undefined;
  const missingReferenced = await missingFilesOfAnyMetadata(injecting.inner);
  const metadataLeft = (await injecting.inner.list('')).filter((f) => f.path.endsWith('/_metadata')).length;
  // Shared files whose delete failed are left to garbage collection; afterwards nothing is.
  await collectGarbage(new FsCheckpointStorage(injecting.inner));
  const orphansAfterGc = (await collectGarbage(new FsCheckpointStorage(injecting.inner), { dryRun: true })).orphans.length;
  return { ...outcome, plan, injected: injecting.injected, missingReferenced, orphansAfterGc, metadataLeft };
}

/** How the newest checkpoint is damaged before the restart: removed, truncated or overwritten file. */
export type Damage = 'remove' | 'truncate' | 'overwrite';

/**
 * Fallback to an older checkpoint (count job): a first run is killed right after its k-th
 * checkpoint K completed, before any task learnt it (no sink committed K, as when the JobManager
 * dies after writing `_metadata`). A file only K references is then removed, truncated or
 * overwritten, and a second run resumes from the latest checkpoint: it must skip K, restore K-1,
 * and the committed output of both runs must equal the failure-free run.
 */
export async function simulateFallback(c: SimCase): Promise<{
  readonly result: JobResult;
  readonly committed: string[];
  readonly damage: Damage;
  readonly damagedFile: string;
  readonly newest: number;
  readonly skipped: JobResult['skippedCheckpoints'];
  readonly pendingLeft: number;
  readonly orphanFiles: number;
  readonly missingReferenced: readonly string[];
  readonly retainedOnStorage: number;
}> {
  const { input, checkpointEvery: every, bufferCapacity } = planFaults(c);
  // Checkpoints more often than in the other cases: the run must see k of them before its end.
  const checkpointEvery = Math.max(4, Math.floor(every / 4));
  const r = rng((c.seed * 40503) ^ hashName(`fallback/${c.backend.name}/${c.mode}`));
  const killAfter = 2 + Math.floor(r() * 2);
  const damage = (['remove', 'truncate', 'overwrite'] as const)[Math.floor(r() * 3)]!;
  const sinkFs = new MemoryFileSystem();
  const fs = new MemoryFileSystem('memory://checkpoints');
  const storage = new FsCheckpointStorage(fs);
  const first = await runResumable(c, { graph: countJob(input, sinkFs, bufferCapacity), storage, checkpointEvery, killAfter, resume: false, totalRecords: input.partitions * input.perPartition });
  if (first.status !== 'CANCELLED') throw new Error(`the first run should have been killed, it ended ${first.status}`);
  const retained = (await storage.scanCheckpoints()).complete;
  const newest = retained.at(-1)!;
  const older = new Set(retained.slice(0, -1).flatMap((x) => collectStreamHandles(x.metadata).flatMap((h) => (h.type === 'file' ? [h.path] : []))));
  const own = collectStreamHandles(newest.metadata).flatMap((h) => (h.type === 'file' && !older.has(h.path) && h.size > 0 ? [h.path] : []));
  if (retained.length < 2 || own.length === 0) throw new Error(`no fallback possible: ${retained.length} retained, ${own.length} files only the newest uses`);
  const damagedFile = own[Math.floor(r() * own.length)]!;
  const bytes = Buffer.from(await fs.read(damagedFile));
  await fs.delete(damagedFile);
  if (damage !== 'remove') {
    const w = await fs.create(damagedFile);
    await w.write(damage === 'truncate' ? bytes.subarray(0, bytes.length >> 1) : bytes.map((b) => b ^ 0xff));
    await w.commit();
  }
  const result = await runResumable(c, { graph: countJob(input, sinkFs, bufferCapacity), storage, checkpointEvery, killAfter: undefined, resume: true });
  const orphans = (await collectGarbage(storage, { dryRun: true })).orphans;
  return {
    result,
    committed: await TwoPhaseCommitFileSink.readCommitted(sinkFs, 'out'),
    damage,
    damagedFile,
    newest: newest.checkpointId,
    skipped: result.skippedCheckpoints,
    pendingLeft: (await sinkFs.list(TwoPhaseCommitFileSink.pendingDir('out'))).length,
    orphanFiles: orphans.length,
    missingReferenced: await missingFilesOfAnyMetadata(fs),
    retainedOnStorage: (await storage.listCompletedCheckpoints()).length,
  };
}

/**
 * One run without planned faults; checkpoints by progress (the first one at the first record);
 * optionally killed as checkpoint `killAfter` completes, or as the final checkpoint completes when
 * the input ends earlier (slow checkpoints under load).
 */
async function runResumable(
  c: SimCase,
  p: { graph: JobGraph; storage: FsCheckpointStorage; checkpointEvery: number; killAfter: number | undefined; resume: boolean; totalRecords?: number },
): Promise<JobResult> {
  let client: JobClient | undefined;
  let triggering = false;
  let killedAt: number | undefined;
  let emitted = 0;
  const source = p.graph.nodes[0]!.uid;
  client = await JobClient.execute(p.graph, {
    stateBackend: c.backend.create(),
    checkpointStorage: p.storage,
    checkpointing: { mode: c.mode, timeoutMs: 20_000, retainedCheckpoints: 2 },
    resumeFromLatestCheckpoint: p.resume,
    hooks: {
      onRecord(t, n) {
        if (t.uid !== source) return;
        emitted++;
        if (t.subtaskIndex === 0 && (n === 1 || n % p.checkpointEvery === 0) && client && !triggering) {
          triggering = true;
          client.triggerCheckpoint().then(
            () => (triggering = false),
            () => (triggering = false),
          );
        }
      },
      beforeNotifyComplete(_t, id) {
        // Killed before any task acts on the notification: no sink commits this checkpoint.
        const completed = client!.checkpointStats.filter((s) => s.status === 'COMPLETED').length;
        const inputEnded = p.totalRecords !== undefined && emitted >= p.totalRecords;
        // A fallback needs two retained checkpoints: after the input ended, the final one is the second.
        if (killedAt === undefined && p.killAfter !== undefined && completed >= (inputEnded ? Math.min(2, p.killAfter) : p.killAfter)) {
          killedAt = id;
          client!.cancel();
        }
        if (killedAt !== undefined && id >= killedAt) throw new Error(`killed as checkpoint ${id} completed`);
      },
    },
  });
  return client.result;
}

// ---------------------------------------------------------------- the end of a job (issue 10 §4)

/** A run that ended (finished, or stopped with a savepoint), then a second run restored from where it ended. */
export interface EndOfJobOutcome extends SimOutcome {
  /** How the first run ended: FINISHED (the second restores its latest retained checkpoint) or STOPPED (its savepoint). */
  readonly firstStatus: JobResult['status'];
  readonly firstFaultsFired: number;
  readonly firstFaultsPlanned: number;
  readonly restoredKind: 'CHECKPOINT' | 'SAVEPOINT';
  /** Subtasks the restored snapshot marks finished, and the channel-state files it references. */
  readonly restoredFinishedSubtasks: number;
  readonly restoredChannelStateFiles: number;
  /** Stop requests that failed (a failover aborted the savepoint, or the job ended first). */
  readonly stopRequestsFailed: number;
}

/** The second run's faults: another plan from the same seed, so restarts after the end fail too. */
function secondRunFaults(c: SimCase): Fault[] {
  return planFaults({ ...c, seed: (c.seed ^ 0x5bd1e995) >>> 0 }).faults;
}

async function describeRestorePoint(storage: FsCheckpointStorage, pointer: string): Promise<{ finished: number; channelState: number; kind: 'CHECKPOINT' | 'SAVEPOINT' }> {
  const md = deserializeCheckpointMetadata((await storage.resolveCheckpoint(pointer)).metadata, pointer);
  const subtasks = md.operators.flatMap((o) => o.subtasks);
  return { finished: subtasks.filter((s) => s.finished === true).length, channelState: subtasks.reduce((n, s) => n + (s.channelState?.length ?? 0), 0), kind: md.kind };
}

/**
 * Restart after the end: the first run (the seed's faults) either finishes normally or, when
 * `stopAtSourceRecord` is set, is stopped with a savepoint once source subtask 0 has emitted that
 * many records in an attempt (a stop that a failover aborts is requested again). The second run
 * restores the latest retained checkpoint (finished) or the savepoint (stopped), with faults of
 * its own, and runs to the end. Both runs together must commit the failure-free output exactly once.
 */
async function simulateEndOfJob(c: SimCase, stopAtSourceRecord: number | undefined): Promise<EndOfJobOutcome> {
  const { faults, input, checkpointEvery, bufferCapacity } = planFaults(c);
  const sinkFs = new MemoryFileSystem();
  const ckptFs = new FaultyFileSystem(new MemoryFileSystem());
  const storage = new FsCheckpointStorage(ckptFs);
  const savepoints = new FsCheckpointStorage(new MemoryFileSystem(), { layout: 'savepoint' });
  const graph = () => buildGraph(c.job, input, sinkFs, bufferCapacity);
  let stopRequested = false;
  let stopRequestsFailed = 0;
  const onSourceRecord =
    stopAtSourceRecord === undefined
      ? undefined
      : (client: JobClient, n: number) => {
          if (stopRequested || n < stopAtSourceRecord) return;
          stopRequested = true;
          client.stopWithSavepoint(savepoints).catch(() => {
            stopRequestsFailed++;
            stopRequested = false;
          });
        };
  const first = await runPhase(c, { graph: graph(), faults, checkpointEvery, sinkFs, ckptFs, restoreFrom: undefined, cancelAtSourceRecord: undefined, ...(onSourceRecord ? { onSourceRecord } : {}) });
  // A fault of the first run that never fired must not fire while the second run resolves its
  // restore point: listing the retained checkpoints below reads their `_metadata` too.
  ckptFs.arm(undefined);
  ckptFs.armRead(undefined);
  let restoreFrom: { storage: FsCheckpointStorage; pointer: string };
  if (first.result.status === 'STOPPED') {
    restoreFrom = { storage: savepoints, pointer: first.result.savepoint!.pointer };
  } else {
    if (first.result.status !== 'FINISHED') throw new Error(`the first run ended ${first.result.status}`);
    const retained = await storage.listCompletedCheckpoints();
    if (retained.length === 0) throw new Error('a finished job retains its final checkpoint');
    restoreFrom = { storage, pointer: retained[retained.length - 1]! };
  }
  const restored = await describeRestorePoint(restoreFrom.storage, restoreFrom.pointer);
  const second = await runPhase(c, { graph: graph(), faults: secondRunFaults(c), checkpointEvery, sinkFs, ckptFs, restoreFrom, cancelAtSourceRecord: undefined });
  return {
    ...second,
    firstStatus: first.result.status,
    firstFaultsFired: first.faultsFired.length,
    firstFaultsPlanned: first.faultsPlanned.length,
    restoredKind: restored.kind,
    restoredFinishedSubtasks: restored.finished,
    restoredChannelStateFiles: restored.channelState,
    stopRequestsFailed,
    pendingLeft: first.pendingLeft + second.pendingLeft,
  };
}

/** Restart after a normal finish, from the latest retained checkpoint (the final one). */
export function simulateRestartAfterFinish(c: SimCase): Promise<EndOfJobOutcome> {
  return simulateEndOfJob(c, undefined);
}

/** Stop-with-savepoint part-way (at a record drawn from the seed), then resume from the savepoint. */
export function simulateStopAndResume(c: SimCase): Promise<EndOfJobOutcome> {
  const { input } = planFaults(c);
  const r = rng((c.seed * 2654435761 + 17) >>> 0);
  // Source subtask 0 reads two of the four partitions: stop somewhere in its first three quarters.
  return simulateEndOfJob(c, 1 + Math.floor(r() * input.perPartition * 1.5));
}
