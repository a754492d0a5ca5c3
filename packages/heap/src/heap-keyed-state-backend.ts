import {
  AbstractKeyedStateBackend,
  assert,
  HeapPriorityQueues,
  checkStateRegistration,
  identityFunction,
  primitiveIdentity,
  primitiveOfIdentity,
  SnapshotStrategyRunner,
  keyIdOf,
  VoidNamespace,
  type AggregatingStateDescriptor,
  type Identity,
  type IdentityFn,
  type KeyedStateBackendParameters,
  type KeyedStateHandle,
  type KeyedStateMetaInfo,
  type NamespacedState,
  type ReducingStateDescriptor,
  type RestoredStateResolution,
  type SnapshotResources,
  type State,
  type StateDescriptor,
  type StateKind,
  type StateTtlConfig,
  type TypeSerializer,
  type ValueStateDescriptor,
} from '@flowstate/core';
import { HeapAggregatingState, HeapListState, HeapMapState, HeapReducingState, HeapValueState, type CurrentKeyContext, type NamespaceAccess } from './heap-states.js';
import { mapKeySerializer, mapKeysOf, mapValueSerializer, type Registered } from './heap-registered.js';
import { restoreHeapKeyedState } from './heap-restore.js';
import { HeapSnapshotStrategy } from './heap-snapshot.js';
import { RunningViews, StateTable, type StateEntry, type StateMeta } from './state-table.js';
import type { HeapMap } from './heap-map.js';
import { HeapTtlCleaner } from './heap-ttl.js';

export interface HeapKeyedStateBackendOptions {
  /** false: all serialization happens in the synchronous part (MemoryStateBackend). */
  readonly asynchronousSnapshots: boolean;
}

/**
 * Keyed state on the JS heap. Each state is a StateTable (key group -> key -> namespace -> value);
 * values are live JS objects. Snapshots are copy-on-write (see SnapshotView) and write the
 * canonical key-group stream, so they restore into any backend and at any parallelism.
 */
export class HeapKeyedStateBackend<K> extends AbstractKeyedStateBackend<K, Registered> {
  /** The state objects read the current key from here, never from the backend itself. */
  private readonly current = new CurrentKey();
  /** Primitive keys: their identity function (they are their own identity but for float64 -0); undefined otherwise. */
  private readonly keyIdentity: IdentityFn<unknown> | undefined;
  /** The identity of the current key: keyIdentity's, or of its bytes (chosen once: one call per setCurrentKey). */
  private readonly keyIdOf: (key: unknown, keyBytes: Uint8Array | undefined) => Identity;
  private readonly snapshots = new RunningViews();
  private readonly runner: SnapshotStrategyRunner<KeyedStateHandle, SnapshotResources>;
  protected readonly priorityQueues: HeapPriorityQueues;

  constructor(
    params: KeyedStateBackendParameters<K>,
    private readonly options: HeapKeyedStateBackendOptions,
  ) {
    // Primitive keys are their own identity here, so their key group needs no serialized bytes.
    super(params, { primitiveKeysWithoutBytes: true });
    const identity = (this.keyIdentity = primitiveIdentity(params.keySerializer as TypeSerializer<unknown>));
    this.keyIdOf = identity ?? ((key, keyBytes) => keyIdOf(undefined, key, keyBytes));
    this.priorityQueues = new HeapPriorityQueues({ ...params, keySerializer: params.keySerializer as TypeSerializer<unknown> });
    const strategy = new HeapSnapshotStrategy({
      keySerializer: this.keySerializer as TypeSerializer<unknown>,
      keyGroupRange: this.keyGroupRange,
      asynchronousSnapshots: options.asynchronousSnapshots,
      tables: () => [...this.states.values()].map((r) => r.table),
      queues: this.priorityQueues,
      views: this.snapshots,
      ttlFilter: (table) => this.ttl.snapshotFilter(table.meta.ttl, table.meta.name),
    });
    this.runner = new SnapshotStrategyRunner('heap full snapshot', strategy, this.runningSnapshots);
  }

  /** Restores from handles (of any number of old subtasks) before the backend is used. */
  async restore(params: KeyedStateBackendParameters<K>): Promise<void> {
    await restoreHeapKeyedState(
      {
        operatorIdentifier: this.operatorIdentifier,
        keySerializer: this.keySerializer as TypeSerializer<unknown>,
        keyGroupRange: this.keyGroupRange,
        maxParallelism: this.maxParallelism,
        keyIdentity: this.keyIdentity,
        restoredState: (meta) => this.restoredState(meta),
        queues: this.priorityQueues,
      },
      params,
    );
  }

  /** The registration a restored state's entries go into, created on first sight. */
  private restoredState(meta: KeyedStateMetaInfo & { kind: StateKind }): Registered {
    let reg = this.states.get(meta.name);
    if (reg === undefined) {
      reg = this.newRegistered({
        name: meta.name,
        kind: meta.kind,
        namespaceSerializer: meta.namespaceSerializerSnapshot.restoreSerializer(),
        stateSerializer: meta.stateSerializerSnapshot.restoreSerializer(),
        restored: { namespaceSnapshot: meta.namespaceSerializerSnapshot, stateSnapshot: meta.stateSerializerSnapshot },
      });
      this.states.set(meta.name, reg);
    }
    return reg;
  }

  // ---- current key --------------------------------------------------------------------------

  protected onCurrentKey(key: K, keyBytes: Uint8Array | undefined, keyGroup: number): void {
    const current = this.current;
    current.currentKey = key;
    current.currentKeyGroup = keyGroup;
    current.currentKeyId = this.keyIdOf(key, keyBytes);
    current.isSet = true;
  }

  // ---- registration -------------------------------------------------------------------------

  protected registerState(d: StateDescriptor<State, unknown>, nsSerializer: TypeSerializer<unknown>): Registered {
    let reg = this.states.get(d.name);
    if (reg === undefined) {
      const meta: StateMeta = { name: d.name, kind: d.kind, namespaceSerializer: nsSerializer, stateSerializer: d.serializer, ttl: d.ttl };
      reg = this.newRegistered(meta);
      this.states.set(d.name, reg);
      return reg;
    }
    const resolution = checkStateRegistration(reg.table.meta, d, nsSerializer);
    if (resolution !== undefined) this.applyRestored(reg, nsSerializer, resolution);
    reg.table.meta.ttl = d.ttl;
    return reg;
  }

  protected override ttlIncrementalCleaner(reg: Registered, config: StateTtlConfig): HeapTtlCleaner {
    return new HeapTtlCleaner(reg, config.ttlMs, this.ttl.counters);
  }

  /** Full snapshots drop expired entries of states with cleanup.fullSnapshot, as of the synchronous part. */
  private newRegistered(meta: StateMeta): Registered {
    // Deep copy of a stored value; map values in the layout the registration has at the time.
    const copy = (v: unknown): unknown => (meta.kind === 'MAP' ? reg.mapKeys!.copy(v as HeapMap, mapKeySerializer(meta), mapValueSerializer(meta)) : meta.stateSerializer.copy(v));
    const table = new StateTable(meta, this.keyGroupRange, this.snapshots, copy, { keyOfId: primitiveOfIdentity(this.keySerializer as TypeSerializer<unknown>), namespaceOfId: namespaceOfIdentity(meta.namespaceSerializer) });
    const reg: Registered = { table, descriptor: undefined, state: undefined, nsIdentity: identityFunction(meta.namespaceSerializer) };
    if (meta.kind === 'MAP') reg.mapKeys = mapKeysOf(meta);
    return reg;
  }

  /** First registration after restore: rewrite the values if the serializer needs a migration. */
  private applyRestored(reg: Registered, nsSerializer: TypeSerializer<unknown>, resolution: RestoredStateResolution): void {
    // State objects keep the map layout they were created with (HeapMapState): none exists yet.
    assert(reg.state === undefined, 'a restored state is resolved before any state object is created for it');
    const meta = reg.table.meta;
    const migrate = resolution.migrate;
    if (meta.kind === 'MAP') {
      const before = reg.mapKeys!;
      const after = mapKeysOf({ ...meta, stateSerializer: resolution.stateSerializer });
      // Rewritten when migrated, or when the new key serializer keys the maps another way.
      if (migrate !== undefined) reg.table.mapValues((v) => after.fromJs(migrate(before.toJs(v as HeapMap)) as Map<unknown, unknown>));
      else if (before.tupled !== after.tupled) reg.table.mapValues((v) => after.fromJs(before.toJs(v as HeapMap)));
      reg.mapKeys = after;
    } else if (migrate !== undefined) {
      reg.table.mapValues(migrate);
    }
    reg.table.setStateSerializer(resolution.stateSerializer);
    meta.namespaceSerializer = nsSerializer;
    meta.restored = undefined;
    reg.nsIdentity = identityFunction(nsSerializer);
  }

  protected createState(reg: Registered, d: StateDescriptor<State, unknown>, ns: TypeSerializer<unknown>): NamespacedState {
    const access: NamespaceAccess<unknown> = {
      identity: reg.nsIdentity,
      copy: ns.isImmutableType ? (n) => n : (n) => ns.copy(n),
      initial: ns.typeId === 'void-namespace' ? VoidNamespace : undefined,
    };
    const table = reg.table;
    switch (d.kind) {
      case 'VALUE': {
        const vd = d as unknown as ValueStateDescriptor<unknown>;
        return new HeapValueState(this.current, table, access, () => table.meta.stateSerializer, vd.defaultValue);
      }
      case 'LIST':
        return new HeapListState(this.current, table, access);
      case 'REDUCING':
        return new HeapReducingState(this.current, table, access, (d as unknown as ReducingStateDescriptor<unknown>).reduceFunction);
      case 'AGGREGATING':
        return new HeapAggregatingState(this.current, table, access, (d as unknown as AggregatingStateDescriptor<unknown, unknown, unknown>).aggregateFunction);
      case 'MAP':
        return new HeapMapState(this.current, table, access, reg);
    }
  }

  // ---- queries ------------------------------------------------------------------------------

  protected keysOf(reg: Registered, namespace: unknown): K[] {
    const nsId = reg.nsIdentity(namespace);
    const out: K[] = [];
    for (const g of this.keyGroupRange) {
      for (const [keyId, head] of reg.table.group(g)) {
        let e: StateEntry | undefined = head;
        while (e !== undefined && e.nsId !== nsId) e = e.next;
        if (e !== undefined) out.push(reg.table.keyOf(keyId, e) as K);
      }
    }
    return out;
  }

  protected keysAndNamespacesOf(reg: Registered): Array<[K, unknown]> {
    const out: Array<[K, unknown]> = [];
    for (const [key, namespace] of reg.table.keysAndNamespaces()) out.push([key as K, namespace]);
    return out;
  }

  numKeyValueStateEntries(): number {
    let n = 0;
    for (const r of this.states.values()) n += r.table.size;
    return n;
  }

  // ---- snapshots ----------------------------------------------------------------------------

  protected snapshotRunner(): SnapshotStrategyRunner<KeyedStateHandle, SnapshotResources> {
    return this.runner;
  }

  /** Copy-on-write views still registered (each makes state writes keep preimages). */
  get activeSnapshotViews(): number {
    return this.snapshots.size;
  }

  notifyCheckpointComplete(_checkpointId: number): void {}

  notifyCheckpointAborted(_checkpointId: number): void {}

  protected disposeResources(): void {
    // Running snapshots released their views already (dispose() closed runningSnapshots first).
    for (const s of this.snapshots) s.release();
    this.snapshots.clear();
    this.states.clear();
  }
}

/**
 * The namespace whose identity (identityFunction) is `nsId`, for namespace types where it follows
 * from the identity alone: the void namespace (identity 0) and primitives (their own identity).
 */
function namespaceOfIdentity(serializer: TypeSerializer<unknown>): ((nsId: Identity) => unknown) | undefined {
  if (serializer.typeId === 'void-namespace') return () => VoidNamespace;
  return primitiveOfIdentity(serializer);
}

/** The current key, shared with the state objects; not exported, so nothing else can write it. */
class CurrentKey implements CurrentKeyContext {
  currentKey: unknown = undefined;
  currentKeyGroup = -1;
  // A small integer to start with, so that the field keeps V8's small-integer representation for
  // int32 keys: the table lookups then know their key is an int32 and V8 inlines the hash lookup
  // (FindOrderedHashMapEntryForInt32Key). Started as '' the field was tagged, and every Map.get of
  // every state access went through the generic lookup builtin (57% of a ValueState insert, issue 16).
  currentKeyId: Identity = 0;
  isSet = false;
}
