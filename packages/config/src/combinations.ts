/**
 * Combinations of keys: the impossible ones are refused, the ones Flink accepts but ignores part
 * of are accepted with a warning (as Flink logs one).
 */
import { ConflictingConfigurationError, describeSource, type ConfigurationSource } from './errors.js';
import {
  ALIGNED_CHECKPOINT_TIMEOUT,
  CHECKPOINT_STORAGE,
  CHECKPOINTING_MODE,
  CHECKPOINTS_DIRECTORY,
  ENABLE_UNALIGNED,
  INCREMENTAL_CHECKPOINTS,
  MAX_CONCURRENT_CHECKPOINTS,
  MIN_PAUSE_BETWEEN_CHECKPOINTS,
  ROCKSDB_BACKEND_OPTIONS,
  STATE_BACKEND,
  type ConfigOption,
} from './options.js';

/** What the checks read (the Configuration class, structurally: configuration.ts imports this file). */
export interface ReadableConfiguration {
  get<T>(option: ConfigOption<T>): T;
  isSet(option: ConfigOption<unknown>): boolean;
  sourceOf(option: ConfigOption<unknown>): ConfigurationSource;
}

const ROCKSDB_OPTIONS = Object.values(ROCKSDB_BACKEND_OPTIONS) as ReadonlyArray<ConfigOption<unknown>>;

/** Throws ConflictingConfigurationError for an impossible combination; returns warnings. */
export function checkCombinations(c: ReadableConfiguration): string[] {
  const from = (o: ConfigOption<unknown>) => describeSource(c.sourceOf(o));
  const unaligned = c.get(ENABLE_UNALIGNED);
  // Flink logs a warning and quietly runs aligned; a configuration that asks for both is a mistake.
  if (unaligned && c.get(CHECKPOINTING_MODE) === 'AT_LEAST_ONCE') {
    throw new ConflictingConfigurationError(
      [ENABLE_UNALIGNED.key, CHECKPOINTING_MODE.key],
      `unaligned checkpoints (from ${from(ENABLE_UNALIGNED)}) need EXACTLY_ONCE, but the mode is AT_LEAST_ONCE (from ${from(CHECKPOINTING_MODE)}); set one of them differently`,
    );
  }
  // As in Flink: 'filesystem' checkpoint storage without a directory cannot be created.
  if (c.get(CHECKPOINT_STORAGE) === 'filesystem' && c.get(CHECKPOINTS_DIRECTORY) === undefined) {
    throw new ConflictingConfigurationError(
      [CHECKPOINT_STORAGE.key, CHECKPOINTS_DIRECTORY.key],
      `'filesystem' checkpoint storage (from ${from(CHECKPOINT_STORAGE)}) needs a checkpoint directory; set ${CHECKPOINTS_DIRECTORY.key} (or state.checkpoints.dir)`,
    );
  }
  const warnings: string[] = [];
  const backend = c.get(STATE_BACKEND);
  if (c.get(INCREMENTAL_CHECKPOINTS) && (backend === 'hashmap' || backend === 'memory')) {
    warnings.push(`${INCREMENTAL_CHECKPOINTS.key} is true but the '${backend}' backend takes full snapshots; as in Flink, it is ignored`);
  }
  const rocksSet = ROCKSDB_OPTIONS.filter((o) => c.isSet(o)).map((o) => o.key);
  if (rocksSet.length > 0 && backend !== 'rocksdb') warnings.push(`${rocksSet.join(', ')} only apply to the rocksdb backend; the backend is '${backend}'`);
  if (c.isSet(ALIGNED_CHECKPOINT_TIMEOUT) && c.get(ALIGNED_CHECKPOINT_TIMEOUT) > 0 && !unaligned) {
    warnings.push(`${ALIGNED_CHECKPOINT_TIMEOUT.key} only applies with ${ENABLE_UNALIGNED.key}: true; as in Flink, it is ignored`);
  }
  if (unaligned && c.get(ALIGNED_CHECKPOINT_TIMEOUT) === 0 && c.get(MAX_CONCURRENT_CHECKPOINTS) > 1) {
    warnings.push(`unaligned checkpoints run one at a time: ${MAX_CONCURRENT_CHECKPOINTS.key} ${c.get(MAX_CONCURRENT_CHECKPOINTS)} is used as 1`);
  }
  if (c.get(MIN_PAUSE_BETWEEN_CHECKPOINTS) > 0 && c.get(MAX_CONCURRENT_CHECKPOINTS) > 1) {
    warnings.push(`with ${MIN_PAUSE_BETWEEN_CHECKPOINTS.key} > 0 checkpoints never overlap (as in Flink): ${MAX_CONCURRENT_CHECKPOINTS.key} has no effect`);
  }
  if (c.get(CHECKPOINT_STORAGE) === 'jobmanager' && c.get(CHECKPOINTS_DIRECTORY) !== undefined) {
    warnings.push(`'jobmanager' checkpoint storage keeps checkpoints in memory: ${CHECKPOINTS_DIRECTORY.key} is not used (Flink writes the metadata there)`);
  }
  return warnings;
}
