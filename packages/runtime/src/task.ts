import {
  assert,
  type CheckpointOptions,
  type CheckpointStreamFactory,
  type KeyedStateBackend,
  type KeyedStateHandle,
  type OperatorStateBackend,
  type OperatorStateHandle,
  type SnapshotFuture,
  type SnapshotResult,
  type StreamStateHandle,
} from '@flowstate/core';
import { Signal, type BarrierMessage, type ChannelMessage, type RecordBatch, type RecordMessage } from './channel.js';
import { TaskCancelledError } from './errors.js';
import type { Collector, SourceFunction } from './functions.js';
import type { StreamNode, StreamOperator } from './graph.js';
import type { SubtaskContext } from './operators.js';
import { encodeChannelState } from './channel-state.js';
import { estimateBytes, SAMPLE_EVERY, type Pending } from './pending-checkpoint.js';
import { TaskOutput } from './output.js';
import { SOURCE_IDLE } from './source-idle.js';
import type { ProcessingTimeClock } from './time/clock.js';
import { OperatorTime } from './time/operator-time.js';
import { SourceTime } from './time/source-time.js';
import type { CheckpointingMode, InputChannelSpec, OutputEdge, RestoredInflight, RuntimeHooks, TaskAck, TaskInfo } from './task-protocol.js';

// The task's vocabulary lives in task-protocol.ts and the channel-state codec in channel-state.ts.
export * from './task-protocol.js';
export { decodeChannelState, encodeChannelState } from './channel-state.js';

/** What a task needs from the job: the coordinator's side of the checkpoint protocol. */
export interface TaskHost {
  readonly mode: CheckpointingMode;
  readonly alignedTimeoutMs: number | undefined;
  readonly maxParallelism: number;
  readonly hooks: RuntimeHooks;
  /** Processing time of every task (timers, idleness). */
  readonly clock: ProcessingTimeClock;
  /** The running checkpoint's stream factory and options, or undefined when it was aborted. */
  checkpointTarget(checkpointId: number): { streamFactory: CheckpointStreamFactory; options: CheckpointOptions } | undefined;
  acknowledge(task: Task, checkpointId: number, ack: TaskAck): void;
  /** Deletes the files behind handles that will never be acknowledged (a partly failed or dropped snapshot). */
  discardUnused(checkpointId: number, handles: Pick<TaskAck, 'keyed' | 'operator' | 'channelState'>): void;
  decline(task: Task, checkpointId: number, cause: unknown): void;
  /**
   * The task finished its input: a source emitted everything, an operator received end of data
   * on every input and ran endInput and finish. It keeps taking part in checkpoints until one
   * taken after every task finished (the final checkpoint) completes.
   */
  taskFinished(task: Task): void;
}

/**
 * Records between two macrotask yields. Tasks hand each other batches through promise
 * resolutions (microtasks) and could otherwise starve timers: checkpoint triggers, alignment
 * timeouts, processing-time timers.
 */
const YIELD_EVERY = 256;
const yieldMacrotask = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * One subtask of one operator: a single async loop that takes mail (checkpoint triggers,
 * notifications), overtaking barriers, then input, in that order. It reads a record only when
 * every output channel has credit, which is how backpressure propagates.
 *
 * Input arrives in batches, processed synchronously, as many records at a time as the output
 * credit allows. The loop awaits only when it has nothing to do (no input, no credit), when an
 * operator returns a promise (the loop then comes back after that one record, so mail and
 * overtaking barriers are looked at between records exactly as without batches), for mail,
 * and to yield to timers every YIELD_EVERY records.
 */
export class Task implements TaskInfo {
  readonly name: string;
  private readonly mailbox: Array<() => void | Promise<void>> = [];
  private cancelled = false;
  private readonly blocked: boolean[];
  /** Per input channel: end of data received (no record follows; barriers may). */
  private readonly ended: boolean[];
  private endedCount = 0;
  /** Per input channel: end of partition received (nothing follows). */
  private readonly closed: boolean[];
  private closedCount = 0;
  /** endInput and finish ran (operators), or everything was emitted (sources); end of data was sent. */
  private inputFinished = false;
  /** The checkpoint that ends the job (final or stop-with-savepoint) completed: terminate. */
  private terminating = false;
  private rr = 0;
  private pending: Pending | undefined;
  private readonly abortedIds = new Set<number>();
  private lastHandledId = 0;
  private recordCount = 0;
  private readonly asyncParts = new Set<Promise<void>>();
  private readonly asyncById = new Map<number, NonNullable<Pending['futures']>>();
  private readonly runningFutures = new Set<SnapshotFuture<unknown>>();
  /**
   * The stop-with-savepoint whose snapshot this task took (set in takeSnapshot, cleared by
   * endStop when it completes or is aborted). Until then nothing may follow its barrier: a
   * source emits nothing, an operator fires no timer. Only one stop is in progress at a time
   * (JobClient.stopWithSavepoint), and the abort of a failed one is posted before the next trigger.
   */
  private stopPending: number | undefined;
  /** Records and events downstream; its timestamp is the current record's (or timer's). */
  readonly output: TaskOutput;
  /** Operators: combined input watermark and timer services. */
  readonly time: OperatorTime | undefined;
  /** Sources: timestamps and watermark generation (initialized by the job before the source). */
  readonly sourceTime: SourceTime<unknown> | undefined;

  constructor(
    readonly node: StreamNode,
    readonly subtaskIndex: number,
    readonly attempt: number,
    private readonly host: TaskHost,
    /** Shared with the channels: woken by input, returned credit and mail. */
    readonly wakeup: Signal,
    readonly inputs: readonly InputChannelSpec[],
    readonly outputs: readonly OutputEdge[],
    readonly keyed: KeyedStateBackend<unknown> | undefined,
    readonly operatorState: OperatorStateBackend,
    readonly ctx: SubtaskContext,
    private readonly operator: StreamOperator | undefined,
    private readonly source: SourceFunction<unknown> | undefined,
    private readonly restoredInflight: readonly RestoredInflight[],
    /**
     * The restored snapshot was taken after this subtask finished its input: it must not run
     * endInput and finish (or emit) again, whose effects are already in that snapshot.
     */
    private readonly finishedOnRestore: boolean,
  ) {
    this.name = `${node.uid}#${subtaskIndex}`;
    this.blocked = inputs.map(() => false);
    this.ended = inputs.map(() => false);
    this.closed = inputs.map(() => false);
    assert(!finishedOnRestore || restoredInflight.length === 0, `task ${this.name}: a subtask that finished has no in-flight records to replay`);
    assert((operator === undefined) !== (source === undefined), `task ${this.name} is either a source or an operator`);
    const onEmit = host.hooks.onEmit;
    this.output = new TaskOutput(outputs, subtaskIndex, host.maxParallelism, onEmit && ((n) => onEmit(this, n)));
    const send = (m: ChannelMessage) => this.output.broadcast(m);
    if (source !== undefined) {
      this.sourceTime = new SourceTime(node.watermarkStrategy, host.clock, send);
    } else {
      this.time = new OperatorTime(inputs.length, keyed, host.clock, { output: this.output, broadcast: send, post: (fn) => this.post(fn) });
      if (finishedOnRestore) {
        this.time.quiesce();
        this.time.endOfData();
      }
    }
    ctx.bindOutput(this.output);
  }

  get collector(): Collector<unknown> {
    return this.output;
  }

  get uid(): string {
    return this.node.uid;
  }

  get isSource(): boolean {
    return this.source !== undefined;
  }

  // ---------------------------------------------------------------- mail from the coordinator

  /**
   * Sources only: inject a barrier. A stop-with-savepoint's (`barrier.stop`) stops emission
   * (stopPending) before the barrier goes, so nothing follows it; the job ends when that
   * savepoint completes, and emission resumes when it is aborted.
   */
  triggerCheckpoint(barrier: BarrierMessage): void {
    assert(this.isSource, `checkpoint triggered at non-source task ${this.name}`);
    // The source emits nothing while this mail runs: the stop takes effect before its next record.
    this.post(() => this.checkpointSource(barrier));
  }

  /** Every task finished and checkpointing is off: no final checkpoint will come, terminate now. */
  terminate(): void {
    this.post(() => {
      this.terminating = true;
    });
  }

  /**
   * `endOfJob`: this checkpoint ends the job (the final checkpoint, taken after every task
   * finished, or a stop-with-savepoint): once its side effects are committed, the task terminates.
   */
  notifyCheckpointComplete(checkpointId: number, endOfJob = false): void {
    this.post(async () => {
      this.host.hooks.beforeNotifyComplete?.(this, checkpointId);
      this.keyed?.notifyCheckpointComplete(checkpointId);
      this.operatorState.notifyCheckpointComplete(checkpointId);
      if (this.operator) await this.operator.notifyCheckpointComplete(checkpointId);
      if (this.source?.notifyCheckpointComplete) await this.source.notifyCheckpointComplete(checkpointId);
      if (endOfJob) this.terminating = true;
      this.endStop(checkpointId);
    });
  }

  notifyCheckpointAborted(checkpointId: number): void {
    this.post(async () => {
      this.abortedIds.add(checkpointId);
      // A failed stop: the job goes on, and so do its sources and timers.
      this.endStop(checkpointId);
      const p = this.pending;
      if (p !== undefined && p.barrier.checkpointId === checkpointId) this.dropPending(p);
      // Stop uploading for a checkpoint nobody will use; cancelled snapshots delete their files.
      const running = this.asyncById.get(checkpointId);
      if (running) {
        running.keyed?.cancel();
        running.operator.cancel();
      }
      this.keyed?.notifyCheckpointAborted(checkpointId);
      this.operatorState.notifyCheckpointAborted(checkpointId);
      if (this.operator) await this.operator.notifyCheckpointAborted(checkpointId);
      if (this.source?.notifyCheckpointAborted) await this.source.notifyCheckpointAborted(checkpointId);
    });
  }

  /** The stop-with-savepoint `checkpointId` completed or was aborted: it is no longer pending here. */
  private endStop(checkpointId: number): void {
    if (this.stopPending === checkpointId) this.stopPending = undefined;
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.time?.dispose();
    // A snapshot waiting for the rest of its barriers will never be acknowledged.
    if (this.pending !== undefined) this.dropPending(this.pending);
    this.wakeup.notify();
    for (const f of this.runningFutures) f.cancel();
  }

  /** Keeps `work` in the set drainAsyncParts waits for. */
  private track(work: Promise<void>): void {
    this.asyncParts.add(work);
    void work.finally(() => this.asyncParts.delete(work));
  }

  /** Settles when every asynchronous snapshot part of this task settled. */
  async drainAsyncParts(): Promise<void> {
    while (this.asyncParts.size > 0) await Promise.allSettled([...this.asyncParts]);
  }

  private post(mail: () => void | Promise<void>): void {
    this.mailbox.push(mail);
    this.wakeup.notify();
  }

  private checkCancelled(): void {
    if (this.cancelled) throw new TaskCancelledError(this.name);
  }

  private async runMail(): Promise<boolean> {
    if (this.mailbox.length === 0) return false;
    const mail = this.mailbox.shift()!;
    await mail();
    return true;
  }

  // ---------------------------------------------------------------- main loops

  async run(): Promise<void> {
    if (this.source) await this.runSource();
    else await this.runOperator();
  }

  private async runSource(): Promise<void> {
    const source = this.source!;
    let sinceYield = 0;
    if (this.finishedOnRestore) this.finishSource();
    for (;;) {
      this.checkCancelled();
      // Awaits only when there is mail: an empty mailbox costs no promise per loop turn.
      if (this.mailbox.length > 0 && (await this.runMail())) continue;
      if (this.terminating) return this.terminateNow();
      if (this.inputFinished || this.stopPending !== undefined || !this.output.available) {
        await this.wakeup.wait();
        continue;
      }
      const v = source.pollNext();
      if (v === undefined) {
        this.finishSource();
        continue;
      }
      if (v === SOURCE_IDLE) {
        await this.sourceIdle();
        continue;
      }
      this.host.hooks.onRecord?.(this, ++this.recordCount);
      const ts = this.sourceTime!.timestampOf(v);
      this.output.timestamp = ts;
      this.output.collect(v);
      this.sourceTime!.afterRecord(v, ts);
      if (++sinceYield >= YIELD_EVERY) {
        sinceYield = 0;
        await yieldMacrotask();
      }
    }
  }

  /** Nothing to emit for now: idleness may be declared; poll again after a millisecond (mail runs first). */
  private async sourceIdle(): Promise<void> {
    this.sourceTime!.onNoRecord();
    await new Promise<void>((r) => setTimeout(r, 1));
  }

  /** Everything emitted: event time ends, then end of data goes downstream, behind the last record. */
  private finishSource(): void {
    this.inputFinished = true;
    this.sourceTime!.finish();
    this.output.broadcast({ kind: 'end-of-data' });
    this.host.taskFinished(this);
  }

  /**
   * Every input ended: endInput may still emit, finish pre-commits what a sink holds into the
   * transaction of the next checkpoint. Both happen before end of data goes downstream, so
   * their records are drained by the consumers before those finish in turn.
   */
  private async finishOperator(op: StreamOperator): Promise<void> {
    if (!this.finishedOnRestore) {
      // endInput's output is one input record's: it starts only while every channel has credit.
      await this.awaitCredit();
      await op.endInput(this.collector);
      await this.drainTimers();
      this.time!.quiesce();
      await op.finish();
      // A timer service first asked for in finish fires its due (restored) timers before end of data.
      await this.drainTimers();
      this.time!.endOfData();
    }
    this.inputFinished = true;
    this.output.broadcast({ kind: 'end-of-data' });
    this.host.taskFinished(this);
  }

  /**
   * The job ended with a checkpoint whose side effects are committed. Nothing can be in flight
   * here: after the final checkpoint every channel was drained before it was triggered, and a
   * stop-with-savepoint's aligned barrier follows the sources' last records. A record left
   * behind would be lost output, so it is an invariant, not a case to handle.
   */
  private async terminateNow(): Promise<void> {
    this.time?.dispose();
    if (this.pending !== undefined) this.dropPending(this.pending);
    await this.drainAsyncParts();
    for (const i of this.inputs) assert(i.channel.queuedRecords === 0, `${this.name}: ${i.channel.queuedRecords} record(s) left in ${i.channel.id} at the end of the job`);
    this.output.broadcast({ kind: 'end' });
  }

  /** Until every output channel has credit (woken by returned credit; cancellation ends it). */
  private async awaitCredit(): Promise<void> {
    while (!this.output.available) {
      this.checkCancelled();
      await this.wakeup.wait();
    }
  }

  private async runOperator(): Promise<void> {
    const op = this.operator!;
    await this.replayInflight(op);
    let sinceYield = 0;
    const time = this.time!;
    for (;;) {
      this.checkCancelled();
      if (this.terminating) return this.terminateAfterMail();
      // Due timers fire before any other input, in steps between which mail and barriers run.
      if (time.firing) {
        // Synchronous while the step ends the firing (a watermark without timers costs no promise).
        // After a stop-with-savepoint's snapshot nothing fires until it completes or aborts: mail runs.
        const fired = this.stopPending === undefined ? time.fireStep(YIELD_EVERY) : 0;
        if (time.firing) await this.betweenSteps(fired);
        if ((sinceYield += fired) >= YIELD_EVERY) {
          sinceYield = 0;
          await yieldMacrotask();
        }
        continue;
      }
      // Awaits only when there is mail: an empty mailbox costs no promise per loop turn.
      if (this.mailbox.length > 0 && (await this.runMail())) continue;
      if (!this.inputFinished && this.endedCount === this.inputs.length) {
        await this.finishOperator(op);
        continue;
      }
      const overtaking = this.findOvertakingBarrier();
      if (overtaking !== undefined) {
        await this.onBarrier(overtaking.index, overtaking.barrier, overtaking.overtaken);
        continue;
      }
      const next = this.pollInput();
      if (next === undefined) {
        await this.wakeup.wait();
        continue;
      }
      const [index, msg] = next;
      if (msg.kind === 'records') {
        const before = this.recordCount;
        const r = this.processBatch(index, msg, op);
        if (r !== undefined) {
          await r;
          this.checkCancelled();
        }
        sinceYield += this.recordCount - before;
        if (sinceYield >= YIELD_EVERY) {
          sinceYield = 0;
          await yieldMacrotask();
        }
      } else if (msg.kind === 'barrier') {
        await this.onBarrier(index, msg, []);
      } else if (msg.kind === 'watermark') {
        time.onWatermark(index, msg.timestamp);
      } else if (msg.kind === 'watermark-status') {
        time.onStatus(index, msg.idle);
      } else if (msg.kind === 'end-of-data') {
        this.ended[index] = true;
        this.endedCount++;
        time.onEndOfData(index);
      } else {
        // The producer terminated: no barrier will come on this channel any more.
        this.closed[index] = true;
        this.closedCount++;
        const p = this.pending;
        if (p !== undefined && !p.received[index]) await this.markReceived(p, index, []);
      }
    }
  }

  /** The job ended (its last checkpoint completed): the remaining mail runs, due timers stay unfired. */
  private async terminateAfterMail(): Promise<void> {
    while (this.mailbox.length > 0) {
      this.checkCancelled();
      await this.runMail();
    }
    return this.terminateNow();
  }

  /** Channel state of an unaligned checkpoint is replayed before any new input. */
  private async replayInflight(op: StreamOperator): Promise<void> {
    for (const r of this.restoredInflight) {
      for (const v of r.records) {
        await this.awaitCredit();
        const result = this.processValue(r.inputIndex, this.inputs.find((i) => i.inputIndex === r.inputIndex)?.keySelector, v.value, v.timestamp, op);
        if (result !== undefined) await result;
        // Nothing can be due here: event time starts at the minimum after a restore and only input
        // events (not read yet) advance it, so a service created lazily by a replayed record starts
        // there too; processing-time timers come due by mail, which does not run during the replay.
        // (See the unaligned caveat in docs/event-time.md.)
        assert(this.time?.firing !== true, `${this.name}: timers due while in-flight records are replayed`);
      }
    }
  }

  /**
   * Between two steps of due timers (`fired` by the last one): runs mail or a barrier (an
   * overtaking one, or one at the head of an input: the watermark that fires came before it), or
   * waits for credit when the step fired nothing. Records and other input events wait until
   * every due timer fired.
   */
  private async betweenSteps(fired: number): Promise<void> {
    if (this.mailbox.length > 0 && (await this.runMail())) return;
    const b = this.findOvertakingBarrier() ?? this.pollHeadBarrier();
    if (b !== undefined) await this.onBarrier(b.index, b.barrier, b.overtaken);
    else if (fired === 0) await this.wakeup.wait();
  }

  /**
   * A barrier at the head of an input the task may read (not blocked by alignment), taken: a
   * checkpoint's or a savepoint's, whose snapshot holds the timers not fired yet. Not a
   * stop-with-savepoint's: that one waits for the backlog, so the watermark that made the timers
   * due, and their output, reach the sinks before the job ends (see docs/event-time.md).
   */
  private pollHeadBarrier(): { index: number; barrier: BarrierMessage; overtaken: RecordMessage[] } | undefined {
    for (let i = 0; i < this.inputs.length; i++) {
      if (this.blocked[i] || this.closed[i]) continue;
      const c = this.inputs[i]!.channel;
      const head = c.peek();
      if (head?.kind === 'barrier' && !head.stop) return { index: i, barrier: c.poll() as BarrierMessage, overtaken: [] };
    }
    return undefined;
  }

  /**
   * Fires every due timer before anything else, within credit, without mail: after a replayed
   * record, endInput or finish, which may have created a timer service lazily (OperatorTime).
   */
  private async drainTimers(): Promise<void> {
    const time = this.time!;
    while (time.firing) {
      this.checkCancelled();
      if (time.fireStep(YIELD_EVERY) === 0 && time.firing) await this.wakeup.wait();
    }
  }

  /**
   * Processes records of the head batch of input `index` synchronously while every output
   * channel has credit: a record is read only when each channel has room for one more, so a
   * channel holds at most its capacity plus the fan-out of one input record less one (Flink's
   * overdraft: a record's output is never split). TaskOutput.hasCredit re-reads the channels
   * only after as many records were sent as the smallest credit read last, so the fast path
   * costs no channel scan per record. Returns the promise of an operator that went asynchronous:
   * the records up to and including that one are consumed, the rest stay queued (an unaligned
   * barrier arriving meanwhile overtakes exactly those). Records left when the credit ran out
   * stay queued too.
   */
  private processBatch(index: number, batch: RecordBatch, op: StreamOperator): Promise<void> | undefined {
    const spec = this.inputs[index]!;
    const { inputIndex, keySelector } = spec;
    const out = this.output;
    const start = batch.pos;
    const values = batch.values;
    const timestamps = batch.timestamps;
    const p = this.pending;
    const time = this.time!;
    let j = start;
    for (; j < values.length; j++) {
      // A record that created a timer service lazily leaves its due timers to fire first.
      if (!out.hasCredit() || time.firing) break;
      if (p !== undefined) this.noteDuringCheckpoint(p, index, values[j], timestamps[j]);
      const r = this.processValue(inputIndex, keySelector, values[j], timestamps[j], op);
      if (r !== undefined) {
        spec.channel.consume(batch, j + 1 - start);
        return r;
      }
    }
    spec.channel.consume(batch, j - start);
    return undefined;
  }

  /**
   * A record taken while a checkpoint is pending: after an unaligned snapshot, a record of a
   * channel whose barrier has not arrived is channel state; during alignment, every
   * SAMPLE_EVERY-th record is sized for the statistics.
   */
  private noteDuringCheckpoint(p: Pending, index: number, value: unknown, timestamp: number | undefined): void {
    const rec = p.recording[index];
    if (rec !== undefined) rec.push({ kind: 'record', value, timestamp });
    else if (p.alignmentDoneAt === undefined && !p.unaligned && p.processedRecords++ % SAMPLE_EVERY === 0) {
      p.sampledRecords++;
      p.sampledBytes += estimateBytes(value);
    }
  }

  private processValue(inputIndex: number, keySelector: ((v: unknown) => unknown) | undefined, value: unknown, timestamp: number | undefined, op: StreamOperator): Promise<void> | undefined {
    this.host.hooks.onRecord?.(this, ++this.recordCount);
    this.output.timestamp = timestamp;
    if (this.keyed !== undefined) {
      // The only non-keyed input a keyed operator has is a broadcast one (checked when the graph
      // is built); its function gets a context without a current key.
      if (keySelector !== undefined) this.keyed.setCurrentKey(keySelector(value));
      else assert(this.node.inputs.some((e) => e.inputIndex === inputIndex && e.partitioner.kind === 'broadcast'), `keyed task ${this.name} got a record on non-keyed input ${inputIndex}`);
    }
    const r = op.processElement(inputIndex, value, this.collector);
    return r === undefined ? undefined : r;
  }

  /**
   * The next message of an unblocked channel; records only while every output has credit. A
   * record batch stays queued (processBatch consumes what it processes); events are taken.
   */
  private pollInput(): [number, ChannelMessage] | undefined {
    const n = this.inputs.length;
    const canEmit = this.output.available;
    for (let k = 0; k < n; k++) {
      const i = (this.rr + k) % n;
      if (this.blocked[i] || this.closed[i]) continue;
      const c = this.inputs[i]!.channel;
      const head = c.peek();
      if (head === undefined) continue;
      // A watermark may fire timers, which emit: it waits for credit as a record does.
      if ((head.kind === 'records' || head.kind === 'watermark') && !canEmit) continue;
      this.rr = (i + 1) % n;
      return [i, head.kind === 'records' ? head : c.poll()!];
    }
    return undefined;
  }

  /**
   * A barrier that may overtake queued records: any barrier in UNALIGNED mode, the barrier of a
   * checkpoint that already switched to unaligned, or (aligned with timeout) a barrier whose
   * checkpoint is older than the alignment timeout. Savepoints never overtake.
   */
  private findOvertakingBarrier(): { index: number; barrier: BarrierMessage; overtaken: RecordMessage[] } | undefined {
    const timeout = this.host.alignedTimeoutMs;
    if (this.host.mode === 'AT_LEAST_ONCE') return undefined;
    if (this.host.mode === 'EXACTLY_ONCE' && timeout === undefined && !this.pending?.unaligned) return undefined;
    const now = Date.now();
    for (let i = 0; i < this.inputs.length; i++) {
      const c = this.inputs[i]!.channel;
      const b = c.firstQueuedBarrier;
      if (b === undefined || b.savepoint) continue;
      const p = this.pending;
      const eligible =
        this.host.mode === 'UNALIGNED' ||
        b.unaligned ||
        (p !== undefined && p.unaligned && p.barrier.checkpointId === b.checkpointId) ||
        (timeout !== undefined && now - b.timestamp >= timeout);
      if (!eligible) continue;
      // Only the head can be taken when it is already there; otherwise overtake.
      const ex = c.extractBarrier()!;
      return { index: i, barrier: { ...ex.barrier, unaligned: true }, overtaken: ex.overtaken };
    }
    return undefined;
  }

  // ---------------------------------------------------------------- barriers

  private async onBarrier(index: number, barrier: BarrierMessage, overtaken: RecordMessage[]): Promise<void> {
    const id = barrier.checkpointId;
    if (this.abortedIds.has(id) || id <= this.lastHandledId) {
      // A barrier of a checkpoint this task already finished or that was aborted.
      return;
    }
    let p = this.pending;
    if (p !== undefined && id > p.barrier.checkpointId) {
      // A newer barrier overtook an unfinished alignment: the older checkpoint cannot complete here.
      this.host.decline(this, p.barrier.checkpointId, new Error(`checkpoint ${p.barrier.checkpointId} subsumed by barrier ${id} at ${this.name}`));
      this.dropPending(p);
      p = undefined;
    }
    if (p !== undefined && id < p.barrier.checkpointId) return;
    if (p === undefined) p = this.startPending(barrier);
    if (barrier.unaligned && !p.unaligned && !barrier.savepoint) await this.switchToUnaligned(p);
    await this.markReceived(p, index, overtaken);
  }

  private startPending(barrier: BarrierMessage): Pending {
    const n = this.inputs.length;
    const p: Pending = {
      barrier,
      startedAt: Date.now(),
      received: this.closed.slice(),
      receivedCount: this.closedCount,
      unaligned: false,
      snapshotTaken: false,
      finished: false,
      syncDurationMs: 0,
      futures: undefined,
      recording: new Array<RecordMessage[] | undefined>(n).fill(undefined),
      inflight: [],
      processedRecords: 0,
      sampledRecords: 0,
      sampledBytes: 0,
      alignmentDoneAt: undefined,
      timer: undefined,
    };
    this.pending = p;
    const timeout = this.host.alignedTimeoutMs;
    if (this.host.mode === 'EXACTLY_ONCE' && timeout !== undefined && !barrier.savepoint) {
      const delay = Math.max(0, barrier.timestamp + timeout - Date.now());
      p.timer = setTimeout(() => {
        this.post(async () => {
          if (this.pending === p && !p.unaligned && p.alignmentDoneAt === undefined) await this.switchToUnaligned(p);
        });
      }, delay);
      p.timer.unref?.();
    }
    return p;
  }

  private async markReceived(p: Pending, index: number, overtaken: RecordMessage[]): Promise<void> {
    assert(!p.received[index], `${this.name}: second barrier ${p.barrier.checkpointId} on channel ${index}`);
    p.received[index] = true;
    p.receivedCount++;
    const mode = p.barrier.savepoint ? 'EXACTLY_ONCE' : this.host.mode;
    if (p.unaligned || (mode === 'UNALIGNED' && !p.barrier.savepoint)) {
      if (!p.unaligned) await this.switchToUnaligned(p);
      const rec = p.recording[index] ?? [];
      p.recording[index] = undefined;
      const records = rec.concat(overtaken);
      if (records.length > 0) p.inflight.push({ inputIndex: this.inputs[index]!.inputIndex, records });
    } else if (mode === 'AT_LEAST_ONCE') {
      // No blocking, and the snapshot waits for the last barrier (Flink's CheckpointBarrierTracker).
      // Records after an early barrier leak into the snapshot and are replayed: duplicates. A
      // snapshot at the first barrier would instead miss records still in flight before the later
      // barriers, which no source replays: data loss (the simulation shows it).
    } else if (p.receivedCount < this.inputs.length) {
      this.blocked[index] = true;
    }
    if (p.receivedCount === this.inputs.length) await this.completeAlignment(p);
  }

  /** Unaligned from now on: snapshot immediately, record what is still in flight before each missing barrier. */
  private async switchToUnaligned(p: Pending): Promise<void> {
    p.unaligned = true;
    for (let i = 0; i < this.inputs.length; i++) {
      this.blocked[i] = false;
      if (!p.received[i]) p.recording[i] = [];
    }
    if (!p.snapshotTaken) await this.takeSnapshot(p);
    this.wakeup.notify();
  }

  private async completeAlignment(p: Pending): Promise<void> {
    p.alignmentDoneAt = Date.now();
    if (p.timer) clearTimeout(p.timer);
    for (let i = 0; i < this.blocked.length; i++) this.blocked[i] = false;
    if (!p.snapshotTaken) await this.takeSnapshot(p);
    this.pending = undefined;
    this.lastHandledId = Math.max(this.lastHandledId, p.barrier.checkpointId);
    this.startAsyncPart(p);
  }

  private dropPending(p: Pending): void {
    if (p.timer) clearTimeout(p.timer);
    for (let i = 0; i < this.blocked.length; i++) this.blocked[i] = false;
    if (p.futures) {
      const f = p.futures;
      f.keyed?.cancel();
      f.operator.cancel();
      // cancel() cannot delete what an upload that already finished wrote: the coordinator does.
      const id = p.barrier.checkpointId;
      this.track(
        this.settle(id, f).then(
          (r) => this.host.discardUnused(id, { keyed: r.keyed?.jobManagerOwnedSnapshot ?? null, operator: r.operator.jobManagerOwnedSnapshot, channelState: null }),
          () => {},
        ),
      );
    }
    if (this.pending === p) this.pending = undefined;
    this.wakeup.notify();
  }

  /** Sources: the barrier starts here. */
  private async checkpointSource(barrier: BarrierMessage): Promise<void> {
    const p = this.startPending(barrier);
    await this.takeSnapshot(p);
    await this.completeAlignment(p);
  }

  /** The synchronous part: user snapshotState, backend snapshots, then the barrier goes downstream. */
  private async takeSnapshot(p: Pending): Promise<void> {
    assert(!p.snapshotTaken, `${this.name}: snapshot for checkpoint ${p.barrier.checkpointId} taken twice`);
    // A cancelled task must not start uploads nobody will ever settle.
    this.checkCancelled();
    p.snapshotTaken = true;
    p.finished = this.inputFinished;
    const id = p.barrier.checkpointId;
    let target = this.host.checkpointTarget(id);
    const unaligned = p.unaligned || (this.host.mode === 'UNALIGNED' && !p.barrier.savepoint);
    const forward: BarrierMessage = { ...p.barrier, unaligned };
    if (target === undefined) {
      // Aborted while the barrier travelled: nothing to write, but downstream still needs the barrier to unblock.
      this.output.broadcast(forward);
      return;
    }
    this.host.hooks.beforeSnapshot?.(this, id);
    const t0 = performance.now();
    const sctx = { checkpointId: id, timestamp: p.barrier.timestamp, savepoint: p.barrier.savepoint };
    if (this.operator) await this.operator.snapshotState(sctx);
    if (this.source) {
      this.sourceTime!.snapshot();
      await this.source.snapshotState(sctx);
    }
    // snapshotState may await I/O (a sink's pre-commit): the task may have been cancelled, or the
    // checkpoint aborted and its directory disposed, meanwhile.
    this.checkCancelled();
    target = this.host.checkpointTarget(id);
    if (target === undefined) {
      this.output.broadcast(forward);
      return;
    }
    const keyed = this.keyed?.snapshot(id, p.barrier.timestamp, target.streamFactory, target.options);
    const operator = this.operatorState.snapshot(id, p.barrier.timestamp, target.streamFactory, target.options);
    // The async part may never be awaited (checkpoint aborted before alignment ended, task
    // cancelled): mark the results handled here; startAsyncPart still sees a rejection.
    keyed?.result.catch(() => {});
    operator.result.catch(() => {});
    p.futures = { keyed, operator };
    if (keyed) this.runningFutures.add(keyed);
    this.runningFutures.add(operator);
    p.syncDurationMs = performance.now() - t0;
    if (p.barrier.stop) this.stopPending = id;
    this.output.broadcast(forward);
  }

  /**
   * Waits for both snapshot results. When one fails, the files of the other would be left
   * behind (its handle never reaches any metadata): the coordinator deletes them, then the
   * failure propagates.
   */
  private async settle(
    checkpointId: number,
    f: NonNullable<Pending['futures']>,
  ): Promise<{ keyed: SnapshotResult<KeyedStateHandle> | undefined; operator: SnapshotResult<OperatorStateHandle> }> {
    const [k, o] = await Promise.allSettled([f.keyed?.result, f.operator.result]);
    if (k.status === 'fulfilled' && o.status === 'fulfilled') return { keyed: k.value, operator: o.value };
    this.host.discardUnused(checkpointId, {
      keyed: k.status === 'fulfilled' ? (k.value?.jobManagerOwnedSnapshot ?? null) : null,
      operator: o.status === 'fulfilled' ? o.value.jobManagerOwnedSnapshot : null,
      channelState: null,
    });
    throw k.status === 'rejected' ? k.reason : (o as PromiseRejectedResult).reason;
  }

  /** The asynchronous part, off the processing loop: await uploads, persist channel state, acknowledge. */
  private startAsyncPart(p: Pending): void {
    const id = p.barrier.checkpointId;
    const futures = p.futures;
    if (futures === undefined) return;
    const t0 = performance.now();
    this.asyncById.set(id, futures);
    const work = (async () => {
      try {
        const { keyed: k, operator: o } = await this.settle(id, futures);
        const handles = { keyed: k?.jobManagerOwnedSnapshot ?? null, operator: o.jobManagerOwnedSnapshot, channelState: null };
        let channel: PersistedChannelState | undefined;
        try {
          channel = await this.persistChannelState(p);
        } catch (e) {
          // The state uploads succeeded but will never be acknowledged: the coordinator deletes
          // their files, the shared ones outside the checkpoint's directory included.
          this.host.discardUnused(id, handles);
          throw e;
        }
        if (channel === undefined) {
          // Aborted meanwhile: no channel state to write, and the uploaded state is unused.
          this.host.discardUnused(id, handles);
          return;
        }
        const { handle: channelState, persisted } = channel;
        // Acknowledge even when cancelled: the coordinator knows whether the checkpoint is still
        // pending, and deletes the files of acknowledgements that come too late.
        const align = p.alignmentDoneAt === undefined ? 0 : p.alignmentDoneAt - p.startedAt;
        this.host.acknowledge(this, id, {
          uid: this.uid,
          subtaskIndex: this.subtaskIndex,
          keyed: handles.keyed,
          operator: handles.operator,
          channelState,
          finished: p.finished,
          stats: {
            task: this.name,
            startDelayMs: Math.max(0, p.startedAt - p.barrier.timestamp),
            syncDurationMs: p.syncDurationMs,
            asyncDurationMs: performance.now() - t0,
            alignmentDurationMs: this.isSource ? 0 : align,
            checkpointedSize: (k?.checkpointedSize ?? 0) + o.checkpointedSize + persisted,
            fullSize: (k?.fullSize ?? 0) + o.fullSize + persisted,
            processedInflightBytes: p.sampledRecords === 0 ? 0 : Math.round((p.sampledBytes / p.sampledRecords) * p.processedRecords),
            persistedInflightBytes: persisted,
            unaligned: p.unaligned,
          },
        });
      } catch (e) {
        if (!this.cancelled) this.host.decline(this, id, e);
      } finally {
        this.asyncById.delete(id);
        if (futures.keyed) this.runningFutures.delete(futures.keyed);
        this.runningFutures.delete(futures.operator);
      }
    })();
    this.track(work);
  }

  /**
   * Writes the in-flight records of an unaligned checkpoint as channel state. Undefined when the
   * checkpoint was aborted meanwhile; a null handle when nothing was in flight.
   */
  private async persistChannelState(p: Pending): Promise<PersistedChannelState | undefined> {
    const id = p.barrier.checkpointId;
    // A task that finished had consumed end of data on every channel: nothing could be in
    // flight to it. Channel state here would be replayed on restore while its output was committed.
    assert(!p.finished || p.inflight.length === 0, `${this.name}: checkpoint ${id} taken after the end of input holds in-flight records`);
    if (p.inflight.length === 0) return { handle: null, persisted: 0 };
    const target = this.host.checkpointTarget(id);
    if (target === undefined) return undefined;
    const bytes = encodeChannelState(p.inflight);
    const out = target.streamFactory.createCheckpointStateOutputStream('EXCLUSIVE');
    try {
      await out.write(bytes);
      return { handle: await out.closeAndGetHandle(), persisted: bytes.length };
    } catch (e) {
      await out.abort();
      throw e;
    }
  }
}

/** The channel state a task wrote for a checkpoint (null: nothing was in flight) and its size. */
interface PersistedChannelState {
  readonly handle: StreamStateHandle | null;
  readonly persisted: number;
}
