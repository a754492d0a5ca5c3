import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  assignToKeyGroup,
  checkNamespace,
  checkStateRegistration,
  DataInputDeserializer,
  DataOutputSerializer,
  deserializeExact,
  defaultSerializerRegistry,
  IllegalStateUsageError,
  MapSerializer,
  SharedFileReuseTracker,
  streamHandleName,
  VoidNamespace,
  type AggregatingStateDescriptor,
  type CheckpointOptions,
  type CheckpointStreamFactory,
  type KeyedStateBackend,
  type KeyedStateBackendParameters,
  type KeyedStateHandle,
  type KeyedStateOf,
  type KeyGroupRange,
  type ListSerializer,
  type ReducingStateDescriptor,
  type SerializerSnapshotRegistry,
  type SnapshotFuture,
  type State,
  type StateDescriptor,
  type StateKind,
  type TypeSerializer,
  type RestoredSerializerSnapshots,
  type ValueStateDescriptor,
} from '@flowstate/core';
import { decodeListElements, encodeListElements, RocksDB, WriteBatch, type RocksDBOptions } from '../native.js';
import { bytesEqual, KeyLayout } from './key-layout.js';
import { RocksAggregatingState, RocksListState, RocksMapState, RocksReducingState, RocksValueState, type RocksStateContext, type RocksStateInfo } from './rocksdb-states.js';
import { startRocksSnapshot } from './rocksdb-snapshot.js';
import { restoreRocksKeyedState } from './rocksdb-restore.js';
import type { RocksDBFileHandle, RocksDBSharedFileHandle } from './handles.js';

export interface RocksDBKeyedStateBackendOptions {
  /** Native incremental checkpoints (SST upload); false writes canonical full snapshots. */
  readonly incrementalCheckpoints: boolean;
  readonly dbOptions: RocksDBOptions;
  /** Check each SST's block checksums before its first upload (default true). */
  readonly verifySstsBeforeUpload?: boolean;
}

/** A registered state: where it lives and, while restored but not yet re-registered, its snapshots. */
export interface RegisteredRocksState extends RocksStateInfo {
  readonly kind: StateKind;
  restored: RestoredSerializerSnapshots | undefined;
  descriptor: StateDescriptor<State, unknown> | undefined;
  state: (State & { setCurrentNamespace(ns: unknown): void }) | undefined;
}

/** Column family names carry a prefix so a state may be called 'default'. */
export const STATE_CF_PREFIX = 'state:';

/**
 * Keyed state in RocksDB: one column family per state, rows keyed [key group][key][namespace]
 * (+ user key for map state). State access is synchronous through the N-API binding. The WAL is
 * off, as in Flink: durability comes from checkpoints.
 */
export class RocksDBKeyedStateBackend<K> implements KeyedStateBackend<K>, RocksStateContext {
  readonly keySerializer: TypeSerializer<K>;
  readonly keyGroupRange: KeyGroupRange;
  readonly numberOfKeyGroups: number;
  readonly operatorIdentifier: string;
  readonly registry: SerializerSnapshotRegistry;
  readonly layout: KeyLayout;
  readonly instanceDir: string;
  readonly backendIdentifier = randomUUID();
  db!: RocksDB;

  readonly states = new Map<string, RegisteredRocksState>();
  /** Which uploaded SSTs (by content id) a new checkpoint may reference instead of uploading. */
  readonly sharedFiles = new SharedFileReuseTracker<RocksDBSharedFileHandle>((f) => streamHandleName(f.handle));
  readonly runningSnapshots = new Set<{ cancel(): void }>();

  private keyPrefix: Uint8Array | undefined;
  private currentKey: K | undefined;
  private currentKeyGroup = -1;
  private readonly keyOut = new DataOutputSerializer(64);
  private readonly prefixOut = new DataOutputSerializer(64);
  private disposed = false;

  constructor(
    params: KeyedStateBackendParameters<K>,
    readonly options: RocksDBKeyedStateBackendOptions,
  ) {
    this.keySerializer = params.keySerializer;
    this.keyGroupRange = params.keyGroupRange;
    this.numberOfKeyGroups = params.numberOfKeyGroups;
    this.operatorIdentifier = params.operatorIdentifier;
    this.registry = params.serializerRegistry ?? defaultSerializerRegistry;
    this.layout = new KeyLayout(params.numberOfKeyGroups);
    const base = params.localDirectory ?? join(tmpdir(), 'flowstate-rocksdb');
    this.instanceDir = join(base, `${sanitize(params.operatorIdentifier)}-${this.backendIdentifier}`);
    mkdirSync(this.instanceDir, { recursive: true });
  }

  get dbDir(): string {
    return join(this.instanceDir, 'db');
  }

  /** Opens an empty database, or restores one (see rocksdb-restore.ts). */
  async initialize(params: KeyedStateBackendParameters<K>): Promise<void> {
    try {
      await restoreRocksKeyedState(this, params);
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  openDb(): void {
    this.db = RocksDB.open(this.dbDir, { ...this.options.dbOptions, createIfMissing: true, disableWAL: true });
  }

  // ---- current key ----------------------------------------------------------------------------

  setCurrentKey(key: K): void {
    this.checkNotDisposed();
    if (key === null || key === undefined) throw new IllegalStateUsageError(undefined, 'the current key must not be null or undefined');
    const out = this.keyOut;
    out.clear();
    this.keySerializer.serialize(key, out);
    const keyBytes = out.bytesView();
    const g = assignToKeyGroup(keyBytes, this.numberOfKeyGroups);
    if (!this.keyGroupRange.contains(g)) {
      throw new IllegalStateUsageError(undefined, `key ${String(key)} belongs to key group ${g}, outside this backend's ${this.keyGroupRange} (operator '${this.operatorIdentifier}')`);
    }
    // Reused buffer: the prefix is only valid until the next setCurrentKey, and every state
    // copies it into its row key before calling into RocksDB.
    const p = this.prefixOut;
    p.clear();
    this.layout.writeKeyGroup(p, g);
    p.writeLengthPrefixed(keyBytes);
    this.keyPrefix = p.bytesView();
    this.currentKey = key;
    this.currentKeyGroup = g;
  }

  currentKeyPrefix(stateName: string): Uint8Array {
    if (this.keyPrefix === undefined) throw new IllegalStateUsageError(stateName, 'no current key set (call setCurrentKey first)');
    return this.keyPrefix;
  }

  getCurrentKey(): K {
    if (this.keyPrefix === undefined) throw new IllegalStateUsageError(undefined, 'no current key set');
    return this.currentKey as K;
  }

  getCurrentKeyGroupIndex(): number {
    if (this.keyPrefix === undefined) throw new IllegalStateUsageError(undefined, 'no current key set');
    return this.currentKeyGroup;
  }

  private checkNotDisposed(): void {
    if (this.disposed) throw new IllegalStateUsageError(undefined, `RocksDB keyed state backend of '${this.operatorIdentifier}' is disposed`);
  }

  // ---- registration -----------------------------------------------------------------------------

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

  /** Creates (or opens) the column family of a state. */
  registerColumnFamily(name: string, kind: StateKind, ns: TypeSerializer<unknown>, st: TypeSerializer<unknown>, restored?: RegisteredRocksState['restored']): RegisteredRocksState {
    const cfName = STATE_CF_PREFIX + name;
    const cf = this.db.getColumnFamily(cfName) ?? this.db.createColumnFamily(cfName);
    const reg: RegisteredRocksState = { name, cf, kind, namespaceSerializer: ns, stateSerializer: st, restored, descriptor: undefined, state: undefined };
    this.states.set(name, reg);
    return reg;
  }

  private register(d: StateDescriptor<State, unknown>, ns: TypeSerializer<unknown>): RegisteredRocksState {
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

  private createState(reg: RegisteredRocksState, d: StateDescriptor<State, unknown>, ns: TypeSerializer<unknown>): State & { setCurrentNamespace(n: unknown): void } {
    const initialNs: unknown = ns.typeId === 'void-namespace' ? VoidNamespace : undefined;
    switch (d.kind) {
      case 'VALUE':
        return new RocksValueState(this, reg, initialNs, (d as unknown as ValueStateDescriptor<unknown>).defaultValue);
      case 'LIST':
        return new RocksListState(this, reg, initialNs);
      case 'REDUCING':
        return new RocksReducingState(this, reg, initialNs, (d as unknown as ReducingStateDescriptor<unknown>).reduceFunction);
      case 'AGGREGATING':
        return new RocksAggregatingState(this, reg, initialNs, (d as unknown as AggregatingStateDescriptor<unknown, unknown, unknown>).aggregateFunction);
      case 'MAP':
        return new RocksMapState(this, reg, initialNs);
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

  getKeys<N>(stateName: string, namespace: N): K[] {
    checkNamespace(stateName, namespace);
    const reg = this.states.get(stateName);
    // Unknown state: no keys (Flink returns an empty stream from getKeys and getKeysAndNamespaces).
    if (reg === undefined) return [];
    const o = new DataOutputSerializer(16);
    reg.namespaceSerializer.serialize(namespace, o);
    const nsBytes = o.toBytes();
    const out: K[] = [];
    this.forEachKeyAndNamespace(reg, (k, ns) => {
      if (bytesEqual(ns, nsBytes)) out.push(this.keySerializer.deserialize(new DataInputDeserializer(k)));
    });
    return out;
  }

  getKeysAndNamespaces<N>(stateName: string): Array<[K, N]> {
    const reg = this.states.get(stateName);
    const out: Array<[K, N]> = [];
    if (reg === undefined) return out;
    this.forEachKeyAndNamespace(reg, (k, ns) => {
      out.push([this.keySerializer.deserialize(new DataInputDeserializer(k)), reg.namespaceSerializer.deserialize(new DataInputDeserializer(ns)) as N]);
    });
    return out;
  }

  applyToAllKeys<N, S extends State, V>(namespace: N, namespaceSerializer: TypeSerializer<N>, descriptor: StateDescriptor<S, V>, fn: (key: K, state: S) => void): void {
    const state = this.getPartitionedState(namespace, namespaceSerializer, descriptor);
    const keys = this.getKeys(descriptor.name, namespace);
    const previous = this.keyPrefix === undefined ? undefined : this.currentKey;
    for (const k of keys) {
      this.setCurrentKey(k);
      fn(k, state);
    }
    if (previous !== undefined) this.setCurrentKey(previous);
  }

  numKeyValueStateEntries(): number {
    let n = 0;
    for (const reg of this.states.values()) this.forEachKeyAndNamespace(reg, () => void n++);
    return n;
  }

  getRegisteredStateNames(): string[] {
    return [...this.states.keys()];
  }

  // ---- snapshots --------------------------------------------------------------------------------

  snapshot(checkpointId: number, timestamp: number, streamFactory: CheckpointStreamFactory, options: CheckpointOptions): SnapshotFuture<KeyedStateHandle> {
    this.checkNotDisposed();
    return startRocksSnapshot(this, checkpointId, timestamp, streamFactory, options);
  }

  notifyCheckpointComplete(checkpointId: number): void {
    this.sharedFiles.checkpointCompleted(checkpointId);
  }

  notifyCheckpointAborted(checkpointId: number): void {
    this.sharedFiles.checkpointAborted(checkpointId);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const s of this.runningSnapshots) s.cancel();
    try {
      if (this.db !== undefined && !this.db.isClosed) this.db.close();
    } finally {
      rmSync(this.instanceDir, { recursive: true, force: true });
    }
  }

  get isDisposed(): boolean {
    return this.disposed;
  }
}

function sanitize(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64);
}

export type { RocksDBFileHandle };
