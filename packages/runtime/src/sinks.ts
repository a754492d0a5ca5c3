import { randomUUID } from 'node:crypto';
import {
  assert,
  joinPath,
  ListStateDescriptor,
  MsgpackSerializer,
  StorageNotFoundError,
  type FileSystem,
  type ListState,
  writeCommitted,
} from '@flowstate/core';
import type { CheckpointedFunction, CheckpointListener, RuntimeContext, SinkFunction, SnapshotContext } from './functions.js';
import { TransactionCommitError } from './errors.js';

interface PendingTransaction {
  readonly txn: string;
  readonly checkpointId: number;
}

/** Union state: after a restore every subtask sees every pending transaction; subtask 0 commits them. */
const PENDING = new ListStateDescriptor<PendingTransaction>('2pc-pending-transactions', new MsgpackSerializer<PendingTransaction>());

export interface TwoPhaseCommitFileSinkOptions<T> {
  readonly fs: FileSystem;
  /** Directory inside `fs`; transactions go to `<dir>/pending`, committed files to `<dir>/committed`. */
  readonly directory: string;
  /** One line per record; JSON by default. */
  readonly format?: (value: T) => string;
}

/** What follows `<uid>-` in a transaction's name: `<subtask>-<run token>-a<attempt>-(c<checkpoint>|final)-<seq>`. */
const TRANSACTION_SUFFIX = /^\d+-[0-9a-f]{8}-a\d+-(?:c\d+|final)-\d+$/;

/**
 * Whether pending file `name` is a transaction of the sink `uid`. Not a prefix test: sinks may
 * share a directory, and `out-` also begins the transactions of a sink `out-b`, whose pending
 * (pre-committed, recorded in the restored checkpoint) files a restore of `out` then deleted.
 */
function isTransactionOf(name: string, uid: string): boolean {
  return name.startsWith(`${uid}-`) && TRANSACTION_SUFFIX.test(name.slice(uid.length + 1));
}

/**
 * Exactly-once file output (Flink's TwoPhaseCommitSinkFunction): records of one checkpoint
 * interval form a transaction. On the barrier the transaction is pre-committed (written, durably,
 * to pending/) and recorded in state; when the checkpoint completes it is committed (copied to
 * committed/, pending file deleted). On restore the transactions recorded in the restored
 * checkpoint are committed and every other pending file is aborted. Committing is idempotent.
 *
 * At the end of input, finish() pre-commits the last transaction; the next checkpoint (the final
 * one, taken after every task finished) records it and commits it on completion. Nothing is ever
 * written to committed/ outside a completed checkpoint, so a restart from any retained
 * checkpoint, even after the job finished, commits every record exactly once.
 */
export class TwoPhaseCommitFileSink<T> implements SinkFunction<T>, CheckpointedFunction, CheckpointListener {
  private state: ListState<PendingTransaction> | undefined;
  private pending: PendingTransaction[] = [];
  /** Pre-committed by finish(), recorded by the next snapshot (the final checkpoint). */
  private finishedTxns: string[] = [];
  private buffer: string[] = [];
  private ctx: RuntimeContext | undefined;
  private seq = 0;
  /** Distinguishes runs: attempt numbers and checkpoint ids alone repeat when a job is started again. */
  private readonly runToken = randomUUID().slice(0, 8);
  private readonly format: (value: T) => string;

  constructor(private readonly options: TwoPhaseCommitFileSinkOptions<T>) {
    this.format = options.format ?? ((v) => JSON.stringify(v));
  }

  static pendingDir(directory: string): string {
    return joinPath(directory, 'pending');
  }

  static committedDir(directory: string): string {
    return joinPath(directory, 'committed');
  }

  async initializeState(ctx: RuntimeContext): Promise<void> {
    this.ctx = ctx;
    this.state = ctx.getUnionListState(PENDING);
    const restored = ctx.isRestored ? this.state.get().map((p) => ({ ...p })) : [];
    this.state.update([]);
    if (ctx.subtaskIndex !== 0) return;
    for (const p of restored) await this.commit(p);
    // Anything else pending was pre-committed for a checkpoint that never completed (or by a run
    // that failed before its first checkpoint): abort it. The sink owns its directory.
    const keep = new Set(restored.map((p) => p.txn));
    const pendingDir = TwoPhaseCommitFileSink.pendingDir(this.options.directory);
    for (const f of await this.options.fs.list(pendingDir)) {
      const name = f.path.slice(f.path.lastIndexOf('/') + 1);
      if (isTransactionOf(name, this.ctx.operatorUid) && !keep.has(name)) await this.options.fs.delete(f.path);
    }
  }

  invoke(value: T): void {
    this.buffer.push(this.format(value));
  }

  /** Pre-commit: the open transaction becomes a durable pending file, recorded in the checkpoint. */
  async snapshotState(s: SnapshotContext): Promise<void> {
    const ctx = this.ctx!;
    if (this.buffer.length > 0) {
      const txn = `${ctx.operatorUid}-${ctx.subtaskIndex}-${this.runToken}-a${ctx.attempt}-c${s.checkpointId}-${this.seq++}`;
      await this.writeFile(joinPath(TwoPhaseCommitFileSink.pendingDir(this.options.directory), txn), this.buffer);
      this.buffer = [];
      this.pending.push({ txn, checkpointId: s.checkpointId });
    }
    for (const txn of this.finishedTxns) this.pending.push({ txn, checkpointId: s.checkpointId });
    this.finishedTxns = [];
    this.state!.update(this.pending);
  }

  /** Commits every transaction pre-committed at or before the completed checkpoint. */
  async notifyCheckpointComplete(checkpointId: number): Promise<void> {
    const ready = this.pending.filter((p) => p.checkpointId <= checkpointId);
    for (const p of ready) await this.commit(p);
    this.pending = this.pending.filter((p) => p.checkpointId > checkpointId);
  }

  /** An aborted checkpoint's transaction stays pending: the next completed checkpoint commits it. */
  notifyCheckpointAborted(): void {}

  /**
   * End of input: pre-commit the open transaction (Flink's finish()). The final checkpoint
   * records and commits it. Without checkpointing no checkpoint ever will, and there is no
   * exactly-once to keep: the records are committed directly.
   */
  async finish(): Promise<void> {
    if (this.buffer.length === 0) return;
    const ctx = this.ctx!;
    const txn = `${ctx.operatorUid}-${ctx.subtaskIndex}-${this.runToken}-a${ctx.attempt}-final-${this.seq++}`;
    const dir = ctx.isCheckpointingEnabled ? TwoPhaseCommitFileSink.pendingDir(this.options.directory) : TwoPhaseCommitFileSink.committedDir(this.options.directory);
    await this.writeFile(joinPath(dir, txn), this.buffer);
    this.buffer = [];
    if (ctx.isCheckpointingEnabled) this.finishedTxns.push(txn);
  }

  private async commit(p: PendingTransaction): Promise<void> {
    const fs = this.options.fs;
    const from = joinPath(TwoPhaseCommitFileSink.pendingDir(this.options.directory), p.txn);
    const to = joinPath(TwoPhaseCommitFileSink.committedDir(this.options.directory), p.txn);
    let bytes: Uint8Array;
    try {
      bytes = await fs.read(from);
    } catch (e) {
      if (!(e instanceof StorageNotFoundError)) throw e;
      // Idempotence: committed before (by an earlier notify or restore).
      if ((await fs.stat(to)) !== null) return;
      throw new TransactionCommitError(p.txn, p.checkpointId, 'its pending file is gone and it was never committed', { cause: e });
    }
    await writeCommitted(fs, to, (w) => w.write(bytes));
    await fs.delete(from);
  }

  private async writeFile(path: string, lines: readonly string[]): Promise<void> {
    await writeCommitted(this.options.fs, path, (w) => w.write(Buffer.from(lines.join('\n') + '\n', 'utf8')));
  }

  /** The committed lines under `directory` (for verification), in file-name order. */
  static async readCommitted(fs: FileSystem, directory: string): Promise<string[]> {
    const files = (await fs.list(TwoPhaseCommitFileSink.committedDir(directory))).map((f) => f.path).sort();
    const out: string[] = [];
    for (const f of files) {
      const text = Buffer.from(await fs.read(f)).toString('utf8');
      for (const line of text.split('\n')) if (line !== '') out.push(line);
    }
    return out;
  }
}

/** A table written by key; writing the same key twice keeps the last value. */
export interface UpsertTable<V> {
  upsert(id: string, value: V): void | Promise<void>;
}

/** An in-memory upsert table that also counts how often a key was written again (replays). */
export class InMemoryUpsertTable<V> implements UpsertTable<V> {
  readonly rows = new Map<string, V>();
  private overwriteCount = 0;

  /** Upserts of a key already present. */
  get overwrites(): number {
    return this.overwriteCount;
  }

  upsert(id: string, value: V): void {
    if (this.rows.has(id)) this.overwriteCount++;
    this.rows.set(id, value);
  }
}

/**
 * Idempotent output: each record is written under its id, so records replayed after a failover
 * overwrite themselves. Effectively exactly-once for deterministic jobs, without transactions.
 */
export class UpsertSink<T, V = T> implements SinkFunction<T> {
  constructor(
    private readonly table: UpsertTable<V>,
    private readonly idOf: (value: T) => string,
    private readonly valueOf: (value: T) => V = (v) => v as unknown as V,
  ) {
    assert(typeof idOf === 'function', 'UpsertSink needs an id function');
  }

  invoke(value: T): void | Promise<void> {
    return this.table.upsert(this.idOf(value), this.valueOf(value));
  }
}
