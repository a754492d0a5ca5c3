/**
 * A deterministic harness for the window operator (Flink's KeyedOneInputStreamOperatorTestHarness
 * in spirit): a real heap keyed backend, a fake timer service whose watermark and processing time
 * the test advances, and an output that records what was emitted with its timestamp.
 */
import {
  CHECKPOINT,
  FsCheckpointStorage,
  KeyGroupRange,
  MemoryFileSystem,
  Serializers,
  type KeyedStateBackend,
  type KeyedStateHandle,
  type Window,
} from '@flowstate/core';
import { MemoryStateBackend } from '@flowstate/heap';
import { MAX_WATERMARK, MIN_WATERMARK, type InternalTimer, type InternalTimerService, type Triggerable } from '../../src/index.js';
import { WindowOperator, type OutputTag, type WindowOperatorSpec } from '../../src/index.js';

interface FakeTimer<W> extends InternalTimer<string, W> {
  readonly id: string;
}

/** Event-time and processing-time timers with set semantics, fired in timestamp order. */
export class FakeTimerService<W extends Window> implements InternalTimerService<W> {
  watermark = MIN_WATERMARK;
  processingTime = 0;
  readonly eventTimers = new Map<string, FakeTimer<W>>();
  readonly processingTimers = new Map<string, FakeTimer<W>>();

  constructor(private readonly keyed: KeyedStateBackend<string>) {}

  currentProcessingTime(): number {
    return this.processingTime;
  }
  currentWatermark(): number {
    return this.watermark;
  }
  registerEventTimeTimer(namespace: W, time: number): void {
    this.add(this.eventTimers, namespace, time);
  }
  deleteEventTimeTimer(namespace: W, time: number): void {
    this.eventTimers.delete(this.idOf(namespace, time));
  }
  registerProcessingTimeTimer(namespace: W, time: number): void {
    this.add(this.processingTimers, namespace, time);
  }
  deleteProcessingTimeTimer(namespace: W, time: number): void {
    this.processingTimers.delete(this.idOf(namespace, time));
  }

  /** Sets the watermark first, then fires every event-time timer at or before it (as Flink does). */
  advanceWatermark(watermark: number, target: Triggerable<string, W>): void {
    this.watermark = watermark;
    this.fire(this.eventTimers, watermark, (t) => target.onEventTime(t, { collect: () => {} }));
  }

  advanceProcessingTime(time: number, target: Triggerable<string, W>): void {
    this.processingTime = time;
    this.fire(this.processingTimers, time, (t) => target.onProcessingTime(t, { collect: () => {} }));
  }

  /** A copy for a snapshot; timers are immutable. */
  copyTimers(): { event: FakeTimer<W>[]; processing: FakeTimer<W>[] } {
    return { event: [...this.eventTimers.values()], processing: [...this.processingTimers.values()] };
  }

  private idOf(namespace: W, time: number): string {
    return `${this.keyed.getCurrentKey()}|${namespace.id}|${time}`;
  }

  private add(into: Map<string, FakeTimer<W>>, namespace: W, time: number): void {
    const id = this.idOf(namespace, time);
    if (!into.has(id)) into.set(id, { id, timestamp: time, key: this.keyed.getCurrentKey(), namespace });
  }

  private fire(timers: Map<string, FakeTimer<W>>, upTo: number, onTimer: (t: FakeTimer<W>) => void): void {
    for (;;) {
      let head: FakeTimer<W> | undefined;
      for (const t of timers.values()) if (t.timestamp <= upTo && (head === undefined || t.timestamp < head.timestamp)) head = t;
      if (head === undefined) return;
      timers.delete(head.id);
      this.keyed.setCurrentKey(head.key);
      onTimer(head);
    }
  }
}

export interface Emitted {
  readonly value: unknown;
  readonly timestamp: number;
}

export interface SideEmitted {
  readonly tag: string;
  readonly value: unknown;
  readonly timestamp: number | undefined;
}

export interface HarnessSnapshot<W extends Window> {
  readonly handle: KeyedStateHandle | null;
  readonly storage: FsCheckpointStorage;
  readonly timers: ReturnType<FakeTimerService<W>['copyTimers']>;
  readonly watermark: number;
  readonly processingTime: number;
}

const RANGE = KeyGroupRange.of(0, 127);

/** One window operator over string keys, driven by hand. */
export class WindowHarness<IN, W extends Window> {
  readonly output: Emitted[] = [];
  readonly sideOutput: SideEmitted[] = [];
  readonly timers: FakeTimerService<W>;
  readonly operator: WindowOperator<string, IN, unknown, unknown, W>;

  private constructor(
    readonly keyed: KeyedStateBackend<string>,
    spec: WindowOperatorSpec<string, IN, unknown, unknown, W>,
  ) {
    this.timers = new FakeTimerService<W>(keyed);
    this.operator = new WindowOperator(spec);
    this.operator.open(keyed, this.timers, {
      collect: (value, timestamp) => this.output.push({ value, timestamp }),
      sideOutput: <X>(tag: OutputTag<X>, value: X, timestamp: number | undefined) => this.sideOutput.push({ tag: tag.id, value, timestamp }),
    });
  }

  static async create<IN, C, OUT, W extends Window>(spec: WindowOperatorSpec<string, IN, C, OUT, W>, from?: HarnessSnapshot<W>): Promise<WindowHarness<IN, W>> {
    const keyed = await new MemoryStateBackend().createKeyedStateBackend({
      operatorIdentifier: `${spec.uid}#0`,
      keySerializer: Serializers.string,
      maxParallelism: 128,
      keyGroupRange: RANGE,
      restoreState: from?.handle ? [from.handle] : [],
      ...(from ? { stateHandleReader: from.storage } : {}),
    });
    const h = new WindowHarness<IN, W>(keyed, spec as unknown as WindowOperatorSpec<string, IN, unknown, unknown, W>);
    if (from) {
      h.timers.watermark = from.watermark;
      h.timers.processingTime = from.processingTime;
      for (const t of from.timers.event) h.timers.eventTimers.set(t.id, t);
      for (const t of from.timers.processing) h.timers.processingTimers.set(t.id, t);
    }
    return h;
  }

  element(key: string, value: IN, timestamp?: number): void {
    this.keyed.setCurrentKey(key);
    this.operator.processElement(value, timestamp);
  }

  watermark(watermark: number): void {
    this.timers.advanceWatermark(watermark, this.operator);
  }

  /** The end of input: the watermark that fires every event-time timer. */
  endOfInput(): void {
    this.watermark(MAX_WATERMARK);
  }

  processingTime(time: number): void {
    this.timers.advanceProcessingTime(time, this.operator);
  }

  /** Emitted values since the last call, in emission order. */
  takeOutput(): Emitted[] {
    return this.output.splice(0);
  }

  async snapshot(): Promise<HarnessSnapshot<W>> {
    const storage = new FsCheckpointStorage(new MemoryFileSystem());
    const loc = await storage.initializeLocationForCheckpoint(1);
    const fut = this.keyed.snapshot(1, 1, loc.streamFactory, CHECKPOINT);
    const handle = (await fut.result).jobManagerOwnedSnapshot;
    return { handle, storage, timers: this.timers.copyTimers(), watermark: this.timers.watermark, processingTime: this.timers.processingTime };
  }

  /** (key, namespace) entries left in every state: 0 once every window was cleaned up. */
  stateEntries(): number {
    return this.keyed.numKeyValueStateEntries();
  }

  timerCount(): number {
    return this.timers.eventTimers.size + this.timers.processingTimers.size;
  }
}
