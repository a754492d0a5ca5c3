import { assert, type KeyGroupRange, type StateKind, type StateTtlConfig, type TypeSerializer, type TypeSerializerSnapshot, type Identity } from '@flowstate/core';

/**
 * One (key, namespace) entry. The entries of one key form a chain through `next` (almost always
 * of length one: most state has a single namespace), which keeps a lookup to one Map probe and
 * an entry about a third of the size of a Map of namespaces per key.
 *
 * The key and the namespace are read through the table (keyOf, namespaceOf): a compact table's
 * entries do not store them (see StateTable.compact).
 */
export interface StateEntry {
  readonly nsId: Identity;
  value: unknown;
  next: StateEntry | undefined;
}

/** The entry of a table that is not compact: keeps the key and namespace objects themselves. */
interface FullStateEntry extends StateEntry {
  readonly key: unknown;
  readonly namespace: unknown;
}

/**
 * How a table's entries give back their key and namespace. When the key is its own identity (the
 * Map key of its chain) and the namespace follows from its identity, entries store neither: 16 of
 * the 64 bytes of an entry (plus the value itself), which the heap's bytes-per-entry goal of ≤ 2×
 * a plain Map needs (issue 16), and smaller entries are faster to reach.
 */
export interface EntryLayout {
  /** The key of an identity, when one follows from it (primitive keys: primitiveOfIdentity). */
  readonly keyOfId: ((keyId: Identity) => unknown) | undefined;
  /** The namespace of an identity, when one follows from it (void and primitive namespaces). */
  readonly namespaceOfId: ((nsId: Identity) => unknown) | undefined;
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
  private nextKeyGroup: number;
  private readonly preimages = new Map<StateTable, Map<number, Map<Identity, Map<Identity, Preimage>>>>();

  constructor(keyGroupRange: KeyGroupRange) {
    this.nextKeyGroup = keyGroupRange.startKeyGroup;
  }

  needs(keyGroup: number): boolean {
    return keyGroup >= this.nextKeyGroup;
  }

  /** Records the entry's value as of the snapshot's start, unless already recorded; true if it recorded. */
  recordIfAbsent(table: StateTable, keyGroup: number, keyId: Identity, nsId: Identity, entry: StateEntry | undefined): boolean {
    let t = this.preimages.get(table);
    if (t === undefined) this.preimages.set(table, (t = new Map()));
    let g = t.get(keyGroup);
    if (g === undefined) t.set(keyGroup, (g = new Map()));
    let k = g.get(keyId);
    if (k === undefined) g.set(keyId, (k = new Map()));
    if (k.has(nsId)) return false;
    k.set(nsId, entry === undefined ? ABSENT : { key: table.keyOf(keyId, entry), namespace: table.namespaceOf(entry), value: entry.value });
    return true;
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

  /** Preimages held (memory the snapshot pins); for tests and diagnostics. */
  get preimageCount(): number {
    let n = 0;
    for (const t of this.preimages.values()) for (const g of t.values()) for (const k of g.values()) n += k.size;
    return n;
  }
}

/**
 * The copy-on-write views of the running snapshots of one backend. Each table it was handed to
 * keeps its own `copyOnWrite` flag, set here whenever views come and go: every write and every
 * read of a mutable value tests it, and a field of the table is one load where the size of a
 * shared Set was four and a map check (issue 16).
 */
export class RunningViews implements Iterable<SnapshotView> {
  private readonly views = new Set<SnapshotView>();
  private readonly tables: StateTable[] = [];

  get size(): number {
    return this.views.size;
  }

  [Symbol.iterator](): Iterator<SnapshotView> {
    return this.views.values();
  }

  add(view: SnapshotView): void {
    this.views.add(view);
    this.changed();
  }

  delete(view: SnapshotView): void {
    this.views.delete(view);
    this.changed();
  }

  clear(): void {
    this.views.clear();
    this.changed();
  }

  /** A table of this backend: its copyOnWrite flag follows the views from now on. */
  attach(table: StateTable): void {
    this.tables.push(table);
    table.copyOnWrite = this.views.size > 0;
  }

  private changed(): void {
    const on = this.views.size > 0;
    for (const t of this.tables) t.copyOnWrite = on;
  }
}

/** Registration info of a state; serializers change when a restored state is re-registered. */
export interface StateMeta {
  readonly name: string;
  readonly kind: StateKind;
  namespaceSerializer: TypeSerializer<unknown>;
  stateSerializer: TypeSerializer<unknown>;
  /** The TTL config the state is registered with now (values are TtlValues); undefined without TTL and while restored but not registered again. */
  ttl?: StateTtlConfig | undefined;
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
    private readonly snapshots: RunningViews,
    /** Deep copy of a stored value, used to copy on write while a snapshot needs the old one. */
    private readonly copyValue: (v: unknown) => unknown,
    layout: EntryLayout,
  ) {
    this.groups = Array.from({ length: keyGroupRange.numberOfKeyGroups }, () => new Map());
    this.firstKeyGroup = keyGroupRange.startKeyGroup;
    this.compact = layout.keyOfId !== undefined && layout.namespaceOfId !== undefined;
    this.keyOfId = layout.keyOfId;
    this.namespaceOfId = layout.namespaceOfId;
    this.mutableValues = valuesMutable(meta.kind, meta.stateSerializer);
    snapshots.attach(this);
  }

  /** Whether a running snapshot may still need preimages of this table's entries (kept by RunningViews). */
  copyOnWrite = false;

  /** keyGroupRange.startKeyGroup, as a field of this object (one load less per access). */
  // Initialized here (not only in the constructor): a class field starts as undefined, and a
  // number stored over undefined makes V8 keep the field tagged; a small integer from the start
  // keeps it an untagged Smi on every access's path.
  private readonly firstKeyGroup: number = 0;
  /** Entries store only nsId, value and next (see EntryLayout). */
  private readonly compact: boolean;
  private readonly keyOfId: ((keyId: Identity) => unknown) | undefined;
  private readonly namespaceOfId: ((nsId: Identity) => unknown) | undefined;

  /** The key of an entry in the chain under `keyId`. */
  keyOf(keyId: Identity, e: StateEntry): unknown {
    return this.compact ? this.keyOfId!(keyId) : (e as FullStateEntry).key;
  }

  namespaceOf(e: StateEntry): unknown {
    return this.compact ? this.namespaceOfId!(e.nsId) : (e as FullStateEntry).namespace;
  }

  get size(): number {
    return this.entries;
  }

  /**
   * Whether values hand out objects a caller could mutate (then reads copy on write during
   * snapshots). A field, read on every access: setStateSerializer keeps it current.
   */
  mutableValues: boolean;

  /** Replaces the state serializer (first registration after a restore). */
  setStateSerializer(serializer: TypeSerializer<unknown>): void {
    this.meta.stateSerializer = serializer;
    this.mutableValues = valuesMutable(this.meta.kind, serializer);
  }

  group(keyGroup: number): KeyGroupMap {
    return this.groups[keyGroup - this.firstKeyGroup]!;
  }

  get(keyGroup: number, keyId: Identity, nsId: Identity): StateEntry | undefined {
    let e = this.groups[keyGroup - this.firstKeyGroup]!.get(keyId);
    while (e !== undefined && e.nsId !== nsId) e = e.next;
    return e;
  }

  /** Hands the entry's current value to every running snapshot that still needs it; true if any took it. */
  private preserve(keyGroup: number, keyId: Identity, nsId: Identity, entry: StateEntry | undefined): boolean {
    let recorded = false;
    for (const s of this.snapshots) {
      if (s.needs(keyGroup) && s.recordIfAbsent(this, keyGroup, keyId, nsId, entry)) recorded = true;
    }
    return recorded;
  }

  /**
   * The entry, safe to mutate in place (or to hand to a caller who might): if a running snapshot
   * still needs its current value, the old value object goes to the snapshot and the live entry
   * gets a copy.
   */
  getForUpdate(keyGroup: number, keyId: Identity, nsId: Identity): StateEntry | undefined {
    const e = this.get(keyGroup, keyId, nsId);
    if (e !== undefined && this.copyOnWrite === true) this.preserveForUpdate(keyGroup, keyId, nsId, e);
    return e;
  }

  /**
   * The entry for a caller that may keep or mutate its value: as getForUpdate for mutable value
   * types, as get for immutable ones (nothing a caller could change).
   */
  getForRead(keyGroup: number, keyId: Identity, nsId: Identity): StateEntry | undefined {
    const e = this.get(keyGroup, keyId, nsId);
    if (e !== undefined && this.copyOnWrite === true && this.mutableValues === true) this.preserveForUpdate(keyGroup, keyId, nsId, e);
    return e;
  }

  private preserveForUpdate(keyGroup: number, keyId: Identity, nsId: Identity, e: StateEntry): void {
    if (this.preserve(keyGroup, keyId, nsId, e)) e.value = this.copyValue(e.value);
  }

  // put is on the path of every write: small enough for V8 to inline into the state's method,
  // with the insertion of a new entry in a method of its own.
  put(keyGroup: number, keyId: Identity, key: unknown, nsId: Identity, namespace: unknown, value: unknown): void {
    const g = this.groups[keyGroup - this.firstKeyGroup]!;
    const head = g.get(keyId);
    let e = head;
    while (e !== undefined && e.nsId !== nsId) e = e.next;
    if (this.copyOnWrite === true) this.preserve(keyGroup, keyId, nsId, e);
    if (e === undefined) this.insert(g, keyId, key, nsId, namespace, value, head);
    else e.value = value;
  }

  private insert(g: KeyGroupMap, keyId: Identity, key: unknown, nsId: Identity, namespace: unknown, value: unknown, head: StateEntry | undefined): void {
    if (this.compact) {
      g.set(keyId, { nsId, value, next: head });
    } else {
      const full: FullStateEntry = { key, namespace, nsId, value, next: head };
      g.set(keyId, full);
    }
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
    // The removed value is returned to the caller (e.g. mergeNamespaces, which may merge into it
    // in place): if a snapshot took it, the caller gets a copy.
    const preserved = this.copyOnWrite === true && this.preserve(keyGroup, keyId, nsId, e);
    if (prev !== undefined) prev.next = e.next;
    else if (e.next !== undefined) g.set(keyId, e.next);
    else g.delete(keyId);
    this.entries--;
    return preserved ? this.copyValue(e.value) : e.value;
  }

  /** Every (key, namespace) with an entry. */
  *keysAndNamespaces(): Generator<[unknown, unknown]> {
    for (const g of this.groups) {
      for (const [keyId, head] of g) for (let e: StateEntry | undefined = head; e !== undefined; e = e.next) yield [this.keyOf(keyId, e), this.namespaceOf(e)];
    }
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
          if (this.copyOnWrite === true) this.preserve(start + i, keyId, e.nsId, e);
          e.value = fn(e.value);
        }
      }
    }
  }
}

function valuesMutable(kind: StateKind, serializer: TypeSerializer<unknown>): boolean {
  const ser = serializer as unknown as {
    isImmutableType: boolean;
    elementSerializer?: { isImmutableType: boolean };
    keySerializer?: { isImmutableType: boolean };
    valueSerializer?: { isImmutableType: boolean };
  };
  switch (kind) {
    // The list array itself is read-only for callers; only mutable elements matter.
    case 'LIST':
      return !(ser.elementSerializer?.isImmutableType ?? false);
    case 'MAP':
      return !((ser.keySerializer?.isImmutableType ?? false) && (ser.valueSerializer?.isImmutableType ?? false));
    default:
      return !ser.isImmutableType;
  }
}
