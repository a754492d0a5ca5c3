import {
  IllegalStateUsageError,
  Serializers,
  VoidNamespace,
  type BroadcastState,
  type KeyedStateBackend,
  type ListState,
  type ListStateDescriptor,
  type MapStateDescriptor,
  type OperatorStateBackend,
  type ReadOnlyBroadcastState,
  type State,
  type StateDescriptor,
} from '@flowstate/core';
import type {
  Collector,
  KeyedBroadcastContext,
  KeyedContext,
  OnTimerContext,
  TimeDomain,
  TimerService,
  ReadOnlyBroadcastContext,
  RichFunction,
  SnapshotContext,
  SubtaskInfo,
} from './functions.js';
import type { OperatorEnvironment, TimestampedOutput } from './environment.js';
import type { OutputTag } from './side-output.js';
import type { StreamOperator } from './graph.js';

// Declares SubtaskInfo's fields on the class below; its constructor copies them.
interface SubtaskScope extends SubtaskInfo {}

/**
 * What every function context of one subtask shares: the subtask's identity (SubtaskInfo's
 * fields, fixed for the subtask's life) and its operator state (list, union and broadcast
 * state), which needs no current key.
 */
abstract class SubtaskScope {
  constructor(
    info: SubtaskInfo,
    private readonly operatorState: Pick<OperatorStateBackend, 'getListState' | 'getUnionListState' | 'getBroadcastState'>,
  ) {
    const { operatorUid, subtaskIndex, parallelism, maxParallelism, attempt, isRestored, isCheckpointingEnabled } = info;
    Object.assign(this, { operatorUid, subtaskIndex, parallelism, maxParallelism, attempt, isRestored, isCheckpointingEnabled });
  }

  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T> {
    return this.operatorState.getListState(descriptor);
  }

  getUnionListState<T>(descriptor: ListStateDescriptor<T>): ListState<T> {
    return this.operatorState.getUnionListState(descriptor);
  }

  getBroadcastState<K, V>(descriptor: MapStateDescriptor<K, V>): BroadcastState<K, V> {
    return this.operatorState.getBroadcastState(descriptor);
  }
}

/**
 * The context every function of one subtask sees; keyed state follows the backend's current key.
 * It is also the context of process functions (timestamp, side outputs) and, once a keyed process
 * operator bound its timer service, of timers (timerService, timeDomain).
 */
export class SubtaskContext extends SubtaskScope implements KeyedContext<unknown>, ReadOnlyBroadcastContext, OnTimerContext<unknown> {
  private readonly states = new Map<string, State>();
  private out: TimestampedOutput | undefined;
  private timers: TimerService | (() => TimerService) | undefined;
  /** Set while a timer fires (OnTimerContext.timeDomain). */
  firingDomain: TimeDomain | undefined;

  constructor(
    info: SubtaskInfo,
    private readonly keyed: KeyedStateBackend<unknown> | undefined,
    operatorState: OperatorStateBackend,
  ) {
    super(info, operatorState);
  }

  /** @internal The task's output: timestamps and side outputs. */
  bindOutput(out: TimestampedOutput): void {
    this.out = out;
  }

  /** @internal A keyed process operator's timers, or how to create them on first use. */
  bindTimerService(timers: TimerService | (() => TimerService)): void {
    this.timers = timers;
  }

  timestamp(): number | undefined {
    return this.out?.timestamp;
  }

  output<T>(tag: OutputTag<T>, value: T): void {
    if (this.out === undefined) throw new IllegalStateUsageError(undefined, `side output '${tag.id}' used before operator '${this.operatorUid}' runs`);
    this.out.output(tag, value);
  }

  timerService(): TimerService {
    if (this.timers === undefined) throw new IllegalStateUsageError(undefined, `operator '${this.operatorUid}' has no timer service (timers need a keyed process function)`);
    if (typeof this.timers === 'function') this.timers = this.timers();
    return this.timers;
  }

  timeDomain(): TimeDomain {
    if (this.firingDomain === undefined) throw new IllegalStateUsageError(undefined, `timeDomain() outside onTimer in operator '${this.operatorUid}'`);
    return this.firingDomain;
  }

  /** @internal The keyed backend, for the broadcast side of keyed broadcast functions. */
  get keyedBackend(): KeyedStateBackend<unknown> | undefined {
    return this.keyed;
  }

  get currentKey(): unknown {
    return this.requireKeyed('currentKey').getCurrentKey();
  }

  getState<S extends State, V>(descriptor: StateDescriptor<S, V>): S {
    const keyed = this.requireKeyed(descriptor.name);
    let s = this.states.get(descriptor.name);
    if (s === undefined) {
      // One state object per descriptor: it follows the backend's current key.
      s = keyed.getPartitionedState(VoidNamespace, Serializers.voidNamespace, descriptor);
      this.states.set(descriptor.name, s);
    }
    return s as S;
  }

  getReadOnlyBroadcastState<K, V>(descriptor: MapStateDescriptor<K, V>): ReadOnlyBroadcastState<K, V> {
    const s = this.getBroadcastState(descriptor);
    // The non-broadcast side must not write: subtasks would diverge and restore would pick one copy.
    return { get: (k) => s.get(k), contains: (k) => s.contains(k), immutableEntries: () => s.immutableEntries() };
  }

  private requireKeyed(what: string): KeyedStateBackend<unknown> {
    if (this.keyed === undefined) {
      throw new IllegalStateUsageError(what, `keyed state used in operator '${this.operatorUid}', which does not follow a keyBy`);
    }
    return this.keyed;
  }
}

type Process = (input: number, value: unknown, ctx: SubtaskContext, out: Collector<unknown>) => void | Promise<void>;

/** Drives a user function through the operator lifecycle. */
export class FunctionOperator implements StreamOperator {
  protected ctx: SubtaskContext | undefined;

  constructor(
    protected readonly fn: RichFunction,
    private readonly process: Process,
    private readonly onEndInput?: (out: Collector<unknown>) => void | Promise<void>,
    private readonly onFinish?: () => void | Promise<void>,
  ) {}

  async open(env: OperatorEnvironment): Promise<void> {
    this.ctx = env.ctx as SubtaskContext;
    // Flink order: initializeState (restores), then open.
    if (this.fn.initializeState) await this.fn.initializeState(env.ctx);
    if (this.fn.open) await this.fn.open(env.ctx);
  }

  processElement(input: number, value: unknown, out: Collector<unknown>): void | Promise<void> {
    return this.process(input, value, this.ctx!, out);
  }

  async endInput(out: Collector<unknown>): Promise<void> {
    if (this.onEndInput) await this.onEndInput(out);
  }

  async snapshotState(ctx: SnapshotContext): Promise<void> {
    if (this.fn.snapshotState) await this.fn.snapshotState(ctx);
  }

  async notifyCheckpointComplete(checkpointId: number): Promise<void> {
    if (this.fn.notifyCheckpointComplete) await this.fn.notifyCheckpointComplete(checkpointId);
  }

  async notifyCheckpointAborted(checkpointId: number): Promise<void> {
    if (this.fn.notifyCheckpointAborted) await this.fn.notifyCheckpointAborted(checkpointId);
  }

  async finish(): Promise<void> {
    if (this.onFinish) await this.onFinish();
  }

  async close(): Promise<void> {
    if (this.fn.close) await this.fn.close();
  }
}

/**
 * The context of a keyed operator's broadcast side: there is no current key (the backend still
 * holds the key of the last keyed record), so per-key access fails instead of silently touching
 * that key; applyToKeyedState visits every key.
 */
export class BroadcastSideContext extends SubtaskScope implements KeyedBroadcastContext {
  constructor(
    private readonly inner: SubtaskContext,
    private readonly keyed: KeyedStateBackend<unknown>,
  ) {
    // The subtask context is both the subtask's identity and the way to its operator state.
    super(inner, inner);
  }
  getState<S extends State, V>(descriptor: StateDescriptor<S, V>): S {
    throw new IllegalStateUsageError(descriptor.name, `keyed state has no current key in processBroadcastElement of '${this.inner.operatorUid}'; use applyToKeyedState`);
  }
  applyToKeyedState<S extends State, V>(descriptor: StateDescriptor<S, V>, fn: (key: unknown, state: S) => void): void {
    this.keyed.applyToAllKeys(VoidNamespace, Serializers.voidNamespace, descriptor, fn);
  }
}
