import {
  assignToKeyGroup,
  checkNamespace,
  checkStateRegistration,
  DataOutputSerializer,
  defaultSerializerRegistry,
  IllegalStateUsageError,
  VoidNamespace,
  type AggregatingStateDescriptor,
  type CheckpointOptions,
  type CheckpointStreamFactory,
  type KeyedStateBackend,
  type KeyedStateBackendParameters,
  type KeyedStateHandle,
  type KeyedStateOf,
  type KeyGroupRange,
  type ReducingStateDescriptor,
  type RestoredStateResolution,
  type SerializerSnapshotRegistry,
  type SnapshotFuture,
  type State,
  type StateDescriptor,
  type TypeSerializer,
  type ValueStateDescriptor,
  identityFunction,
  isPrimitiveType,
  keyIdOf,
  type Identity,
  type IdentityFn,
} from '@flowstate/core';
import { HeapAggregatingState, HeapListState, HeapMapState, HeapReducingState, HeapValueState, type CurrentKeyContext, type HeapMap, type NamespaceAccess } from './heap-states.js';
import { restoreHeapKeyedState } from './heap-restore.js';
import { startHeapSnapshot } from './heap-snapshot.js';
import { SnapshotView, StateTable, type StateEntry, type StateMeta } from './state-table.js';
import { copyHeapMap, heapMapFromJs, heapMapToJs } from './heap-map.js';

export interface HeapKeyedStateBackendOptions {
  /** false: all serialization happens in the synchronous part (MemoryStateBackend). */
  readonly asynchronousSnapshots: boolean;
}

/** A registered state: its table plus the state object handed out (one per namespace serializer). */
interface Registered {
  readonly table: StateTable;
  descriptor: StateDescriptor<State, unknown> | undefined;
  state: (State & { setCurrentNamespace(ns: unknown): void }) | undefined;
  nsIdentity: IdentityFn<unknown>;
  userKeyIdentity?: IdentityFn<unknown>;
}

/**
 * Keyed state on the JS heap. Each state is a StateTable (key group -> key -> namespace -> value);
 * values are live JS objects. Snapshots are copy-on-write (see SnapshotView) and write the
 * canonical key-group stream, so they restore into any backend and at any parallelism.
 */
export class HeapKeyedStateBackend<K> implements KeyedStateBackend<K>, CurrentKeyContext {
  readonly keySerializer: TypeSerializer<K>;
  readonly keyGroupRange: KeyGroupRange;
  readonly numberOfKeyGroups: number;
  readonly operatorIdentifier: string;
  readonly registry: SerializerSnapshotRegistry;

  currentKey: unknown = undefined;
  currentKeyGroup = -1;
  currentKeyId: Identity = '';
  private keySet = false;
  private disposed = false;
  private readonly keyOut = new DataOutputSerializer(64);
  readonly primitiveKeys: boolean;
  readonly states = new Map<string, Registered>();
  readonly snapshots = new Set<SnapshotView>();
  /** Asynchronous parts still running; dispose() cancels them. */
  readonly runningSnapshots = new Set<{ cancel(): void }>();

  constructor(
    params: KeyedStateBackendParameters<K>,
    readonly options: HeapKeyedStateBackendOptions,
  ) {
    this.keySerializer = params.keySerializer;
    this.keyGroupRange = params.keyGroupRange;
    this.numberOfKeyGroups = params.numberOfKeyGroups;
    this.operatorIdentifier = params.operatorIdentifier;
    this.registry = params.serializerRegistry ?? defaultSerializerRegistry;
    this.primitiveKeys = isPrimitiveType(params.keySerializer as TypeSerializer<unknown>);
  }

  /** Restores from handles (of any number of old subtasks) before the backend is used. */
  async restore(params: KeyedStateBackendParameters<K>): Promise<void> {
    await restoreHeapKeyedState(this, params);
  }

  // ---- current key --------------------------------------------------------------------------

  setCurrentKey(key: K): void {
    this.checkNotDisposed();
    if (key === null || key === undefined) throw new IllegalStateUsageError(undefined, 'the current key must not be null or undefined');
    if (this.keySet && key === this.currentKey && this.primitiveKeys) return;
    const out = this.keyOut;
    out.clear();
    this.keySerializer.serialize(key, out);
    const bytes = out.bytesView();
    const g = assignToKeyGroup(bytes, this.numberOfKeyGroups);
    if (!this.keyGroupRange.contains(g)) {
      throw new IllegalStateUsageError(
        undefined,
        `key ${String(key)} belongs to key group ${g}, outside this backend's ${this.keyGroupRange} (operator '${this.operatorIdentifier}')`,
      );
    }
    this.currentKey = key;
    this.currentKeyGroup = g;
    this.currentKeyId = keyIdOf(this.primitiveKeys, key, bytes);
    this.keySet = true;
  }

  getCurrentKey(): K {
    this.checkKeySet(undefined);
    return this.currentKey as K;
  }

  getCurrentKeyGroupIndex(): number {
    this.checkKeySet(undefined);
    return this.currentKeyGroup;
  }

  checkKeySet(stateName: string | undefined): void {
    if (!this.keySet) throw new IllegalStateUsageError(stateName, 'no current key set (call setCurrentKey first)');
  }

  private checkNotDisposed(): void {
    if (this.disposed) throw new IllegalStateUsageError(undefined, `keyed state backend of '${this.operatorIdentifier}' is disposed`);
  }

  // ---- registration -------------------------------------------------------------------------

  getPartitionedState<N, S extends State, V>(namespace: N, namespaceSerializer: TypeSerializer<N>, descriptor: StateDescriptor<S, V>): KeyedStateOf<S, N> {
    // Before registering: a refused call must not leave a state behind.
    checkNamespace(descriptor.name, namespace);
    const s = this.getOrCreateKeyedState(namespaceSerializer, descriptor);
    s.setCurrentNamespace(namespace);
    return s;
  }

  getOrCreateKeyedState<N, S extends State, V>(namespaceSerializer: TypeSerializer<N>, descriptor: StateDescriptor<S, V>): KeyedStateOf<S, N> {
    this.checkNotDisposed();
    const d = descriptor as unknown as StateDescriptor<State, unknown>;
    const reg = this.register(d, namespaceSerializer as TypeSerializer<unknown>);
    if (reg.state === undefined || reg.descriptor !== d) {
      reg.descriptor = d;
      reg.state = this.createState(reg, d, namespaceSerializer as TypeSerializer<unknown>);
    }
    return reg.state as unknown as KeyedStateOf<S, N>;
  }

  private register(d: StateDescriptor<State, unknown>, nsSerializer: TypeSerializer<unknown>): Registered {
    let reg = this.states.get(d.name);
    if (reg === undefined) {
      const meta: StateMeta = { name: d.name, kind: d.kind, namespaceSerializer: nsSerializer, stateSerializer: d.serializer };
      reg = this.newRegistered(meta);
      this.states.set(d.name, reg);
      return reg;
    }
    const resolution = checkStateRegistration(reg.table.meta, d, nsSerializer);
    if (resolution !== undefined) this.applyRestored(reg, nsSerializer, resolution);
    return reg;
  }

  newRegistered(meta: StateMeta): Registered {
    const copy = this.valueCopier(meta);
    const table = new StateTable(meta, this.keyGroupRange, this.snapshots, copy);
    const reg: Registered = { table, descriptor: undefined, state: undefined, nsIdentity: identityFunction(meta.namespaceSerializer) };
    if (meta.kind === 'MAP') reg.userKeyIdentity = identityFunction(mapKeySerializer(meta));
    return reg;
  }

  private valueCopier(meta: StateMeta): (v: unknown) => unknown {
    return (v) => (meta.kind === 'MAP' ? copyHeapMap(v as HeapMap, mapValueSerializer(meta)) : meta.stateSerializer.copy(v));
  }

  /** First registration after restore: rewrite the values if the serializer needs a migration. */
  private applyRestored(reg: Registered, nsSerializer: TypeSerializer<unknown>, resolution: RestoredStateResolution): void {
    const meta = reg.table.meta;
    const migrate = resolution.migrate;
    if (migrate !== undefined) {
      if (meta.kind === 'MAP') {
        const newKeyIdentity = identityFunction(mapKeySerializer({ ...meta, stateSerializer: resolution.stateSerializer }));
        reg.table.mapValues((v) => heapMapFromJs(migrate(heapMapToJs(v as HeapMap)) as Map<unknown, unknown>, newKeyIdentity));
      } else {
        reg.table.mapValues(migrate);
      }
    }
    meta.stateSerializer = resolution.stateSerializer;
    meta.namespaceSerializer = nsSerializer;
    meta.restored = undefined;
    reg.nsIdentity = identityFunction(nsSerializer);
    if (meta.kind === 'MAP') reg.userKeyIdentity = identityFunction(mapKeySerializer(meta));
  }

  private createState(reg: Registered, d: StateDescriptor<State, unknown>, ns: TypeSerializer<unknown>): State & { setCurrentNamespace(n: unknown): void } {
    const access: NamespaceAccess<unknown> = {
      identity: reg.nsIdentity,
      copy: ns.isImmutableType ? (n) => n : (n) => ns.copy(n),
      initial: ns.typeId === 'void-namespace' ? VoidNamespace : undefined,
    };
    const table = reg.table;
    switch (d.kind) {
      case 'VALUE': {
        const vd = d as unknown as ValueStateDescriptor<unknown>;
        return new HeapValueState(this, table, access, () => table.meta.stateSerializer, vd.defaultValue);
      }
      case 'LIST':
        return new HeapListState(this, table, access);
      case 'REDUCING':
        return new HeapReducingState(this, table, access, (d as unknown as ReducingStateDescriptor<unknown>).reduceFunction);
      case 'AGGREGATING':
        return new HeapAggregatingState(this, table, access, (d as unknown as AggregatingStateDescriptor<unknown, unknown, unknown>).aggregateFunction);
      case 'MAP':
        return new HeapMapState(this, table, access, () => reg.userKeyIdentity!);
    }
  }

  // ---- queries ------------------------------------------------------------------------------

  getKeys<N>(stateName: string, namespace: N): K[] {
    checkNamespace(stateName, namespace);
    const reg = this.states.get(stateName);
    // Unknown state: no keys (Flink returns an empty stream from getKeys and getKeysAndNamespaces).
    if (reg === undefined) return [];
    const nsId = reg.nsIdentity(namespace);
    const out: K[] = [];
    for (const g of this.keyGroupRange) {
      for (const head of reg.table.group(g).values()) {
        let e: StateEntry | undefined = head;
        while (e !== undefined && e.nsId !== nsId) e = e.next;
        if (e !== undefined) out.push(e.key as K);
      }
    }
    return out;
  }

  getKeysAndNamespaces<N>(stateName: string): Array<[K, N]> {
    const out: Array<[K, N]> = [];
    const reg = this.states.get(stateName);
    if (reg === undefined) return out;
    for (const e of reg.table.allEntries()) out.push([e.key as K, e.namespace as N]);
    return out;
  }

  applyToAllKeys<N, S extends State, V>(namespace: N, namespaceSerializer: TypeSerializer<N>, descriptor: StateDescriptor<S, V>, fn: (key: K, state: S) => void): void {
    const state = this.getPartitionedState(namespace, namespaceSerializer, descriptor);
    // Keys are collected first so that fn may modify (or clear) state while we iterate.
    const keys = this.getKeys(descriptor.name, namespace);
    const previousKey = this.keySet ? (this.currentKey as K) : undefined;
    for (const k of keys) {
      this.setCurrentKey(k);
      fn(k, state);
    }
    if (previousKey !== undefined) this.setCurrentKey(previousKey);
  }

  numKeyValueStateEntries(): number {
    let n = 0;
    for (const r of this.states.values()) n += r.table.size;
    return n;
  }

  getRegisteredStateNames(): string[] {
    return [...this.states.keys()];
  }

  // ---- snapshots ----------------------------------------------------------------------------

  snapshot(checkpointId: number, timestamp: number, streamFactory: CheckpointStreamFactory, options: CheckpointOptions): SnapshotFuture<KeyedStateHandle> {
    this.checkNotDisposed();
    return startHeapSnapshot(this, checkpointId, timestamp, streamFactory, options);
  }

  notifyCheckpointComplete(_checkpointId: number): void {}

  notifyCheckpointAborted(_checkpointId: number): void {}

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const s of this.runningSnapshots) s.cancel();
    for (const s of this.snapshots) s.release();
    this.snapshots.clear();
    this.states.clear();
  }

  get isDisposed(): boolean {
    return this.disposed;
  }
}

export function mapKeySerializer(meta: StateMeta): TypeSerializer<unknown> {
  return (meta.stateSerializer as unknown as { keySerializer: TypeSerializer<unknown> }).keySerializer;
}

export function mapValueSerializer(meta: StateMeta): TypeSerializer<unknown> {
  return (meta.stateSerializer as unknown as { valueSerializer: TypeSerializer<unknown> }).valueSerializer;
}
