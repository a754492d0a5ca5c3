import { checkMaxParallelism, checkParallelism, type AggregateFunction, type ReduceFunction, type TypeSerializer, type Window } from '@flowstate/core';
import { InvalidJobGraphError } from './errors.js';
import type {
  BroadcastProcessFunction,
  Collector,
  KeyedBroadcastProcessFunction,
  KeyedCoProcessFunction,
  KeyedProcessContext,
  KeyedProcessFunction,
  ProcessFunction,
  ReadOnlyBroadcastContext,
  RuntimeContext,
  SinkFunction,
  SourceFunction,
} from './functions.js';
import type { JobGraph, Partitioner, StreamEdge, StreamNode, StreamOperator } from './graph.js';
import { BroadcastSideContext, FunctionOperator, type SubtaskContext } from './operators.js';
import type { OutputTag } from './side-output.js';
import { fileLinesLog, LogSource, type ReplayableLog } from './sources.js';
import { KeyedProcessOperator, type TimedFunction } from './time/keyed-process-operator.js';
import type { WatermarkStrategy } from './time/watermarks.js';
import type { WindowAssigner } from './windows/assigners.js';
import type { Trigger } from './windows/triggers.js';
import { aggregateContents, processContents, reduceContents, type WindowContents } from './windows/window-contents.js';
import type { ProcessWindowFunction } from './windows/window-functions.js';
import { WindowStreamOperator } from './windows/window-stream-operator.js';

export interface EnvironmentOptions {
  /** Default parallelism of operators that do not set one. */
  readonly parallelism?: number;
  /** Number of key groups: the upper bound of any keyed operator's parallelism, fixed for the job's lifetime. */
  readonly maxParallelism?: number;
  /** Records buffered per channel (credits); a full channel backpressures its producer. */
  readonly bufferCapacity?: number;
}

export interface OperatorOptions {
  readonly parallelism?: number;
}

export interface SourceOptions<T> extends OperatorOptions {
  /** Timestamps and watermarks of the source's records (Flink's fromSource(source, strategy, ...)). */
  readonly watermarks?: WatermarkStrategy<T>;
}

/** Each subtask gets its own instance, since functions hold per-subtask fields (open files, offsets). */
export type Factory<F> = () => F;

/** Builds a job graph, DataStream style: every operator has a stable uid as its first argument. */
export class StreamExecutionEnvironment {
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly bufferCapacity: number;
  private readonly nodes: StreamNode[] = [];

  constructor(
    readonly name: string,
    options: EnvironmentOptions = {},
  ) {
    this.maxParallelism = options.maxParallelism ?? 128;
    checkMaxParallelism(this.maxParallelism);
    this.parallelism = options.parallelism ?? 1;
    checkParallelism(this.parallelism, this.maxParallelism);
    this.bufferCapacity = options.bufferCapacity ?? 64;
    if (!Number.isInteger(this.bufferCapacity) || this.bufferCapacity < 1) throw new InvalidJobGraphError(`bufferCapacity must be a positive integer, got ${this.bufferCapacity}`);
  }

  addSource<T>(uid: string, factory: Factory<SourceFunction<T>>, options: SourceOptions<T> = {}): DataStream<T> {
    const node = this.addNode({
      uid,
      kind: 'source',
      inputs: [],
      parallelism: options.parallelism,
      createSource: factory as Factory<SourceFunction<unknown>>,
      ...(options.watermarks ? { watermarkStrategy: options.watermarks as WatermarkStrategy<unknown> } : {}),
    });
    return new DataStream<T>(this, node, undefined);
  }

  /** A replayable, partitioned log; offsets are checkpointed in operator state like Kafka offsets. */
  fromLog<T>(uid: string, log: ReplayableLog<T> | (() => ReplayableLog<T> | Promise<ReplayableLog<T>>), options: SourceOptions<T> = {}): DataStream<T> {
    const open = typeof log === 'function' ? log : () => log;
    return this.addSource<T>(uid, () => new LogSource<T>(open), options);
  }

  /** The lines of text files: one partition per file, line numbers as offsets. */
  fromFileLines(uid: string, paths: readonly string[], options: OperatorOptions = {}): DataStream<string> {
    return this.fromLog(uid, fileLinesLog(paths), options);
  }

  /** @internal */
  addNode(spec: {
    uid: string;
    kind: 'source' | 'operator';
    inputs: StreamEdge[];
    parallelism: number | undefined;
    keySerializer?: TypeSerializer<unknown>;
    createOperator?: () => StreamOperator;
    createSource?: () => SourceFunction<unknown>;
    watermarkStrategy?: WatermarkStrategy<unknown>;
  }): StreamNode {
    if (typeof spec.uid !== 'string' || spec.uid.length === 0) throw new InvalidJobGraphError('every operator needs a non-empty uid');
    if (this.nodes.some((n) => n.uid === spec.uid)) throw new InvalidJobGraphError(`duplicate uid '${spec.uid}'`);
    const parallelism = spec.parallelism ?? this.parallelism;
    checkParallelism(parallelism, this.maxParallelism);
    for (const e of spec.inputs) {
      if (e.partitioner.kind === 'forward' && e.source.parallelism !== parallelism) {
        throw new InvalidJobGraphError(`forward edge '${e.source.uid}' -> '${spec.uid}' needs equal parallelism (${e.source.parallelism} vs ${parallelism})`);
      }
    }
    const node: StreamNode = { id: this.nodes.length, ...spec, parallelism };
    this.nodes.push(node);
    return node;
  }

  getJobGraph(): JobGraph {
    if (this.nodes.length === 0) throw new InvalidJobGraphError('the job has no operators');
    return { name: this.name, maxParallelism: this.maxParallelism, nodes: [...this.nodes], bufferCapacity: this.bufferCapacity };
  }
}

export class DataStream<T> {
  /** @internal */
  constructor(
    readonly env: StreamExecutionEnvironment,
    readonly node: StreamNode,
    /** Partitioner asked for explicitly (rebalance, broadcast, forward); undefined = default. */
    private readonly partitioner: Partitioner | undefined,
  ) {}

  /** @internal The side output this stream reads, if any. */
  get sideOutput(): string | undefined {
    return undefined;
  }

  /** @internal */
  edgeTo(parallelism: number, inputIndex: number): StreamEdge {
    const p: Partitioner = this.partitioner ?? (this.node.parallelism === parallelism ? { kind: 'forward' } : { kind: 'rebalance' });
    return { source: this.node, partitioner: p, inputIndex, ...this.sideOutputField() };
  }

  /** @internal */
  sideOutputField(): { sideOutput?: string } {
    const s = this.sideOutput;
    return s === undefined ? {} : { sideOutput: s };
  }

  /** @internal A stream of the same records (side output included) with another partitioner. */
  withPartitioner(partitioner: Partitioner): DataStream<T> {
    return new DataStream(this.env, this.node, partitioner);
  }

  private addOneInputOperator(uid: string, options: OperatorOptions, createOperator: () => FunctionOperator): StreamNode {
    const parallelism = options.parallelism ?? this.env.parallelism;
    return this.env.addNode({ uid, kind: 'operator', inputs: [this.edgeTo(parallelism, 0)], parallelism, createOperator });
  }

  /** The records the operator of this stream sent to `tag` (Flink's getSideOutput), partitioned like a main output. */
  getSideOutput<S>(tag: OutputTag<S>): DataStream<S> {
    return new SideOutputStream<S>(this.env, this.node, this.partitioner, tag.id);
  }

  rebalance(): DataStream<T> {
    return this.withPartitioner({ kind: 'rebalance' });
  }

  forward(): DataStream<T> {
    return this.withPartitioner({ kind: 'forward' });
  }

  /** Every record to every subtask of the next operator; use with connect(...) for broadcast state. */
  broadcast(): BroadcastStream<T> {
    return new BroadcastStream(this.env, this.node, this.sideOutput);
  }

  map<R>(uid: string, fn: (value: T) => R, options: OperatorOptions = {}): DataStream<R> {
    return this.process<R>(uid, () => ({ processElement: (v, _c, out) => out.collect(fn(v)) }), options);
  }

  filter(uid: string, predicate: (value: T) => boolean, options: OperatorOptions = {}): DataStream<T> {
    return this.process<T>(uid, () => ({ processElement: (v, _c, out) => (predicate(v) ? out.collect(v) : undefined) }), options);
  }

  flatMap<R>(uid: string, fn: (value: T, out: Collector<R>) => void, options: OperatorOptions = {}): DataStream<R> {
    return this.process<R>(uid, () => ({ processElement: (v, _c, out) => fn(v, out) }), options);
  }

  process<R>(uid: string, factory: Factory<ProcessFunction<T, R>>, options: OperatorOptions = {}): DataStream<R> {
    const node = this.addOneInputOperator(uid, options, () => {
      const fn = factory();
      return new FunctionOperator(
        fn,
        (_i, v, ctx, out) => (fn.processElement(v as T, ctx, out as Collector<R>)),
        fn.endInput ? (out) => fn.endInput!(out as Collector<R>) : undefined,
      );
    });
    return new DataStream<R>(this.env, node, undefined);
  }

  /** Partitions by key group: all records with the same key go to the same subtask, and keyed state follows them. */
  keyBy<K>(keySelector: (value: T) => K, keySerializer: TypeSerializer<K>): KeyedStream<K, T> {
    return new KeyedStream<K, T>(this, keySelector, keySerializer);
  }

  connect<B>(broadcast: BroadcastStream<B>): BroadcastConnectedStream<T, B> {
    return new BroadcastConnectedStream(this, broadcast);
  }

  sinkTo(uid: string, factory: Factory<SinkFunction<T>>, options: OperatorOptions = {}): void {
    this.addOneInputOperator(uid, options, () => {
      const fn = factory();
      return new FunctionOperator(fn, (_i, v, ctx) => (fn.invoke(v as T, ctx)), undefined, fn.finish ? () => fn.finish!() : undefined);
    });
  }
}

export class KeyedStream<K, T> {
  /** @internal */
  constructor(
    readonly stream: DataStream<T>,
    readonly keySelector: (value: T) => K,
    readonly keySerializer: TypeSerializer<K>,
  ) {}

  /** @internal */
  edge(inputIndex: number): StreamEdge {
    return {
      source: this.stream.node,
      partitioner: { kind: 'hash', keySelector: this.keySelector as (v: unknown) => unknown, keySerializer: this.keySerializer as TypeSerializer<unknown> },
      inputIndex,
      ...this.stream.sideOutputField(),
    };
  }

  process<R>(uid: string, factory: Factory<KeyedProcessFunction<K, T, R>>, options: OperatorOptions = {}): DataStream<R> {
    return this.addKeyedOperator<R>(uid, [this.edge(0)], options, () => {
      const fn = factory();
      return new KeyedProcessOperator(fn as TimedFunction, (_i, v, ctx, out) => fn.processElement(v as T, ctx as KeyedProcessContext<K>, out as Collector<R>));
    });
  }

  /** @internal A keyed operator reading `inputs` (this stream first), with this stream's key serializer. */
  addKeyedOperator<R>(uid: string, inputs: StreamEdge[], options: OperatorOptions, createOperator: () => StreamOperator): DataStream<R> {
    const env = this.stream.env;
    const node = env.addNode({ uid, kind: 'operator', inputs, parallelism: options.parallelism, keySerializer: this.keySerializer as TypeSerializer<unknown>, createOperator });
    return new DataStream<R>(env, node, undefined);
  }

  /** Groups each key's records into windows (Flink's KeyedStream.window); finish with reduce, aggregate or process. */
  window<W extends Window>(assigner: WindowAssigner<T, W>): WindowedStream<K, T, W> {
    return new WindowedStream<K, T, W>(this, assigner, assigner.defaultTrigger(), 0, undefined);
  }

  /** Two keyed streams with the same key type into one two-input operator with shared keyed state. */
  connect<T2>(other: KeyedStream<K, T2>): ConnectedKeyedStreams<K, T, T2>;
  /** This keyed stream with a broadcast stream: keyed state per key plus broadcast state. */
  connect<B>(other: BroadcastStream<B>): KeyedBroadcastConnectedStream<K, T, B>;
  connect<X>(other: KeyedStream<K, X> | BroadcastStream<X>): ConnectedKeyedStreams<K, T, X> | KeyedBroadcastConnectedStream<K, T, X> {
    return other instanceof BroadcastStream ? new KeyedBroadcastConnectedStream(this, other) : new ConnectedKeyedStreams(this, other);
  }
}

export class KeyedBroadcastConnectedStream<K, T, B> {
  /** @internal */
  constructor(
    readonly keyed: KeyedStream<K, T>,
    readonly broadcastStream: BroadcastStream<B>,
  ) {}

  process<R>(uid: string, factory: Factory<KeyedBroadcastProcessFunction<K, T, B, R>>, options: OperatorOptions = {}): DataStream<R> {
    return this.keyed.addKeyedOperator<R>(uid, [this.keyed.edge(0), this.broadcastStream.edge(1)], options, () => {
      const fn = factory();
      let broadcastSide: BroadcastSideContext | undefined;
      return new KeyedProcessOperator(fn as TimedFunction, (i, v, ctx, out) => {
        if (i === 0) return fn.processElement(v as T, ctx as KeyedProcessContext<K> & ReadOnlyBroadcastContext, out as Collector<R>);
        broadcastSide ??= new BroadcastSideContext(ctx as SubtaskContext, (ctx as SubtaskContext).keyedBackend!);
        return fn.processBroadcastElement(v as B, broadcastSide, out as Collector<R>);
      });
    });
  }
}

export class ConnectedKeyedStreams<K, T1, T2> {
  /** @internal */
  constructor(
    readonly first: KeyedStream<K, T1>,
    readonly second: KeyedStream<K, T2>,
  ) {}

  process<R>(uid: string, factory: Factory<KeyedCoProcessFunction<K, T1, T2, R>>, options: OperatorOptions = {}): DataStream<R> {
    return this.first.addKeyedOperator<R>(uid, [this.first.edge(0), this.second.edge(1)], options, () => {
      const fn = factory();
      return new KeyedProcessOperator(fn as TimedFunction, (i, v, ctx, out) =>
        i === 0
          ? fn.processElement1(v as T1, ctx as KeyedProcessContext<K>, out as Collector<R>)
          : fn.processElement2(v as T2, ctx as KeyedProcessContext<K>, out as Collector<R>),
      );
    });
  }
}

export class BroadcastStream<T> {
  /** @internal */
  constructor(
    readonly env: StreamExecutionEnvironment,
    readonly node: StreamNode,
    readonly sideOutput: string | undefined = undefined,
  ) {}

  /** @internal */
  edge(inputIndex: number): StreamEdge {
    return { source: this.node, partitioner: { kind: 'broadcast' }, inputIndex, ...(this.sideOutput === undefined ? {} : { sideOutput: this.sideOutput }) };
  }
}

/** The side output `tag` of an operator's stream (DataStream.getSideOutput). */
class SideOutputStream<T> extends DataStream<T> {
  constructor(
    env: StreamExecutionEnvironment,
    node: StreamNode,
    partitioner: Partitioner | undefined,
    private readonly tag: string,
  ) {
    super(env, node, partitioner);
  }

  override get sideOutput(): string {
    return this.tag;
  }

  override withPartitioner(partitioner: Partitioner): DataStream<T> {
    return new SideOutputStream<T>(this.env, this.node, partitioner, this.tag);
  }
}

export class BroadcastConnectedStream<T, B> {
  /** @internal */
  constructor(
    readonly stream: DataStream<T>,
    readonly broadcastStream: BroadcastStream<B>,
  ) {}

  process<R>(uid: string, factory: Factory<BroadcastProcessFunction<T, B, R>>, options: OperatorOptions = {}): DataStream<R> {
    const env = this.stream.env;
    const parallelism = options.parallelism ?? env.parallelism;
    const node = env.addNode({
      uid,
      kind: 'operator',
      inputs: [this.stream.edgeTo(parallelism, 0), this.broadcastStream.edge(1)],
      parallelism,
      createOperator: () => {
        const fn = factory();
        return new FunctionOperator(fn, (i, v, ctx, out) =>
          i === 0
            ? (fn.processElement(v as T, ctx as ReadOnlyBroadcastContext, out as Collector<R>))
            : (fn.processBroadcastElement(v as B, ctx as RuntimeContext, out as Collector<R>)),
        );
      },
    });
    return new DataStream<R>(env, node, undefined);
  }
}

/**
 * A keyed stream cut into windows (Flink's WindowedStream). Each setter returns a new
 * WindowedStream; reduce, aggregate and process add the window operator to the job.
 */
export class WindowedStream<K, T, W extends Window> {
  /** @internal */
  constructor(
    readonly keyed: KeyedStream<K, T>,
    readonly assigner: WindowAssigner<T, W>,
    private readonly windowTrigger: Trigger<T, W>,
    private readonly lateness: number,
    private readonly lateDataTag: OutputTag<T> | undefined,
  ) {}

  /** Replaces the assigner's default trigger. */
  trigger(trigger: Trigger<T, W>): WindowedStream<K, T, W> {
    return new WindowedStream(this.keyed, this.assigner, trigger, this.lateness, this.lateDataTag);
  }

  /** Event-time windows keep their state this many ms past their end; elements then re-fire them. */
  allowedLateness(ms: number): WindowedStream<K, T, W> {
    return new WindowedStream(this.keyed, this.assigner, this.windowTrigger, ms, this.lateDataTag);
  }

  /** Elements too late for all their windows go to `tag` (read it with getSideOutput) instead of being dropped. */
  sideOutputLateData(tag: OutputTag<T>): WindowedStream<K, T, W> {
    return new WindowedStream(this.keyed, this.assigner, this.windowTrigger, this.lateness, tag);
  }

  /** Reduces incrementally; emits the reduced value, or what `fn` makes of it. */
  reduce<R = T>(uid: string, reduce: ReduceFunction<T>, serializer: TypeSerializer<T>, fn?: ProcessWindowFunction<T, R, K, W>, options: OperatorOptions = {}): DataStream<R> {
    return this.build(uid, reduceContents<K, T, W, R>(reduce, serializer, fn), options);
  }

  /** Aggregates incrementally; emits the result, or what `fn` makes of it. */
  aggregate<ACC, V, R = V>(
    uid: string,
    aggregate: AggregateFunction<T, ACC, V>,
    accumulatorSerializer: TypeSerializer<ACC>,
    fn?: ProcessWindowFunction<V, R, K, W>,
    options: OperatorOptions = {},
  ): DataStream<R> {
    return this.build(uid, aggregateContents<K, T, ACC, V, W, R>(aggregate, accumulatorSerializer, fn), options);
  }

  /** Keeps every element (list state) and hands them all to `fn` when the window fires. */
  process<R>(uid: string, fn: ProcessWindowFunction<T, R, K, W>, elementSerializer: TypeSerializer<T>, options: OperatorOptions = {}): DataStream<R> {
    return this.build(uid, processContents(fn, elementSerializer), options);
  }

  private build<C, R>(uid: string, contents: WindowContents<K, T, C, R, W>, options: OperatorOptions): DataStream<R> {
    const spec = { uid, assigner: this.assigner, trigger: this.windowTrigger, allowedLateness: this.lateness, lateDataTag: this.lateDataTag, ...contents };
    // Built once here, so that a bad configuration fails while the job graph is built.
    new WindowStreamOperator(spec);
    return this.keyed.addKeyedOperator<R>(uid, [this.keyed.edge(0)], options, () => new WindowStreamOperator(spec));
  }
}
