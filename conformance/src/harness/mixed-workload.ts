import assert from 'node:assert/strict';
import {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  MsgpackSerializer,
  Serializers,
  ValueStateDescriptor,
  type KeyedStateBackend,
} from '@flowstate/core';
import { AVERAGE, type Average } from './average.js';
import { assertSameMembers } from './expect.js';
import type { Prng } from './prng.js';
import { listContents, mapContents, VOID_NS, VOID_NS_SERIALIZER } from './state-checks.js';

export interface Counter {
  count: number;
  tags: string[];
}

/** The expected content of every state, per key; plain data so that snapshots of it are deep copies. */
export interface MixedModel {
  values: Map<string, Counter>;
  lists: Map<string, number[]>;
  maps: Map<string, Map<string, number | null>>;
  averages: Map<string, number[]>;
}

/** Which part of the model mirrors each state. */
const MODEL_OF = { value: 'values', list: 'lists', map: 'maps', average: 'averages' } as const;

export const MIXED_DESCRIPTORS = {
  value: new ValueStateDescriptor<Counter>('counter', new MsgpackSerializer<Counter>()),
  list: new ListStateDescriptor<number>('numbers', Serializers.int32),
  map: new MapStateDescriptor<string, number>('lookup', Serializers.string, Serializers.int32),
  average: new AggregatingStateDescriptor<number, Average, string>('average', AVERAGE, new MsgpackSerializer<Average>()),
} as const;

/**
 * Random writes to value (mutable objects, read-modify-written), list, map and aggregating
 * (in-place accumulator) state, mirrored in a model. Mutable values are what copy-on-write
 * snapshots get wrong, so the workload leans on them.
 */
export class MixedWorkload {
  readonly model: MixedModel = { values: new Map(), lists: new Map(), maps: new Map(), averages: new Map() };
  readonly keys = new Set<string>();
  private tag = 0;

  constructor(
    private readonly kb: KeyedStateBackend<string>,
    private readonly prng: Prng,
  ) {}

  private get states() {
    const kb = this.kb;
    return {
      value: kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, MIXED_DESCRIPTORS.value),
      list: kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, MIXED_DESCRIPTORS.list),
      map: kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, MIXED_DESCRIPTORS.map),
      average: kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, MIXED_DESCRIPTORS.average),
    };
  }

  /** Gives every key a value in every state. */
  fill(keys: readonly string[]): void {
    const s = this.states;
    const m = this.model;
    for (const key of keys) {
      this.keys.add(key);
      this.kb.setCurrentKey(key);
      const counter = { count: this.prng.int(100), tags: [`t${this.tag++}`] };
      s.value.update(counter);
      m.values.set(key, structuredClone(counter));
      const list = this.prng.ints(this.prng.intBetween(1, 4), 0, 1000);
      s.list.update(list);
      m.lists.set(key, [...list]);
      const map = new Map<string, number | null>([
        ['a', this.prng.int(100)],
        ['b', null],
      ]);
      s.map.putAll(map);
      m.maps.set(key, new Map(map));
      const inputs = this.prng.ints(this.prng.intBetween(1, 3), 0, 100);
      for (const v of inputs) s.average.add(v);
      m.averages.set(key, inputs);
    }
  }

  /** One random write (or clear) for `key`, to the backend and to the model. */
  mutate(key: string): void {
    const s = this.states;
    const m = this.model;
    const prng = this.prng;
    this.keys.add(key);
    this.kb.setCurrentKey(key);
    switch (prng.int(10)) {
      case 0: {
        // Read-modify-write of a mutable object: the read object must not be the snapshot's.
        const v = s.value.value() ?? { count: 0, tags: [] };
        v.count += 1;
        v.tags.push(`t${this.tag++}`);
        s.value.update(v);
        m.values.set(key, structuredClone(v));
        break;
      }
      case 1:
        return this.clear('value', key);
      case 2:
        return this.append('list', key, prng.int(1000));
      case 3: {
        const es = prng.ints(2, 0, 1000);
        s.list.update(es);
        m.lists.set(key, es);
        break;
      }
      case 4:
        return this.clear('list', key);
      case 5: {
        const uk = prng.chance(0.5) ? 'a' : `n${prng.int(5)}`;
        const uv = prng.chance(0.2) ? null : prng.int(1000);
        s.map.put(uk, uv);
        m.maps.set(key, new Map(m.maps.get(key) ?? []).set(uk, uv));
        break;
      }
      case 6: {
        const uk = prng.chance(0.5) ? 'a' : 'b';
        s.map.remove(uk);
        const next = new Map(m.maps.get(key) ?? []);
        next.delete(uk);
        if (next.size === 0) m.maps.delete(key);
        else m.maps.set(key, next);
        break;
      }
      case 7:
        return this.clear('map', key);
      case 8:
        return this.append('average', key, prng.int(100));
      default:
        return this.clear('average', key);
    }
  }

  /** Clears one state of `key` in the backend and in the model. */
  private clear(state: keyof typeof MODEL_OF, key: string): void {
    this.states[state].clear();
    this.model[MODEL_OF[state]].delete(key);
  }

  /** Adds to the list or the aggregate of `key`; the model gets a new array, so earlier model snapshots keep theirs. */
  private append(state: 'list' | 'average', key: string, n: number): void {
    this.states[state].add(n);
    const inputs = this.model[MODEL_OF[state]];
    inputs.set(key, [...(inputs.get(key) ?? []), n]);
  }

  /** A deep copy of the model as it is now. */
  snapshotModel(): MixedModel {
    return structuredClone(this.model);
  }
}

/** Checks `kb` (live or restored) against `model` for every key in `keys`. */
export function assertMixed(kb: KeyedStateBackend<string>, model: MixedModel, keys: Iterable<string>, what: string): void {
  const d = MIXED_DESCRIPTORS;
  const value = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, d.value);
  const list = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, d.list);
  const map = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, d.map);
  const average = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, d.average);
  for (const key of keys) {
    kb.setCurrentKey(key);
    assert.deepStrictEqual(value.value(), model.values.get(key) ?? null, `${what}: value of '${key}'`);
    assert.deepStrictEqual(listContents(list, what), model.lists.get(key) ?? [], `${what}: list of '${key}'`);
    assert.deepStrictEqual(mapContents(map), model.maps.get(key) ?? new Map(), `${what}: map of '${key}'`);
    const inputs = model.averages.get(key);
    const expected = inputs === undefined ? null : `${inputs.reduce((a, b) => a + b, 0)}/${inputs.length}`;
    assert.equal(average.get(), expected, `${what}: aggregate of '${key}'`);
  }
  assertSameMembers(kb.getKeys(d.value.name, VOID_NS), model.values.keys(), `${what}: getKeys('${d.value.name}')`);
  assertSameMembers(kb.getKeys(d.list.name, VOID_NS), model.lists.keys(), `${what}: getKeys('${d.list.name}')`);
  assertSameMembers(kb.getKeys(d.map.name, VOID_NS), model.maps.keys(), `${what}: getKeys('${d.map.name}')`);
  assertSameMembers(kb.getKeys(d.average.name, VOID_NS), model.averages.keys(), `${what}: getKeys('${d.average.name}')`);
}
