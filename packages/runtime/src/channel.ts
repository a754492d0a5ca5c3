import { assert } from '@flowstate/core';

/**
 * What travels on a channel. Records travel in batches (RecordBatch); events keep their place
 * between them. Every message is a plain object of arrays and numbers, so a channel could be
 * backed by a MessagePort between worker threads without changing the tasks.
 */
export type ChannelMessage = RecordBatch | BarrierMessage | WatermarkMessage | WatermarkStatusMessage | EndOfDataMessage | EndOfPartitionMessage;

/**
 * Records in channel order, as two parallel arrays (no object per record). `pos` is the
 * consumer's cursor: the records before it were taken, the rest are still in flight (an unaligned
 * barrier overtakes exactly those). An event (barrier, watermark, end of data) is never inside a
 * batch: the producer flushes its open batch before it sends one.
 */
export interface RecordBatch {
  readonly kind: 'records';
  readonly values: unknown[];
  /** The records' event times, undefined where nothing assigned one. */
  readonly timestamps: (number | undefined)[];
  pos: number;
}

/** One record with its timestamp: the unit of channel state (and of its replay after a restore). */
export interface RecordMessage {
  readonly kind: 'record';
  readonly value: unknown;
  /** The record's event time, or undefined when nothing assigned one (Flink's hasTimestamp false). */
  readonly timestamp: number | undefined;
}

/**
 * Event time has reached `timestamp` on this channel: no record with a timestamp <= it follows
 * (records that do are late). Watermarks are events that keep their place among the records:
 * they need no credit, and an unaligned barrier overtakes them without moving them.
 */
export interface WatermarkMessage {
  readonly kind: 'watermark';
  readonly timestamp: number;
}

/**
 * Flink's WatermarkStatus: an idle channel carries no records for now and is left out of the
 * consumer's minimum watermark until it becomes active again (with a record or a watermark).
 */
export interface WatermarkStatusMessage {
  readonly kind: 'watermark-status';
  readonly idle: boolean;
}

export interface BarrierMessage {
  readonly kind: 'barrier';
  readonly checkpointId: number;
  readonly timestamp: number;
  readonly savepoint: boolean;
  /**
   * A stop-with-savepoint's barrier: once its snapshot is taken, a source emits nothing and an
   * operator fires no timer until the savepoint completes (the job ends) or is aborted (Flink's
   * synchronous savepoint).
   */
  readonly stop: boolean;
  /**
   * An unaligned barrier may overtake the records queued before it (a priority event); the records
   * it overtakes become channel state of the receiving task.
   */
  readonly unaligned: boolean;
}

/**
 * Flink's EndOfData: the producer finished its input (endInput and finish ran) and emits no more
 * records. Barriers still follow it, so the producer still takes part in checkpoints, among them
 * the final checkpoint that commits what its finish() pre-committed.
 */
export interface EndOfDataMessage {
  readonly kind: 'end-of-data';
}

/** Flink's EndOfPartitionEvent: the producer terminated; nothing follows, not even a barrier. */
export interface EndOfPartitionMessage {
  readonly kind: 'end';
}

/**
 * A one-shot wake-up: `wait()` resolves at the next `notify()`. Tasks park on one of these when
 * they have nothing to do, instead of polling.
 */
export class Signal {
  private waiter: (() => void) | undefined;
  private pending = false;

  notify(): void {
    const w = this.waiter;
    if (w !== undefined) {
      this.waiter = undefined;
      w();
    } else {
      this.pending = true;
    }
  }

  wait(): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    assert(this.waiter === undefined, 'only one waiter per signal');
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }
}

/** Records a producer collects into one batch before it sends the batch (fewer if the capacity is smaller). */
export const BATCH_SIZE = 256;

/**
 * One producer subtask to one consumer subtask, with credit-based flow control as in Flink's
 * network stack: the consumer grants `capacity` credits (one per record here); a producer
 * without credit is unavailable and its task stops reading its own input, so a slow operator
 * backs up all the way to the sources. Events (barriers, end of partition) need no credit: they
 * must never be stuck behind a full buffer, or a checkpoint could not even start.
 *
 * Records are collected into an open batch and sent when it is full, before any event, and
 * whenever the producer's task gives up the thread (a microtask: the open batch leaves at the
 * producer's next `await`, so a consumer never waits for records its producer holds back).
 * Credits count the open batch too: a producer cannot run ahead of them by batching.
 */
export class Channel {
  private readonly queue: ChannelMessage[] = [];
  private head = 0;
  private records = 0;
  private open: RecordBatch | undefined;
  private flushQueued = false;
  private readonly batchSize: number;
  private readonly flushTask = (): void => {
    this.flushQueued = false;
    this.flush();
  };
  /** Barriers currently queued, oldest first: the consumer looks for an overtaking barrier without scanning. */
  private readonly barriers: BarrierMessage[] = [];
  private dataEnded = false;
  private closed = false;

  constructor(
    readonly id: string,
    readonly capacity: number,
    /** Woken when a message arrives. */
    private readonly consumer: Signal,
    /** Woken when credit is returned. */
    private readonly producer: Signal,
  ) {
    assert(Number.isInteger(capacity) && capacity >= 1, `channel capacity ${capacity} >= 1`);
    this.batchSize = Math.min(BATCH_SIZE, capacity);
  }

  /** True when the producer may emit another record (it holds at least one credit). */
  get hasCredit(): boolean {
    return this.records < this.capacity;
  }

  /** Credits left: records the producer may still add before it is unavailable. */
  get credit(): number {
    return this.capacity - this.records;
  }

  get queuedRecords(): number {
    return this.records;
  }

  get firstQueuedBarrier(): BarrierMessage | undefined {
    return this.barriers[0];
  }

  get size(): number {
    return this.queue.length - this.head;
  }

  /**
   * Appends a record to the open batch. Records may exceed the credit by the output of one input
   * record less one (a flatMap's fan-out, Flink's overdraft): the producer checks the credit of
   * every channel before it processes each input record (Task.processBatch).
   */
  add(value: unknown, timestamp: number | undefined): void {
    let b = this.open;
    if (b === undefined) {
      assert(!this.closed && !this.dataEnded, `channel ${this.id}: record after end of data`);
      b = this.open = { kind: 'records', values: [], timestamps: [], pos: 0 };
      if (!this.flushQueued) {
        this.flushQueued = true;
        queueMicrotask(this.flushTask);
      }
    }
    b.values.push(value);
    b.timestamps.push(timestamp);
    this.records++;
    if (b.values.length >= this.batchSize) this.flush();
  }

  /** Sends the open batch, if any. */
  flush(): void {
    const b = this.open;
    if (b === undefined) return;
    this.open = undefined;
    this.queue.push(b);
    this.consumer.notify();
  }

  /** Appends an event after the records added so far (a whole batch, in tests). */
  push(message: ChannelMessage): void {
    this.flush();
    assert(!this.closed, `channel ${this.id}: message after end of partition`);
    if (message.kind === 'records') {
      assert(!this.dataEnded, `channel ${this.id}: record after end of data`);
      this.records += message.values.length - message.pos;
    } else if (message.kind === 'barrier') this.barriers.push(message);
    else if (message.kind === 'end-of-data') this.dataEnded = true;
    else if (message.kind === 'end') this.closed = true;
    this.queue.push(message);
    this.consumer.notify();
  }

  peek(): ChannelMessage | undefined {
    return this.queue[this.head];
  }

  /**
   * The consumer took the next `n` records of the head batch (peek()): their credit returns, and
   * the batch leaves the queue once every record of it was taken.
   */
  consume(batch: RecordBatch, n: number): void {
    assert(this.queue[this.head] === batch && batch.pos + n <= batch.values.length, `channel ${this.id}: consumed records not at the head`);
    batch.pos += n;
    if (batch.pos === batch.values.length) this.dequeue();
    this.returnCredit(n);
  }

  /** `n` records left the channel: their credit returns; the first credit wakes an unavailable producer. */
  private returnCredit(n: number): void {
    const hadCredit = this.hasCredit;
    this.records -= n;
    if (!hadCredit && n > 0) this.producer.notify();
  }

  /** Removes the head message: an event, or a record batch whose records are all consumed. */
  poll(): ChannelMessage | undefined {
    if (this.head >= this.queue.length) return undefined;
    const m = this.queue[this.head]!;
    this.dequeue();
    this.taken(m);
    return m;
  }

  private dequeue(): void {
    this.queue[this.head] = undefined as unknown as ChannelMessage;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }

  /**
   * Removes the first barrier wherever it is in the queue (an unaligned barrier overtaking the
   * in-flight records) and returns it with the records it overtook; those records (and the
   * watermarks between them) stay queued and are still processed after the barrier. A batch the
   * consumer is in the middle of is split at its cursor: only the records not yet taken are overtaken.
   */
  extractBarrier(): { barrier: BarrierMessage; overtaken: RecordMessage[] } | undefined {
    if (this.barriers.length === 0) return undefined;
    const overtaken: RecordMessage[] = [];
    for (let i = this.head; i < this.queue.length; i++) {
      const m = this.queue[i]!;
      if (m.kind === 'barrier') {
        this.queue.splice(i, 1);
        const first = this.barriers.shift();
        assert(first === m, `channel ${this.id}: barriers leave in order`);
        return { barrier: m, overtaken };
      }
      // Watermarks stay queued in place: they are not channel state (sources restore theirs).
      if (m.kind === 'records') for (let j = m.pos; j < m.values.length; j++) overtaken.push({ kind: 'record', value: m.values[j], timestamp: m.timestamps[j] });
    }
    assert(false, `channel ${this.id}: ${this.barriers.length} barrier(s) tracked but none queued`);
  }

  private taken(m: ChannelMessage): void {
    if (m.kind === 'records') {
      const n = m.values.length - m.pos;
      m.pos = m.values.length;
      this.returnCredit(n);
    } else if (m.kind === 'barrier') {
      const first = this.barriers.shift();
      assert(first === m, `channel ${this.id}: barriers leave in order`);
    }
  }
}
