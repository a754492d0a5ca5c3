import { assert, type KeyGroupRange, type StateKind, type TypeSerializer, type TypeSerializerSnapshot } from '@flowstate/core';
import type { Identity } from './identity.js';

/**
 * One (key, namespace) entry. The entries of one key form a chain through `next` (almost always
 * of length one: most state has a single namespace), which keeps a lookup to one Map probe and
 * an entry about a third of the size of a Map of namespaces per key.
 */
export interface StateEntry {
  readonly key: unknown;
  readonly namespace: unknown;
  readonly nsId: Identity;
  value: unknown;
  next: StateEntry | undefined;
}

/** The value of an entry as a snapshot must see it. */
export interface PreimageEntry {
  readonly key: unknown;
  readonly namespace: unknown;
  readonly value: unknown;
}

/** Marks "this entry did not exist when the snapshot started". */
export const ABSENT: unique symbol = Symbol('absent');
export type Preimage = PreimageEntry | typeof ABSENT;

/** key identity -> head of that key's namespace chain. */
export type KeyGroupMap = Map<Identity, StateEntry>;

/**
 * Copy-on-write view of a running snapshot over the state tables, in the spirit of Flink's
 * CopyOnWriteStateMap: instead of copying the table when a snapshot starts, the first write to an
 * entry in a key group the snapshot has not serialized yet saves the entry's old value (its
 * preimage). The snapshot then reads live values, overridden by preimages. Memory returns to
 * normal as soon as a key group is serialized, and entirely when the snapshot ends.
 */
export class SnapshotView {
  /** Key groups below this one are already serialized and need no preimages. */
  nextKeyGroup: number;
  private readonly preimages = new Map<StateTable, Map<number, Map<Identity, Map<Identity, Preimage>>>>();

  constructor(keyGroupRange: KeyGroupRange) {
    this.nextKeyGroup = keyGroupRange.startKeyGroup;
  }

  needs(keyGroup: number): boolean {
    return keyGroup >= this.nextKeyGroup;
  }

  record(table: StateTable, keyGroup: number, keyId: Identity, nsId: Identity, pre: Preimage): void {
    let t = this.preimages.get(table);
    if (t === undefined) this.preimages.set(table, (t = new Map()));
    let g = t.get(keyGroup);
    if (g === undefined) t.set(keyGroup, (g = new Map()));
    let k = g.get(keyId);
    if (k === undefined) g.set(keyId, (k = new Map()));
    if (!k.has(nsId)) k.set(nsId, pre);
  }

  has(table: StateTable, keyGroup: number, keyId: Identity, nsId: Identity): boolean {
    return this.preimages.get(table)?.get(keyGroup)?.get(keyId)?.has(nsId) ?? false;
  }

  preimagesOf(table: StateTable, keyGroup: number): Map<Identity, Map<Identity, Preimage>> | undefined {
    return this.preimages.get(table)?.get(keyGroup);
  }

  /** Called after a key group was serialized: its preimages are no longer needed. */
  finishKeyGroup(keyGroup: number): void {
    assert(keyGroup === this.nextKeyGroup, `key groups are finished in order (${keyGroup} vs ${this.nextKeyGroup})`);
    for (const t of this.preimages.values()) t.delete(keyGroup);
    this.nextKeyGroup = keyGroup + 1;
  }

  release(): void {
    this.preimages.clear();
    this.nextKeyGroup = Number.MAX_SAFE_INTEGER;
  }

  get preimageCount(): number {
    let n = 0;
    for (const t of this.preimages.values()) for (const g of t.values()) for (const k of g.values()) n += k.size;
    return n;
  }
}

/** Registration info of a state; serializers change when a restored state is re-registered. */
export interface StateMeta {
  readonly name: string;
  readonly kind: StateKind;
  namespaceSerializer: TypeSerializer<unknown>;
  stateSerializer: TypeSerializer<unknown>;
  /** Set while the state was restored but not yet registered: compatibility is resolved on registration. */
  restored?: {
    readonly namespaceSnapshot: TypeSerializerSnapshot<unknown>;
    readonly stateSnapshot: TypeSerializerSnapshot<unknown>;
  };
}

/**
 * The entries of one state, per key group, per key, per namespace. Every mutation goes through
 * this class so that running snapshots see the state as of their start.
 */
export class StateTable {
  private readonly groups: KeyGroupMap[];
  private entries = 0;

  constructor(
    readonly meta: StateMeta,
    readonly keyGroupRange: KeyGroupRange,
    private readonly snapshots: Set<SnapshotView>,
    /** Deep copy of a stored value, used to copy on write while a snapshot needs the old one. */
    private readonly copyValue: (v: unknown) => unknown,
  ) {
    this.groups = Array.from({ length: keyGroupRange.numberOfKeyGroups }, () => new Map());
  }

  get size(): number {
    return this.entries;
  }

  group(keyGroup: number): KeyGroupMap {
    return this.groups[keyGroup - this.keyGroupRange.startKeyGroup]!;
  }

  get(keyGroup: number, keyId: Identity, nsId: Identity): StateEntry | undefined {
    let e = this.groups[keyGroup - this.keyGroupRange.startKeyGroup]!.get(keyId);
    while (e !== undefined && e.nsId !== nsId) e = e.next;
    return e;
  }

  private preserve(keyGroup: number, keyId: Identity, nsId: Identity, entry: StateEntry | undefined): void {
    for (const s of this.snapshots) {
      if (s.needs(keyGroup) && !s.has(this, keyGroup, keyId, nsId)) {
        s.record(this, keyGroup, keyId, nsId, entry === undefined ? ABSENT : { key: entry.key, namespace: entry.namespace, value: entry.value });
      }
    }
  }

  /**
   * The entry, safe to mutate in place: if a running snapshot still needs its current value, the
   * old value object is handed to the snapshot and the live entry gets a copy.
   */
  getForUpdate(keyGroup: number, keyId: Identity, nsId: Identity): StateEntry | undefined {
    const e = this.get(keyGroup, keyId, nsId);
    if (e !== undefined && this.snapshots.size > 0) {
      let copied = false;
      for (const s of this.snapshots) {
        if (s.needs(keyGroup) && !s.has(this, keyGroup, keyId, nsId)) {
          s.record(this, keyGroup, keyId, nsId, { key: e.key, namespace: e.namespace, value: e.value });
          copied = true;
        }
      }
      if (copied) e.value = this.copyValue(e.value);
    }
    return e;
  }

  put(keyGroup: number, keyId: Identity, key: unknown, nsId: Identity, namespace: unknown, value: unknown): void {
    const g = this.group(keyGroup);
    const head = g.get(keyId);
    let e = head;
    while (e !== undefined && e.nsId !== nsId) e = e.next;
    if (this.snapshots.size > 0) this.preserve(keyGroup, keyId, nsId, e);
    if (e !== undefined) {
      e.value = value;
      return;
    }
    g.set(keyId, { key, namespace, nsId, value, next: head });
    this.entries++;
  }

  /** Removes and returns the entry's value (undefined if absent). */
  remove(keyGroup: number, keyId: Identity, nsId: Identity): unknown {
    const g = this.group(keyGroup);
    const head = g.get(keyId);
    let prev: StateEntry | undefined;
    let e = head;
    while (e !== undefined && e.nsId !== nsId) {
      prev = e;
      e = e.next;
    }
    if (e === undefined) return undefined;
    if (this.snapshots.size > 0) this.preserve(keyGroup, keyId, nsId, e);
    if (prev !== undefined) prev.next = e.next;
    else if (e.next !== undefined) g.set(keyId, e.next);
    else g.delete(keyId);
    this.entries--;
    return e.value;
  }

  *allEntries(): Generator<StateEntry> {
    for (const g of this.groups) yield* entriesOfGroup(g);
  }

  /**
   * Rewrites every value (serializer migration). Goes through the copy-on-write path, so a
   * snapshot that is running keeps the old values it was started with.
   */
  mapValues(fn: (v: unknown) => unknown): void {
    const start = this.keyGroupRange.startKeyGroup;
    for (let i = 0; i < this.groups.length; i++) {
      for (const [keyId, head] of this.groups[i]!) {
        for (let e: StateEntry | undefined = head; e !== undefined; e = e.next) {
          if (this.snapshots.size > 0) this.preserve(start + i, keyId, e.nsId, e);
          e.value = fn(e.value);
        }
      }
    }
  }
}

/** Every entry of a key group (every namespace of every key). */
export function* entriesOfGroup(g: KeyGroupMap): Generator<StateEntry> {
  for (const head of g.values()) for (let e: StateEntry | undefined = head; e !== undefined; e = e.next) yield e;
}
