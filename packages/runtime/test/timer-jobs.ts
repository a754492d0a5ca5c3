/** Timer-using jobs that the timer tests and the simulation run (one definition, so that they stay alike). */
import { MapStateDescriptor, MsgpackSerializer, Serializers, type FileSystem } from '@flowstate/core';
import { sequenceLog, StreamExecutionEnvironment, TwoPhaseCommitFileSink, WatermarkStrategy, type JobGraph } from '../src/index.js';
import type { SourceGate } from '../src/testing.js';

export interface DeadlineEvent {
  readonly id: string;
  readonly key: string;
  readonly ts: number;
}

export interface DeadlineInput {
  readonly partitions: number;
  readonly perPartition: number;
}

/** Out of order by up to 6 ms within a partition; every key appears in every partition. */
export function deadlineEvent(p: number, o: number): DeadlineEvent {
  return { id: `${p}:${o}`, key: `k${(p * 7 + o * 3) % 13}`, ts: o * 10 + ((p * 3 + o * 5) % 7) };
}

/** Events share deadlines (20 ms buckets), so one timer serves several events of a key. */
export const deadlineOf = (ts: number): number => Math.ceil((ts + 25) / 20) * 20;

export const formatDeadline = (e: DeadlineEvent): string => `${e.id} ${e.key} ${deadlineOf(e.ts)}`;

/** The failure-free output, computed without the runtime: every event fires exactly once, at its deadline. */
export function expectedDeadlines(input: DeadlineInput): string[] {
  const out: string[] = [];
  for (let p = 0; p < input.partitions; p++) for (let o = 0; o < input.perPartition; o++) out.push(formatDeadline(deadlineEvent(p, o)));
  return out.sort();
}

const PENDING = new MapStateDescriptor<number, string[]>('pending', Serializers.float64, new MsgpackSerializer<string[]>());

export interface DeadlineJobOptions {
  readonly name: string;
  readonly input: DeadlineInput;
  readonly sinkFs: FileSystem;
  readonly bufferCapacity: number;
  readonly maxParallelism?: number;
  readonly sourceParallelism?: number;
  readonly deadlineParallelism: number;
  readonly sinkParallelism?: number;
  /** Called for every event the deadline operator processes (tests note what a run registered). */
  readonly onEvent?: (e: DeadlineEvent) => void;
  /** Called for every firing (subtask index, key) to check where timers fire. */
  readonly onFire?: (subtask: number, key: string) => void;
  /** Holds the input mid-run until the test opens it (see SourceGate). */
  readonly gate?: SourceGate;
}

/**
 * Per-key event-time deadlines: source (watermarks with a bound of 10 ms) -> keyBy -> an event
 * registers an event-time timer at its deadline and waits in map state; the timer emits every
 * event waiting for it -> two-phase-commit file sink. An event arriving after its deadline fired
 * (late) registers a timer in the past, which fires at the next watermark: every event is emitted
 * exactly once whatever the watermarks' timing, so the output is deterministic.
 */
export function deadlineJob(o: DeadlineJobOptions): JobGraph {
  const env = new StreamExecutionEnvironment(o.name, { parallelism: o.sourceParallelism ?? 2, maxParallelism: o.maxParallelism ?? 32, bufferCapacity: o.bufferCapacity });
  const log = sequenceLog(o.input.partitions, o.input.perPartition, deadlineEvent);
  const watermarks = WatermarkStrategy.forBoundedOutOfOrderness<DeadlineEvent>(10).withTimestampAssigner((e) => e.ts);
  (o.gate ? env.addSource('events', o.gate.logSource(log), { watermarks }) : env.fromLog('events', log, { watermarks }))
    .keyBy((e) => e.key, Serializers.string)
    .process<string>(
      'deadlines',
      () => {
        let subtask = -1;
        return {
          open(ctx) {
            subtask = ctx.subtaskIndex;
          },
          processElement(e, ctx) {
            o.onEvent?.(e);
            if (ctx.timestamp() !== e.ts) throw new Error(`record ${e.id} carries timestamp ${ctx.timestamp()}, expected ${e.ts}`);
            const deadline = deadlineOf(e.ts);
            const pending = ctx.getState(PENDING);
            pending.put(deadline, [...(pending.get(deadline) ?? []), e.id]);
            ctx.timerService().registerEventTimeTimer(deadline);
          },
          onTimer(t, ctx, out) {
            const wm = ctx.timerService().currentWatermark();
            if (ctx.timeDomain() !== 'EVENT_TIME' || wm < t || ctx.timestamp() !== t) throw new Error(`timer ${t} fired at watermark ${wm} (${ctx.timeDomain()}, timestamp ${ctx.timestamp()})`);
            o.onFire?.(subtask, ctx.currentKey);
            const pending = ctx.getState(PENDING);
            for (const id of pending.get(t) ?? []) out.collect(`${id} ${ctx.currentKey} ${t}`);
            pending.remove(t);
          },
        };
      },
      { parallelism: o.deadlineParallelism },
    )
    .sinkTo('sink', () => new TwoPhaseCommitFileSink<string>({ fs: o.sinkFs, directory: 'out', format: (s) => s }), { parallelism: o.sinkParallelism ?? 2 });
  return env.getJobGraph();
}
