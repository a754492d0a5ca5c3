import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  KeyGroupRange,
  type CheckpointStorage,
  type KeyedStateBackend,
  type KeyedStateHandle,
  type OperatorStateBackend,
  type OperatorStateHandle,
  type SerializerSnapshotRegistry,
  type StateBackend,
  type StateHandleReader,
  type TtlTimeProvider,
  type TypeSerializer,
} from '@flowstate/core';
import type { ConformanceCapability } from '../capabilities.js';
import type { ConformanceHooks } from '../hooks.js';
import { MAX_PARALLELISM } from './keys.js';

export interface FixtureOptions {
  readonly createBackend: () => StateBackend | Promise<StateBackend>;
  readonly createStorage: () => Promise<CheckpointStorage>;
  readonly notApplicable: Partial<Record<ConformanceCapability, string>>;
  readonly hooks: ConformanceHooks;
}

export interface KeyedBackendOptions<K> {
  readonly keySerializer: TypeSerializer<K>;
  /** Defaults to MAX_PARALLELISM. */
  readonly maxParallelism?: number;
  /** Defaults to every key group. */
  readonly keyGroupRange?: KeyGroupRange;
  readonly restoreState?: readonly KeyedStateHandle[];
  readonly stateHandleReader?: StateHandleReader;
  /** The clock of processing-time TTL (cases with TTL pass a controllable one). */
  readonly ttlTimeProvider?: TtlTimeProvider;
  /** The watermark of event-time TTL. */
  readonly ttlWatermarkProvider?: TtlTimeProvider;
  /** Cancels the restore. */
  readonly signal?: AbortSignal;
}

export interface OperatorBackendOptions {
  readonly restoreState?: readonly OperatorStateHandle[];
  readonly stateHandleReader?: StateHandleReader;
  /** For cases that restore serializers the default registry does not know. */
  readonly serializerRegistry?: SerializerSnapshotRegistry;
}

/** The operator every case's backends belong to; it names files and appears in messages. */
export const OPERATOR_ID = 'conformance-operator';

/**
 * What one case works with: a fresh StateBackend and CheckpointStorage, and every subtask backend
 * the case creates, so that they are all disposed (and their local directories removed) when the
 * case ends, whether it passed or not.
 */
export class Fixture {
  private readonly keyedBackends: Array<KeyedStateBackend<unknown>> = [];
  private readonly operatorBackends: OperatorStateBackend[] = [];
  private localRoot: string | undefined;
  private checkpointCounter = 0;

  private constructor(
    readonly backend: StateBackend,
    readonly storage: CheckpointStorage,
    private readonly options: FixtureOptions,
  ) {}

  static async create(options: FixtureOptions): Promise<Fixture> {
    const backend = await options.createBackend();
    const storage = await options.createStorage();
    return new Fixture(backend, storage, options);
  }

  isApplicable(capability: ConformanceCapability): boolean {
    return this.options.notApplicable[capability] === undefined;
  }

  /** The backend's hooks; a case reaches here only when those it requires are provided. */
  get hooks(): ConformanceHooks {
    return this.options.hooks;
  }

  /** Fresh storage of the default kind, for cases that must inspect or corrupt files themselves. */
  newStorage(): Promise<CheckpointStorage> {
    return this.options.createStorage();
  }

  /** Checkpoint ids increase within a case, as a checkpoint coordinator's do. */
  nextCheckpointId(): number {
    return ++this.checkpointCounter;
  }

  async keyed<K>(options: KeyedBackendOptions<K>): Promise<KeyedStateBackend<K>> {
    // The rest (restore state and reader, TTL clocks, signal) are backend parameters as they are.
    const { maxParallelism = MAX_PARALLELISM, keyGroupRange, ...parameters } = options;
    const kb = await this.backend.createKeyedStateBackend<K>({
      ...parameters,
      operatorIdentifier: OPERATOR_ID,
      maxParallelism,
      keyGroupRange: keyGroupRange ?? KeyGroupRange.of(0, maxParallelism - 1),
      // Backends that keep state on disk get a private directory; heap backends ignore it.
      localDirectory: await this.newLocalDirectory(),
    });
    this.keyedBackends.push(kb as KeyedStateBackend<unknown>);
    return kb;
  }

  async operator(options: OperatorBackendOptions = {}): Promise<OperatorStateBackend> {
    const ob = await this.backend.createOperatorStateBackend({
      operatorIdentifier: OPERATOR_ID,
      ...(options.restoreState === undefined ? {} : { restoreState: options.restoreState }),
      ...(options.stateHandleReader === undefined ? {} : { stateHandleReader: options.stateHandleReader }),
      ...(options.serializerRegistry === undefined ? {} : { serializerRegistry: options.serializerRegistry }),
    });
    this.operatorBackends.push(ob);
    return ob;
  }

  private async newLocalDirectory(): Promise<string> {
    this.localRoot ??= await mkdtemp(join(tmpdir(), 'flowstate-conformance-'));
    const dir = join(this.localRoot, `subtask-${this.keyedBackends.length + this.operatorBackends.length}`);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /**
   * Disposes everything the case created. A dispose failure fails a case that passed; when the case
   * already failed, its own error is the one worth reading, so dispose errors are dropped.
   */
  async dispose(caseFailed: boolean): Promise<void> {
    const errors: unknown[] = [];
    for (const b of [...this.keyedBackends, ...this.operatorBackends]) {
      try {
        b.dispose();
      } catch (e) {
        errors.push(e);
      }
    }
    if (this.localRoot !== undefined) await rm(this.localRoot, { recursive: true, force: true });
    if (!caseFailed && errors.length > 0) throw new AggregateError(errors, `dispose() failed for ${errors.length} backend(s)`);
  }
}
