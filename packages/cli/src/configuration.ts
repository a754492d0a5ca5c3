import { fileSystemRegistry, type FileSystemRegistry } from '@flowstate/core';
import { CHECKPOINTS_DIRECTORY, configuredFileSystems, loadConfiguration, MAX_RETAINED_CHECKPOINTS, type Configuration } from '@flowstate/config';

export interface ConfigFileOption {
  config?: string;
}

/**
 * `--config <config.yaml>`: the same Flink-style configuration a job runs with (file, then
 * FLOWSTATE_PROPERTIES and FLOWSTATE_<KEY> variables over it), validated, and its storage
 * settings (s3.endpoint, s3.path.style.access) applied to every location the command opens.
 */
export function storageFromConfig(o: ConfigFileOption): { fileSystems?: FileSystemRegistry } {
  if (o.config === undefined) return {};
  return { fileSystems: configuredFileSystems(loadConfiguration({ file: o.config })) };
}

/** The registry that opens the command's locations: `--config`'s storage settings, else core's process-wide one. */
export function fileSystemsOf(o: ConfigFileOption): FileSystemRegistry {
  return storageFromConfig(o).fileSystems ?? fileSystemRegistry;
}

/** What the checkpoint verbs take from `--config`: the storage settings and the job's checkpoint keys. */
export interface CheckpointVerbConfig {
  readonly fileSystems?: FileSystemRegistry;
  /** execution.checkpointing.dir (state.checkpoints.dir), when set. */
  readonly checkpointsDirectory?: string;
  /** execution.checkpointing.num-retained, when set. */
  readonly numRetained?: number;
}

export function checkpointVerbConfig(o: ConfigFileOption): CheckpointVerbConfig {
  if (o.config === undefined) return {};
  const c: Configuration = loadConfiguration({ file: o.config });
  return {
    fileSystems: configuredFileSystems(c),
    ...(c.isSet(CHECKPOINTS_DIRECTORY) ? { checkpointsDirectory: c.get(CHECKPOINTS_DIRECTORY) } : {}),
    ...(c.isSet(MAX_RETAINED_CHECKPOINTS) ? { numRetained: c.get(MAX_RETAINED_CHECKPOINTS) } : {}),
  };
}
