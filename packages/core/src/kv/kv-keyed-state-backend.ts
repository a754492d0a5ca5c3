import { AbstractKeyedStateBackend, type NamespacedState } from '../backend/abstract-keyed-state-backend.js';
import { SnapshotStrategyRunner } from '../backend/snapshot/snapshot-strategy-runner.js';
import type { SnapshotResources } from '../backend/snapshot/snapshot-strategy.js';
import type { CheckpointOptions, KeyedStateBackendParameters } from '../backend/spi.js';
import { IllegalStateUsageError } from '../errors.js';
import { DataInputDeserializer } from '../io/data-input.js';
import { DataOutputSerializer } from '../io/data-output.js';
import { VoidNamespace } from '../serialization/primitives.js';
import { defaultSerializerRegistry } from '../serialization/index.js';
import type { TypeSerializer } from '../serialization/type-serializer.js';
import type { AggregatingStateDescriptor, ReducingStateDescriptor, StateDescriptor, StateKind, ValueStateDescriptor } from '../state/descriptors.js';
import { checkStateRegistration } from '../state/registration.js';
import type { State } from '../state/state.js';
import { isKeyGroupsStateHandle, type KeyedStateHandle } from '../storage/handles.js';
import { bytesEqual } from './kv-bytes.js';
import { KvFullSnapshotStrategy, type KvSnapshotSource } from './kv-full-snapshot.js';
import { KvMapState } from './kv-map-state.js';
import { migrateKeySpace } from './kv-migration.js';
import type { RegisteredKvState } from './kv-registered.js';
import { restoreKvCanonical, type KvRestoreTarget } from './kv-restore.js';
import { KvRowLayout } from './kv-row-layout.js';
import type { KvStateContext } from './kv-state-base.js';
import { KvAggregatingState, KvListState, KvReducingState, KvValueState } from './kv-states.js';
import { KvPriorityQueues } from './kv-priority-queues.js';
import { HeapPriorityQueues } from '../pq/heap-priority-queues.js';
import type { PriorityQueueStates } from '../pq/priority-queue-states.js';

/**
 * Where a KV backend keeps priority queues (timers): in its store (KV; Flink's ROCKSDB
 * timer-service factory) or on the JS heap (HEAP), snapshotted with the store either way.
 */
export type KvPriorityQueueStorage = 'KV' | 'HEAP';

export interface KvKeyedStateBackendOptions {
  /** Default KV, as Flink's RocksDB backend defaults to ROCKSDB timers. */
  readonly priorityQueues?: KvPriorityQueueStorage;
  /** Runs the periodic TTL sweeps (default: an unref-ed setInterval); tests inject one they drive. */
  readonly scheduleTtlSweep?: TtlSweepScheduler;
}

/** Calls `run` every `intervalMs` until closed. */
export type TtlSweepScheduler = (run: () => void, intervalMs: number) => { close(): void };

// unref: a sweep never keeps the process alive; state access is synchronous, so a sweep never interleaves with one.
const intervalSweep: TtlSweepScheduler = (run, intervalMs) => {
  const timer = setInterval(run, intervalMs).unref();
  return { close: () => clearInterval(timer) };
};
import { forEachEntry, type KvKeySpace, type KvStore } from './kv-store.js';
import { KvTtlCursor } from './kv-ttl.js';
import type { CheckpointStreamFactory } from '../storage/spi.js';
import type { SnapshotFuture } from '../backend/spi.js';
import type { StateTtlConfig } from '../state/ttl.js';
import { kvTtlLayout, kvTtlLayoutKind, ttlSerializerOf } from '../state/ttl-descriptors.js';

/**
 * Keyed state over any KvStore: one key space per state, rows laid out by KvRowLayout, state
 * semantics in core's generic KV states. Snapshots are canonical full snapshots taken from a
 * consistent view of the store (KvFullSnapshotStrategy; a backend with its own native format
 * overrides snapshotRunner and uses fullSnapshotRunner for canonical ones);
 * restore reads canonical streams (see restoreKvCanonical), rescaling included.
 *
 * The store is attached once, before the backend is used (attachStore): a backend may have to
 * restore files before it can open its store.
 */
export class KvKeyedStateBackend<K> extends AbstractKeyedStateBackend<K, RegisteredKvState> {
  protected readonly layout: KvRowLayout;
  /** Canonical full snapshots from a view of the store. */
  protected readonly fullSnapshotRunner: SnapshotStrategyRunner<KeyedStateHandle, SnapshotResources>;
  private attached: KvStore | undefined;
  /** The current key's row prefix, shared with the state objects; the backend's own fields stay private. */
  private readonly context = new CurrentKeyPrefix();
  private readonly prefixOut = new DataOutputSerializer(64);
  protected readonly priorityQueues: PriorityQueueStates;
  /** Periodic TTL sweeps by state name (cleanup.periodicSweep). */
  private readonly sweeps = new Map<string, { run: () => number; timer: { close(): void } }>();

  private readonly scheduleTtlSweep: TtlSweepScheduler;

  constructor(params: KeyedStateBackendParameters<K>, options: KvKeyedStateBackendOptions = {}) {
    super(params);
    this.scheduleTtlSweep = options.scheduleTtlSweep ?? intervalSweep;
    this.layout = new KvRowLayout(params.maxParallelism);
    const ctx = { ...params, keySerializer: params.keySerializer as TypeSerializer<unknown> };
    this.priorityQueues = options.priorityQueues === 'HEAP' ? new HeapPriorityQueues(ctx) : new KvPriorityQueues(ctx, this.layout, () => this.store);
    this.fullSnapshotRunner = new SnapshotStrategyRunner('KV canonical full snapshot', new KvFullSnapshotStrategy(this.snapshotSource()), this.runningSnapshots);
  }

  /** The store; throws before attachStore. */
  protected get store(): KvStore {
    if (this.attached === undefined) throw new IllegalStateUsageError(undefined, `the KV store of '${this.operatorIdentifier}' is not open yet`);
    return this.attached;
  }

  protected attachStore(store: KvStore): void {
    if (this.attached !== undefined) throw new IllegalStateUsageError(undefined, `the KV store of '${this.operatorIdentifier}' is attached already`);
    this.attached = store;
  }

  /** What restore helpers (canonical, and a backend's native ones) need from this backend. */
  protected restoreTarget(): KvRestoreTarget {
    return {
      operatorIdentifier: this.operatorIdentifier,
      keySerializer: this.keySerializer as TypeSerializer<unknown>,
      keyGroupRange: this.keyGroupRange,
      maxParallelism: this.maxParallelism,
      layout: this.layout,
      states: this.states,
      queues: this.priorityQueues,
      registerKeySpace: (name, kind, ns, st, restored) => this.registerKeySpace(name, kind, ns, st, restored),
      // Read when the restore starts: a backend may attach its store after building the target.
      bulkLoad: () => this.store.bulkLoad?.(),
    };
  }

  /** Restores canonical handles, the one kind of handle a generic KV backend has, into the attached store. */
  protected async restoreCanonical(params: KeyedStateBackendParameters<K>, handles: readonly KeyedStateHandle[] = params.restoreState ?? []): Promise<void> {
    if (handles.length === 0) return;
    const reader = params.stateHandleReader;
    if (reader === undefined) throw new IllegalStateUsageError(undefined, 'restoreState was given without a stateHandleReader');
    const canonical = handles.filter(isKeyGroupsStateHandle);
    if (canonical.length !== handles.length) {
      const other = handles.find((h) => !isKeyGroupsStateHandle(h))!;
      throw new IllegalStateUsageError(undefined, `'${this.operatorIdentifier}' restores canonical 'key-groups' handles only, got '${other.type}' (convert the savepoint to canonical first)`);
    }
    await restoreKvCanonical(this.restoreTarget(), canonical, reader, params.serializerRegistry ?? defaultSerializerRegistry, params.signal);
  }

  /** A backend over `store`, restored from `params.restoreState` (canonical handles); disposed again if the restore fails. */
  static async open<K>(params: KeyedStateBackendParameters<K>, store: KvStore, options: KvKeyedStateBackendOptions = {}): Promise<KvKeyedStateBackend<K>> {
    const backend = new KvKeyedStateBackend<K>(params, options);
    backend.attachStore(store);
    try {
      await backend.restoreCanonical(params);
    } catch (e) {
      backend.dispose();
      throw e;
    }
    return backend;
  }

  // ---- current key ----------------------------------------------------------------------------

  protected onCurrentKey(_key: K, keyBytes: Uint8Array, keyGroup: number): void {
    // Reused buffer: the prefix is only valid until the next setCurrentKey, and every state
    // copies it into its row key before calling the store.
    const p = this.prefixOut;
    p.clear();
    this.layout.writeKeyGroup(p, keyGroup);
    p.writeLengthPrefixed(keyBytes);
    this.context.keyPrefix = p.bytesView();
  }

  // ---- registration -----------------------------------------------------------------------------

  /**
   * Opens (creating if needed) the key space of a state and registers it. A TTL'd state's space is
   * opened with its KvTtlLayout; a restored one without (its TTL may have changed since the
   * snapshot: a store must not drop entries by the old TTL), and with the layout again once the
   * job registers the state.
   */
  private registerKeySpace(name: string, kind: StateKind, ns: TypeSerializer<unknown>, st: TypeSerializer<unknown>, restored?: RegisteredKvState['restored'], ttl?: StateTtlConfig): RegisteredKvState {
    const space = this.openKeySpace(name, kind, st, ttl);
    const reg: RegisteredKvState = { name, space, kind, namespaceSerializer: ns, stateSerializer: st, restored, descriptor: undefined, state: undefined, ttl };
    this.states.set(name, reg);
    return reg;
  }

  private openKeySpace(name: string, kind: StateKind, st: TypeSerializer<unknown>, ttl: StateTtlConfig | undefined): KvKeySpace {
    const ttlInfo = ttl === undefined ? undefined : ttlSerializerOf(kind, st)?.info;
    if (ttlInfo === undefined) return this.store.keySpace(name);
    // With a processing-time clock of its own the store learns the TTL time before its cleanup of
    // this space starts: a store never told compares processing-time entries against the wall
    // clock, and a background compaction before the first snapshot judged them by the wrong time
    // and dropped live ones. On the wall clock it is not told: a time set now would stand still
    // until the first snapshot, and a job without checkpoints would never clean up. (Event-time
    // filters keep everything until they are told.)
    if (this.ttl.ownProcessingClock) this.updateStoreTtlTime({ name, ttl: ttl! });
    return this.store.keySpace(name, { ttl: kvTtlLayout(kind, { ...ttlInfo, ttlMs: ttl!.ttlMs }) });
  }

  protected registerState(d: StateDescriptor<State, unknown>, ns: TypeSerializer<unknown>): RegisteredKvState {
    const reg = this.states.get(d.name);
    if (reg === undefined) return this.startTtlSweep(this.registerKeySpace(d.name, d.kind, ns, d.serializer, undefined, d.ttl));
    const resolution = checkStateRegistration(reg, d, ns);
    if (resolution !== undefined) {
      // First registration after restore: rewrite the key space if a migration is needed.
      if (resolution.migrate !== undefined) migrateKeySpace(reg, this.layout, reg.stateSerializer, resolution.stateSerializer, resolution.migrate);
      reg.stateSerializer = resolution.stateSerializer;
      reg.namespaceSerializer = ns;
      reg.restored = undefined;
    }
    if (d.ttl !== reg.ttl) {
      reg.ttl = d.ttl;
      if (d.ttl !== undefined) this.openKeySpace(d.name, d.kind, reg.stateSerializer, d.ttl);
      this.startTtlSweep(reg);
    }
    return reg;
  }

  protected createState(reg: RegisteredKvState, d: StateDescriptor<State, unknown>, ns: TypeSerializer<unknown>): NamespacedState {
    const initialNs: unknown = ns.typeId === 'void-namespace' ? VoidNamespace : undefined;
    const ctx = this.context;
    switch (d.kind) {
      case 'VALUE':
        return new KvValueState(ctx, reg, initialNs, (d as unknown as ValueStateDescriptor<unknown>).defaultValue);
      case 'LIST':
        return new KvListState(ctx, reg, initialNs);
      case 'REDUCING':
        return new KvReducingState(ctx, reg, initialNs, (d as unknown as ReducingStateDescriptor<unknown>).reduceFunction);
      case 'AGGREGATING':
        return new KvAggregatingState(ctx, reg, initialNs, (d as unknown as AggregatingStateDescriptor<unknown, unknown, unknown>).aggregateFunction);
      case 'MAP':
        return new KvMapState(ctx, reg, initialNs);
    }
  }

  // ---- TTL cleanup --------------------------------------------------------------------------------

  /** A bounded cleanup pass over a TTL'd state's rows in this backend's key groups (see KvTtlCursor). */
  private ttlCursor(reg: RegisteredKvState, config: StateTtlConfig): KvTtlCursor {
    const lower = this.layout.keyGroupStart(this.keyGroupRange.startKeyGroup);
    const upper = this.layout.keyGroupStart(this.keyGroupRange.endKeyGroup + 1);
    return new KvTtlCursor(() => reg.space, kvTtlLayoutKind(reg.kind), config.ttlMs, lower, upper, this.ttl.counters);
  }

  /** Incremental cleanup over KV rows: N rows per state access (Flink has it for heap state only; here every backend has it). */
  protected override ttlIncrementalCleaner(reg: RegisteredKvState, config: StateTtlConfig): KvTtlCursor {
    return this.ttlCursor(reg, config);
  }

  /** Starts (or restarts) the periodic sweep of a state whose TTL config asks for one. */
  private startTtlSweep(reg: RegisteredKvState): RegisteredKvState {
    this.sweeps.get(reg.name)?.timer.close();
    this.sweeps.delete(reg.name);
    const config = reg.ttl;
    const sweep = config?.cleanup.periodicSweep;
    if (config === undefined || sweep === undefined) return reg;
    const cursor = this.ttlCursor(reg, config);
    const time = this.ttl.timeOf(config, reg.name);
    const run = (): number => {
      const n = cursor.cleanup(sweep.entriesPerSweep, time.currentTimestamp());
      this.ttl.counters.sweepEntriesExamined += n;
      return n;
    };
    this.sweeps.set(reg.name, { run, timer: this.scheduleTtlSweep(run, sweep.intervalMs) });
    return reg;
  }

  /**
   * Runs one bounded sweep of every state with `cleanup.periodicSweep` now (the timer does the
   * same every intervalMs); returns the rows examined. For tests and for callers that drive time.
   */
  runTtlSweep(): number {
    let n = 0;
    for (const s of this.sweeps.values()) n += s.run();
    return n;
  }

  /**
   * Tells a store with its own TTL cleanup (RocksDB's compaction filter) the time its filters
   * compare against; called before snapshots and before manual compactions, and with a
   * processing-time clock of the backend's own before a TTL state's key space is opened with its
   * layout. Between those calls the time stands still, which delays cleanup. The store takes one time for
   * every state: the earliest of the clocks the TTL states read, the processing time and, when
   * one state has event-time TTL, the watermark. An earlier time only delays cleanup; a later
   * one deleted live entries (until session 36 event-time states were judged against the
   * processing time, which runs ahead of a lagging watermark).
   */
  protected updateStoreTtlTime(opening?: { readonly name: string; readonly ttl: StateTtlConfig }): void {
    const store = this.attached;
    if (store?.setTtlTime === undefined) return;
    // `opening`: a state whose key space is being opened with TTL, not registered yet.
    let time = opening === undefined ? undefined : this.ttl.timeOf(opening.ttl, opening.name).currentTimestamp();
    for (const [name, reg] of this.states) {
      if (reg.ttl === undefined) continue;
      const now = this.ttl.timeOf(reg.ttl, name).currentTimestamp();
      if (time === undefined || now < time) time = now;
    }
    if (time !== undefined) store.setTtlTime(time);
  }

  override snapshot(checkpointId: number, timestamp: number, streamFactory: CheckpointStreamFactory, options: CheckpointOptions, signal?: AbortSignal): SnapshotFuture<KeyedStateHandle> {
    this.checkNotDisposed();
    this.updateStoreTtlTime();
    return super.snapshot(checkpointId, timestamp, streamFactory, options, signal);
  }

  // ---- queries ----------------------------------------------------------------------------------

  /** Visits the distinct (key, namespace) pairs of a state, in key-group order. */
  private forEachKeyAndNamespace(reg: RegisteredKvState, visit: (key: Uint8Array, ns: Uint8Array) => void): void {
    const lower = this.layout.keyGroupStart(this.keyGroupRange.startKeyGroup);
    const upper = this.layout.keyGroupStart(this.keyGroupRange.endKeyGroup + 1);
    let lastKey: Uint8Array | undefined;
    let lastNs: Uint8Array | undefined;
    forEachEntry(reg.space, lower, upper, (row) => {
      const p = this.layout.parse(row);
      // Map state has one row per user key: report each (key, namespace) once.
      if (lastKey !== undefined && bytesEqual(lastKey, p.key) && bytesEqual(lastNs!, p.namespace)) return;
      lastKey = p.key.slice();
      lastNs = p.namespace.slice();
      visit(lastKey, lastNs);
    });
  }

  protected keysOf(reg: RegisteredKvState, namespace: unknown): K[] {
    const o = new DataOutputSerializer(16);
    reg.namespaceSerializer.serialize(namespace, o);
    const nsBytes = o.toBytes();
    const out: K[] = [];
    this.forEachKeyAndNamespace(reg, (k, ns) => {
      if (bytesEqual(ns, nsBytes)) out.push(this.keySerializer.deserialize(new DataInputDeserializer(k)));
    });
    return out;
  }

  protected keysAndNamespacesOf(reg: RegisteredKvState): Array<[K, unknown]> {
    const out: Array<[K, unknown]> = [];
    this.forEachKeyAndNamespace(reg, (k, ns) => {
      out.push([this.keySerializer.deserialize(new DataInputDeserializer(k)), reg.namespaceSerializer.deserialize(new DataInputDeserializer(ns))]);
    });
    return out;
  }

  numKeyValueStateEntries(): number {
    let n = 0;
    for (const reg of this.states.values()) this.forEachKeyAndNamespace(reg, () => void n++);
    return n;
  }

  // ---- snapshots and disposal -------------------------------------------------------------------

  /** What the full snapshot strategy reads of the backend; the store is read when a snapshot starts. */
  protected snapshotSource(): KvSnapshotSource {
    const backend = this;
    return {
      keySerializer: this.keySerializer as TypeSerializer<unknown>,
      keyGroupRange: this.keyGroupRange,
      layout: this.layout,
      get store() {
        return backend.store;
      },
      states: this.states,
      queues: this.priorityQueues,
      ttlFilter: (reg) => backend.ttl.snapshotFilter(reg.ttl, reg.name),
    };
  }

  protected snapshotRunner(_options: CheckpointOptions): SnapshotStrategyRunner<KeyedStateHandle, SnapshotResources> {
    return this.fullSnapshotRunner;
  }

  notifyCheckpointComplete(_checkpointId: number): void {}

  notifyCheckpointAborted(_checkpointId: number): void {}

  /** Closes the store (running snapshots were cancelled and released their views before); subclasses release their own resources after calling it. */
  protected disposeResources(): void {
    for (const s of this.sweeps.values()) s.timer.close();
    this.sweeps.clear();
    this.attached?.close();
  }
}

/** The current key's row prefix; not exported, so nothing else can write it. */
class CurrentKeyPrefix implements KvStateContext {
  /** [key group][lp(key)] of the current key; undefined until setCurrentKey. */
  keyPrefix: Uint8Array | undefined;

  currentKeyPrefix(stateName: string): Uint8Array {
    if (this.keyPrefix === undefined) throw new IllegalStateUsageError(stateName, 'no current key set (call setCurrentKey first)');
    return this.keyPrefix;
  }
}
