export * from './errors.js';
export * from './units.js';
export * from './options.js';
export { type ReadableConfiguration } from './combinations.js';
export { Configuration, loadConfiguration, type IgnoredKey, type LoadConfigurationOptions } from './configuration.js';
export { ENV_CONF_DIR, ENV_PREFIX, ENV_PROPERTIES, MAX_CONFIG_FILE_BYTES, envVariableFor, keyForEnvVariable, type Environment, type RawValue } from './sources.js';
export * from './create.js';
