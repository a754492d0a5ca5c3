/**
 * From a Configuration to the objects a job runs with: the StateBackend, the CheckpointStorage,
 * the checkpointing options of @flowstate/runtime's JobOptions, and the restore point.
 */
import {
  FsCheckpointStorage,
  JobManagerCheckpointStorage,
  fileSystemRegistry,
  parentStorageUri,
  storageUri,
  storageUriBaseName,
  type CheckpointingMode,
  type CheckpointStorage,
  type FileSystem,
  type FileSystemRegistry,
  type ResolvedCheckpointingOptions,
  type StateBackend,
  type StorageEnvironment,
} from '@flowstate/core';
import { FsStateBackend, MemoryStateBackend } from '@flowstate/heap';
import { RocksDBStateBackend } from '@flowstate/rocksdb';
// Importing the storage packages registers file://, s3://, webhdfs:// and hdfs:// with core's
// registry, so that every location a configuration names opens (memory:// is core's own).
import '@flowstate/storage-local';
import '@flowstate/storage-s3';
import '@flowstate/storage-hdfs';
import type { ReadableConfiguration } from './combinations.js';
import { InvalidConfigurationValueError } from './errors.js';
import { localPathOf } from './schemas.js';
import {
  ALIGNED_CHECKPOINT_TIMEOUT,
  CHECKPOINT_STORAGE,
  CHECKPOINTING_INTERVAL,
  CHECKPOINTING_MODE,
  CHECKPOINTING_TIMEOUT,
  CHECKPOINTS_DIRECTORY,
  ENABLE_UNALIGNED,
  IGNORE_UNCLAIMED_STATE,
  INCREMENTAL_CHECKPOINTS,
  MAX_CONCURRENT_CHECKPOINTS,
  MAX_RETAINED_CHECKPOINTS,
  MIN_PAUSE_BETWEEN_CHECKPOINTS,
  RESTORE_MODE,
  RESTORE_PATH,
  ROCKSDB_BACKEND_OPTIONS,
  S3_ENDPOINT,
  S3_PATH_STYLE_ACCESS,
  SAVEPOINT_DIRECTORY,
  STATE_BACKEND,
  TOLERABLE_FAILED_CHECKPOINTS,
  type ConfigOption,
} from './options.js';

/** Creates the backend for one `state.backend.type`, reading the keys it needs from the configuration. */
export type StateBackendFactory = (configuration: ReadableConfiguration) => StateBackend;

/** The backends flowstate ships: hashmap and memory (@flowstate/heap), rocksdb (@flowstate/rocksdb). */
export const BUILT_IN_STATE_BACKENDS: Readonly<Record<string, StateBackendFactory>> = {
  hashmap: () => new FsStateBackend(),
  memory: () => new MemoryStateBackend(),
  rocksdb: (c) => {
    const { localDirectory, ...tuning } = getAll(c, ROCKSDB_BACKEND_OPTIONS);
    return new RocksDBStateBackend({
      incrementalCheckpoints: c.get(INCREMENTAL_CHECKPOINTS),
      ...tuning,
      ...localDirectoryOptions(localDirectory),
    });
  },
};

type OptionValues<G> = { [K in keyof G]: G[K] extends ConfigOption<infer T> ? T : never };

/** The values of a group of options, under the group's names. */
function getAll<G extends Record<string, ConfigOption<unknown>>>(c: ReadableConfiguration, group: G): OptionValues<G> {
  return Object.fromEntries(Object.entries(group).map(([name, o]) => [name, c.get(o)])) as OptionValues<G>;
}

/**
 * One directory stays RocksDBStateBackend's `localDirectory`, as before lists were read; several
 * are its `localDirectories`, which hands them out round-robin.
 */
function localDirectoryOptions(entries: readonly string[] | undefined): { localDirectory?: string; localDirectories?: string[] } {
  if (entries === undefined) return {};
  const paths = entries.map(localPathOf);
  return paths.length === 1 ? { localDirectory: paths[0]! } : { localDirectories: paths };
}

/** The mode names of @flowstate/runtime: Flink's mode plus `unaligned.enabled` folded into one. */
export type RuntimeCheckpointingMode = CheckpointingMode;

/** The fields of @flowstate/runtime's CheckpointConfig (JobOptions.checkpointing), same names and units. */
export type CheckpointingOptions = ResolvedCheckpointingOptions;

/**
 * Flink's unaligned checkpoints with an aligned-checkpoint-timeout of 0 are the runtime's
 * UNALIGNED mode; with a timeout they start aligned (EXACTLY_ONCE) and switch after it.
 */
export function checkpointingOptions(c: ReadableConfiguration): CheckpointingOptions {
  const unaligned = c.get(ENABLE_UNALIGNED) && c.get(CHECKPOINTING_MODE) === 'EXACTLY_ONCE';
  const alignedTimeout = c.get(ALIGNED_CHECKPOINT_TIMEOUT);
  return {
    mode: unaligned && alignedTimeout === 0 ? 'UNALIGNED' : c.get(CHECKPOINTING_MODE),
    intervalMs: c.get(CHECKPOINTING_INTERVAL),
    timeoutMs: c.get(CHECKPOINTING_TIMEOUT),
    maxConcurrentCheckpoints: c.get(MAX_CONCURRENT_CHECKPOINTS),
    minPauseBetweenCheckpointsMs: c.get(MIN_PAUSE_BETWEEN_CHECKPOINTS),
    tolerableFailedCheckpoints: c.get(TOLERABLE_FAILED_CHECKPOINTS),
    retainedCheckpoints: c.get(MAX_RETAINED_CHECKPOINTS),
    alignedCheckpointTimeoutMs: unaligned && alignedTimeout > 0 ? alignedTimeout : undefined,
  };
}

/**
 * The environment storage providers read, with the configuration's S3 keys applied: s3.endpoint
 * as AWS_ENDPOINT_URL_S3, s3.path.style.access as FLOWSTATE_S3_PATH_STYLE (the configuration wins
 * over the process environment, as everywhere).
 */
export function storageEnvironment(c: ReadableConfiguration, env: StorageEnvironment = process.env): StorageEnvironment {
  return {
    ...env,
    ...(c.isSet(S3_ENDPOINT) ? { AWS_ENDPOINT_URL_S3: c.get(S3_ENDPOINT) } : {}),
    ...(c.isSet(S3_PATH_STYLE_ACCESS) ? { FLOWSTATE_S3_PATH_STYLE: String(c.get(S3_PATH_STYLE_ACCESS)) } : {}),
  };
}

export interface CreateOptions {
  /** Backends by `state.backend.type`, added to (or replacing) the built-in ones; e.g. `{ lmdb: ... }`. */
  readonly backends?: Readonly<Record<string, StateBackendFactory>>;
  /** Where URIs are opened; core's process-wide registry by default. */
  readonly fileSystems?: FileSystemRegistry;
  /** The environment storage providers read; `process.env` by default. */
  readonly env?: StorageEnvironment;
}

export function createStateBackend(c: ReadableConfiguration, options: CreateOptions = {}): StateBackend {
  const type = c.get(STATE_BACKEND);
  const factory = options.backends?.[type] ?? BUILT_IN_STATE_BACKENDS[type];
  if (factory === undefined) {
    throw new InvalidConfigurationValueError(
      STATE_BACKEND.key,
      type,
      `a backend this program registers: ${[...new Set([...Object.keys(BUILT_IN_STATE_BACKENDS), ...Object.keys(options.backends ?? {})])].join(', ')}` +
        (type === 'lmdb' ? " (lmdb is not built in: pass createFromConfiguration(conf, { backends: { lmdb: () => new LmdbStateBackend(...) } }))" : ''),
      c.sourceOf(STATE_BACKEND),
    );
  }
  return factory(c);
}

/**
 * The registry (core's process-wide one by default) with the configuration's storage settings as
 * its environment: what the savepoint tools take as `fileSystems`.
 */
export function configuredFileSystems(c: ReadableConfiguration, options: CreateOptions = {}): FileSystemRegistry {
  return (options.fileSystems ?? fileSystemRegistry).withEnvironment(storageEnvironment(c, options.env));
}

/** A file system rooted at `location` (a path or URI), opened with the configuration's storage settings. */
export function openLocation(c: ReadableConfiguration, location: string | URL, options: CreateOptions = {}): FileSystem {
  return configuredFileSystems(c, options).resolve(location);
}

/**
 * The checkpoint storage: 'filesystem' at execution.checkpointing.dir (the default when a
 * directory is set), else 'jobmanager' (in memory), as Flink chooses.
 */
export function createCheckpointStorage(c: ReadableConfiguration, options: CreateOptions = {}): CheckpointStorage {
  const dir = c.get(CHECKPOINTS_DIRECTORY);
  const kind = c.get(CHECKPOINT_STORAGE) ?? (dir === undefined ? 'jobmanager' : 'filesystem');
  if (kind === 'jobmanager' || dir === undefined) return new JobManagerCheckpointStorage();
  return new FsCheckpointStorage(openLocation(c, dir, options));
}

/** Flink's restore-mode (claim mode) names. */
export type RestoreMode = 'NO_CLAIM' | 'CLAIM' | 'LEGACY';

/**
 * Everything a job takes from a configuration. Spread it into @flowstate/runtime's JobOptions:
 * `JobClient.execute(graph, { ...configured, hooks })` (`savepointDirectory` is an extra field
 * JobOptions does not read: savepoints are triggered with their target).
 */
export interface ConfiguredJob {
  readonly stateBackend: StateBackend;
  readonly checkpointStorage: CheckpointStorage;
  readonly checkpointing: CheckpointingOptions;
  /** execution.state-recovery.path, opened: a savepoint directory, or a retained checkpoint of a checkpoint directory. */
  readonly restoreFrom?: { readonly storage: CheckpointStorage; readonly pointer: string };
  readonly allowNonRestoredState: boolean;
  readonly restoreMode: RestoreMode;
  /** execution.checkpointing.savepoint-dir as a URL (savepoints are written in directories under it). */
  readonly savepointDirectory: URL | undefined;
}

export function createFromConfiguration(c: ReadableConfiguration, options: CreateOptions = {}): ConfiguredJob {
  const checkpointStorage = createCheckpointStorage(c, options);
  const restorePath = c.get(RESTORE_PATH);
  const savepointDir = c.get(SAVEPOINT_DIRECTORY);
  return {
    stateBackend: createStateBackend(c, options),
    checkpointStorage,
    checkpointing: checkpointingOptions(c),
    ...(restorePath === undefined ? {} : { restoreFrom: openRestorePoint(c, restorePath, checkpointStorage, options) }),
    allowNonRestoredState: c.get(IGNORE_UNCLAIMED_STATE),
    restoreMode: c.get(RESTORE_MODE),
    savepointDirectory: savepointDir === undefined ? undefined : storageUri(savepointDir),
  };
}

/**
 * A restore path as Flink takes it: a savepoint directory, a retained checkpoint directory
 * (`.../chk-42`), or either's `_metadata` file. A checkpoint of the job's own checkpoint directory
 * is restored through the job's own storage object, so that the runtime may fall back to an older
 * complete checkpoint there.
 */
export function openRestorePoint(c: ReadableConfiguration, path: string, own: CheckpointStorage | undefined, options: CreateOptions = {}): { storage: CheckpointStorage; pointer: string } {
  let uri = storageUri(path);
  if (storageUriBaseName(uri) === '_metadata') uri = parentStorageUri(uri) ?? uri;
  const name = storageUriBaseName(uri);
  const parent = parentStorageUri(uri);
  if (/^chk-\d+$/.test(name) && parent !== undefined) {
    const dir = c.get(CHECKPOINTS_DIRECTORY);
    if (own instanceof FsCheckpointStorage && dir !== undefined && storageUri(dir).href === parent.href) return { storage: own, pointer: name };
    return { storage: new FsCheckpointStorage(openLocation(c, parent, options)), pointer: name };
  }
  return { storage: new FsCheckpointStorage(openLocation(c, uri, options), { layout: 'savepoint' }), pointer: '' };
}
