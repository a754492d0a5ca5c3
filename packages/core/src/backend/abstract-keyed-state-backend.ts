import { assert } from '../assert.js';
import { IllegalStateUsageError, StateMigrationError } from '../errors.js';
import { DataOutputSerializer } from '../io/data-output.js';
import { assignToKeyGroup, checkKeyGroupRange } from '../keygroups/key-group-assignment.js';
import { NOT_HANDLED, primitiveKeyGroupFor, type PrimitiveKeyGroup } from '../keygroups/primitive-key-groups.js';
import type { KeyGroupRange } from '../keygroups/key-group-range.js';
import type { TypeSerializer, TypeSerializerSnapshot } from '../serialization/type-serializer.js';
import type { StateDescriptor } from '../state/descriptors.js';
import { checkNamespace } from '../state/registration.js';
import type { State } from '../state/state.js';
import type { KeyGroupedInternalPriorityQueue, PriorityQueueElementType } from '../state/priority-queue.js';
import type { PriorityQueueStates } from '../pq/priority-queue-states.js';
import { trackStateLatency, type StateLatencyTrackingOptions } from '../state/latency-tracking.js';
import type { KeyedStateHandle } from '../storage/handles.js';
import type { CheckpointStreamFactory } from '../storage/spi.js';
import { isPrimitiveType } from './identity.js';
import { RunningSnapshots } from './snapshot/running-snapshots.js';
import type { SnapshotStrategyRunner } from './snapshot/snapshot-strategy-runner.js';
import type { SnapshotResources } from './snapshot/snapshot-strategy.js';
import type { CheckpointOptions, KeyedStateBackend, KeyedStateBackendParameters, KeyedStateOf, SnapshotFuture, TtlCleanupStatistics } from './spi.js';
import { ttlDecorate } from '../state/ttl-descriptors.js';
import type { StateTtlConfig } from '../state/ttl.js';
import { KeyedTtlSupport, type TtlIncrementalCleaner } from './ttl-support.js';

/** Two zeros (key === 0 held): the same key only with the same sign. */
function sameZero(a: unknown, b: unknown): boolean {
  return 1 / (a as number) === 1 / (b as number);
}

/** The state object handed out for a registered state; its namespace is switchable. */
export type NamespacedState = State & { setCurrentNamespace(namespace: unknown): void };

/** What the abstract backend keeps of every registered state; backends add where the entries live. */
export interface RegisteredKeyedState {
  /** The descriptor the current state object was created for. */
  descriptor: StateDescriptor<State, unknown> | undefined;
  state: NamespacedState | undefined;
}

/** How a backend uses the current key; given once, to the constructor. */
export interface KeyedStateBackendKeyUsage {
  /**
   * The backend never reads the serialized bytes of primitive keys (it keeps them as themselves,
   * like the heap backends). setCurrentKey then hashes such keys straight from their values
   * (primitive-key-groups.ts) and passes `keyBytes` undefined to onCurrentKey for them.
   */
  readonly primitiveKeysWithoutBytes?: boolean;
}

/**
 * The logic every keyed state backend shares (Flink's AbstractKeyedStateBackend): the current key
 * and its key group, the namespace checks, state registration and caching, getPartitionedState,
 * applyToAllKeys, getKeys and disposal. A backend implements the hooks: where a key's entries
 * live, how a state is registered and created, how keys are listed, and how it snapshots.
 */
export abstract class AbstractKeyedStateBackend<K, R extends RegisteredKeyedState> implements KeyedStateBackend<K> {
  readonly keySerializer: TypeSerializer<K>;
  readonly keyGroupRange: KeyGroupRange;
  // Numbers read by setCurrentKey start as small integers here (not only in the constructor): a
  // class field starts as undefined, and a number stored over undefined makes V8 keep the field
  // tagged, so every setCurrentKey checked and untagged it (issue 16).
  readonly maxParallelism: number = 0;
  readonly operatorIdentifier: string;
  /** Registered states by name, including restored ones not registered again yet. */
  protected readonly states = new Map<string, R>();
  /** Snapshots whose asynchronous part runs; dispose() cancels them and releases their resources. */
  protected readonly runningSnapshots: RunningSnapshots;
  /** Clocks, inner descriptors and incremental cleaners of TTL'd states (see KeyedTtlSupport). */
  protected readonly ttl: KeyedTtlSupport;

  private currentKey: K | undefined;
  private currentKeyGroup = -1;
  private keySet = false;
  private disposed = false;
  private readonly keyOut = new DataOutputSerializer(64);
  /** Primitive keys compare by value, so setting the same key again can be skipped. */
  private readonly primitiveKeySerializer: boolean;
  /** Set when the backend needs no bytes of primitive keys: their key group without serializing them. */
  private readonly primitiveKeyGroup: PrimitiveKeyGroup | undefined;
  /** keyGroupRange's bounds, as fields of this object (two loads less per setCurrentKey). */
  private readonly firstKeyGroup: number = 0;
  private readonly lastKeyGroup: number = 0;
  private readonly latencyTracking: StateLatencyTrackingOptions | undefined;
  /** The latency-tracking wrapper of each state object handed out, when tracking is on. */
  private readonly tracked = new WeakMap<NamespacedState, NamespacedState>();

  protected constructor(params: KeyedStateBackendParameters<K>, keyUsage: KeyedStateBackendKeyUsage = {}) {
    // Before anything is set up: a backend that acquires resources before constructing this one
    // (a store, a directory) checks first too (checkKeyGroupRange).
    checkKeyGroupRange(params.keyGroupRange, params.maxParallelism);
    this.keySerializer = params.keySerializer;
    this.keyGroupRange = params.keyGroupRange;
    this.maxParallelism = params.maxParallelism;
    this.operatorIdentifier = params.operatorIdentifier;
    this.runningSnapshots = new RunningSnapshots(params.operatorIdentifier);
    this.primitiveKeySerializer = isPrimitiveType(params.keySerializer as TypeSerializer<unknown>);
    this.primitiveKeyGroup = keyUsage.primitiveKeysWithoutBytes === true ? primitiveKeyGroupFor(params.keySerializer.typeId) : undefined;
    this.firstKeyGroup = params.keyGroupRange.startKeyGroup;
    this.lastKeyGroup = params.keyGroupRange.endKeyGroup;
    this.latencyTracking = params.stateLatencyTracking;
    this.ttl = new KeyedTtlSupport(params.ttlTimeProvider, params.ttlWatermarkProvider);
  }

  // ---- hooks ------------------------------------------------------------------------------------

  /** The backend's priority queues (on the heap or in its store); set by the subclass constructor. */
  protected abstract readonly priorityQueues: PriorityQueueStates;

  /**
   * The current key changed: `keyBytes` (valid until the next call) and its key group. `keyBytes`
   * is undefined only for primitive keys of a backend constructed with `primitiveKeysWithoutBytes`.
   */
  protected abstract onCurrentKey(key: K, keyBytes: Uint8Array | undefined, keyGroup: number): void;
  /** The registration of `descriptor`: new, or the restored/earlier one checked for compatibility. */
  protected abstract registerState(descriptor: StateDescriptor<State, unknown>, namespaceSerializer: TypeSerializer<unknown>): R;
  /**
   * A new state object for a registration and the descriptor it is asked for with. A map state is
   * an InternalMapState: its iterators remove and set values in the map they were created on, and
   * the TTL decorator re-stamps the entries it iterates with their setValue().
   */
  protected abstract createState(registered: R, descriptor: StateDescriptor<State, unknown>, namespaceSerializer: TypeSerializer<unknown>): NamespacedState;
  /** Keys with an entry in `namespace` of a registered state. */
  protected abstract keysOf(registered: R, namespace: unknown): K[];
  /** Every (key, namespace) of a registered state. */
  protected abstract keysAndNamespacesOf(registered: R): Array<[K, unknown]>;
  /** The runner of the strategy that takes a snapshot with these options (built on `runningSnapshots`). */
  protected abstract snapshotRunner(options: CheckpointOptions): SnapshotStrategyRunner<KeyedStateHandle, SnapshotResources>;
  /**
   * The incremental TTL cleaner of a registered TTL'd state (config.cleanup.incremental), or
   * undefined when the backend has none. Default: none.
   */
  protected ttlIncrementalCleaner(_registered: R, _config: StateTtlConfig): TtlIncrementalCleaner | undefined {
    return undefined;
  }
  /** Releases what the backend holds; called once, by dispose(), after running snapshots were cancelled. */
  protected abstract disposeResources(): void;
  abstract numKeyValueStateEntries(): number;
  abstract notifyCheckpointComplete(checkpointId: number): void;
  abstract notifyCheckpointAborted(checkpointId: number): void;

  // ---- current key --------------------------------------------------------------------------------

  // setCurrentKey runs once per record: its body is kept small, with the rare paths (errors,
  // serializing a key) in methods of their own, so that callers' optimized code can inline it.
  // Flags are compared with `=== true`: V8 compiled a plain truth test of these fields as the
  // generic one (false, '', undetectable, number, bigint: ten instructions each), on every call.
  setCurrentKey(key: K): void {
    if (this.disposed === true || key === null || key === undefined) this.rejectKey(key);
    // The same primitive key again: nothing changes. float64 -0 and 0 are different keys (their
    // bytes differ), which === merges, hence the sign test on zero. Not Object.is: V8 compiles it to
    // a builtin call whenever the current key's type is not known, on every call (issue 16).
    if (this.keySet === true && key === this.currentKey && this.primitiveKeySerializer === true && (key !== 0 || sameZero(key, this.currentKey))) return;
    // The fast path gives the key group of the general one without serializing (primitive-key-groups.ts);
    // negative (NOT_HANDLED) for a key it does not cover, which then takes the general path.
    const fastKeyGroup = this.primitiveKeyGroup;
    const g = fastKeyGroup === undefined ? NOT_HANDLED : fastKeyGroup(key, this.maxParallelism);
    // The general path in a method of its own: V8 charges an inlined function's every bytecode to
    // the caller's inlining budget, taken branch or not.
    if (g >= 0) this.keyChanged(key, g, undefined);
    else this.serializedKeyChanged(key);
  }

  private serializedKeyChanged(key: K): void {
    const g = this.serializeCurrentKey(key);
    this.keyChanged(key, g, this.keyOut.bytesView());
  }

  /** The current key is now `key` (its bytes, undefined on the fast path, valid until the next call). */
  private keyChanged(key: K, g: number, keyBytes: Uint8Array | undefined): void {
    if (g < this.firstKeyGroup || g > this.lastKeyGroup) this.rejectKeyGroup(key, g);
    this.onCurrentKey(key, keyBytes, g);
    this.currentKey = key;
    this.currentKeyGroup = g;
    this.keySet = true;
  }

  /** Serializes `key` into keyOut; returns its key group. */
  private serializeCurrentKey(key: K): number {
    const out = this.keyOut;
    out.clear();
    this.keySerializer.serialize(key, out);
    return assignToKeyGroup(out.bytesView(), this.maxParallelism);
  }

  private rejectKey(key: K): never {
    this.checkNotDisposed();
    assert(key === null || key === undefined, 'rejectKey is called for a disposed backend or a missing key');
    throw new IllegalStateUsageError(undefined, 'the current key must not be null or undefined');
  }

  private rejectKeyGroup(key: K, g: number): never {
    throw new IllegalStateUsageError(
      undefined,
      `key ${String(key)} belongs to key group ${g}, outside this backend's ${this.keyGroupRange} (operator '${this.operatorIdentifier}')`,
    );
  }

  getCurrentKey(): K {
    this.checkKeySet();
    return this.currentKey as K;
  }

  getCurrentKeyGroupIndex(): number {
    this.checkKeySet();
    return this.currentKeyGroup;
  }

  private checkKeySet(): void {
    if (!this.keySet) throw new IllegalStateUsageError(undefined, 'no current key set (call setCurrentKey first)');
  }

  protected checkNotDisposed(): void {
    if (this.disposed) throw new IllegalStateUsageError(undefined, `keyed state backend of '${this.operatorIdentifier}' is disposed`);
  }

  // ---- registration -------------------------------------------------------------------------------

  getPartitionedState<N, S extends State, V>(namespace: N, namespaceSerializer: TypeSerializer<N>, descriptor: StateDescriptor<S, V>): KeyedStateOf<S, N> {
    // Before registering: a refused call must not leave a state behind.
    checkNamespace(descriptor.name, namespace);
    const s = this.getOrCreateKeyedState(namespaceSerializer, descriptor);
    s.setCurrentNamespace(namespace);
    return s;
  }

  getOrCreateKeyedState<N, S extends State, V>(namespaceSerializer: TypeSerializer<N>, descriptor: StateDescriptor<S, V>): KeyedStateOf<S, N> {
    this.checkNotDisposed();
    // A registered state's name is no priority queue's (createPriorityQueue refuses it): the
    // priority queues are asked only about names seen for the first time.
    if (!this.states.has(descriptor.name) && this.priorityQueues.has(descriptor.name)) {
      throw new IllegalStateUsageError(descriptor.name, 'is a priority queue; a keyed state needs a name of its own');
    }
    const d = descriptor as unknown as StateDescriptor<State, unknown>;
    const ns = namespaceSerializer as TypeSerializer<unknown>;
    if (d.ttl !== undefined) return this.withLatencyTracking(this.getOrCreateTtlState(d, d.ttl, ns), d) as unknown as KeyedStateOf<S, N>;
    const reg = this.registerState(d, ns);
    // One state object per registration, created again only for another descriptor.
    if (reg.state === undefined || reg.descriptor !== d) {
      reg.descriptor = d;
      reg.state = this.createState(reg, d, ns);
    }
    return this.withLatencyTracking(reg.state, d) as unknown as KeyedStateOf<S, N>;
  }

  /**
   * A TTL'd state: the backend registers and creates the inner state for the TTL descriptor
   * (values are TtlValues), and the user gets core's TTL decorator around it.
   */
  private getOrCreateTtlState(d: StateDescriptor<State, unknown>, config: StateTtlConfig, ns: TypeSerializer<unknown>): NamespacedState {
    const ttl = this.ttl.registration(d, config);
    const reg = this.registerState(ttl.inner, ns);
    // The inner descriptor is unique per descriptor and config: a changed config creates the state again.
    if (reg.state === undefined || reg.descriptor !== ttl.inner) {
      this.ttl.attachCleaner(d.name, config, () => this.ttlIncrementalCleaner(reg, config));
      reg.descriptor = ttl.inner;
      reg.state = ttlDecorate(d, this.createState(reg, ttl.inner, ns), ttl.context);
    }
    return reg.state;
  }

  /** See KeyedStateBackend.runIncrementalTtlCleanup. */
  runIncrementalTtlCleanup(): void {
    this.ttl.runPerRecord();
  }

  ttlCleanupStatistics(): TtlCleanupStatistics {
    return this.ttl.counters.snapshot();
  }

  private withLatencyTracking(state: NamespacedState, descriptor: StateDescriptor<State, unknown>): NamespacedState {
    if (this.latencyTracking === undefined) return state;
    let t = this.tracked.get(state);
    if (t === undefined) this.tracked.set(state, (t = trackStateLatency(state, descriptor, this.latencyTracking)));
    return t;
  }

  createPriorityQueue<T>(stateName: string, elementType: PriorityQueueElementType<K, T>): KeyGroupedInternalPriorityQueue<T> {
    this.checkNotDisposed();
    if (this.states.has(stateName)) throw new IllegalStateUsageError(stateName, 'is a keyed state; a priority queue needs a name of its own');
    return this.priorityQueues.create(stateName, elementType);
  }

  getRegisteredStateNames(): string[] {
    return [...this.states.keys()];
  }

  // ---- queries ------------------------------------------------------------------------------------

  getKeys<N>(stateName: string, namespace: N): K[] {
    checkNamespace(stateName, namespace);
    const reg = this.states.get(stateName);
    // Unknown state: no keys (Flink returns an empty stream from getKeys and getKeysAndNamespaces).
    return reg === undefined ? [] : this.keysOf(reg, namespace);
  }

  getKeysAndNamespaces<N>(stateName: string): Array<[K, N]> {
    const reg = this.states.get(stateName);
    return reg === undefined ? [] : (this.keysAndNamespacesOf(reg) as Array<[K, N]>);
  }

  applyToAllKeys<N, S extends State, V>(namespace: N, namespaceSerializer: TypeSerializer<N>, descriptor: StateDescriptor<S, V>, fn: (key: K, state: S) => void): void {
    const state = this.getPartitionedState(namespace, namespaceSerializer, descriptor);
    // Keys are collected first so that fn may modify (or clear) state while we iterate.
    const keys = this.getKeys(descriptor.name, namespace);
    const previousKey = this.keySet ? this.currentKey : undefined;
    for (const k of keys) {
      this.setCurrentKey(k);
      fn(k, state);
    }
    if (previousKey !== undefined) this.setCurrentKey(previousKey);
  }

  // ---- snapshots and disposal ---------------------------------------------------------------------

  snapshot(checkpointId: number, timestamp: number, streamFactory: CheckpointStreamFactory, options: CheckpointOptions, signal?: AbortSignal): SnapshotFuture<KeyedStateHandle> {
    this.checkNotDisposed();
    return this.snapshotRunner(options).snapshot(checkpointId, timestamp, streamFactory, options, signal);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    // Before the backend frees what running snapshots read (views, database snapshots, files).
    this.runningSnapshots.close();
    this.ttl.clear();
    this.disposeResources();
  }
}

/**
 * Refuses to restore keys with a key serializer that cannot read them as they are: keys decide
 * key groups and row order, so unlike values they cannot be migrated in place.
 */
export function checkRestoredKeySerializer(restored: TypeSerializerSnapshot<unknown>, keySerializer: TypeSerializer<unknown>, operatorIdentifier: string): void {
  const c = restored.resolveSchemaCompatibility(keySerializer);
  if (c.type === 'COMPATIBLE_AS_IS') return;
  throw new StateMigrationError(
    `<key of ${operatorIdentifier}>`,
    `the key serializer '${keySerializer.typeId}' cannot read the restored keys (${c.type === 'INCOMPATIBLE' ? c.reason : c.type}); keys cannot be migrated in place`,
  );
}
