/**
 * A model of incremental checkpoints sharing files, for model-based testing of the
 * SharedStateRegistry, CompletedCheckpointStore and SharedFileReuseTracker. Fake backends hold a
 * set of immutable "SST" contents that grows and compacts; a fake coordinator triggers, registers,
 * completes and aborts checkpoints (1-4 concurrently) and delivers notifications late, out of
 * order or never. After every step the shared files in storage are checked against what the
 * model says must (and may) exist.
 */
import {
  CompletedCheckpointStore,
  mulberry32,
  SharedFileReuseTracker,
  SharedStateDiscardedError,
  type CheckpointMetadata,
  type CheckpointStorage,
  type FileStateHandle,
  type StreamStateHandle,
} from '@flowstate/core';

/** What a backend may reuse: the fix (SharedFileReuseTracker), or the rule before it. */
export type ReusePolicy = 'tracker' | 'last-notified';
/** What the coordinator tells the store: everything (the fix), or only completed checkpoints. */
export type Protocol = 'coordinator' | 'store-only';

export interface ModelConfig {
  readonly policy: ReusePolicy;
  readonly protocol: Protocol;
}

export interface InterleavingResult {
  readonly violations: string[];
  readonly declined: number;
  readonly completed: number;
  readonly steps: number;
}

interface SharedFile {
  readonly name: string;
  readonly contentId: string;
  readonly handle: FileStateHandle;
  readonly reused?: true;
}

type Status = 'triggered' | 'registered' | 'completed' | 'aborted';

interface Checkpoint {
  readonly id: number;
  status: Status;
  /** Per subtask, once it snapshotted. */
  readonly files: Array<SharedFile[] | undefined>;
}

type Message = { readonly kind: 'complete' | 'abort'; readonly id: number };

/** The reuse rule before the fix: the files of the last checkpoint whose notification arrived in order. */
class LastNotified {
  private confirmed = new Map<string, SharedFile>();
  private readonly pendingUploads = new Map<number, Map<string, SharedFile>>();
  reusableFor(): ReadonlyMap<string, SharedFile> {
    return new Map(this.confirmed);
  }
  snapshotFinished(id: number, files: ReadonlyMap<string, SharedFile>): void {
    this.pendingUploads.set(id, new Map(files));
  }
  checkpointCompleted(id: number): void {
    const u = this.pendingUploads.get(id);
    if (u !== undefined) this.confirmed = u;
    for (const k of [...this.pendingUploads.keys()]) if (k <= id) this.pendingUploads.delete(k);
  }
  checkpointAborted(id: number): void {
    this.pendingUploads.delete(id);
  }
}

type Policy = Pick<SharedFileReuseTracker<SharedFile>, 'reusableFor' | 'snapshotFinished' | 'checkpointCompleted' | 'checkpointAborted'>;

interface Subtask {
  readonly index: number;
  /** Live contents, by "file name" (content ids are unique, as RocksDB's unique SST ids are). */
  live: Set<string>;
  readonly policy: Policy;
  readonly inbox: Message[];
  /** Highest checkpoint id this subtask took a snapshot for (barriers arrive in order). */
  snapshotted: number;
}

/** Storage of shared files only: what exists, and what was ever deleted. */
class FakeStorage {
  readonly files = new Set<string>();
  readonly deleted = new Set<string>();
  private next = 0;
  write(): FileStateHandle {
    const path = `shared/f${this.next++}`;
    this.files.add(path);
    return { type: 'file', path, size: 1, checksum: 0 };
  }
  delete(h: StreamStateHandle): void {
    if (h.type !== 'file') return;
    this.files.delete(h.path);
    this.deleted.add(h.path);
  }
  /** The slice of CheckpointStorage the store uses; the rest is never called. */
  asCheckpointStorage(): CheckpointStorage {
    const unused = (): never => {
      throw new Error('not used by the model');
    };
    return {
      description: 'model storage',
      discardStateHandle: async (h: StreamStateHandle) => this.delete(h),
      discardCheckpoint: async () => {},
      initializeLocationForCheckpoint: unused,
      resolveCheckpoint: unused,
      listCompletedCheckpoints: unused,
      scanCheckpoints: unused,
      readFully: unused,
      readRange: unused,
    };
  }
}

/** Runs one random interleaving from `seed`. */
export async function runInterleaving(seed: number, config: ModelConfig): Promise<InterleavingResult> {
  return new Interleaving(seed, config).run();
}

class Interleaving {
  private readonly rand: () => number;
  private readonly storage = new FakeStorage();
  private readonly store: CompletedCheckpointStore;
  private readonly subtasks: Subtask[];
  private readonly checkpoints = new Map<number, Checkpoint>();
  /** Triggered or registered, in id order. */
  private readonly pending = new Set<Checkpoint>();
  private readonly maxConcurrent: number;
  private readonly steps: number;
  private nextId = 1;
  private nextContent = 0;
  private latestCompleted = 0;
  private declined = 0;
  private completedCount = 0;
  private readonly violations: string[] = [];
  private step = 0;

  constructor(
    private readonly seed: number,
    private readonly config: ModelConfig,
  ) {
    this.rand = mulberry32(seed);
    this.maxConcurrent = 1 + this.int(4);
    const retained = this.rand() < 0.7 ? 1 : 2 + this.int(2);
    const parallelism = 1 + this.int(2);
    this.steps = 20 + this.int(50);
    this.store = new CompletedCheckpointStore(this.storage.asCheckpointStorage(), retained);
    this.subtasks = Array.from({ length: parallelism }, (_, index) => ({
      index,
      live: new Set<string>(),
      policy: config.policy === 'tracker' ? new SharedFileReuseTracker<SharedFile>((f) => f.handle.path) : new LastNotified(),
      inbox: [],
      snapshotted: 0,
    }));
  }

  private int(n: number): number {
    return Math.floor(this.rand() * n);
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  async run(): Promise<InterleavingResult> {
    for (this.step = 0; this.step < this.steps; this.step++) {
      await this.randomAction();
      await this.check();
    }
    // The end of the run: every pending checkpoint aborts, every message arrives or is lost.
    for (const c of this.inFlight()) await this.abort(c);
    for (const s of this.subtasks) while (s.inbox.length > 0) this.deliver(s);
    await this.check();
    this.checkQuiescent();
    return { violations: this.violations, declined: this.declined, completed: this.completedCount, steps: this.steps };
  }

  private inFlight(): Checkpoint[] {
    return [...this.pending];
  }

  private async randomAction(): Promise<void> {
    const actions: Array<() => Promise<void> | void> = [];
    const inFlight = this.inFlight();
    if (inFlight.length < this.maxConcurrent) actions.push(() => this.trigger());
    for (const s of this.subtasks) {
      const next = this.checkpoints.get(s.snapshotted + 1);
      if (next !== undefined) actions.push(() => this.snapshot(s, next));
      if (s.inbox.length > 0) actions.push(() => this.deliver(s), () => this.deliver(s), () => this.drop(s));
    }
    for (const c of inFlight) {
      const acked = c.files.every((f) => f !== undefined);
      if (acked && c.status === 'triggered' && c.id > this.latestCompleted) actions.push(() => this.acknowledged(c), () => this.acknowledged(c));
      if (c.status === 'registered') actions.push(() => this.finalize(c), () => this.finalize(c));
      if (this.rand() < 0.3) actions.push(() => this.abort(c));
    }
    if (actions.length > 0) await this.pick(actions)();
  }

  private trigger(): void {
    const id = this.nextId++;
    const c: Checkpoint = { id, status: 'triggered', files: this.subtasks.map(() => undefined) };
    this.checkpoints.set(id, c);
    this.pending.add(c);
    if (this.config.protocol === 'coordinator') this.store.checkpointTriggered(id);
  }

  /** The barrier reaches a subtask: its "database" changes, then it snapshots. */
  private snapshot(s: Subtask, c: Checkpoint): void {
    s.snapshotted = c.id;
    this.evolve(s);
    const reusable = s.policy.reusableFor(c.id);
    const files: SharedFile[] = [];
    for (const content of [...s.live].sort()) {
      const r = reusable.get(content);
      if (r !== undefined) {
        if (this.config.policy === 'tracker' && !this.storage.files.has(r.handle.path)) {
          this.violations.push(`seed ${this.seed} step ${this.step}: subtask ${s.index} reuses deleted ${r.handle.path} in checkpoint ${c.id}`);
        }
        files.push({ name: content, contentId: content, handle: r.handle, reused: true });
      } else {
        files.push({ name: content, contentId: content, handle: this.storage.write() });
      }
    }
    s.policy.snapshotFinished(c.id, new Map(files.map((f) => [f.contentId, f])));
    if (c.status === 'aborted') {
      // A late snapshot: the coordinator deletes what it wrote that no checkpoint registered.
      this.discardUnregistered(files);
      return;
    }
    c.files[s.index] = files;
  }

  /** New SSTs appear (flushes) and compactions replace some by one new one. */
  private evolve(s: Subtask): void {
    const newContent = () => `${s.index}:${this.nextContent++}`;
    for (let n = this.int(3); n > 0; n--) s.live.add(newContent());
    if (s.live.size > 2 && this.rand() < 0.4) {
      const victims = [...s.live].sort().filter(() => this.rand() < 0.5);
      for (const v of victims) s.live.delete(v);
      if (victims.length > 0) s.live.add(newContent());
    }
  }

  private metadataOf(c: Checkpoint): CheckpointMetadata {
    const subtasks = c.files.map((f, subtaskIndex) => ({ subtaskIndex, keyed: [{ type: 'model', keyGroupRange: { start: 0, end: 0 }, stateSize: 0, sharedFiles: f ?? [] }], operator: [] }));
    return { checkpointId: c.id, kind: 'CHECKPOINT', timestamp: 0, operators: [{ uid: 'op', parallelism: subtasks.length, maxParallelism: 1, subtasks }] };
  }

  /** Every subtask acknowledged: the coordinator registers the checkpoint's files (or declines it). */
  private async acknowledged(c: Checkpoint): Promise<void> {
    if (this.config.protocol === 'store-only') {
      c.status = 'registered';
      return;
    }
    try {
      this.store.registerPending(c.id, this.metadataOf(c));
      c.status = 'registered';
    } catch (e) {
      if (!(e instanceof SharedStateDiscardedError)) throw e;
      this.declined++;
      await this.abort(c);
    }
  }

  /** `_metadata` is written: the checkpoint is complete. */
  private async finalize(c: Checkpoint): Promise<void> {
    if (c.id < this.latestCompleted) return this.abort(c);
    for (const f of c.files.flat()) {
      if (!this.storage.files.has(f!.handle.path)) this.violations.push(`seed ${this.seed} step ${this.step}: completed checkpoint ${c.id} references deleted ${f!.handle.path}`);
    }
    c.status = 'completed';
    this.pending.delete(c);
    this.completedCount++;
    this.latestCompleted = c.id;
    for (const s of this.subtasks) s.inbox.push({ kind: 'complete', id: c.id });
    // As the coordinator does: older pending checkpoints are subsumed by a newer completed one.
    for (const q of this.inFlight()) if (q.id < c.id) await this.abort(q);
    try {
      await this.store.add({ checkpointId: c.id, pointer: `chk-${c.id}`, metadata: this.metadataOf(c) });
    } catch (e) {
      // Only the store-only protocol registers here, too late to decline; counted above.
      if (!(e instanceof SharedStateDiscardedError) || this.config.protocol !== 'store-only') throw e;
    }
  }

  private async abort(c: Checkpoint): Promise<void> {
    c.status = 'aborted';
    this.pending.delete(c);
    if (this.config.protocol === 'coordinator') this.store.checkpointAborted(c.id);
    for (const f of c.files) if (f !== undefined) this.discardUnregistered(f);
    for (const s of this.subtasks) s.inbox.push({ kind: 'abort', id: c.id });
    await this.store.registry.drain();
  }

  /** The coordinator's clean-up of an aborted checkpoint: its shared files the registry does not know. */
  private discardUnregistered(files: readonly SharedFile[]): void {
    for (const f of files) if (this.store.registry.entry(f.handle.path) === undefined) this.storage.delete(f.handle);
  }

  private takeMessage(s: Subtask): Message {
    return s.inbox.splice(this.int(s.inbox.length), 1)[0]!;
  }

  private deliver(s: Subtask): void {
    const m = this.takeMessage(s);
    if (m.kind === 'complete') s.policy.checkpointCompleted(m.id);
    else s.policy.checkpointAborted(m.id);
  }

  private drop(s: Subtask): void {
    this.takeMessage(s);
  }

  /** Files that must exist, and files that may: checked against storage after every step. */
  private async check(): Promise<void> {
    await this.store.registry.drain();
    const must = new Set<string>();
    const may = new Set<string>();
    for (const r of this.store.all()) for (const f of this.checkpoints.get(r.checkpointId)!.files) for (const x of f!) must.add(x.handle.path);
    // With the fix every pending checkpoint may complete at any moment; before it, only registered ones.
    const strict = this.config.policy === 'tracker';
    for (const c of this.pending) {
      for (const f of c.files) {
        if (f === undefined) continue;
        for (const x of f) (c.status === 'registered' || strict ? must : may).add(x.handle.path);
      }
    }
    for (const p of must) {
      if (!this.storage.files.has(p)) this.violations.push(`seed ${this.seed} step ${this.step}: ${p} is referenced by a retained or pending checkpoint but was deleted`);
    }
    for (const p of this.storage.files) {
      if (!must.has(p) && !may.has(p) && this.store.registry.entry(p) === undefined) this.violations.push(`seed ${this.seed} step ${this.step}: ${p} leaked (no checkpoint and no registry entry holds it)`);
    }
  }

  /** Nothing pending: nothing is held back, and only what retention needs is left. */
  private checkQuiescent(): void {
    const retained = this.store.all();
    const lowest = retained[0]?.checkpointId ?? Number.POSITIVE_INFINITY;
    const referenced = new Set(retained.flatMap((r) => this.checkpoints.get(r.checkpointId)!.files.flat().map((f) => f!.handle.path)));
    for (const p of this.storage.files) {
      const e = this.store.registry.entry(p);
      if (referenced.has(p)) continue;
      if (e === undefined || e.lastUsedCheckpointId < lowest) this.violations.push(`seed ${this.seed}: ${p} is left behind with nothing pending (last use ${e?.lastUsedCheckpointId})`);
    }
  }
}
