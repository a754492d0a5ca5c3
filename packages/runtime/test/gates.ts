/** Helpers that let runtime tests reach a state (a held operator, a quiescent job) instead of sleeping. */
import { Serializers, ValueStateDescriptor } from '@flowstate/core';
import type { KeyedProcessFunction } from '../src/index.js';

/** The per-key count the held operators keep. */
export const COUNT = new ValueStateDescriptor<number>('count', Serializers.int32, 0);

/**
 * Holds a slow operator still, so backpressure is a state the test reaches and observes rather
 * than something a sleep hopes for: with the gate closed the channels fill and the source stalls.
 */
export class Gate {
  private waiters: Array<() => void> = [];
  private opened = false;
  wait(): Promise<void> | undefined {
    return this.opened ? undefined : new Promise((resolve) => this.waiters.push(resolve));
  }
  open(): void {
    this.opened = true;
    for (const w of this.waiters.splice(0)) w();
  }
}

/**
 * Lets every task run until nothing moves any more. The runtime's loops advance on microtasks
 * and setImmediate, so `turns` idle macrotask turns mean it is quiescent (a stalled source, a
 * barrier parked in a queue), whatever the machine's load.
 */
export async function quiesce(progress: () => number, turns = 20): Promise<void> {
  let last = -1;
  let idle = 0;
  while (idle < turns) {
    await new Promise((r) => setImmediate(r));
    const now = progress();
    idle = now === last ? idle + 1 : 0;
    last = now;
  }
}

/** Polls (without asserting on time) until `done`; the test runner's timeout bounds it. */
export async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((r) => setTimeout(r, 5));
}

/**
 * A keyed operator that counts records per key (COUNT) and emits the count, each record first
 * waiting for `hold()` (e.g. a closed Gate), then reported to `counted` with its subtask index.
 */
export function heldCounter<IN>(hold: () => Promise<void> | undefined, counted: (subtaskIndex: number) => void = () => {}): () => KeyedProcessFunction<string, IN, number> {
  return () => ({
    async processElement(_r, ctx, out) {
      await hold();
      counted(ctx.subtaskIndex);
      const s = ctx.getState(COUNT);
      s.update((s.value() ?? 0) + 1);
      out.collect(s.value() ?? 0);
    },
  });
}
