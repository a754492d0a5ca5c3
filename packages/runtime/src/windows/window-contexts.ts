import {
  IllegalStateUsageError,
  Serializers,
  VoidNamespace,
  type InternalMergingState,
  type KeyedStateBackend,
  type State,
  type StateDescriptor,
  type TypeSerializer,
  type Window,
} from '@flowstate/core';
import type { InternalTimerService } from '../time/timer-service.js';
import type { OnMergeContext, Trigger, TriggerResult } from './triggers.js';
import type { OutputTag } from '../side-output.js';
import type { KeyedStateStore, ProcessWindowContext } from './window-functions.js';

/** Where a window operator's results go, with the timestamps they carry. */
export interface WindowOutput {
  collect(value: unknown, timestamp: number): void;
  sideOutput<X>(tag: OutputTag<X>, value: X, timestamp: number | undefined): void;
}

/**
 * The trigger's context for the current key and one window (Flink's WindowOperator.Context): one
 * instance per operator, pointed at a window with `at` before each call, as Flink reuses its own.
 */
export class WindowTriggerContext<K, W extends Window> implements OnMergeContext {
  private window!: W;
  private mergedWindows: readonly W[] = [];

  constructor(
    private readonly keyed: KeyedStateBackend<K>,
    private readonly timers: InternalTimerService<W>,
    private readonly windowSerializer: TypeSerializer<W>,
    private readonly trigger: Trigger<unknown, W>,
  ) {}

  at(window: W): this {
    this.window = window;
    return this;
  }

  onElement(element: unknown, timestamp: number | undefined): TriggerResult {
    return this.trigger.onElement(element, timestamp, this.window, this);
  }
  onEventTime(time: number): TriggerResult {
    return this.trigger.onEventTime(time, this.window, this);
  }
  onProcessingTime(time: number): TriggerResult {
    return this.trigger.onProcessingTime(time, this.window, this);
  }
  onMerge(mergedWindows: readonly W[]): void {
    this.mergedWindows = mergedWindows;
    try {
      this.trigger.onMerge(this.window, this);
    } finally {
      this.mergedWindows = [];
    }
  }
  clear(): void {
    this.trigger.clear(this.window, this);
  }

  currentProcessingTime(): number {
    return this.timers.currentProcessingTime();
  }
  currentWatermark(): number {
    return this.timers.currentWatermark();
  }
  registerProcessingTimeTimer(time: number): void {
    this.timers.registerProcessingTimeTimer(this.window, time);
  }
  registerEventTimeTimer(time: number): void {
    this.timers.registerEventTimeTimer(this.window, time);
  }
  deleteProcessingTimeTimer(time: number): void {
    this.timers.deleteProcessingTimeTimer(this.window, time);
  }
  deleteEventTimeTimer(time: number): void {
    this.timers.deleteEventTimeTimer(this.window, time);
  }
  getPartitionedState<S extends State, V>(descriptor: StateDescriptor<S, V>): S {
    return this.keyed.getPartitionedState(this.window, this.windowSerializer, descriptor);
  }
  mergePartitionedState<S extends State, V>(descriptor: StateDescriptor<S, V>): void {
    if (this.mergedWindows.length === 0) return;
    const s = this.keyed.getOrCreateKeyedState(this.windowSerializer, descriptor) as unknown as Partial<InternalMergingState<W>>;
    if (typeof s.mergeNamespaces !== 'function') throw new IllegalStateUsageError(descriptor.name, `${descriptor.kind} state cannot be merged; triggers of merging windows merge list, reducing or aggregating state`);
    s.mergeNamespaces(this.window, this.mergedWindows);
  }
}

/** The context a ProcessWindowFunction sees, pointed at the window being evaluated or cleared. */
export class WindowProcessContext<K, W extends Window> implements ProcessWindowContext<W> {
  private current!: W;
  private readonly perWindow: KeyedStateStore = { getState: (d) => this.keyed.getPartitionedState(this.current, this.windowSerializer, d) };
  private readonly global: KeyedStateStore = { getState: (d) => this.keyed.getPartitionedState(VoidNamespace, Serializers.voidNamespace, d) };

  constructor(
    private readonly keyed: KeyedStateBackend<K>,
    private readonly timers: InternalTimerService<W>,
    private readonly windowSerializer: TypeSerializer<W>,
    private readonly sink: WindowOutput,
  ) {}

  at(window: W): this {
    this.current = window;
    return this;
  }

  get window(): W {
    return this.current;
  }
  currentProcessingTime(): number {
    return this.timers.currentProcessingTime();
  }
  currentWatermark(): number {
    return this.timers.currentWatermark();
  }
  windowState(): KeyedStateStore {
    return this.perWindow;
  }
  globalState(): KeyedStateStore {
    return this.global;
  }
  output<X>(tag: OutputTag<X>, value: X): void {
    this.sink.sideOutput(tag, value, this.current.maxTimestamp());
  }
}
