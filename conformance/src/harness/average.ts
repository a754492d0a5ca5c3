import type { AggregateFunction } from '@flowstate/core';

export interface Average {
  sum: number;
  count: number;
}

/**
 * Mutates and returns its accumulator, as Flink allows: a backend that hands out its stored
 * accumulator without copying would see the mutation leak into snapshots or other namespaces.
 */
export const AVERAGE: AggregateFunction<number, Average, string> = {
  createAccumulator: () => ({ sum: 0, count: 0 }),
  add: (value, acc) => {
    acc.sum += value;
    acc.count += 1;
    return acc;
  },
  getResult: (acc) => `${acc.sum}/${acc.count}`,
  merge: (a, b) => {
    a.sum += b.sum;
    a.count += b.count;
    return a;
  },
};
