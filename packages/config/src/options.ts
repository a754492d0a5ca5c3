/**
 * The configuration keys flowstate reads: Flink's keys, Flink's defaults, Flink's meaning. The
 * canonical key is the one of Flink 1.20 / 2.x; the older spellings Flink still accepts (its
 * deprecated keys, e.g. `state.checkpoints.dir`) are read as the same option. docs/configuration.md
 * describes every key.
 */
import type { Compression } from '@flowstate/rocksdb';
import * as v from 'valibot';
import {
  booleanValue,
  durationValue,
  endpointValue,
  enumValue,
  integerValue,
  listValue,
  localPathListValue,
  locationValue,
  MAX_LOCAL_PATHS,
  memoryValue,
  type ValueSchema,
} from './schemas.js';
import { formatDuration, formatMemory } from './units.js';

export interface ConfigOption<T> {
  readonly key: string;
  /** Older keys Flink reads as this option. */
  readonly deprecatedKeys: readonly string[];
  /** undefined (then T includes undefined): no default, the feature is off or chosen from other keys. */
  readonly defaultValue: T;
  /** The default as Flink's documentation prints it. */
  readonly defaultText: string;
  /** Flink's type column: Boolean, Integer, Duration, MemorySize, Enum, String, List<Enum>. */
  readonly type: string;
  /** What is allowed, for error messages. */
  readonly allowed: string;
  readonly description: string;
  readonly schema: ValueSchema<T>;
}

type OptionSpec<T> = Omit<ConfigOption<T>, 'deprecatedKeys' | 'defaultText'> & { deprecatedKeys?: readonly string[]; defaultText?: string };

function option<T>(spec: OptionSpec<T>): ConfigOption<T> {
  return Object.freeze({ deprecatedKeys: [], defaultText: spec.defaultValue === undefined ? '(none)' : String(spec.defaultValue), ...spec });
}

/** An option of one of Flink's value types, whose type column, help and schema follow from the type. */
type TypedOptionSpec<T> = Omit<OptionSpec<T>, 'type' | 'allowed' | 'schema'>;

/** A Duration option of at least `min` ms, its default printed as Flink does ('10 min'). */
function durationOption<T extends number | undefined>({ min, ...spec }: TypedOptionSpec<T> & { readonly min: number }): ConfigOption<T> {
  return option<T>({
    ...(spec.defaultValue === undefined ? {} : { defaultText: formatDuration(spec.defaultValue) }),
    ...spec,
    type: 'Duration',
    allowed: min > 0 ? `${DURATION_HELP}; at least ${min} ms` : DURATION_HELP,
    schema: durationValue(min) as ValueSchema<T>,
  });
}

/** An Integer option from `min` to `max`. */
function integerOption({ min, max, ...spec }: TypedOptionSpec<number> & { readonly min: number; readonly max: number }): ConfigOption<number> {
  return option<number>({ ...spec, type: 'Integer', allowed: `an integer from ${min} to ${max}`, schema: integerValue(min, max) });
}

function booleanOption(spec: TypedOptionSpec<boolean>): ConfigOption<boolean> {
  return option<boolean>({ ...spec, type: 'Boolean', allowed: BOOLEAN_HELP, schema: booleanValue });
}

const DURATION_HELP = "a duration: an integer and a unit (d, h, min, s, ms), e.g. '10 s', '1 min', '500 ms'; no unit means milliseconds";
const MEMORY_HELP = "a memory size: an integer and a unit (bytes, kb, mb, gb), e.g. '64 mb'; no unit means bytes";
const BOOLEAN_HELP = "'true' or 'false'";
/** Flink's CheckpointConfig.MINIMAL_CHECKPOINT_TIME: shorter intervals and timeouts are refused. */
export const MINIMAL_CHECKPOINT_TIME_MS = 10;
const MAX_INT = 2 ** 31 - 1;

export const STATE_BACKEND_TYPES = ['hashmap', 'rocksdb', 'lmdb', 'memory'] as const;
export type StateBackendType = (typeof STATE_BACKEND_TYPES)[number];

export const STATE_BACKEND = option<StateBackendType>({
  key: 'state.backend.type',
  deprecatedKeys: ['state.backend'],
  defaultValue: 'hashmap',
  type: 'String',
  allowed: `one of ${STATE_BACKEND_TYPES.join(', ')} (case-insensitive)`,
  description: 'The state backend: hashmap (heap, asynchronous snapshots), rocksdb (embedded RocksDB), lmdb, memory (heap, synchronous snapshots).',
  schema: v.pipe(enumValue(STATE_BACKEND_TYPES.map((s) => s.toUpperCase())), v.transform((s) => s.toLowerCase() as StateBackendType)),
});

export const CHECKPOINT_STORAGE = option<'jobmanager' | 'filesystem' | undefined>({
  key: 'execution.checkpointing.storage',
  deprecatedKeys: ['state.checkpoint-storage'],
  defaultValue: undefined,
  defaultText: "(none: 'filesystem' when a checkpoint directory is set, else 'jobmanager')",
  type: 'String',
  allowed: 'jobmanager or filesystem',
  description: 'Where checkpoints go: jobmanager (in memory) or filesystem (the checkpoint directory).',
  schema: v.pipe(enumValue(['JOBMANAGER', 'FILESYSTEM']), v.transform((s) => s.toLowerCase() as 'jobmanager' | 'filesystem')),
});

export const CHECKPOINTS_DIRECTORY = option<string | undefined>({
  key: 'execution.checkpointing.dir',
  deprecatedKeys: ['state.checkpoints.dir', 'state.backend.fs.checkpointdir'],
  defaultValue: undefined,
  type: 'String',
  allowed: 'a local path or a URI: file:///dir, s3://bucket/prefix, webhdfs://namenode:9870/dir, hdfs://namenode:9870/dir, memory://name/dir (no credentials, query or fragment)',
  description: "The job's checkpoint directory (chk-<id>/, shared/, taskowned/ under it).",
  schema: locationValue,
});

export const SAVEPOINT_DIRECTORY = option<string | undefined>({
  key: 'execution.checkpointing.savepoint-dir',
  deprecatedKeys: ['state.savepoints.dir', 'savepoints.state.backend.fs.dir'],
  defaultValue: undefined,
  type: 'String',
  allowed: CHECKPOINTS_DIRECTORY.allowed,
  description: 'The default directory savepoints are written under.',
  schema: locationValue,
});

export const INCREMENTAL_CHECKPOINTS = booleanOption({
  key: 'execution.checkpointing.incremental',
  deprecatedKeys: ['state.backend.incremental'],
  defaultValue: false,
  description: 'Incremental checkpoints where the backend supports them (rocksdb); other backends ignore it, as in Flink.',
});

export const MAX_RETAINED_CHECKPOINTS = integerOption({
  key: 'execution.checkpointing.num-retained',
  deprecatedKeys: ['state.checkpoints.num-retained'],
  defaultValue: 1,
  description: 'Completed checkpoints kept; older ones are discarded as newer ones complete.',
  min: 1,
  max: MAX_INT,
});

export const CHECKPOINTING_INTERVAL = durationOption<number | undefined>({
  key: 'execution.checkpointing.interval',
  defaultValue: undefined,
  defaultText: '(none: no periodic checkpoints)',
  description: 'The interval of periodic checkpoints. Unset: checkpoints only on request (savepoints, the final checkpoint).',
  min: MINIMAL_CHECKPOINT_TIME_MS,
});

export const CHECKPOINTING_TIMEOUT = durationOption<number>({
  key: 'execution.checkpointing.timeout',
  defaultValue: 600_000,
  description: 'A checkpoint not complete after this long is expired (aborted).',
  min: MINIMAL_CHECKPOINT_TIME_MS,
});

export const MAX_CONCURRENT_CHECKPOINTS = integerOption({
  key: 'execution.checkpointing.max-concurrent-checkpoints',
  defaultValue: 1,
  description: 'Checkpoints that may be in progress at the same time.',
  min: 1,
  max: MAX_INT,
});

export const MIN_PAUSE_BETWEEN_CHECKPOINTS = durationOption<number>({
  key: 'execution.checkpointing.min-pause',
  defaultValue: 0,
  description: 'Minimum time from the completion of one checkpoint to the trigger of the next.',
  min: 0,
});

export const TOLERABLE_FAILED_CHECKPOINTS = integerOption({
  key: 'execution.checkpointing.tolerable-failed-checkpoints',
  defaultValue: 0,
  defaultText: '(none: 0)',
  description: 'Consecutive checkpoint failures tolerated before the job fails over.',
  min: 0,
  max: MAX_INT,
});

export const CHECKPOINTING_MODE = option<'EXACTLY_ONCE' | 'AT_LEAST_ONCE'>({
  key: 'execution.checkpointing.mode',
  defaultValue: 'EXACTLY_ONCE',
  type: 'Enum',
  allowed: 'EXACTLY_ONCE or AT_LEAST_ONCE (case-insensitive)',
  description: 'EXACTLY_ONCE aligns barriers; AT_LEAST_ONCE does not (records may be processed again after a restore).',
  schema: enumValue(['EXACTLY_ONCE', 'AT_LEAST_ONCE']),
});

export const ENABLE_UNALIGNED = booleanOption({
  key: 'execution.checkpointing.unaligned.enabled',
  deprecatedKeys: ['execution.checkpointing.unaligned'],
  defaultValue: false,
  description: 'Unaligned checkpoints: barriers overtake in-flight records, which are stored with the checkpoint. EXACTLY_ONCE only.',
});

export const ALIGNED_CHECKPOINT_TIMEOUT = durationOption<number>({
  key: 'execution.checkpointing.aligned-checkpoint-timeout',
  deprecatedKeys: ['execution.checkpointing.alignment-timeout'],
  defaultValue: 0,
  description: 'With unaligned checkpoints: start each checkpoint aligned and switch to unaligned when alignment takes longer than this. 0: always unaligned.',
  min: 0,
});

export const ROCKSDB_BLOCK_CACHE_SIZE = option<number>({
  key: 'state.backend.rocksdb.block.cache-size',
  defaultValue: 8 * 1024 * 1024,
  defaultText: formatMemory(8 * 1024 * 1024),
  type: 'MemorySize',
  allowed: `${MEMORY_HELP}; at most 1 tb`,
  description: 'RocksDB block cache size of each keyed state backend instance.',
  schema: memoryValue(0, 1024 ** 4),
});

export const ROCKSDB_WRITE_BUFFER_SIZE = option<number>({
  key: 'state.backend.rocksdb.writebuffer.size',
  defaultValue: 64 * 1024 * 1024,
  defaultText: formatMemory(64 * 1024 * 1024),
  type: 'MemorySize',
  allowed: `${MEMORY_HELP}; from 64 kb to 1 tb`,
  description: 'Size of one RocksDB memtable (write buffer) before it is flushed to an SST file.',
  schema: memoryValue(64 * 1024, 1024 ** 4),
});

export const ROCKSDB_WRITE_BUFFER_COUNT = integerOption({
  key: 'state.backend.rocksdb.writebuffer.count',
  defaultValue: 2,
  description: 'Maximum number of RocksDB memtables (write buffers) held in memory.',
  min: 1,
  max: 64,
});

export const ROCKSDB_LOCAL_DIRECTORY = option<string[] | undefined>({
  key: 'state.backend.rocksdb.localdir',
  defaultValue: undefined,
  defaultText: '(none: the OS temporary directory)',
  type: 'String',
  allowed: `one or more local directory paths (or file:// URIs), ',' or ':' between them as Flink reads it, each named once, at most ${MAX_LOCAL_PATHS}`,
  description: 'Where RocksDB instances keep their working files; with several directories, each instance takes the next one, round-robin.',
  schema: localPathListValue,
});

export const ROCKSDB_TIMER_SERVICE_FACTORY = option<'ROCKSDB' | 'HEAP'>({
  key: 'state.backend.rocksdb.timer-service.factory',
  defaultValue: 'ROCKSDB',
  type: 'Enum',
  allowed: 'ROCKSDB or HEAP (case-insensitive)',
  description: 'Where a RocksDB backend keeps timers (priority-queue state): ROCKSDB (column families with a cached head per key group) or HEAP (the JS heap, written as a key-group stream with every snapshot).',
  schema: enumValue(['ROCKSDB', 'HEAP']),
});

const FLINK_COMPRESSIONS: Readonly<Record<string, Compression>> = {
  NO_COMPRESSION: 'none',
  SNAPPY_COMPRESSION: 'snappy',
  LZ4_COMPRESSION: 'lz4',
  ZSTD_COMPRESSION: 'zstd',
};

export const ROCKSDB_COMPRESSION_PER_LEVEL = option<Compression>({
  key: 'state.backend.rocksdb.compression.per.level',
  defaultValue: 'snappy',
  defaultText: 'SNAPPY_COMPRESSION',
  type: 'List<Enum>',
  allowed: `${Object.keys(FLINK_COMPRESSIONS).join(', ')}, or a list of them that names one compression for every level (flowstate compresses all levels alike)`,
  description: 'The RocksDB compression of SST files.',
  schema: v.pipe(
    listValue(v.pipe(enumValue(Object.keys(FLINK_COMPRESSIONS)), v.transform((s) => FLINK_COMPRESSIONS[s]!))),
    v.check((list) => list.every((c) => c === list[0])),
    v.transform((list) => list[0]!),
  ),
});

/** The rocksdb backend's own keys, by the RocksDBStateBackend option each one sets. */
export const ROCKSDB_BACKEND_OPTIONS = {
  blockCacheSize: ROCKSDB_BLOCK_CACHE_SIZE,
  writeBufferSize: ROCKSDB_WRITE_BUFFER_SIZE,
  maxWriteBufferNumber: ROCKSDB_WRITE_BUFFER_COUNT,
  localDirectory: ROCKSDB_LOCAL_DIRECTORY,
  compression: ROCKSDB_COMPRESSION_PER_LEVEL,
  timerServiceFactory: ROCKSDB_TIMER_SERVICE_FACTORY,
} as const;

export const RESTORE_MODE = option<'NO_CLAIM' | 'CLAIM' | 'LEGACY'>({
  key: 'execution.state-recovery.claim-mode',
  deprecatedKeys: ['execution.savepoint-restore-mode'],
  defaultValue: 'NO_CLAIM',
  type: 'Enum',
  allowed: 'NO_CLAIM, CLAIM or LEGACY (case-insensitive)',
  description: 'Who owns the snapshot a job starts from: NO_CLAIM (never deleted by the job), CLAIM (the job owns and may delete it), LEGACY.',
  schema: enumValue(['NO_CLAIM', 'CLAIM', 'LEGACY']),
});

export const RESTORE_PATH = option<string | undefined>({
  key: 'execution.state-recovery.path',
  deprecatedKeys: ['execution.savepoint.path'],
  defaultValue: undefined,
  type: 'String',
  allowed: 'a savepoint directory, a retained checkpoint directory (.../chk-<id>) or its _metadata file, as a local path or URI',
  description: 'The savepoint or retained checkpoint the job starts from.',
  schema: locationValue,
});

export const IGNORE_UNCLAIMED_STATE = booleanOption({
  key: 'execution.state-recovery.ignore-unclaimed-state',
  deprecatedKeys: ['execution.savepoint.ignore-unclaimed-state'],
  defaultValue: false,
  description: 'Allow state in the restore point that no operator of the job claims (Flink\'s --allowNonRestoredState).',
});

export const S3_ENDPOINT = option<string | undefined>({
  key: 's3.endpoint',
  defaultValue: undefined,
  defaultText: '(none: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, or AWS)',
  type: 'String',
  allowed: 'an http:// or https:// URL without user information',
  description: 'The S3 endpoint, for S3-compatible stores (MinIO, s3rver).',
  schema: endpointValue,
});

export const S3_PATH_STYLE_ACCESS = booleanOption({
  key: 's3.path.style.access',
  defaultValue: false,
  description: 'Path-style S3 addressing (http://endpoint/bucket/key), as MinIO and s3rver need.',
});

// The union of option types is erased on purpose: the table is read by key.
export const ALL_OPTIONS: ReadonlyArray<ConfigOption<unknown>> = [
  STATE_BACKEND,
  CHECKPOINT_STORAGE,
  CHECKPOINTS_DIRECTORY,
  SAVEPOINT_DIRECTORY,
  INCREMENTAL_CHECKPOINTS,
  MAX_RETAINED_CHECKPOINTS,
  CHECKPOINTING_INTERVAL,
  CHECKPOINTING_TIMEOUT,
  MAX_CONCURRENT_CHECKPOINTS,
  MIN_PAUSE_BETWEEN_CHECKPOINTS,
  TOLERABLE_FAILED_CHECKPOINTS,
  CHECKPOINTING_MODE,
  ENABLE_UNALIGNED,
  ALIGNED_CHECKPOINT_TIMEOUT,
  ...Object.values(ROCKSDB_BACKEND_OPTIONS),
  RESTORE_MODE,
  RESTORE_PATH,
  IGNORE_UNCLAIMED_STATE,
  S3_ENDPOINT,
  S3_PATH_STYLE_ACCESS,
] as ReadonlyArray<ConfigOption<unknown>>;

/** Keys that name a secret: refused, since credentials belong to the environment, never to a file that is logged or committed. */
export const REFUSED_SECRET_KEYS: Readonly<Record<string, string>> = {
  's3.access-key': 'S3 credentials come from the AWS SDK default credential chain (AWS_ACCESS_KEY_ID, AWS_PROFILE, instance roles), never from the configuration',
  's3.secret-key': 'S3 credentials come from the AWS SDK default credential chain (AWS_SECRET_ACCESS_KEY, AWS_PROFILE, instance roles), never from the configuration',
};

/**
 * Namespaces flowstate reads: an unknown key in one of them is an error (a typo, or a Flink key
 * flowstate does not honour). Keys of other Flink namespaces (jobmanager.*, taskmanager.*, rest.*)
 * are ignored, so that a whole Flink config.yaml loads, unless they are one typo away from a known key.
 */
export const OWNED_PREFIXES: readonly string[] = ['state.', 'execution.checkpointing.', 'execution.savepoint', 'execution.state-recovery.', 's3.'];

const BY_KEY = new Map<string, ConfigOption<unknown>>();
for (const o of ALL_OPTIONS) for (const k of [o.key, ...o.deprecatedKeys]) BY_KEY.set(k, o);

/** The option a key (canonical or deprecated) names. */
export function optionForKey(key: string): ConfigOption<unknown> | undefined {
  return BY_KEY.get(key);
}

/** Every key flowstate reads, canonical and deprecated. */
export function knownKeys(): string[] {
  return [...BY_KEY.keys()];
}
