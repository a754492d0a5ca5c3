/** Windowed jobs that the window tests, the bench and the simulation run, and their batch results. */
import { MsgpackSerializer, Serializers, type AggregateFunction, type FileSystem } from '@flowstate/core';
import {
  OutputTag,
  sequenceLog,
  SessionWindows,
  StreamExecutionEnvironment,
  TumblingWindows,
  TwoPhaseCommitFileSink,
  WatermarkStrategy,
  type JobGraph,
  type SinkFunction,
} from '../../src/index.js';
import type { SourceGate } from '../../src/testing.js';

export interface Click {
  readonly id: string;
  readonly user: string;
  readonly ts: number;
  readonly amount: number;
}

export interface ClickInput {
  readonly partitions: number;
  readonly perPartition: number;
}

export const SESSION_GAP = 25;
export const TUMBLE = 40;
/** Timestamps are out of order by less than this within a partition. */
export const JITTER = 30;
const USERS = 9;

/**
 * Deterministic clicks: every 10 ms of event time per partition, jittered out of order; the users
 * active change every 200 ms, so that sessions start and end.
 */
export function click(p: number, o: number): Click {
  const period = Math.floor(o / 20);
  const active = Array.from({ length: USERS }, (_, u) => u).filter((u) => (u + period) % 3 === 0);
  const user = active[(p * 5 + o * 7) % active.length]!;
  return { id: `${p}:${o}`, user: `u${user}`, ts: o * 10 + ((p * 11 + o * 13) % JITTER), amount: 1 + ((p + o) % 10) };
}

export function clicks(input: ClickInput): Click[] {
  const out: Click[] = [];
  for (let p = 0; p < input.partitions; p++) for (let o = 0; o < input.perPartition; o++) out.push(click(p, o));
  return out;
}

type Totals = { count: number; sum: number };
const TOTALS: AggregateFunction<Click, Totals, Totals> = {
  createAccumulator: () => ({ count: 0, sum: 0 }),
  add: (c, a) => ({ count: a.count + 1, sum: a.sum + c.amount }),
  getResult: (a) => a,
  merge: (a, b) => ({ count: a.count + b.count, sum: a.sum + b.sum }),
};

export const LATE_CLICKS = new OutputTag<Click>('late-clicks');

export interface ClickJobOptions {
  readonly name: string;
  readonly input: ClickInput;
  readonly windowParallelism: number;
  readonly sinkParallelism?: number;
  readonly sinkFs: FileSystem;
  readonly bufferCapacity?: number;
  readonly maxParallelism?: number;
  /** Watermark bound; below JITTER some clicks are late and go to `late`. */
  readonly outOfOrderness?: number;
  readonly late?: () => SinkFunction<Click>;
  /** Holds the input mid-run until the test opens it (see SourceGate). */
  readonly gate?: SourceGate;
}

/**
 * Per-user session windows (aggregate with a process window function) and per-user tumbling
 * windows (reduce), both to two-phase-commit sinks into one directory, as lines
 * `session/<user>/<start>/<end> <count> <sum>` and `tumble/<user>/<start>/<end> <sum>` (the window first: an id).
 */
export function clickJob(o: ClickJobOptions): JobGraph {
  const env = new StreamExecutionEnvironment(o.name, { parallelism: 2, maxParallelism: o.maxParallelism ?? 32, bufferCapacity: o.bufferCapacity ?? 16 });
  const log = sequenceLog(o.input.partitions, o.input.perPartition, click);
  const watermarks = WatermarkStrategy.forBoundedOutOfOrderness<Click>(o.outOfOrderness ?? JITTER).withTimestampAssigner((c) => c.ts);
  const byUser = (o.gate ? env.addSource('clicks', o.gate.logSource(log), { watermarks }) : env.fromLog('clicks', log, { watermarks }))
    .keyBy((c) => c.user, Serializers.string);
  const p = { parallelism: o.windowParallelism };
  const sessions = byUser.window(SessionWindows.eventTime<Click>(SESSION_GAP)).sideOutputLateData(LATE_CLICKS);
  const sessionOut = sessions.aggregate<Totals, Totals, string>('sessions', TOTALS, new MsgpackSerializer<Totals>(), {
    process: (user, ctx, [t], out) => out.collect(`session/${user}/${ctx.window.start}/${ctx.window.end} ${t!.count} ${t!.sum}`),
  }, p);
  const tumbleOut = byUser.window(TumblingWindows.eventTime<Click>(TUMBLE)).reduce<string>('tumbles', (a, b) => ({ ...a, amount: a.amount + b.amount }), new MsgpackSerializer<Click>(), {
    process: (user, ctx, [c], out) => out.collect(`tumble/${user}/${ctx.window.start}/${ctx.window.end} ${c!.amount}`),
  }, p);
  const sink = () => new TwoPhaseCommitFileSink<string>({ fs: o.sinkFs, directory: 'out', format: (s) => s });
  const sinkOptions = { parallelism: o.sinkParallelism ?? 2 };
  tumbleOut.sinkTo('tumble-sink', sink, sinkOptions);
  sessionOut.sinkTo('session-sink', sink, sinkOptions);
  if (o.late) sessionOut.getSideOutput(LATE_CLICKS).sinkTo('late', o.late, { parallelism: 1 });
  return env.getJobGraph();
}

/** The windows of `clickJob`, computed in one pass over the clicks, sorted. */
export function batchWindows(all: readonly Click[]): string[] {
  const out: string[] = [];
  const byUser = new Map<string, Click[]>();
  for (const c of all) byUser.set(c.user, [...(byUser.get(c.user) ?? []), c]);
  for (const [user, cs] of byUser) {
    cs.sort((a, b) => a.ts - b.ts);
    let [start, end, count, sum] = [cs[0]!.ts, cs[0]!.ts + SESSION_GAP, 0, 0];
    for (const c of cs) {
      // Session windows [t, t + gap) merge when they overlap or touch.
      if (c.ts > end) {
        out.push(`session/${user}/${start}/${end} ${count} ${sum}`);
        [start, end, count, sum] = [c.ts, c.ts, 0, 0];
      }
      end = Math.max(end, c.ts + SESSION_GAP);
      count++;
      sum += c.amount;
    }
    out.push(`session/${user}/${start}/${end} ${count} ${sum}`);
    const tumbles = new Map<number, number>();
    for (const c of cs) {
      const s = Math.floor(c.ts / TUMBLE) * TUMBLE;
      tumbles.set(s, (tumbles.get(s) ?? 0) + c.amount);
    }
    for (const [s, n] of tumbles) out.push(`tumble/${user}/${s}/${s + TUMBLE} ${n}`);
  }
  return out.sort();
}
