import { assert } from '@flowstate/core';

/**
 * Names a side output of an operator (Flink's OutputTag): records sent to it with
 * `ctx.output(tag, value)` (or OperatorEnvironment.output) reach only the streams obtained with
 * `stream.getSideOutput(tag)`, e.g. a window operator's late data. Tags are equal by id.
 */
export class OutputTag<T> {
  /** Carries T for the type checker only. */
  declare readonly __type?: T;

  constructor(readonly id: string) {
    assert(typeof id === 'string' && id.length > 0, 'an OutputTag needs a non-empty id');
  }
}
