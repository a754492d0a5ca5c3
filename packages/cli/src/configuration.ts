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
  let fileSystems = loaded.get(o);
  if (fileSystems === undefined) {
    fileSystems = configuredFileSystems(loadConfiguration({ file: o.config }));
    loaded.set(o, fileSystems);
  }
  return { fileSystems };
}

/**
 * The registry each command's options loaded: a verb asks at several steps (is the input Apache
 * Flink's, where does the output go, read it), and the file is read and validated once.
 */
const loaded = new WeakMap<ConfigFileOption, FileSystemRegistry>();

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
