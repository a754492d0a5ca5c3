import {
  checkParallelism,
  collectStreamHandles,
  defaultSerializerRegistry,
  fileSystemRegistry,
  IllegalStateUsageError,
  type CheckpointMetadata,
  type OperatorSnapshotMetadata,
  type SerializerSnapshotRegistry,
  type State,
  type StateBackend,
  type StateDescriptor,
  type TypeSerializer,
} from '@flowstate/core';
import { writeKeyedBootstrap, writeOperatorBootstrap, type BootstrapTarget, type KeyedBootstrap, type OperatorStateBootstrap } from './bootstrap.js';
import { writeExisting, type ExistingOperator } from './existing-operator.js';
import { formatWriterFor, LATEST_FORMAT_VERSION } from './format.js';
import type { SavepointStorageOptions } from './location.js';
import { randomFileNames, SavepointOutput, seededFileNames } from './output.js';
import type { SavepointReader } from './reader.js';
import type { KeyedStateTransformation, StateChange } from './state-plans.js';

export type {
  KeyedBootstrap,
  KeyedBootstrapContext,
  KeyedStateBootstrapFunction,
  OperatorBootstrapContext,
  OperatorStateBootstrap,
  OperatorStateBootstrapFunction,
} from './bootstrap.js';
export type { KeyedStateTransformation, TransformEntry } from './state-plans.js';

type Op = ExistingOperator | { readonly kind: 'keyed'; readonly spec: KeyedBootstrap<unknown, unknown> } | { readonly kind: 'operator'; readonly spec: OperatorStateBootstrap<unknown> };

/** How a writer runs bootstrap functions and where it writes. */
export interface SavepointWriterOptions extends SavepointStorageOptions {
  /**
   * The state backend bootstrap functions run on (Flink: the job's backend), e.g. heap's
   * `FsStateBackend`. Needed only to add bootstrapped operators.
   */
  readonly stateBackend?: StateBackend;
}

export interface SavepointWriteOptions {
  /** Default: the source savepoint's id, or 0. */
  readonly checkpointId?: number;
  /** Default: the source savepoint's timestamp, or now. */
  readonly timestamp?: number;
  /** Merged over the source savepoint's properties. */
  readonly properties?: Readonly<Record<string, string | number | boolean>>;
  /** Derive state file names from this seed instead of random UUIDs (reproducible fixtures). */
  readonly fileNameSeed?: string;
  /** Format version to write; only the latest is writable (see FORMAT_WRITERS). */
  readonly formatVersion?: number;
  /** Called with the number of input bytes processed, as they are processed. */
  readonly onBytes?: (n: number) => void;
  /** Memory for re-partitioning before records spill to temporary files (bytes). */
  readonly spillBudget?: number;
}

export interface SavepointWriteResult {
  readonly directory: string;
  readonly metadata: CheckpointMetadata;
  readonly formatVersion: number;
}

/**
 * Writes a new savepoint (Flink's SavepointWriter): from scratch with bootstrap functions that
 * run on the real heap backend, or derived from an existing savepoint by adding, removing and
 * renaming operators, transforming or upgrading states, changing the key serializer and changing
 * (max)parallelism. The output is a new self-contained directory; the input is never modified.
 */
export class SavepointWriter {
  private readonly ops = new Map<string, Op>();

  private constructor(
    private readonly source: SavepointReader | undefined,
    readonly maxParallelism: number,
    /** Reads back serializer snapshots of custom serializers the bootstrap functions use. */
    private readonly registry: SerializerSnapshotRegistry,
    private readonly options: Required<SavepointStorageOptions> & SavepointWriterOptions,
  ) {}

  /**
   * A new, empty savepoint; `maxParallelism` is the default of operators added to it. Pass a
   * registry when bootstrapped states use custom serializers.
   */
  static newSavepoint(options: SavepointWriterOptions & { maxParallelism: number; registry?: SerializerSnapshotRegistry }): SavepointWriter {
    checkParallelism(1, options.maxParallelism);
    return new SavepointWriter(undefined, options.maxParallelism, options.registry ?? defaultSerializerRegistry, { ...options, fileSystems: options.fileSystems ?? fileSystemRegistry });
  }

  /** Starts from every operator of an existing savepoint, written to storage opened as it was read. */
  static fromExisting(reader: SavepointReader, options: SavepointWriterOptions = {}): SavepointWriter {
    const w = new SavepointWriter(reader, reader.metadata.operators[0]?.maxParallelism ?? 128, reader.registry, { ...options, fileSystems: options.fileSystems ?? reader.storage.fileSystems });
    for (const op of reader.metadata.operators) {
      w.ops.set(op.uid, { kind: 'existing', source: op, changes: new Map(), keyChange: undefined, parallelism: undefined, maxParallelism: undefined });
    }
    return w;
  }

  uids(): string[] {
    return [...this.ops.keys()];
  }

  private checkFree(uid: string): void {
    if (typeof uid !== 'string' || uid === '') throw new IllegalStateUsageError(undefined, 'operator uid must be a non-empty string');
    if (this.ops.has(uid)) throw new IllegalStateUsageError(undefined, `operator '${uid}' already exists in the savepoint`);
  }

  private existing(uid: string): ExistingOperator {
    const op = this.ops.get(uid);
    if (op === undefined) throw new IllegalStateUsageError(undefined, `no operator with uid '${uid}' (have: ${this.uids().join(', ') || 'none'})`);
    if (op.kind !== 'existing') throw new IllegalStateUsageError(undefined, `operator '${uid}' is being bootstrapped; change its bootstrap function instead`);
    return op;
  }

  private checkBootstrappable(uid: string): void {
    if (this.options.stateBackend === undefined) {
      throw new IllegalStateUsageError(undefined, `bootstrapping operator '${uid}' needs a state backend to run on: pass { stateBackend } to newSavepoint or fromExisting`);
    }
  }

  withKeyedOperator<T, K>(uid: string, spec: KeyedBootstrap<T, K>): this {
    this.checkFree(uid);
    this.checkBootstrappable(uid);
    const maxParallelism = spec.maxParallelism ?? this.maxParallelism;
    checkParallelism(spec.parallelism ?? 1, maxParallelism);
    this.ops.set(uid, { kind: 'keyed', spec: spec as unknown as KeyedBootstrap<unknown, unknown> });
    return this;
  }

  withOperatorStateOperator<T>(uid: string, spec: OperatorStateBootstrap<T>): this {
    this.checkFree(uid);
    this.checkBootstrappable(uid);
    checkParallelism(spec.parallelism ?? 1, spec.maxParallelism ?? this.maxParallelism);
    this.ops.set(uid, { kind: 'operator', spec: spec as unknown as OperatorStateBootstrap<unknown> });
    return this;
  }

  removeOperator(uid: string): this {
    if (!this.ops.delete(uid)) throw new IllegalStateUsageError(undefined, `no operator with uid '${uid}' to remove`);
    return this;
  }

  /** Renames an operator uid, keeping its position and state. */
  renameOperator(from: string, to: string): this {
    const op = this.ops.get(from);
    if (op === undefined) throw new IllegalStateUsageError(undefined, `no operator with uid '${from}' to rename`);
    this.checkFree(to);
    const entries = [...this.ops].map(([k, v]): [string, Op] => (k === from ? [to, v] : [k, v]));
    this.ops.clear();
    for (const [k, v] of entries) this.ops.set(k, v);
    return this;
  }

  private addChange(uid: string, stateName: string, change: StateChange): this {
    const op = this.existing(uid);
    const list = op.changes.get(stateName) ?? [];
    list.push(change);
    op.changes.set(stateName, list);
    return this;
  }

  /** Maps every entry of a keyed state (optionally to a new serializer); undefined drops entries. */
  transformKeyedState(uid: string, stateName: string, transformation: KeyedStateTransformation): this {
    return this.addChange(uid, stateName, { type: 'transform', t: transformation });
  }

  /** Removes a keyed state from an operator. */
  removeKeyedState(uid: string, stateName: string): this {
    return this.addChange(uid, stateName, { type: 'remove' });
  }

  /**
   * Offline schema evolution of one state: values are read with the savepoint's serializer and
   * rewritten with `descriptor.serializer`, migrating them as its snapshot's compatibility
   * resolution says (e.g. a record serializer V1 -> V2 with a new defaulted field).
   * With `uid` undefined, applies to every operator that has a keyed state of that name.
   */
  async upgradeKeyedState(uid: string | undefined, descriptor: StateDescriptor<State, unknown>): Promise<this> {
    const uids = uid !== undefined ? [uid] : await this.operatorsWithState(descriptor.name);
    if (uids.length === 0) throw new IllegalStateUsageError(descriptor.name, 'no operator of the savepoint has a keyed state with this name');
    for (const u of uids) this.addChange(u, descriptor.name, { type: 'upgrade', serializer: descriptor.serializer as TypeSerializer<unknown> });
    return this;
  }

  private async operatorsWithState(name: string): Promise<string[]> {
    const out: string[] = [];
    for (const [uid, op] of this.ops) {
      if (op.kind !== 'existing' || this.source === undefined) continue;
      if (!op.source.subtasks.some((s) => s.keyed.length > 0)) continue;
      const states = await this.source.keyedStates(op.source.uid);
      if (states.some((s) => s.name === name)) out.push(uid);
    }
    return out;
  }

  /**
   * Changes the key serializer of an operator. Keys are converted with `convert` (or migrated
   * when the new serializer's compatibility resolution allows it), re-serialized and assigned to
   * their new key groups.
   */
  changeKeySerializer<K>(uid: string, serializer: TypeSerializer<K>, convert?: (oldKey: unknown) => K): this {
    this.existing(uid).keyChange = { serializer: serializer as TypeSerializer<unknown>, convert };
    return this;
  }

  /** Changes parallelism and/or maxParallelism of one operator (or all with uid undefined). */
  rescale(uid: string | undefined, options: { parallelism?: number; maxParallelism?: number }): this {
    const targets = uid !== undefined ? [this.existing(uid)] : [...this.ops.values()].filter((o): o is ExistingOperator => o.kind === 'existing');
    for (const op of targets) {
      const maxParallelism = options.maxParallelism ?? op.source.maxParallelism;
      // Default parallelism: unchanged, capped by the new maxParallelism.
      const p = options.parallelism ?? Math.min(op.source.parallelism, maxParallelism);
      checkParallelism(p, maxParallelism);
      op.parallelism = p;
      op.maxParallelism = maxParallelism;
    }
    return this;
  }

  /** Writes the savepoint to `directory` (a local path or a URI), which must not exist or be empty. */
  async write(directory: string, options: SavepointWriteOptions = {}): Promise<SavepointWriteResult> {
    const formatVersion = options.formatVersion ?? LATEST_FORMAT_VERSION;
    const formatWriter = formatWriterFor(formatVersion);
    const src = this.source;
    const checkpointId = options.checkpointId ?? src?.metadata.checkpointId ?? 0;
    const timestamp = options.timestamp ?? src?.metadata.timestamp ?? Date.now();
    const output = await SavepointOutput.create(
      directory,
      {
        checkpointId,
        names: options.fileNameSeed === undefined ? randomFileNames() : seededFileNames(options.fileNameSeed),
        inputs: src === undefined ? [] : [src.directory],
        reserved: src === undefined ? [] : collectStreamHandles(src.metadata).flatMap((h) => (h.type === 'file' ? [h.path] : [])),
      },
      this.options,
    );
    try {
      const operators = await this.writeOperators(output, checkpointId, timestamp, options);
      const properties = { ...(src?.metadata.properties ?? {}), ...(options.properties ?? {}) };
      const metadata: CheckpointMetadata = {
        checkpointId,
        kind: 'SAVEPOINT',
        timestamp,
        operators,
        ...(Object.keys(properties).length > 0 ? { properties } : {}),
      };
      await output.writeMetadata(formatWriter.writeMetadata(metadata));
      return { directory: output.path, metadata, formatVersion };
    } catch (e) {
      // The directory was created (or was empty) for this write: leave nothing half-written.
      await output.discard();
      throw e;
    }
  }

  private async writeOperators(output: SavepointOutput, checkpointId: number, timestamp: number, options: SavepointWriteOptions): Promise<OperatorSnapshotMetadata[]> {
    const target: BootstrapTarget | undefined =
      this.options.stateBackend === undefined ? undefined : { output, backend: this.options.stateBackend, checkpointId, timestamp, maxParallelism: this.maxParallelism, registry: this.registry };
    const operators: OperatorSnapshotMetadata[] = [];
    for (const [uid, op] of this.ops) {
      if (op.kind === 'existing') operators.push(await writeExisting(this.source!, uid, op, output, options));
      else if (op.kind === 'keyed') operators.push(await writeKeyedBootstrap(uid, op.spec, target!));
      else operators.push(await writeOperatorBootstrap(uid, op.spec, target!));
    }
    return operators;
  }
}
