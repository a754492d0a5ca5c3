/**
 * Timer services an operator asks for lazily (first in processElement, endInput, finish or a
 * snapshot after finish) over timers already due in the keyed state: their timers fire before
 * the next record of the batch, before finish, before end of data, and never after it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FsCheckpointStorage, MemoryFileSystem, Serializers, VoidNamespace } from '@flowstate/core';
import { MemoryStateBackend } from '@flowstate/heap';
import { JobClient, sequenceLog, StreamExecutionEnvironment, WatermarkStrategy, type Collector, type InternalTimer, type OperatorEnvironment, type StreamOperator } from '../src/index.js';
import { createTimerQueue } from '../src/time/timer-queue.js';

interface Ev {
  readonly op: 'reg' | 'lazy' | 'rec';
  readonly key: string;
  /** The timer service `reg` puts a due timer into, `lazy` asks for. */
  readonly service: string;
}

/**
 * Every key of every service gets a timer at 1 (due at the first watermark, 9) straight in the
 * keyed state, as a restore would leave it: no service exists until the operator asks for it.
 */
const EVENTS: readonly Ev[] = [
  ...['inBatch', 'atEndInput', 'atFinish', 'afterEnd'].flatMap((service) => ['k0', 'k1'].map((key): Ev => ({ op: 'reg', key, service }))),
  { op: 'lazy', key: 'k2', service: 'inBatch' },
  { op: 'rec', key: 'k3', service: '' },
];

/** Asks for its services lazily; `log` gets what fired and when finish ran, in order. */
class LazyTimersOperator implements StreamOperator {
  private env: OperatorEnvironment | undefined;
  private finished = false;

  constructor(private readonly log: string[]) {}

  async open(env: OperatorEnvironment): Promise<void> {
    this.env = env;
  }

  processElement(_input: number, value: unknown, out: Collector<unknown>): void {
    const e = value as Ev;
    const keyed = this.env!.keyed!;
    if (e.op === 'reg') createTimerQueue(keyed, `_timer_state/event_${e.service}`, Serializers.voidNamespace).add({ timestamp: 1, key: keyed.getCurrentKey(), namespace: VoidNamespace });
    if (e.op === 'lazy') this.service(e.service);
    out.collect(`${e.op} ${e.key}`);
  }

  async endInput(out: Collector<unknown>): Promise<void> {
    this.service('atEndInput');
    out.collect('endInput');
  }

  async finish(): Promise<void> {
    this.log.push('finish');
    this.service('atFinish');
    this.finished = true;
  }

  async snapshotState(): Promise<void> {
    if (this.finished) this.service('afterEnd');
  }

  async notifyCheckpointComplete(): Promise<void> {}
  async notifyCheckpointAborted(): Promise<void> {}
  async close(): Promise<void> {}

  private service(name: string): void {
    const fire = (t: InternalTimer<unknown, unknown>, out: Collector<unknown>) => {
      this.log.push(`timer ${name} ${String(t.key)}`);
      out.collect(`timer ${name} ${String(t.key)}`);
    };
    this.env!.getInternalTimerService(name, Serializers.voidNamespace, { onEventTime: fire, onProcessingTime: fire });
  }
}

test('timer services asked for lazily fire their due timers before the next record, before finish and before end of data; none after it', async () => {
  const log: string[] = [];
  const sink: string[] = [];
  const env = new StreamExecutionEnvironment('lazy-timers', { parallelism: 1, bufferCapacity: 64 });
  const watermarks = WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner(() => 10);
  const keyed = env.fromLog('events', sequenceLog(1, EVENTS.length, (_p, o) => EVENTS[o]!), { watermarks }).keyBy((e) => e.key, Serializers.string);
  keyed
    .addKeyedOperator<string>('lazy', [keyed.edge(0)], {}, () => new LazyTimersOperator(log))
    .sinkTo('sink', () => ({ invoke: (v: string) => void sink.push(v), finish: () => void sink.push('END') }));
  const job = await JobClient.execute(env.getJobGraph(), {
    stateBackend: new MemoryStateBackend(),
    checkpointStorage: new FsCheckpointStorage(new MemoryFileSystem()),
    checkpointing: { mode: 'EXACTLY_ONCE', timeoutMs: 600_000 },
  });
  assert.equal((await job.result).status, 'FINISHED');
  const regs = EVENTS.filter((e) => e.op === 'reg').map((e) => `reg ${e.key}`);
  assert.deepEqual(sink, [
    ...regs,
    'lazy k2',
    // The record that asked for the service leaves its due timers to fire before the next one.
    'timer inBatch k0',
    'timer inBatch k1',
    'rec k3',
    'endInput',
    'timer atEndInput k0',
    'timer atEndInput k1',
    // A service first asked for in finish fires before end of data goes downstream.
    'timer atFinish k0',
    'timer atFinish k1',
    'END',
  ]);
  // endInput's timers fire before finish; the service asked for in the final snapshot fires nothing.
  assert.deepEqual(log, ['timer inBatch k0', 'timer inBatch k1', 'timer atEndInput k0', 'timer atEndInput k1', 'finish', 'timer atFinish k0', 'timer atFinish k1']);
});
