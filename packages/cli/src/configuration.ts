import type { FileSystemRegistry } from '@flowstate/core';
import { configuredFileSystems, loadConfiguration } from '@flowstate/config';

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
