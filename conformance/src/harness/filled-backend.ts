import { Serializers, type KeyedStateBackend } from '@flowstate/core';
import type { Fixture } from './fixture.js';
import { MixedWorkload } from './mixed-workload.js';
import { Prng } from './prng.js';

export interface FilledBackend {
  kb: KeyedStateBackend<string>;
  work: MixedWorkload;
  /** The generator the workload draws from, to go on with (same sequence for the same seed). */
  prng: Prng;
  /** The keys filled, in the order drawn. */
  keys: readonly string[];
}

/** A keyed backend (string keys) holding a mixed workload over `keys` fresh keys `key-…`, drawn from `seed`. */
export async function filledBackend(fx: Fixture, seed: number, keys: number): Promise<FilledBackend> {
  const prng = new Prng(seed);
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  const work = new MixedWorkload(kb, prng);
  const drawn = prng.uniqueStrings(keys, 'key-');
  work.fill(drawn);
  return { kb, work, prng, keys: drawn };
}
