import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AbstractKeyedStateBackend,
  checkStateRegistration,
  DataInputDeserializer,
  DataOutputSerializer,
  deserializeExact,
  IllegalStateUsageError,
  MapSerializer,
  SharedFileReuseTracker,
  SnapshotStrategyRunner,
  streamHandleName,
  VoidNamespace,
  type AggregatingStateDescriptor,
  type CheckpointOptions,
  type KeyedStateBackendParameters,
  type KeyedStateHandle,
  type ListSerializer,
  type NamespacedState,
  type ReducingStateDescriptor,
  type SnapshotResources,
  type State,
  type StateDescriptor,
  type StateKind,
  type TypeSerializer,
  type ValueStateDescriptor,
} from '@flowstate/core';
import { decodeListElements, encodeListElements, RocksDB, WriteBatch, type RocksDBOptions } from '../native.js';
import { bytesEqual, KeyLayout } from './key-layout.js';
import { RocksAggregatingState, RocksListState, RocksMapState, RocksReducingState, RocksValueState, type RocksStateContext } from './rocksdb-states.js';
import { STATE_CF_PREFIX, type RegisteredRocksState } from './rocksdb-registered.js';
import { isNativeSnapshot, type RocksSnapshotSource } from './rocksdb-snapshot.js';
import { RocksFullSnapshotStrategy } from './rocksdb-full-snapshot.js';
import { RocksNativeSnapshotStrategy } from './rocksdb-incremental-snapshot.js';
import { restoreRocksKeyedState, type RocksRestoreTarget } from './rocksdb-restore.js';
import { createWorkingDirectory } from './working-directory.js';
import type { RocksDBFileHandle, RocksDBSharedFileHandle } from './handles.js';

export interface RocksDBKeyedStateBackendOptions {
  /** Native incremental checkpoints (SST upload); false writes canonical full snapshots. */
  readonly incrementalCheckpoints: boolean;
  readonly dbOptions: RocksDBOptions;
  /** Check each SST's block checksums before its first upload (default true). */
  readonly verifySstsBeforeUpload?: boolean;
}

/**
 * Keyed state in RocksDB: one column family per state, rows keyed [key group][key][namespace]
 * (+ user key for map state). State access is synchronous through the N-API binding. The WAL is
 * off, as in Flink: durability comes from checkpoints.
 */
export class RocksDBKeyedStateBackend<K> extends AbstractKeyedStateBackend<K, RegisteredRocksState> {
  private readonly layout: KeyLayout;
  /** The backend's working directory (database, native checkpoints, downloads); removed on dispose(). */
  readonly instanceDir: string;
  private readonly backendIdentifier = randomUUID();
  /** The database and current key the state objects use; the backend's own fields stay private. */
  private readonly context = new StateContext();

  /** Which uploaded SSTs (by content id) a new checkpoint may reference instead of uploading. */
  private readonly sharedFiles = new SharedFileReuseTracker<RocksDBSharedFileHandle>((f) => streamHandleName(f.handle));
  private readonly fullRunner: SnapshotStrategyRunner<KeyedStateHandle, SnapshotResources>;
  private readonly nativeRunner: SnapshotStrategyRunner<KeyedStateHandle, SnapshotResources>;

  private readonly prefixOut = new DataOutputSerializer(64);

  constructor(
    params: KeyedStateBackendParameters<K>,
    private readonly options: RocksDBKeyedStateBackendOptions,
  ) {
    super(params);
    this.layout = new KeyLayout(params.maxParallelism);
    const base = params.localDirectory ?? join(tmpdir(), 'flowstate-rocksdb');
    this.instanceDir = createWorkingDirectory(base, `${sanitize(params.operatorIdentifier)}-${this.backendIdentifier}`);
    const source = this.snapshotSource();
    this.fullRunner = new SnapshotStrategyRunner('RocksDB canonical full snapshot', new RocksFullSnapshotStrategy(source), this.runningSnapshots);
    this.nativeRunner = new SnapshotStrategyRunner('RocksDB native incremental snapshot', new RocksNativeSnapshotStrategy(source), this.runningSnapshots);
  }

  private get db(): RocksDB {
    return this.context.db;
  }

  /** Opens an empty database, or restores one (see rocksdb-restore.ts). */
  async initialize(params: KeyedStateBackendParameters<K>): Promise<void> {
    const context = this.context;
    const dbDir = join(this.instanceDir, 'db');
    const target: RocksRestoreTarget = {
      operatorIdentifier: this.operatorIdentifier,
      keySerializer: this.keySerializer as TypeSerializer<unknown>,
      keyGroupRange: this.keyGroupRange,
      maxParallelism: this.maxParallelism,
      layout: this.layout,
      instanceDir: this.instanceDir,
      dbDir,
      get db() {
        return context.db;
      },
      states: this.states,
      openDb: () => {
        context.db = RocksDB.open(dbDir, { ...this.options.dbOptions, createIfMissing: true, disableWAL: true });
      },
      registerColumnFamily: (name, kind, ns, st, restored) => this.registerColumnFamily(name, kind, ns, st, restored),
    };
    try {
      await restoreRocksKeyedState(target, params);
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  // ---- current key ----------------------------------------------------------------------------

  protected onCurrentKey(_key: K, keyBytes: Uint8Array, keyGroup: number): void {
    // Reused buffer: the prefix is only valid until the next setCurrentKey, and every state
    // copies it into its row key before calling into RocksDB.
    const p = this.prefixOut;
    p.clear();
    this.layout.writeKeyGroup(p, keyGroup);
    p.writeLengthPrefixed(keyBytes);
    this.context.keyPrefix = p.bytesView();
  }

  // ---- registration -----------------------------------------------------------------------------

  /** Creates (or opens) the column family of a state. */
  private registerColumnFamily(name: string, kind: StateKind, ns: TypeSerializer<unknown>, st: TypeSerializer<unknown>, restored?: RegisteredRocksState['restored']): RegisteredRocksState {
    const cfName = STATE_CF_PREFIX + name;
    const cf = this.db.getColumnFamily(cfName) ?? this.db.createColumnFamily(cfName);
    const reg: RegisteredRocksState = { name, cf, kind, namespaceSerializer: ns, stateSerializer: st, restored, descriptor: undefined, state: undefined };
    this.states.set(name, reg);
    return reg;
  }

  protected registerState(d: StateDescriptor<State, unknown>, ns: TypeSerializer<unknown>): RegisteredRocksState {
    const reg = this.states.get(d.name);
    if (reg === undefined) return this.registerColumnFamily(d.name, d.kind, ns, d.serializer);
    const resolution = checkStateRegistration(reg, d, ns);
    if (resolution !== undefined) {
      // First registration after restore: rewrite the column family if a migration is needed.
      if (resolution.migrate !== undefined) this.migrateColumnFamily(reg, reg.stateSerializer, resolution.stateSerializer, resolution.migrate);
      reg.stateSerializer = resolution.stateSerializer;
      reg.namespaceSerializer = ns;
      reg.restored = undefined;
    }
    return reg;
  }

  /**
   * Rewrites every value of a state: read with the old serializer, migrate, write with the new one.
   * All rewrites go into one write batch applied at the end, so a migration that fails half way
   * leaves the column family untouched (and the state still restored, to be migrated again).
   */
  private migrateColumnFamily(reg: RegisteredRocksState, oldSer: TypeSerializer<unknown>, newSer: TypeSerializer<unknown>, migrate: (v: unknown) => unknown): void {
    const out = new DataOutputSerializer(64);
    const encode = (s: TypeSerializer<unknown>, v: unknown) => {
      out.clear();
      s.serialize(v, out);
      return out.toBytes();
    };
    const batch = new WriteBatch();
    const it = this.db.iterator(reg.cf);
    try {
      it.seekToFirst();
      while (it.valid()) {
        for (const [row, value] of it.nextBatch(1024)) {
          let next: Uint8Array;
          if (reg.kind === 'LIST') {
            const oldE = (oldSer as ListSerializer<unknown>).elementSerializer;
            const newE = (newSer as ListSerializer<unknown>).elementSerializer;
            const list = migrate(decodeListElements(value).map((e) => deserializeExact(oldE, e, `element of '${reg.name}'`))) as unknown[];
            next = encodeListElements(list.map((v) => encode(newE, v)));
          } else if (reg.kind === 'MAP') {
            const om = oldSer as MapSerializer<unknown, unknown>;
            const nm = newSer as MapSerializer<unknown, unknown>;
            const uk = deserializeExact(om.keySerializer, this.layout.parse(row).userKey, `map key of '${reg.name}'`);
            const input = new DataInputDeserializer(value);
            const v = om.deserializeNullableValue(input);
            if (input.remaining !== 0) input.fail(`map value of '${reg.name}' has trailing bytes`);
            // The map serializer's migration works on maps; a row is a one-entry map.
            const migrated = migrate(new Map([[uk, v]])) as Map<unknown, unknown>;
            out.clear();
            nm.serializeNullableValue(migrated.get(uk) ?? null, out);
            next = out.toBytes();
          } else {
            next = encode(newSer, migrate(deserializeExact(oldSer, value, `value of '${reg.name}'`)));
          }
          batch.put(reg.cf, row, next);
        }
      }
    } finally {
      it.close();
    }
    this.db.write(batch);
  }

  protected createState(reg: RegisteredRocksState, d: StateDescriptor<State, unknown>, ns: TypeSerializer<unknown>): NamespacedState {
    const initialNs: unknown = ns.typeId === 'void-namespace' ? VoidNamespace : undefined;
    switch (d.kind) {
      case 'VALUE':
        return new RocksValueState(this.context, reg, initialNs, (d as unknown as ValueStateDescriptor<unknown>).defaultValue);
      case 'LIST':
        return new RocksListState(this.context, reg, initialNs);
      case 'REDUCING':
        return new RocksReducingState(this.context, reg, initialNs, (d as unknown as ReducingStateDescriptor<unknown>).reduceFunction);
      case 'AGGREGATING':
        return new RocksAggregatingState(this.context, reg, initialNs, (d as unknown as AggregatingStateDescriptor<unknown, unknown, unknown>).aggregateFunction);
      case 'MAP':
        return new RocksMapState(this.context, reg, initialNs);
    }
  }

  // ---- queries ----------------------------------------------------------------------------------

  /** Visits the distinct (key, namespace) pairs of a state, in key-group order. */
  private forEachKeyAndNamespace(reg: RegisteredRocksState, visit: (key: Uint8Array, ns: Uint8Array) => void): void {
    const it = this.db.iterator(reg.cf, {
      lowerBound: this.layout.keyGroupStart(this.keyGroupRange.startKeyGroup),
      upperBound: this.layout.keyGroupStart(this.keyGroupRange.endKeyGroup + 1),
    });
    let lastKey: Uint8Array | undefined;
    let lastNs: Uint8Array | undefined;
    try {
      it.seekToFirst();
      while (it.valid()) {
        for (const [row] of it.nextBatch(1024)) {
          const p = this.layout.parse(row);
          // Map state has one row per user key: report each (key, namespace) once.
          if (lastKey !== undefined && bytesEqual(lastKey, p.key) && bytesEqual(lastNs!, p.namespace)) continue;
          lastKey = p.key.slice();
          lastNs = p.namespace.slice();
          visit(lastKey, lastNs);
        }
      }
    } finally {
      it.close();
    }
  }

  protected keysOf(reg: RegisteredRocksState, namespace: unknown): K[] {
    const o = new DataOutputSerializer(16);
    reg.namespaceSerializer.serialize(namespace, o);
    const nsBytes = o.toBytes();
    const out: K[] = [];
    this.forEachKeyAndNamespace(reg, (k, ns) => {
      if (bytesEqual(ns, nsBytes)) out.push(this.keySerializer.deserialize(new DataInputDeserializer(k)));
    });
    return out;
  }

  protected keysAndNamespacesOf(reg: RegisteredRocksState): Array<[K, unknown]> {
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

  // ---- snapshots --------------------------------------------------------------------------------

  protected snapshotRunner(options: CheckpointOptions): SnapshotStrategyRunner<KeyedStateHandle, SnapshotResources> {
    return isNativeSnapshot(options, this.options.incrementalCheckpoints) ? this.nativeRunner : this.fullRunner;
  }

  /** What the snapshot strategies read of the backend; `db` is read when a snapshot starts. */
  private snapshotSource(): RocksSnapshotSource {
    const context = this.context;
    return {
      keySerializer: this.keySerializer as TypeSerializer<unknown>,
      keyGroupRange: this.keyGroupRange,
      maxParallelism: this.maxParallelism,
      backendIdentifier: this.backendIdentifier,
      instanceDir: this.instanceDir,
      layout: this.layout,
      get db() {
        return context.db;
      },
      states: this.states,
      verifySstsBeforeUpload: this.options.verifySstsBeforeUpload ?? true,
      sharedFiles: this.sharedFiles,
    };
  }

  notifyCheckpointComplete(checkpointId: number): void {
    this.sharedFiles.checkpointCompleted(checkpointId);
  }

  notifyCheckpointAborted(checkpointId: number): void {
    this.sharedFiles.checkpointAborted(checkpointId);
  }

  protected disposeResources(): void {
    try {
      const db = this.context.openedDb;
      if (db !== undefined && !db.isClosed) db.close();
    } finally {
      rmSync(this.instanceDir, { recursive: true, force: true });
    }
  }
}

/** What the state objects share with the backend; not exported, so nothing else can write it. */
class StateContext implements RocksStateContext {
  openedDb: RocksDB | undefined;
  /** [key group][lp(key)] of the current key; undefined until setCurrentKey. */
  keyPrefix: Uint8Array | undefined;

  get db(): RocksDB {
    return this.openedDb!;
  }

  set db(db: RocksDB) {
    this.openedDb = db;
  }

  currentKeyPrefix(stateName: string): Uint8Array {
    if (this.keyPrefix === undefined) throw new IllegalStateUsageError(stateName, 'no current key set (call setCurrentKey first)');
    return this.keyPrefix;
  }
}

function sanitize(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64);
}

export type { RocksDBFileHandle };
