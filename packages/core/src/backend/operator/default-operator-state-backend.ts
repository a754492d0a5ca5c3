import { DataInputDeserializer } from '../../io/data-input.js';
import { checkRestoreNotCancelled, IllegalStateUsageError, StateMigrationError } from '../../errors.js';
import { defaultSerializerRegistry } from '../../serialization/index.js';
import { deserializeExact, type TypeSerializer, type TypeSerializerSnapshot } from '../../serialization/type-serializer.js';
import { readOperatorStateStream, type OperatorStateMetaInfo } from '../../snapshot/operator-state-stream.js';
import type { ListStateDescriptor, MapStateDescriptor } from '../../state/descriptors.js';
import type { BroadcastState, ListState } from '../../state/state.js';
import type { OperatorStateDistributionMode, OperatorStateHandle } from '../../storage/handles.js';
import type { CheckpointStreamFactory } from '../../storage/spi.js';
import type { CheckpointOptions, OperatorStateBackend, OperatorStateBackendParameters, SnapshotFuture } from '../spi.js';
import { identityFunction, type Identity } from '../identity.js';
import { RunningSnapshots } from '../snapshot/running-snapshots.js';
import { SnapshotStrategyRunner } from '../snapshot/snapshot-strategy-runner.js';
import type { SnapshotResources } from '../snapshot/snapshot-strategy.js';
import { OperatorStateSnapshotStrategy, type PendingState } from './operator-snapshot-strategy.js';
import { OperatorBroadcastState, OperatorListState, type BroadcastEntry, type ListEntry } from './operator-states.js';

interface RestoredSerializer {
  readonly read: TypeSerializer<unknown>;
  readonly migrate: (v: unknown) => unknown;
  readonly serializer: TypeSerializer<unknown>;
}

/**
 * Operator state of one subtask, kept on the heap (Flink's DefaultOperatorStateBackend): every
 * backend uses it, whatever it does with keyed state.
 * Snapshots copy the (small) operator state synchronously and write it asynchronously.
 */
export class DefaultOperatorStateBackend implements OperatorStateBackend {
  private readonly lists = new Map<string, ListEntry>();
  private readonly broadcasts = new Map<string, BroadcastEntry>();
  private readonly pending = new Map<string, PendingState>();
  private disposed = false;
  /** Asynchronous parts still running; dispose() cancels them. */
  private readonly runningSnapshots: RunningSnapshots;
  private readonly snapshotRunner: SnapshotStrategyRunner<OperatorStateHandle, SnapshotResources>;

  private constructor(readonly operatorIdentifier: string) {
    this.runningSnapshots = new RunningSnapshots(operatorIdentifier);
    const strategy = new OperatorStateSnapshotStrategy(this.lists, this.broadcasts, this.pending);
    this.snapshotRunner = new SnapshotStrategyRunner('operator state snapshot', strategy, this.runningSnapshots);
  }

  static async create(params: OperatorStateBackendParameters): Promise<DefaultOperatorStateBackend> {
    const b = new DefaultOperatorStateBackend(params.operatorIdentifier);
    const handles = params.restoreState ?? [];
    if (handles.length > 0) {
      if (params.stateHandleReader === undefined) throw new IllegalStateUsageError(undefined, 'restoreState was given without a stateHandleReader');
      const registry = params.serializerRegistry ?? defaultSerializerRegistry;
      for (const h of handles) {
        checkRestoreNotCancelled(params.signal, params.operatorIdentifier);
        for (const s of await readOperatorStateStream(params.stateHandleReader, h, registry)) {
          const prev = b.pending.get(s.meta.name);
          if (prev !== undefined && prev.meta.mode !== s.meta.mode) {
            throw new StateMigrationError(s.meta.name, `restored with modes ${prev.meta.mode} and ${s.meta.mode}`);
          }
          if (prev === undefined) b.pending.set(s.meta.name, { meta: s.meta, elements: [...s.elements] });
          // Broadcast state: all copies are identical, keep one.
          else if (s.meta.mode !== 'BROADCAST') prev.elements.push(...s.elements);
        }
      }
    }
    return b;
  }

  private checkNotDisposed(): void {
    if (this.disposed) throw new IllegalStateUsageError(undefined, `operator state backend of '${this.operatorIdentifier}' is disposed`);
  }

  private checkNameFree(name: string, mode: OperatorStateDistributionMode): void {
    const l = this.lists.get(name);
    if (l !== undefined && l.mode !== mode) throw new IllegalStateUsageError(name, `is registered as ${l.mode} operator state, cannot be used as ${mode}`);
    if (this.broadcasts.has(name) && mode !== 'BROADCAST') throw new IllegalStateUsageError(name, `is registered as BROADCAST state, cannot be used as ${mode}`);
    if (mode === 'BROADCAST' && l !== undefined) throw new IllegalStateUsageError(name, `is registered as ${l.mode} operator state, cannot be used as BROADCAST`);
    const p = this.pending.get(name);
    if (p !== undefined && p.meta.mode !== mode) throw new StateMigrationError(name, `was restored as ${p.meta.mode} operator state, cannot be used as ${mode}`);
  }

  /**
   * How a restored state continues: `read` reads the restored bytes, `migrate` brings a value to the
   * new serializer's shape, and `serializer` is the one the state keeps (and snapshots with): the
   * reconfigured serializer when the snapshot asks for one, as keyed state does, else the new one.
   */
  private resolve(name: string, snapshot: TypeSerializerSnapshot<unknown>, serializer: TypeSerializer<unknown>): RestoredSerializer {
    const c = snapshot.resolveSchemaCompatibility(serializer);
    const read = snapshot.restoreSerializer();
    switch (c.type) {
      case 'INCOMPATIBLE':
        throw new StateMigrationError(name, `restored operator state cannot be read with the new serializer: ${c.reason}`);
      case 'COMPATIBLE_AFTER_MIGRATION':
        return { read, migrate: c.migrate, serializer };
      case 'COMPATIBLE_WITH_RECONFIGURED_SERIALIZER':
        return { read, migrate: (v) => v, serializer: c.serializer };
      case 'COMPATIBLE_AS_IS':
        return { read, migrate: (v) => v, serializer };
    }
  }

  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T> {
    return this.listState(descriptor, 'SPLIT_DISTRIBUTE');
  }

  getUnionListState<T>(descriptor: ListStateDescriptor<T>): ListState<T> {
    return this.listState(descriptor, 'UNION');
  }

  private listState<T>(descriptor: ListStateDescriptor<T>, mode: 'SPLIT_DISTRIBUTE' | 'UNION'): ListState<T> {
    this.checkNotDisposed();
    const name = descriptor.name;
    this.checkNameFree(name, mode);
    let entry = this.lists.get(name);
    if (entry === undefined) {
      let serializer = descriptor.elementSerializer as TypeSerializer<unknown>;
      const list: unknown[] = [];
      const p = this.pending.get(name);
      if (p !== undefined) {
        const r = this.resolve(name, p.meta.firstSerializerSnapshot, serializer);
        for (const bytes of p.elements) list.push(r.migrate(deserializeExact(r.read, bytes, `element of operator state '${name}'`)));
        serializer = r.serializer;
        this.pending.delete(name);
      }
      entry = { mode, serializer, list };
      this.lists.set(name, entry);
    }
    return new OperatorListState<T>(name, entry);
  }

  getBroadcastState<K, V>(descriptor: MapStateDescriptor<K, V>): BroadcastState<K, V> {
    this.checkNotDisposed();
    const name = descriptor.name;
    this.checkNameFree(name, 'BROADCAST');
    let entry = this.broadcasts.get(name);
    if (entry === undefined) {
      let keySerializer = descriptor.userKeySerializer as TypeSerializer<unknown>;
      let valueSerializer = descriptor.userValueSerializer as TypeSerializer<unknown>;
      const restored: Array<[unknown, unknown]> = [];
      const p = this.pending.get(name);
      if (p !== undefined) {
        const rk = this.resolve(name, p.meta.firstSerializerSnapshot, keySerializer);
        const rv = this.resolve(name, p.meta.secondSerializerSnapshot!, valueSerializer);
        keySerializer = rk.serializer;
        valueSerializer = rv.serializer;
        for (const bytes of p.elements) {
          const input = new DataInputDeserializer(bytes);
          const k = rk.migrate(rk.read.deserialize(input));
          const v: unknown = input.readBoolean() ? rv.migrate(rv.read.deserialize(input)) : null;
          if (input.remaining !== 0) input.fail(`broadcast entry of '${name}' has ${input.remaining} trailing bytes`);
          restored.push([k, v]);
        }
        this.pending.delete(name);
      }
      // Identities come from the serializer the state keeps, so restored and new keys agree.
      const identity = identityFunction(keySerializer);
      const map = new Map<Identity, [unknown, unknown]>(restored.map(([k, v]) => [identity(k), [k, v]]));
      entry = { keySerializer, valueSerializer, identity, map };
      this.broadcasts.set(name, entry);
    }
    return new OperatorBroadcastState<K, V>(name, entry);
  }

  getRegisteredStateNames(): string[] {
    return [...this.lists.keys(), ...[...this.pending.values()].filter((p) => p.meta.mode !== 'BROADCAST').map((p) => p.meta.name)];
  }

  getRegisteredBroadcastStateNames(): string[] {
    return [...this.broadcasts.keys(), ...[...this.pending.values()].filter((p) => p.meta.mode === 'BROADCAST').map((p) => p.meta.name)];
  }

  /** Serializes everything synchronously (operator state is small); writing is asynchronous. */
  snapshot(checkpointId: number, timestamp: number, streamFactory: CheckpointStreamFactory, options: CheckpointOptions, signal?: AbortSignal): SnapshotFuture<OperatorStateHandle> {
    this.checkNotDisposed();
    return this.snapshotRunner.snapshot(checkpointId, timestamp, streamFactory, options, signal);
  }

  notifyCheckpointComplete(_checkpointId: number): void {}
  notifyCheckpointAborted(_checkpointId: number): void {}

  dispose(): void {
    this.disposed = true;
    this.runningSnapshots.close();
    this.lists.clear();
    this.broadcasts.clear();
    this.pending.clear();
  }
}
